package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/sqlite"
	"github.com/basalt-lava/basalt/internal/workerapi"
)

// syncBuffer is a bytes.Buffer safe to write from the server's goroutines
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServerServesWorkersAndStops starts `basalt server` on a database
// made beforehand, has a worker poll it, and stops it while a poll is
// held: the poll is answered, the command exits 0 and the database can be
// opened again.
func TestServerServesWorkersAndStops(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "lab.db")
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := st.CreateWorker(ctx, "w1", "")
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	sctx, stop := context.WithCancel(ctx)
	defer stop()
	addrc := make(chan net.Addr, 1)
	stderr := &syncBuffer{}
	code := make(chan int, 1)
	go func() {
		code <- serverMain(sctx, []string{"--db", db, "--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0",
			"--coordinator", "127.0.0.1:0", "--lease", "5m"}, &bytes.Buffer{}, stderr, func(a net.Addr) { addrc <- a })
	}()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case c := <-code:
		t.Fatalf("server exited %d: %s", c, stderr)
	}
	if want := "basalt server: listening on http://" + addr.String(); !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr does not say %q:\n%s", want, stderr)
	}
	p, err := workerapi.NewPeer(workerapi.PeerConfig{URL: "http://" + addr.String(), Worker: "w1", Token: tok, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.Poll(ctx, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Lease() != 5*time.Minute {
		t.Errorf("lease %s, want 5m", resp.Lease())
	}
	// LAVA's API on the same listener, at every path lavacli posts to.
	for _, path := range []string{"/RPC2", "//RPC2", "/RPC2/"} {
		body := `<?xml version="1.0"?><methodCall><methodName>system.version</methodName><params></params></methodCall>`
		res, err := http.Post("http://"+addr.String()+path, "text/xml", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), "<string>") || strings.Contains(string(b), "fault") {
			t.Errorf("POST %s system.version: %d %s", path, res.StatusCode, b)
		}
	}
	// The pages on the same listener: the home page at GET /.
	if res, err := http.Get("http://" + addr.String() + "/"); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), "Recent jobs") {
			t.Errorf("GET /: %d %.300s", res.StatusCode, b)
		}
	}
	bad, _ := workerapi.NewPeer(workerapi.PeerConfig{URL: "http://" + addr.String(), Worker: "w1", Token: "wrong", MaxAttempts: 1})
	if _, err := bad.Poll(ctx, nil, 0); err == nil {
		t.Error("a poll with a wrong token was answered")
	}

	held := make(chan error, 1)
	go func() {
		_, err := p.Poll(ctx, nil, workerapi.MaxWait)
		held <- err
	}()
	time.Sleep(200 * time.Millisecond) // let the poll reach the server; either order passes
	stop()
	if err := <-held; err != nil && !strings.Contains(err.Error(), "connection refused") {
		// (Refused: the stop came before the poll reached the server.)
		t.Errorf("the poll held across the stop: %v", err)
	}
	if c := <-code; c != 0 {
		t.Errorf("server exited %d, want 0:\n%s", c, stderr)
	}
	st2, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if w, err := st2.Worker(ctx, "w1"); err != nil || w.State != store.WorkerOnline {
		t.Errorf("worker after the server stopped: %+v, %v", w, err)
	}
}

// TestServerNotifyFlags: the notify flags are checked before anything
// starts.
func TestServerNotifyFlags(t *testing.T) {
	for _, args := range [][]string{{"--notify-workers", "0"}, {"--notify-timeout", "-1s"}} {
		var stderr bytes.Buffer
		if code := serverMain(context.Background(), append(args, "--data-dir", t.TempDir()), &bytes.Buffer{}, &stderr, nil); code != exitUsage || !strings.Contains(stderr.String(), "must be positive") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr.String())
		}
	}
}

// TestServerHandlerRoutes: one listener, routed by path: XML-RPC at
// LAVA's paths and POST /, the worker protocol under /api/worker/, and
// REST under /api/v0.2/ and /api/v0.3/, the pages everywhere else (GET /
// is the home page).
func TestServerHandlerRoutes(t *testing.T) {
	tag := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) })
	}
	h := serverHandler(serverRoutes{events: tag("events"), workers: tag("workers"), xmlrpc: tag("xmlrpc"), rest: tag("rest"), web: tag("web")})
	cases := []struct{ method, path, want string }{
		{"POST", "/RPC2", "xmlrpc"},
		{"POST", "//RPC2", "xmlrpc"},
		{"POST", "/RPC2/", "xmlrpc"},
		{"GET", "/RPC2", "xmlrpc"},
		{"POST", "/", "xmlrpc"},
		{"GET", "/", "web"},
		{"GET", "/scheduler/job/1", "web"},
		{"POST", "/api/worker/v1/poll", "workers"},
		{"GET", "/static/basalt.css", "web"},
		{"GET", "/api/v0.2/jobs/", "rest"},
		{"POST", "/api/v0.2/jobs/1/cancel", "rest"},
		{"GET", "/api/v0.3/token", "rest"},
		{"GET", "/api/v0.2", "rest"},
		{"GET", "/api/v0.21/", "web"},
		{"POST", "/api/v0.3/token/", "rest"},
		{"GET", "/api/tokens/", "web"},
		{"GET", "/ws/", "events"},
		{"GET", "/ws/v1/healthz", "events"},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if got := rec.Body.String(); got != c.want {
			t.Errorf("%s %s went to %s, want %s", c.method, c.path, got, c.want)
		}
	}
}
