package lavarpc

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/logstore"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/postgres"
	"github.com/basalt-lava/basalt/internal/store/sqlite"
	"github.com/basalt-lava/basalt/internal/store/storetest"
	"github.com/basalt-lava/basalt/internal/xmlrpc"
)

// env is a server on 127.0.0.1 over a real SQLite store with a small lab:
// users admin (superuser), alice and bob (member of group team), each with
// the token "<name>tok"; device types qemu (with a health check) and bbb;
// workers w1 and w2; devices qemu01 (dictionary, tag kvm, w1), qemu02 (no
// dictionary, w2) and old01 (Retired).
type env struct {
	t    testing.TB
	st   store.Store
	lab  *lab.Lab
	logs *logstore.Logs
	api  *api
	srv  *httptest.Server
}

// onPostgres, set by TestPostgres, makes newEnv store on PostgreSQL.
var onPostgres bool

// qemuDict is a QEMU x86_64 guest under TCG.
const qemuDict = "{% extends 'qemu.jinja2' %}\n{% set arch = 'amd64' %}\n{% set no_kvm = True %}\n{% set netdevice = 'user' %}\n"

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	var st store.Store
	var err error
	if onPostgres {
		st, err = postgres.Open(ctx, storetest.PostgresDSN(t.(*testing.T), false))
	} else {
		st, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "basalt.db"))
	}
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
	dir := t.TempDir()
	logs, err := logstore.Open(filepath.Join(dir, "jobs"), logstore.Options{})
	must(err)
	t.Cleanup(func() { logs.Close() })
	// The lab's scheduling loop does not run: jobs stay where the tests
	// put them.
	l, err := lab.New(lab.Config{Store: st, Logs: logs, DataDir: dir})
	must(err)
	e := &env{t: t, st: st, lab: l, logs: logs}
	h := New(Config{Store: st, Logs: logs, Lab: l})
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
	status, hdr, reply, err := e.tryPost(user, path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	return status, hdr, reply
}

// tryPost is post returning its errors (safe off the test's goroutine).
func (e *env) tryPost(user, path string, body []byte) (int, http.Header, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "text/xml")
	if user != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+user+"tok")))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// call calls method as user ("" anonymous) over HTTP and decodes the reply
// with the project's codec: the value, or a *xmlrpc.Fault.
func (e *env) call(user, method string, args ...any) (any, error) {
	e.t.Helper()
	v, err := e.try(user, method, args...)
	if _, isFault := err.(*xmlrpc.Fault); err != nil && !isFault {
		e.t.Fatal(err)
	}
	return v, err
}

// try is call returning every error, a *xmlrpc.Fault or another (safe off
// the test's goroutine).
func (e *env) try(user, method string, args ...any) (any, error) {
	body, err := xmlrpc.MarshalCall(method, args...)
	if err != nil {
		return nil, err
	}
	status, hdr, reply, err := e.tryPost(user, "/RPC2", body)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK || hdr.Get("Content-Type") != "application/xml; charset=utf-8" {
		return nil, fmt.Errorf("%s as %q: HTTP %d %q: %s", method, user, status, hdr.Get("Content-Type"), reply)
	}
	v, err := xmlrpc.DecodeResponse(bytes.NewReader(reply), xmlrpc.Limits{})
	if _, isFault := err.(*xmlrpc.Fault); err != nil && !isFault {
		return nil, fmt.Errorf("%s: decoding the reply: %w\n%s", method, err, reply)
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

// jobDef is testdata/job.yaml with its name and visibility (a YAML
// value: public, personal, or "{group: [team]}").
func jobDef(t testing.TB, name, visibility string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "job_name: NAME", "job_name: "+name, 1)
	return strings.Replace(s, "visibility: VISIBILITY", "visibility: "+visibility, 1)
}

// multinodeDef is testdata/multinode.yaml.
func multinodeDef(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/multinode.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// addLog appends lines to job's log from index 0.
func (e *env) addLog(job int64, lines ...string) {
	e.t.Helper()
	held, err := e.logs.Len(job)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.logs.Append(job, held, lines); err != nil {
		e.t.Fatal(err)
	}
}
