package lavarpc

import (
	"bytes"
	"net/http"
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
		_, err = xmlrpc.DecodeResponse(resp.Body, xmlrpc.Limits{})
		resp.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
}
