package lavarpc

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/sqlite"
	"github.com/basalt-lava/basalt/internal/xmlrpc"
)

// env is a server on 127.0.0.1 over a real SQLite store with a small lab:
// users admin (superuser), alice and bob (member of group team), each with
// the token "<name>tok"; device types qemu (with a health check) and bbb;
// workers w1 and w2; devices qemu01 (dictionary, tag kvm, w1), qemu02 (no
// dictionary, w2) and old01 (Retired).
type env struct {
	t    *testing.T
	st   store.Store
	lab  *testLab
	logs *memLogs
	api  *api
	srv  *httptest.Server
}

const qemuDict = "{% extends 'qemu.jinja2' %}\n{% set netdevice = 'user' %}\n"

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "basalt.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []struct {
		name  string
		super bool
	}{{"admin", true}, {"alice", false}, {"bob", false}} {
		_, err := st.CreateUser(ctx, u.name, "pw", u.super)
		must(err)
		_, err = st.CreateToken(ctx, u.name, u.name+"tok", "test")
		must(err)
	}
	must(st.CreateGroup(ctx, "team"))
	must(st.AddGroupMember(ctx, "team", "bob"))
	must(st.PutDeviceType(ctx, store.DeviceType{Name: "qemu", HealthCheck: "job_name: health check\n"}))
	must(st.PutDeviceType(ctx, store.DeviceType{Name: "bbb"}))
	for _, w := range []string{"w1", "w2"} {
		_, err := st.CreateWorker(ctx, w, "")
		must(err)
	}
	must(st.CreateDevice(ctx, store.Device{Name: "qemu01", DeviceType: "qemu", Worker: "w1", Dictionary: qemuDict, Tags: []string{"kvm"}}))
	must(st.CreateDevice(ctx, store.Device{Name: "qemu02", DeviceType: "qemu", Worker: "w2"}))
	must(st.CreateDevice(ctx, store.Device{Name: "old01", DeviceType: "bbb", Worker: "w2"}))
	must(st.SetDeviceHealth(ctx, "old01", store.HealthRetired))
	e := &env{t: t, st: st, lab: &testLab{st: st}, logs: &memLogs{lines: map[int64][]string{}}}
	h := New(Config{Store: st, Logs: e.logs, Lab: e.lab})
	e.api = h.(*api)
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

// url is the server's address with user:token (none for user "").
func (e *env) url(user, path string) string {
	if user == "" {
		return e.srv.URL + path
	}
	return strings.Replace(e.srv.URL, "http://", "http://"+user+":"+user+"tok@", 1) + path
}

// post sends body to path as user and returns the HTTP response's status
// and body.
func (e *env) post(user, path string, body []byte) (int, http.Header, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/xml")
	if user != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+user+"tok")))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// call calls method as user ("" anonymous) over HTTP and decodes the reply
// with the project's codec: the value, or a *xmlrpc.Fault.
func (e *env) call(user, method string, args ...any) (any, error) {
	e.t.Helper()
	body, err := xmlrpc.MarshalCall(method, args...)
	if err != nil {
		e.t.Fatal(err)
	}
	status, hdr, reply := e.post(user, "/RPC2", body)
	if status != http.StatusOK || hdr.Get("Content-Type") != "application/xml; charset=utf-8" {
		e.t.Fatalf("%s as %q: HTTP %d %q: %s", method, user, status, hdr.Get("Content-Type"), reply)
	}
	v, err := xmlrpc.DecodeResponse(bytes.NewReader(reply), xmlrpc.Limits{})
	if err != nil {
		if _, ok := err.(*xmlrpc.Fault); !ok {
			e.t.Fatalf("%s: decoding the reply: %v\n%s", method, err, reply)
		}
	}
	return v, err
}

// ok calls and fails the test on a fault.
func (e *env) ok(user, method string, args ...any) any {
	e.t.Helper()
	v, err := e.call(user, method, args...)
	if err != nil {
		e.t.Fatalf("%s%v as %q: %v", method, args, user, err)
	}
	return v
}

// submit submits a definition as alice and returns the job id.
func (e *env) submit(def string) int64 {
	e.t.Helper()
	v := e.ok("alice", "scheduler.jobs.submit", def)
	id, ok := v.(int64)
	if !ok {
		e.t.Fatalf("submit returned %#v, want an int", v)
	}
	return id
}

// testLab stands in for internal/lab until it is on main: the contract's
// behaviour on the real store, without the job checks.
type testLab struct {
	st    store.Store
	mu    sync.Mutex
	kicks int
}

