package webe2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/labtest"
	"github.com/basalt-lava/basalt/internal/xmlrpc"
)

// callback is one request a receiver got.
type callback struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	Seen   string // what the receiver's inspect saw before answering
}

// receiver is a real HTTP server on 127.0.0.1 standing for a callback's
// receiver (KernelCI's lava_callback): it records every request and
// answers 202, as KernelCI does.
type receiver struct {
	srv *httptest.Server
	got chan callback
}

// newReceiver starts a receiver; inspect, when not nil, runs on each
// request before it is answered (as KernelCI's receiver reads the job
// back from LAVA), its result kept in the callback's Seen.
func newReceiver(t *testing.T, inspect func(callback) string) *receiver {
	rc := &receiver{got: make(chan callback, 16)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		c := callback{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
		if inspect != nil {
			c.Seen = inspect(c)
		}
		rc.got <- c
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// next is the next request received; it fails the test after d.
func (rc *receiver) next(t *testing.T, d time.Duration, what string) callback {
	t.Helper()
	select {
	case c := <-rc.got:
		return c
	case <-time.After(d):
		t.Fatalf("%s: no callback within %s", what, d)
		return callback{}
	}
}

// hangingReceiver accepts requests and never answers them until the test
// ends: a callback to it stays outstanding.
type hangingReceiver struct {
	srv     *httptest.Server
	arrived chan string // the path of each request, when it arrives
	release chan struct{}
	mu      sync.Mutex
	open    int // requests not answered yet
}

func newHangingReceiver(t *testing.T) *hangingReceiver {
	h := &hangingReceiver{arrived: make(chan string, 16), release: make(chan struct{})}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h.mu.Lock()
		h.open++
		h.mu.Unlock()
		defer func() {
			h.mu.Lock()
			h.open--
			h.mu.Unlock()
		}()
		h.arrived <- r.URL.Path
		select {
		case <-h.release:
		case <-r.Context().Done():
		}
	}))
	// Cleanups run last registered first: release, then close (Close
	// waits for the handlers).
	t.Cleanup(h.srv.Close)
	t.Cleanup(func() { close(h.release) })
	return h
}

// outstanding is how many requests it holds unanswered.
func (h *hangingReceiver) outstanding() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.open
}

// rpc calls an XML-RPC method of the lab as user (with its token), as
// lavacli does, and returns the value; a fault fails the test.
func rpc(t *testing.T, l *labtest.Lab, user, method string, params ...any) any {
	t.Helper()
	v, err := rpcCall(l.URL(), user, l.Tokens[user], method, params...)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return v
}

// rpcCall is one XML-RPC call to the server at url.
func rpcCall(url, user, token, method string, params ...any) (any, error) {
	body, err := xmlrpc.MarshalCall(method, params...)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest("POST", url+"/RPC2", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/xml")
	req.SetBasicAuth(user, token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return xmlrpc.DecodeResponse(resp.Body, xmlrpc.Limits{})
}

// submit submits a job definition through XML-RPC and returns its id.
func submit(t *testing.T, l *labtest.Lab, user, definition string) string {
	t.Helper()
	switch v := rpc(t, l, user, "scheduler.jobs.submit", definition).(type) {
	case int64:
		return fmt.Sprint(v)
	case int:
		return fmt.Sprint(v)
	case []any:
		if len(v) > 0 {
			return fmt.Sprint(v[0])
		}
	}
	t.Fatalf("scheduler.jobs.submit: no job id")
	return ""
}

// jobState is scheduler.jobs.show's state and health of a job.
func jobState(t *testing.T, l *labtest.Lab, id string) (state, health string) {
	t.Helper()
	m, ok := rpc(t, l, "admin", "scheduler.jobs.show", id).(map[string]any)
	if !ok {
		t.Fatalf("scheduler.jobs.show %s: not a struct", id)
	}
	return fmt.Sprint(m["state"]), fmt.Sprint(m["health"])
}
