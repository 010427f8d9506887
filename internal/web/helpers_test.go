package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/logstore"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/sqlite"
	"github.com/basalt-lava/basalt/internal/webauth"
)

// testSite is a lab with its pages, for handler tests of every area: a
// SQLite store and log store in the test's folder, device type qemu,
// worker w1 with device qemu-01 (health Good, the dictionary of
// testdata/device.jinja2), users alice (password "alice-pw", token
// aliceToken) and admin (a superuser, password "admin-pw"). The lab's
// scheduler loop is not running: tests place jobs with the store.
type testSite struct {
	st         store.Store
	logs       *logstore.Logs
	lab        *lab.Lab
	auth       *webauth.Auth
	h          http.Handler
	dataDir    string
	aliceToken string
}

func newTestSite(t *testing.T) *testSite {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "basalt.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs, err := logstore.Open(dir, logstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logs.Close() })
	if _, err := st.CreateUser(ctx, "alice", "alice-pw", false); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateUser(ctx, "admin", "admin-pw", true); err != nil {
		t.Fatal(err)
	}
	tok, err := st.CreateToken(ctx, "alice", "", "tests")
	if err != nil {
		t.Fatal(err)
	}
	dict, err := os.ReadFile(filepath.Join("testdata", "device.jinja2"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutDeviceType(ctx, store.DeviceType{Name: "qemu"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateWorker(ctx, "w1", ""); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateDevice(ctx, store.Device{Name: "qemu-01", DeviceType: "qemu", Worker: "w1", Dictionary: string(dict)}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetDeviceHealth(ctx, "qemu-01", store.HealthGood); err != nil {
		t.Fatal(err)
	}
	l, err := lab.New(lab.Config{Store: st, Logs: logs, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	key, err := webauth.LoadKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	auth := webauth.New(st, key)
	h, err := New(Config{Store: st, Logs: logs, Lab: l, Auth: auth, Version: "test", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return &testSite{st: st, logs: logs, lab: l, auth: auth, h: h, dataDir: dir, aliceToken: tok}
}

// session is the session cookie of user ("" for none).
func (ts *testSite) session(t *testing.T, user string) *http.Cookie {
	t.Helper()
	if user == "" {
		return nil
	}
	u, err := ts.st.User(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	ts.auth.Login(rec, httptest.NewRequest("GET", "/", nil), u)
	return rec.Result().Cookies()[0]
}

// get fetches path as user ("" anonymous) and returns the response.
func (ts *testSite) get(t *testing.T, path, user string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	if c := ts.session(t, user); c != nil {
		r.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	ts.h.ServeHTTP(rec, r)
	return rec
}

// post submits form to path as user, with the session's CSRF token
// unless form already has a "csrf" field.
func (ts *testSite) post(t *testing.T, path, user string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	c := ts.session(t, user)
	if c != nil && !form.Has("csrf") {
		page := httptest.NewRequest("GET", "/", nil)
		page.AddCookie(c)
		form.Set("csrf", ts.auth.CSRF(page))
	}
	r := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c != nil {
		r.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	ts.h.ServeHTTP(rec, r)
	return rec
}

// submit stores a job as alice (not through the lab's checks: page tests
// need jobs in given states, not valid pipelines).
func (ts *testSite) submit(t *testing.T, j store.NewJob) store.Job {
	t.Helper()
	if j.Submitter == "" {
		j.Submitter = "alice"
	}
	if j.DeviceType == "" {
		j.DeviceType = "qemu"
	}
	ids, err := ts.st.Submit(context.Background(), []store.NewJob{j})
	if err != nil {
		t.Fatal(err)
	}
	job, err := ts.st.Job(context.Background(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	return job
}

// wantBody fails unless the response has code and every fragment.
func wantBody(t *testing.T, rec *httptest.ResponseRecorder, code int, fragments ...string) {
	t.Helper()
	if rec.Code != code {
		t.Errorf("status %d, want %d; body:\n%.2000s", rec.Code, code, rec.Body.String())
		return
	}
	for _, f := range fragments {
		if !strings.Contains(rec.Body.String(), f) {
			t.Errorf("body lacks %q:\n%.3000s", f, rec.Body.String())
		}
	}
}
