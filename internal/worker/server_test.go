package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/workerapi"
)

// recorder is a small workerapi.Server that keeps in memory what a
// worker sends: each job's log by index (duplicates skipped, gaps
// refused, as the contract says), the finishes, a queue of jobs to start
// and to cancel. It outlives the HTTP servers in front of it, so a test
// can restart "the server" and keep its state, as a real server keeps its
// database. It is a test double of the lab's server, driven over real
// HTTP by a real worker.
type recorder struct {
	mu       sync.Mutex
	owner    map[workerapi.JobID]bool
	logs     map[workerapi.JobID][]string
	finished map[workerapi.JobID]workerapi.FinishRequest
	finishes map[workerapi.JobID]int
	queue    []workerapi.StartJob
	cancel   []workerapi.JobID
	heard    []workerapi.RunningJob // the last poll's running jobs
	polls    int
	changed  chan struct{} // closed and replaced on every change
}

var _ workerapi.Server = (*recorder)(nil)

const (
	testWorker = "w1"
	testToken  = "secret-token"
)

func newRecorder() *recorder {
	return &recorder{owner: map[workerapi.JobID]bool{}, logs: map[workerapi.JobID][]string{},
		finished: map[workerapi.JobID]workerapi.FinishRequest{}, finishes: map[workerapi.JobID]int{}, changed: make(chan struct{})}
}

// changedLocked wakes held polls and waiters; r.mu is held.
func (r *recorder) changedLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *recorder) Authenticate(_ context.Context, worker, token string) error {
	if worker != testWorker || !workerapi.CompareToken(token, testToken) {
		return workerapi.ErrUnauthorized
	}
	return nil
}

func (r *recorder) Poll(ctx context.Context, _ string, req workerapi.PollRequest) (workerapi.PollResponse, error) {
	r.mu.Lock()
	r.heard = req.Running
	r.polls++
	r.changedLocked()
	if len(r.queue) == 0 && len(r.cancel) == 0 && req.Wait() > 0 {
		ch := r.changed
		r.mu.Unlock()
		t := time.NewTimer(req.Wait())
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		r.mu.Lock()
	}
	defer r.mu.Unlock()
	resp := workerapi.PollResponse{Start: r.queue, Cancel: r.cancel, Running: []workerapi.JobID{}, LeaseMS: 60000}
	r.queue, r.cancel = nil, nil
	for id := range r.owner {
		if _, done := r.finished[id]; !done {
			resp.Running = append(resp.Running, id)
		}
	}
	return resp, nil
}

func (r *recorder) Log(_ context.Context, _ string, req workerapi.LogRequest) (workerapi.LogResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.owner[req.Job] {
		return workerapi.LogResponse{}, fmt.Errorf("job %d: %w", req.Job, workerapi.ErrUnknownJob)
	}
	have := int64(len(r.logs[req.Job]))
	if req.Index > have {
		return workerapi.LogResponse{}, &workerapi.GapError{Job: req.Job, Expected: have, Got: req.Index}
	}
	if skip := have - req.Index; skip < int64(len(req.Lines)) {
		r.logs[req.Job] = append(r.logs[req.Job], req.Lines[skip:]...)
		r.changedLocked()
	}
	return workerapi.LogResponse{Acked: int64(len(r.logs[req.Job]))}, nil
}

func (r *recorder) Finish(_ context.Context, _ string, req workerapi.FinishRequest) (workerapi.FinishResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.owner[req.Job] {
		return workerapi.FinishResponse{}, fmt.Errorf("job %d: %w", req.Job, workerapi.ErrUnknownJob)
	}
	r.finishes[req.Job]++
	if _, done := r.finished[req.Job]; done {
		return workerapi.FinishResponse{}, nil
	}
	if have := int64(len(r.logs[req.Job])); have < req.LogLines {
		return workerapi.FinishResponse{}, &workerapi.GapError{Job: req.Job, Expected: have, Got: req.LogLines}
	}
	r.finished[req.Job] = req
	r.changedLocked()
	return workerapi.FinishResponse{}, nil
}

// start queues a job for the worker.
func (r *recorder) start(s workerapi.StartJob) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.owner[s.Job] = true
	r.queue = append(r.queue, s)
	r.changedLocked()
}

// cancelJob asks the worker to cancel a job.
func (r *recorder) cancelJob(id workerapi.JobID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cancel = append(r.cancel, id)
	r.changedLocked()
}

// forget drops a job, as a server does whose lease on it ran out.
func (r *recorder) forget(id workerapi.JobID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.owner, id)
	r.changedLocked()
}

// loseTail drops the last n lines of a job's log, as a server that lost
// what it had not yet written would.
func (r *recorder) loseTail(id workerapi.JobID, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.logs[id]
	r.logs[id] = l[:max(0, len(l)-n)]
}

// waitFor waits until cond (called with r.mu held) holds, or fails the
// test after a generous time: the tests assert what happens, not when.
func (r *recorder) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		r.mu.Lock()
		ok := cond()
		ch := r.changed
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (r *recorder) logOf(id workerapi.JobID) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.logs[id]...)
}

func (r *recorder) finishOf(id workerapi.JobID) (workerapi.FinishRequest, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.finished[id]
	return f, ok
}

// logHas reports whether a job's log holds a line containing s; r.mu is
// held.
func (r *recorder) logHas(id workerapi.JobID, s string) bool {
	for _, l := range r.logs[id] {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// faults sits in front of the protocol's handler and fails some
// requests: every failEvery-th request gets a 503 without reaching the
// server, and every dropEvery-th is served and then its reply is lost
// (the connection is cut), so the worker must resend what the server
// already has.
type faults struct {
	next                 http.Handler
	failEvery, dropEvery int

	mu           sync.Mutex
	n            int
	failed, lost int
}

func (f *faults) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	f.mu.Lock()
	f.n++
	n := f.n
	fail := f.failEvery > 0 && n%f.failEvery == 0
	drop := !fail && f.dropEvery > 0 && n%f.dropEvery == 0
	if fail {
		f.failed++
	}
	if drop {
		f.lost++
	}
	f.mu.Unlock()
	if fail {
		http.Error(w, "the server is overloaded", http.StatusServiceUnavailable)
		return
	}
	if drop && req.URL.Path != workerapi.PollPath {
		f.next.ServeHTTP(httptest.NewRecorder(), req)
		panic(http.ErrAbortHandler)
	}
	f.next.ServeHTTP(w, req)
}

// serveOn starts an HTTP server on addr ("" for any port on 127.0.0.1)
// with a new protocol handler in front of r.
func serveOn(t *testing.T, r *recorder, addr string, f *faults) *httptest.Server {
	t.Helper()
	var h http.Handler = workerapi.NewHandler(r)
	if f != nil {
		f.next = h
		h = f
	}
	return serveHandler(t, addr, h)
}

// serveHandler serves h over HTTP on addr ("" for any port on
// 127.0.0.1), retrying while a port just closed lingers.
func serveHandler(t *testing.T, addr string, h http.Handler) *httptest.Server {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var l net.Listener
	var err error
	for range 50 { // the port of a server just closed may linger
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = l
	srv.Config.ErrorLog = nil
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

var errStopped = errors.New("test over")
