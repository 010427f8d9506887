package workerapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// memServer is a Server that keeps everything in memory: a log per job by
// index, the finishes, a queue of work. It is the contract's reference in
// the small, not a mock: the tests drive it over real HTTP.
type memServer struct {
	mu       sync.Mutex
	tokens   map[string]string
	owner    map[JobID]string
	logs     map[JobID][]string
	finished map[JobID]FinishRequest
	queue    []StartJob
	cancel   []JobID
	notify   chan struct{} // closed when work is queued
	waiting  chan struct{} // a poll is about to wait
	heard    []RunningJob  // the last poll's running jobs
	failLogs int           // fail this many Log calls with a 500
}

var _ Server = (*memServer)(nil)

func newMemServer() *memServer {
	return &memServer{
		tokens:   map[string]string{"w1": "secret-1", "w2": "secret-2"},
		owner:    map[JobID]string{},
		logs:     map[JobID][]string{},
		finished: map[JobID]FinishRequest{},
		notify:   make(chan struct{}),
		waiting:  make(chan struct{}, 1),
	}
}

func (m *memServer) Authenticate(_ context.Context, worker, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	want, ok := m.tokens[worker]
	if !ok || !CompareToken(token, want) {
		return ErrUnauthorized
	}
	return nil
}

func (m *memServer) enqueue(worker string, job StartJob) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.owner[job.Job] = worker
	m.queue = append(m.queue, job)
	close(m.notify)
	m.notify = make(chan struct{})
}

func (m *memServer) Poll(ctx context.Context, worker string, req PollRequest) (PollResponse, error) {
	m.mu.Lock()
	m.heard = req.Running
	if len(m.queue) == 0 && len(m.cancel) == 0 && req.Wait() > 0 {
		notify := m.notify
		m.mu.Unlock()
		select {
		case m.waiting <- struct{}{}:
		default:
		}
		t := time.NewTimer(req.Wait())
		select {
		case <-notify:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		m.mu.Lock()
	}
	defer m.mu.Unlock()
	resp := PollResponse{Start: m.queue, Cancel: m.cancel, Running: []JobID{}, LeaseMS: 30000, LeaseDeadline: time.Now().Add(30 * time.Second)}
	m.queue, m.cancel = nil, nil
	for id, w := range m.owner {
		if _, done := m.finished[id]; w == worker && !done {
			resp.Running = append(resp.Running, id)
		}
	}
	return resp, nil
}

func (m *memServer) Log(_ context.Context, worker string, req LogRequest) (LogResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failLogs > 0 {
		m.failLogs--
		return LogResponse{}, errors.New("database is restarting")
	}
	if m.owner[req.Job] != worker {
		return LogResponse{}, fmt.Errorf("job %d: %w", req.Job, ErrUnknownJob)
	}
	have := int64(len(m.logs[req.Job]))
	if req.Index > have {
		return LogResponse{}, &GapError{Job: req.Job, Expected: have, Got: req.Index}
	}
	if skip := have - req.Index; skip < int64(len(req.Lines)) {
		m.logs[req.Job] = append(m.logs[req.Job], req.Lines[skip:]...)
	}
	return LogResponse{Acked: int64(len(m.logs[req.Job]))}, nil
}

func (m *memServer) Finish(_ context.Context, worker string, req FinishRequest) (FinishResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.owner[req.Job] != worker {
		return FinishResponse{}, fmt.Errorf("job %d: %w", req.Job, ErrUnknownJob)
	}
	if _, done := m.finished[req.Job]; done {
		return FinishResponse{}, nil
	}
	if have := int64(len(m.logs[req.Job])); have < req.LogLines {
		return FinishResponse{}, &GapError{Job: req.Job, Expected: have, Got: req.LogLines}
	}
	m.finished[req.Job] = req
	return FinishResponse{}, nil
}

func (m *memServer) finish(job JobID) FinishRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.finished[job]
}

func (m *memServer) lastHeard() []RunningJob {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.heard
}

