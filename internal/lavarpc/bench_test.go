package lavarpc

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/basalt-lava/basalt/internal/xmlrpc"
)

// BenchmarkSubmit is scheduler.jobs.submit over HTTP on 127.0.0.1 with
// Basic authentication, the real lab (every submission check) and SQLite:
// what one lavacli submission costs the server, client encoding excluded.
func BenchmarkSubmit(b *testing.B) {
	e := newEnv(b)
	t := b
	defer e.srv.Close()
	body, err := xmlrpc.MarshalCall("scheduler.jobs.submit", jobDef(t, "bench", "public"))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/RPC2", bytes.NewReader(body))
		req.SetBasicAuth("alice", "alicetok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		v, err := xmlrpc.DecodeResponse(resp.Body, xmlrpc.Limits{})
		resp.Body.Close()
		if _, ok := v.(int64); !ok || err != nil {
			b.Fatalf("submit = %v, %v", v, err)
		}
	}
}

// BenchmarkShow is scheduler.jobs.show, a read with authentication.
func BenchmarkShow(b *testing.B) {
	e := newEnv(b)
	t := b
	defer e.srv.Close()
	e.submit(jobDef(t, "bench", "public"))
	body, _ := xmlrpc.MarshalCall("scheduler.jobs.show", "1")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/RPC2", bytes.NewReader(body))
		req.SetBasicAuth("alice", "alicetok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		v, err := xmlrpc.DecodeResponse(resp.Body, xmlrpc.Limits{})
		resp.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
		if m, ok := v.(map[string]any); !ok || m["state"] != "Submitted" {
			b.Fatalf("jobs.show answered %#v, want the Submitted job", v)
		}
	}
}

// BenchmarkLogs reads a 40,000-line (about 3.6 MB) finished log from the
// start, as lavacli's first jobs.logs call does: one bounded reply.
func BenchmarkLogs(b *testing.B) {
	e := newEnv(b)
	defer e.srv.Close()
	id := e.submit(jobDef(b, "bench", "public"))
	lines := make([]string, 40000)
	for i := range lines {
		lines[i] = fmt.Sprintf("- {dt: '2026-12-07T02:00:00.%06d', lvl: target, msg: 'console line %d of a long boot log'}", i%1000000, i)
	}
	e.addLog(id, lines...)
	body, _ := xmlrpc.MarshalCall("scheduler.jobs.logs", fmt.Sprint(id), 0, nil)
	// The handler is called directly, its reply counted and dropped, so
	// that B/op is the server's alone (lavacli sends Accept-Encoding: gzip).
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "/RPC2", bytes.NewReader(body))
		req.Header.Set("Accept-Encoding", "gzip")
		w := &countingWriter{header: http.Header{}}
		e.api.ServeHTTP(w, req)
		if w.n < 100<<10 {
			b.Fatalf("reply of %d bytes", w.n)
		}
	}
}

// countingWriter is an http.ResponseWriter that only counts.
type countingWriter struct {
	header http.Header
	n      int
}

func (w *countingWriter) Header() http.Header         { return w.header }
func (w *countingWriter) WriteHeader(int)             {}
func (w *countingWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }
