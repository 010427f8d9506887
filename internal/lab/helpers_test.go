package lab

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/logstore"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/postgres"
	"github.com/basalt-lava/basalt/internal/store/sqlite"
	"github.com/basalt-lava/basalt/internal/store/storetest"
	"github.com/basalt-lava/basalt/internal/workerapi"
)

// backends runs fn on SQLite, and on PostgreSQL when BASALT_POSTGRES_DSN
// is set (scripts/with-postgres.sh).
func backends(t *testing.T, fn func(t *testing.T, open func(t *testing.T) store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "basalt.db")
		fn(t, func(t *testing.T) store.Store {
			s, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := storetest.PostgresDSN(t, false)
		fn(t, func(t *testing.T) store.Store {
			s, err := postgres.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
}

// testLogs is a log store in the test's folder, with a reader for the
// test.
type testLogs struct{ *logstore.Logs }

func newTestLogs(t *testing.T) *testLogs {
	t.Helper()
	l, err := logstore.Open(t.TempDir(), logstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &testLogs{l}
}

// get returns job's log, line by line.
func (l *testLogs) get(t *testing.T, job int64) []string {
	t.Helper()
	var b strings.Builder
	if _, err := l.Read(job, 0, -1, &b); err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	must(t, err)
	return string(b)
}

// fixture is a lab: user alice, type qemu, worker w1 with devices
// qemu-01 and qemu-02 (health Good unless told).
type fixture struct {
	st    store.Store
	logs  *testLogs
	alice store.User
	token string // w1's
}

func newFixture(t *testing.T, st store.Store, devices int) *fixture {
	t.Helper()
	ctx := context.Background()
	alice, err := st.CreateUser(ctx, "alice", "", false)
	must(t, err)
	must(t, st.PutDeviceType(ctx, store.DeviceType{Name: "qemu"}))
	tok, err := st.CreateWorker(ctx, "w1", "")
	must(t, err)
	dict := readFile(t, "device.jinja2")
	for i := 1; i <= devices; i++ {
		name := fmt.Sprintf("qemu-%02d", i)
		must(t, st.CreateDevice(ctx, store.Device{Name: name, DeviceType: "qemu", Worker: "w1", Dictionary: dict}))
		must(t, st.SetDeviceHealth(ctx, name, store.HealthGood))
	}
	return &fixture{st: st, logs: newTestLogs(t), alice: alice, token: tok}
}

// running is a Lab with its loop and its worker API over HTTP.
type running struct {
	lab  *Lab
	srv  *httptest.Server
	stop func()
}

func (f *fixture) start(t *testing.T, mod func(*Config)) *running {
	t.Helper()
	cfg := Config{Store: f.st, Logs: f.logs, DataDir: t.TempDir(), CoordinatorAddr: "127.0.0.1:3079"}
	if mod != nil {
		mod(&cfg)
	}
	l, err := New(cfg)
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	srv := httptest.NewServer(workerapi.NewHandler(l.WorkerServer()))
	r := &running{lab: l, srv: srv}
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			srv.Close()
		})
	}
	t.Cleanup(r.stop)
	return r
}

func (r *running) peer(t *testing.T, worker, token string) *workerapi.Peer {
	t.Helper()
	p, err := workerapi.NewPeer(workerapi.PeerConfig{URL: r.srv.URL, Worker: worker, Token: token, MaxAttempts: 3})
	must(t, err)
	return p
}

// pollFor polls until a reply satisfies ok, each poll held up to a
// second; it fails after 30 s (a bound on a hang, not a timing claim).
func pollFor(t *testing.T, p *workerapi.Peer, running []workerapi.RunningJob, ok func(workerapi.PollResponse) bool) workerapi.PollResponse {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := p.Poll(context.Background(), running, time.Second)
		must(t, err)
		if ok(resp) {
			return resp
		}
	}
	t.Fatal("no poll reply as expected within 30 s")
	return workerapi.PollResponse{}
}

// waitFor polls the store until cond holds, failing after 30 s.
func waitFor(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ok, err := cond()
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		if ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within 30 s", what)
}