func (m *memServer) log(job JobID) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.logs[job]...)
}

// serve starts a real HTTP server on 127.0.0.1 (addr "" for any port).
func serve(t *testing.T, s Server, addr string) *httptest.Server {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(NewHandler(s))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func newPeer(t *testing.T, url string, mod func(*PeerConfig)) *Peer {
	t.Helper()
	cfg := PeerConfig{URL: url, Worker: "w1", Token: "secret-1", Version: "test", MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	p, err := NewPeer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func lines(from, to int) []string {
	var l []string
	for i := from; i < to; i++ {
		l = append(l, fmt.Sprintf("- {dt: 2026-01-01T00:00:00, lvl: target, msg: 'line %d'}", i))
	}
	return l
}

func TestLogIdempotentByIndex(t *testing.T) {
	t.Parallel()
	m := newMemServer()
	m.owner[7] = "w1"
	m.owner[8] = "w2"
	p := newPeer(t, serve(t, m, "").URL, nil)
	ctx := context.Background()

	steps := []struct {
		name    string
		job     JobID
		index   int64
		lines   []string
		acked   int64
		gapAt   int64 // expected index of a *GapError, -1 for none
		unknown bool
	}{
		{"first batch", 7, 0, lines(0, 3), 3, -1, false},
		{"same batch again is stored once", 7, 0, lines(0, 3), 3, -1, false},
		{"overlap keeps only the new lines", 7, 1, lines(1, 5), 5, -1, false},
		{"empty batch reports the count", 7, 5, nil, 5, -1, false},
		{"gap refused with the index to resend from", 7, 7, lines(7, 9), 0, 5, false},
		{"resend from the expected index", 7, 5, lines(5, 9), 9, -1, false},
		{"another worker's job", 8, 0, lines(0, 1), 0, -1, true},
		{"a job nobody has", 99, 0, lines(0, 1), 0, -1, true},
	}
	for _, s := range steps {
		acked, err := p.Log(ctx, s.job, s.index, s.lines)
		var gap *GapError
		switch {
		case s.gapAt >= 0:
			if !errors.As(err, &gap) || gap.Expected != s.gapAt || gap.Got != s.index || gap.Job != s.job {
				t.Fatalf("%s: Log(%d, %d) = %v, want a gap expecting %d", s.name, s.job, s.index, err, s.gapAt)
			}
		case s.unknown:
			if !errors.Is(err, ErrUnknownJob) {
				t.Fatalf("%s: Log(%d) = %v, want ErrUnknownJob", s.name, s.job, err)
			}
		case err != nil:
			t.Fatalf("%s: Log(%d, %d): %v", s.name, s.job, s.index, err)
		case acked != s.acked:
			t.Fatalf("%s: Log(%d, %d) acked %d, want %d", s.name, s.job, s.index, acked, s.acked)
		}
	}
	if diff := cmp.Diff(m.log(7), lines(0, 9)); diff != "" {
		t.Errorf("stored log (-got +want):\n%s", diff)
	}
}

func TestFinishNeedsTheWholeLogAndIsIdempotent(t *testing.T) {
	t.Parallel()
	m := newMemServer()
	m.owner[3] = "w1"
	p := newPeer(t, serve(t, m, "").URL, nil)
	ctx := context.Background()
	if _, err := p.Log(ctx, 3, 0, lines(0, 4)); err != nil {
		t.Fatal(err)
	}
	req := FinishRequest{Job: 3, Health: Incomplete, ErrorType: "Infrastructure", ErrorMessage: "power cycle failed", LogLines: 6,
		Results: []Result{{Suite: "lava", Case: "job", Result: "fail", Metadata: map[string]string{"error_type": "Infrastructure"}}}}
	var gap *GapError
	if err := p.Finish(ctx, req); !errors.As(err, &gap) || gap.Expected != 4 {
		t.Fatalf("Finish with 2 lines missing = %v, want a gap expecting 4", err)
	}
	if _, err := p.Log(ctx, 3, gap.Expected, lines(4, 6)); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := p.Finish(ctx, req); err != nil {
			t.Fatalf("Finish #%d: %v", i+1, err)
		}
	}
	// A second finish that disagrees changes nothing either.
	if err := p.Finish(ctx, FinishRequest{Job: 3, Health: Complete, LogLines: 6}); err != nil {
		t.Fatalf("Finish #3: %v", err)
	}
	want := req
	want.Worker = "w1"
	if diff := cmp.Diff(m.finish(3), want); diff != "" {
		t.Errorf("recorded finish (-got +want):\n%s", diff)
	}
	if err := p.Finish(ctx, FinishRequest{Job: 3, Health: "Done"}); err == nil || !strings.Contains(err.Error(), `health "Done"`) {
		t.Errorf("Finish with a bad health = %v, want a refusal naming it", err)
	}
}

// TestResumeAfterServerRestart loses the server mid-log and a reply on the
// way, and checks the stored log is the worker's, line for line.
func TestResumeAfterServerRestart(t *testing.T) {
	t.Parallel()
	m := newMemServer()
	m.owner[1] = "w1"
	srv := serve(t, m, "")
	addr := srv.Listener.Addr().String()
	retried := make(chan struct{}, 1)
	p := newPeer(t, srv.URL, func(c *PeerConfig) {
		c.OnRetry = func(string, int, error) {
			select {
			case retried <- struct{}{}:
			default:
			}
		}
	})
	ctx := context.Background()
	spool := lines(0, 100)
	var acked int64
	send := func(n int) {
		t.Helper()
		end := min(acked+int64(n), int64(len(spool)))
		a, err := p.Log(ctx, 1, acked, spool[acked:end])
		if err != nil {
			t.Fatalf("Log from %d: %v", acked, err)
		}
		acked = a
	}
	send(30)
	send(10)

	srv.Close()
	done := make(chan error, 1)
	go func() {
		a, err := p.Log(ctx, 1, acked, spool[acked:acked+10])
		if err == nil {
			acked = a
		}
		done <- err
	}()
	<-retried // the peer met the closed server and is backing off
	serve(t, m, addr)
	if err := <-done; err != nil {
		t.Fatalf("Log across the restart: %v", err)
	}
	if acked != 50 {
		t.Fatalf("acked %d after the restart, want 50", acked)
	}

	// A reply lost on the way: the worker still thinks 45 are acked.
	acked = 45
	for acked < int64(len(spool)) {
		send(7)
	}
	if err := p.Finish(ctx, FinishRequest{Job: 1, Health: Complete, LogLines: acked}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m.log(1), spool); diff != "" {
		t.Errorf("stored log (-got +want):\n%s", diff)
	}
}

func TestTransientErrorsRetriedAndContextHonoured(t *testing.T) {
	t.Parallel()
	m := newMemServer()
	m.owner[1] = "w1"
	m.failLogs = 2
	srv := serve(t, m, "")
	p := newPeer(t, srv.URL, nil)
	if a, err := p.Log(context.Background(), 1, 0, lines(0, 2)); err != nil || a != 2 {
		t.Fatalf("Log through two 500s = %d, %v; want 2, nil", a, err)
	}

	m.mu.Lock()
	m.failLogs = 1
	m.mu.Unlock()
	once := newPeer(t, srv.URL, func(c *PeerConfig) { c.MaxAttempts = 1 })
	var se *StatusError
	if _, err := once.Log(context.Background(), 1, 2, lines(2, 3)); !errors.As(err, &se) || se.Code != 500 || !strings.Contains(err.Error(), "database is restarting") {
		t.Fatalf("Log with MaxAttempts 1 against a 500 = %v, want the 500", err)
	}

	srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	retried := make(chan struct{})
	var onceClose sync.Once
	down := newPeer(t, srv.URL, func(c *PeerConfig) {
		c.OnRetry = func(string, int, error) { onceClose.Do(func() { close(retried) }) }
	})
	done := make(chan error, 1)
	go func() { _, err := down.Poll(ctx, nil, 0); done <- err }()
	<-retried
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Poll against a closed server after cancel = %v, want context.Canceled", err)
	}
}

func TestLongPoll(t *testing.T) {
	t.Parallel()
	m := newMemServer()
	p := newPeer(t, serve(t, m, "").URL, nil)
	ctx := context.Background()

	// Nothing to do: the poll comes back empty when its wait ends.
	resp, err := p.Poll(ctx, []RunningJob{{Job: 4, LogAcked: 12}}, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Start) != 0 || len(resp.Cancel) != 0 || resp.Lease() <= 0 {
		t.Fatalf("idle poll = %+v, want no work and a lease", resp)
	}
	if diff := cmp.Diff(m.lastHeard(), []RunningJob{{Job: 4, LogAcked: 12}}); diff != "" {
		t.Errorf("server heard (-got +want):\n%s", diff)
	}
	<-m.waiting // that poll waited

	// Work arrives while a poll waits: it is answered with it.
	type result struct {
		resp PollResponse
		err  error
	}
	got := make(chan result, 1)
	go func() {
		r, err := p.Poll(ctx, nil, MaxWait)
		got <- result{r, err}
	}()
	<-m.waiting
	job := StartJob{Job: 5, Definition: "job_name: x\n", Device: "device_type: qemu\n", TimeoutMS: 3600000, Coordinator: "127.0.0.1:3079"}
	m.enqueue("w1", job)
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	if diff := cmp.Diff(r.resp.Start, []StartJob{job}); diff != "" {
		t.Errorf("started (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(r.resp.Running, []JobID{5}); diff != "" {
		t.Errorf("running (-got +want):\n%s", diff)
	}
	if r.resp.Start[0].Timeout() != time.Hour {
		t.Errorf("timeout %v, want 1h", r.resp.Start[0].Timeout())
	}
}

// post sends a raw request, for what a Peer would never send.
func post(t *testing.T, url string, header map[string]string, body []byte) (int, errorReply) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var er errorReply
	_ = json.Unmarshal(data, &er)
	return res.StatusCode, er
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	m := newMemServer()
	m.owner[1] = "w1"
	srv := serve(t, m, "")
	auth := map[string]string{"Authorization": "Bearer secret-1", WorkerHeader: "w1"}
	huge := []byte(`{"worker":"w1","job":1,"index":0,"lines":["` + strings.Repeat("x", MaxLogRequestBytes) + `"]}`)
	many, _ := json.Marshal(LogRequest{Worker: "w1", Job: 1, Lines: make([]string, MaxLogLines+1)})

	cases := []struct {
		name   string
		path   string
		header map[string]string
		body   string
		raw    []byte
		code   int
		msg    string
	}{
		{"no token", PollPath, map[string]string{WorkerHeader: "w1"}, `{"worker":"w1"}`, nil, 401, "Authorization: Bearer"},
		{"wrong token", PollPath, map[string]string{"Authorization": "Bearer secret-2", WorkerHeader: "w1"}, `{"worker":"w1"}`, nil, 401, "unknown worker or wrong token"},
		{"unknown worker", PollPath, map[string]string{"Authorization": "Bearer secret-1", WorkerHeader: "w9"}, `{"worker":"w9"}`, nil, 401, "unknown worker or wrong token"},
		{"body names another worker", LogPath, auth, `{"worker":"w2","job":1,"index":0,"lines":[]}`, nil, 403, `names worker "w2"`},
		{"oversized log body", LogPath, auth, "", huge, 413, "log request body is over the limit of 8388608 bytes"},
		{"oversized poll body", PollPath, auth, `{"worker":"w1","version":"` + strings.Repeat("v", MaxRequestBytes) + `"}`, nil, 413, "poll request body is over the limit of 1048576 bytes"},
		{"too many lines", LogPath, auth, "", many, 413, "over the limit of 10000 lines"},
		{"unknown field", PollPath, auth, `{"worker":"w1","bogus":1}`, nil, 400, `unknown field "bogus"`},
		{"trailing data", PollPath, auth, `{"worker":"w1"} {}`, nil, 400, "data after its JSON object"},
		{"negative index", LogPath, auth, `{"worker":"w1","job":1,"index":-1,"lines":[]}`, nil, 400, "negative"},
		{"no such endpoint", PathPrefix + "jobs", auth, `{}`, nil, 404, "no endpoint"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := c.raw
			if body == nil {
				body = []byte(c.body)
			}
			code, er := post(t, srv.URL+c.path, c.header, body)
			if code != c.code || !strings.Contains(er.Error, c.msg) {
				t.Errorf("POST %s = %d %q, want %d with %q", c.path, code, er.Error, c.code, c.msg)
			}
		})
	}

	// The Peer reports a bad token at once, without retrying.
	p := newPeer(t, srv.URL, func(c *PeerConfig) {
		c.Token = "nope"
		c.OnRetry = func(path string, _ int, err error) { t.Errorf("retried %s after %v", path, err) }
	})
	if _, err := p.Poll(context.Background(), nil, 0); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("Poll with a bad token = %v, want ErrUnauthorized", err)
	}
	if _, err := newPeer(t, srv.URL, nil).Log(context.Background(), 1, 0, make([]string, MaxLogLines+1)); err == nil || !strings.Contains(err.Error(), "10000 lines") {
		t.Errorf("Peer.Log with too many lines = %v, want the limit named", err)
	}
	if len(m.log(1)) != 0 {
		t.Errorf("refused requests stored %d lines", len(m.log(1)))
	}
}

func TestNewPeerChecksItsConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []PeerConfig{
		{URL: "lab:8000", Worker: "w", Token: "t"},
		{URL: "ftp://lab", Worker: "w", Token: "t"},
		{URL: "http://lab", Token: "t"},
		{URL: "http://lab", Worker: "w"},
	} {
		if _, err := NewPeer(cfg); err == nil {
			t.Errorf("NewPeer(%+v) accepted", cfg)
		}
	}
}

func TestLogBatchFitsOneRequest(t *testing.T) {
	t.Parallel()
	m := newMemServer()
	m.owner[1] = "w1"
	p := newPeer(t, serve(t, m, "").URL, nil)
	mib := strings.Repeat("x", 1<<20)
	quoted := strings.Repeat("\"", 1<<20) // each byte encodes as two
	cases := []struct {
		name  string
		lines []string
		want  int
	}{
		{"none", nil, 0},
		{"small lines stop at the line limit", make([]string, MaxLogLines+5), MaxLogLines},
		{"1 MiB lines stop at the byte limit", []string{mib, mib, mib, mib, mib, mib, mib, mib, mib}, 7},
		{"escaping counts", []string{quoted, quoted, quoted, quoted, quoted}, 3},
		{"one line too large alone", []string{strings.Repeat("x", MaxLogRequestBytes)}, 0},
	}
	var sent int64
	for _, c := range cases {
		n := LogBatch(c.lines)
		if n != c.want {
			t.Errorf("%s: LogBatch = %d, want %d", c.name, n, c.want)
			continue
		}
		if n == 0 {
			continue
		}
		// The batch it chose is one the server takes.
		acked, err := p.Log(context.Background(), 1, sent, c.lines[:n])
		if err != nil {
			t.Fatalf("%s: sending the batch of %d: %v", c.name, n, err)
		}
		sent = acked
	}
}

// A 404 that is not the protocol's (a proxy, a server without the
// endpoint) is not taken for a deleted job.
func TestForeign404IsNotUnknownJob(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	p := newPeer(t, srv.URL, nil)
	_, err := p.Log(context.Background(), 1, 0, lines(0, 1))
	var se *StatusError
	if errors.Is(err, ErrUnknownJob) || !errors.As(err, &se) || se.Code != 404 {
		t.Errorf("Log against a plain 404 = %v, want a *StatusError 404 that is not ErrUnknownJob", err)
	}
}