func (l *testLab) Submit(ctx context.Context, u store.User, def string) ([]store.Job, error) {
	var d struct {
		DeviceType string `yaml:"device_type"`
		Visibility any    `yaml:"visibility"`
		Protocols  struct {
			MultiNode struct {
				Roles map[string]struct {
					Count int `yaml:"count"`
				} `yaml:"roles"`
			} `yaml:"lava-multinode"`
		} `yaml:"protocols"`
	}
	if err := yaml.Unmarshal([]byte(def), &d); err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	if _, err := l.st.DeviceType(ctx, d.DeviceType); err != nil {
		return nil, err
	}
	nj := store.NewJob{Definition: def, Submitter: u.Name, DeviceType: d.DeviceType, Priority: 50}
	switch v := d.Visibility.(type) {
	case string:
		nj.Visibility = store.Visibility(v)
	case map[string]any:
		nj.Visibility = store.VisibilityGroup
		for _, g := range v["group"].([]any) {
			nj.VisibleGroups = append(nj.VisibleGroups, g.(string))
		}
	}
	njs := []store.NewJob{nj}
	if roles := d.Protocols.MultiNode.Roles; len(roles) > 0 {
		njs = nil
		n := 0
		for _, r := range roles {
			for i := 0; i < r.Count; i++ {
				j := nj
				j.Group, j.SubID = "g-"+fmt.Sprint(time.Now().UnixNano()), n
				n++
				njs = append(njs, j)
			}
		}
		for i := range njs {
			njs[i].Group = njs[0].Group
		}
	}
	ids, err := l.st.Submit(ctx, njs)
	if err != nil {
		return nil, err
	}
	var out []store.Job
	for _, id := range ids {
		j, err := l.st.Job(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

func (l *testLab) Cancel(ctx context.Context, _ store.User, j store.Job) error {
	if j.State == store.JobFinished || j.State == store.JobCanceling {
		return nil
	}
	_, err := l.st.CancelJob(ctx, j.ID, time.Now())
	return err
}

func (l *testLab) Resubmit(ctx context.Context, u store.User, j store.Job) ([]store.Job, error) {
	return l.Submit(ctx, u, j.Definition)
}

func (l *testLab) FindJob(ctx context.Context, id string) (store.Job, error) {
	whole, sub, multi := strings.Cut(id, ".")
	var n int64
	if _, err := fmt.Sscan(whole, &n); err != nil {
		return store.Job{}, fmt.Errorf("job %s: %w", id, store.ErrNotFound)
	}
	j, err := l.st.Job(ctx, n)
	if err != nil || !multi {
		return j, err
	}
	var s int
	fmt.Sscan(sub, &s)
	js, err := l.st.Jobs(ctx, store.JobFilter{Group: j.Group})
	if err != nil {
		return j, err
	}
	for _, g := range js {
		if g.SubID == s && j.Group != "" {
			return g, nil
		}
	}
	return store.Job{}, fmt.Errorf("job %s: %w", id, store.ErrNotFound)
}

func (l *testLab) Template(ctx context.Context, dt string) (string, error) {
	t, err := l.st.DeviceType(ctx, dt)
	if err != nil {
		return "", err
	}
	if t.Template != "" {
		return t.Template, nil
	}
	return "{# shipped " + dt + " #}\n", nil
}

func (l *testLab) RenderDevice(ctx context.Context, device, jobCtx string) (string, error) {
	d, err := l.st.Device(ctx, device)
	if err != nil {
		return "", err
	}
	return "rendered: " + d.Name + "\ncontext: " + strings.TrimSpace(jobCtx) + "\n", nil
}

func (l *testLab) Kick() {
	l.mu.Lock()
	l.kicks++
	l.mu.Unlock()
}

// memLogs stands in for internal/logstore until it is on main.
type memLogs struct {
	mu    sync.Mutex
	lines map[int64][]string
}

func (m *memLogs) Exists(job int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.lines[job]
	return ok
}

func (m *memLogs) Read(job, start, end int64, w io.Writer) (int64, error) {
	m.mu.Lock()
	ls := m.lines[job]
	m.mu.Unlock()
	if end < 0 || end > int64(len(ls)) {
		end = int64(len(ls))
	}
	var n int64
	for i := start; i < end; i++ {
		if _, err := io.WriteString(w, ls[i]+"\n"); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (m *memLogs) add(job int64, lines ...string) {
	m.mu.Lock()
	m.lines[job] = append(m.lines[job], lines...)
	m.mu.Unlock()
}
