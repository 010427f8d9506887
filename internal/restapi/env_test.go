package restapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/logstore"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/sqlite"
	"github.com/basalt-lava/basalt/internal/webauth"
)

// env is the REST API on 127.0.0.1 over a real SQLite store, log store
// and lab: users admin (superuser), alice and bob (member of group team),
// each with the token "<name>tok"; device types qemu (with a health
// check) and bbb; workers w1 and w2; devices qemu01 (dictionary, tag kvm,
// w1), qemu02 (no dictionary, w2) and old01 (Retired); alias q → qemu.
type env struct {
	t    testing.TB
	st   store.Store
	lab  *lab.Lab
	logs *logstore.Logs
	auth *webauth.Auth
	srv  *httptest.Server
}

// qemuDict is a QEMU x86_64 guest under TCG.
const qemuDict = "{% extends 'qemu.jinja2' %}\n{% set arch = 'amd64' %}\n{% set no_kvm = True %}\n{% set netdevice = 'user' %}\n"

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "basalt.db"))
	must(t, err)
	t.Cleanup(func() { st.Close() })
	for _, u := range []struct {
		name  string
		super bool
	}{{"admin", true}, {"alice", false}, {"bob", false}} {
		_, err := st.CreateUser(ctx, u.name, "pw-"+u.name, u.super)
		must(t, err)
		_, err = st.CreateToken(ctx, u.name, u.name+"tok", "test")
		must(t, err)
	}
	must(t, st.CreateGroup(ctx, "team"))
	must(t, st.AddGroupMember(ctx, "team", "bob"))
	must(t, st.PutDeviceType(ctx, store.DeviceType{Name: "qemu", HealthCheck: "job_name: health check\n"}))
	must(t, st.PutDeviceType(ctx, store.DeviceType{Name: "bbb"}))
	for _, w := range []string{"w1", "w2"} {
		_, err := st.CreateWorker(ctx, w, "")
		must(t, err)
	}
	must(t, st.CreateDevice(ctx, store.Device{Name: "qemu01", DeviceType: "qemu", Worker: "w1", Dictionary: qemuDict, Tags: []string{"kvm"}}))
	must(t, st.CreateDevice(ctx, store.Device{Name: "qemu02", DeviceType: "qemu", Worker: "w2"}))
	must(t, st.CreateDevice(ctx, store.Device{Name: "old01", DeviceType: "bbb", Worker: "w2"}))
	must(t, st.SetDeviceHealth(ctx, "old01", store.HealthRetired))
	must(t, st.AddAlias(ctx, "q", "qemu", false))
	dir := t.TempDir()
	logs, err := logstore.Open(filepath.Join(dir, "jobs"), logstore.Options{})
	must(t, err)
	t.Cleanup(func() { logs.Close() })
	// The lab's scheduling loop does not run: jobs stay where the tests
	// put them.
	l, err := lab.New(lab.Config{Store: st, Logs: logs, DataDir: dir})
	must(t, err)
	key, err := webauth.LoadKey(dir)
	must(t, err)
	e := &env{t: t, st: st, lab: l, logs: logs, auth: webauth.New(st, key)}
	e.srv = httptest.NewServer(New(Config{Store: st, Logs: logs, Lab: l, Auth: e.auth, Version: "2026.07"}))
	t.Cleanup(e.srv.Close)
	return e
}

// jobDef is testdata/job.yaml with its name and visibility (a YAML
// value: public, personal, or "{group: [team]}").
func jobDef(t testing.TB, name, visibility string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/job.yaml")
	must(t, err)
	s := strings.Replace(string(b), "job_name: NAME", "job_name: "+name, 1)
	return strings.Replace(s, "visibility: VISIBILITY", "visibility: "+visibility, 1)
}

// submit submits def as user through the lab and returns the jobs.
func (e *env) submit(user, def string) []store.Job {
	e.t.Helper()
	u, err := e.st.User(context.Background(), user)
	must(e.t, err)
	jobs, err := e.lab.Submit(context.Background(), u, def)
	must(e.t, err)
	return jobs
}

// finish runs job on qemu01 and finishes it Complete with results rs.
func (e *env) finish(job int64, rs []store.Result) {
	e.t.Helper()
	ctx := context.Background()
	must(e.t, e.st.Schedule(ctx, []store.Assignment{{Job: job, Device: "qemu01"}}))
	if _, ok, err := e.st.ClaimJob(ctx, "w1", time.Now()); err != nil || !ok {
		e.t.Fatalf("ClaimJob = %v, %v", ok, err)
	}
	must(e.t, e.st.FinishJob(ctx, job, store.Finish{Health: store.JobComplete, Results: rs}, time.Now()))
}

// addLog appends lines to job's log.
func (e *env) addLog(job int64, lines ...string) {
	e.t.Helper()
	held, err := e.logs.Len(job)
	must(e.t, err)
	_, err = e.logs.Append(job, held, lines)
	must(e.t, err)
}

// reply is one HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body.
func (r reply) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("reply %d %q is not a JSON object: %v", r.status, r.body, err)
	}
	return m
}

// do sends a request as user ("" anonymous, else with its Token header);
// body is a url.Values (a form), a string (text/plain) or anything else
// (JSON).
func (e *env) do(method, path, user string, body any, hdr ...string) reply {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case string:
		rd, ct = strings.NewReader(b), "text/plain"
	default:
		j, err := json.Marshal(b)
		must(e.t, err)
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	must(e.t, err)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if user != "" {
		req.Header.Set("Authorization", "Token "+user+"tok")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	must(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(e.t, err)
	return reply{resp.StatusCode, resp.Header, b}
}

// newSessionRequest returns a request carrying user's session cookie, as
// the web login sets it (its CSRF token is e.auth.CSRF of it).
func newSessionRequest(t testing.TB, e *env, user string) *http.Request {
	t.Helper()
	u, err := e.st.User(context.Background(), user)
	must(t, err)
	rec := httptest.NewRecorder()
	e.auth.Login(rec, httptest.NewRequest("POST", "/accounts/login/", nil), u)
	req := httptest.NewRequest("GET", "/", nil)
	for _, c := range rec.Result().Cookies() {
		req.AddCookie(c)
	}
	return req
}
