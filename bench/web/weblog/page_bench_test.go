package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/bench/internal/benchcli"
	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/logstore"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/sqlite"
	"github.com/basalt-lava/basalt/internal/web"
	"github.com/basalt-lava/basalt/internal/webauth"
)

// BenchmarkJobPage is the job page handler (internal/web, what `basalt
// server` mounts) answering GET /scheduler/job/N for a running job whose
// log holds 200 MiB of this command's synthetic records, in process:
// a real lab on SQLite and a real log store in a temporary folder. Each
// answer must be 200 and hold the log's last line (BASALT-FILL-END), so
// the figure is of a page that shows the end of the log. B/op says what
// one page costs in memory: it must not grow with the log.
//
//	go test -run XXX -bench JobPage -benchtime 20x ./bench/web/weblog
//
// BASALT_BENCH_LOG sets the size (200M by default; K, M, G). Building
// the log takes a few seconds, once per process.
func BenchmarkJobPage(b *testing.B) {
	f := pageFixture(b)
	for _, c := range []struct{ name, path string }{
		{"page", "/scheduler/job/%d"},
		{"incremental-line0", "/scheduler/job/%d/log_pipeline_incremental?line=0"},
	} {
		path := fmt.Sprintf(c.path, f.job)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				rec := httptest.NewRecorder()
				f.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s: %d %s", path, rec.Code, first(rec.Body.String(), 300))
				}
				if c.name == "page" && !strings.Contains(rec.Body.String(), "BASALT-FILL-END") {
					b.Fatalf("GET %s: the page (%d bytes) does not show the log's last line", path, rec.Body.Len())
				}
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "resp-bytes")
			b.ReportMetric(float64(f.bytes)/(1<<20), "log-MiB")
		})
	}
}

func first(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

type pageFix struct {
	h     http.Handler
	job   int64
	bytes int64
}

var (
	pageOnce sync.Once
	pageF    *pageFix
	pageErr  error
	pageDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pageDir != "" {
		os.RemoveAll(pageDir)
	}
	os.Exit(code)
}

func pageFixture(b *testing.B) *pageFix {
	b.Helper()
	pageOnce.Do(func() { pageF, pageErr = buildPageFixture() })
	if pageErr != nil {
		b.Fatal(pageErr)
	}
	return pageF
}

func buildPageFixture() (*pageFix, error) {
	size := os.Getenv("BASALT_BENCH_LOG")
	if size == "" {
		size = "200M"
	}
	want, err := benchcli.ParseSize(size)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	pageDir, err = os.MkdirTemp("", "basalt-pagebench-")
	if err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, filepath.Join(pageDir, "basalt.db"))
	if err != nil {
		return nil, err
	}
	logs, err := logstore.Open(pageDir, logstore.Options{})
	if err != nil {
		return nil, err
	}
	u, err := st.CreateUser(ctx, "bench", "bench-password", true)
	if err != nil {
		return nil, err
	}
	if err := st.PutDeviceType(ctx, store.DeviceType{Name: "qemu"}); err != nil {
		return nil, err
	}
	if _, err := st.CreateWorker(ctx, "w1", ""); err != nil {
		return nil, err
	}
	dict, err := os.ReadFile("../../../examples/qemu/device.jinja2")
	if err != nil {
		return nil, err
	}
	if err := st.CreateDevice(ctx, store.Device{Name: "qemu-01", DeviceType: "qemu", Worker: "w1", Dictionary: string(dict)}); err != nil {
		return nil, err
	}
	if err := st.SetDeviceHealth(ctx, "qemu-01", store.HealthGood); err != nil {
		return nil, err
	}
	l, err := lab.New(lab.Config{Store: st, Logs: logs, DataDir: pageDir})
	if err != nil {
		return nil, err
	}
	def, err := os.ReadFile("../../../examples/qemu/job.yaml")
	if err != nil {
		return nil, err
	}
	jobs, err := l.Submit(ctx, u, string(def))
	if err != nil {
		return nil, err
	}
	job := jobs[0].ID
	if err := st.Schedule(ctx, []store.Assignment{{Job: job, Device: "qemu-01"}}); err != nil {
		return nil, err
	}
	if _, ok, err := st.ClaimJob(ctx, "w1", time.Now()); err != nil || !ok {
		return nil, fmt.Errorf("claiming the job: %v (claimed %v)", err, ok)
	}
	// The log, as weblog streams it.
	g := newGen(12)
	var index, sent int64
	batch := make([]string, 0, 2000)
	for done := false; !done; {
		batch = batch[:0]
		for len(batch) < cap(batch) && !done {
			r := g.next()
			if sent+int64(len(r)+1) >= want {
				r = lastFillRecord(index+int64(len(batch))+1, g.t)
				done = true
			}
			batch = append(batch, r)
			sent += int64(len(r) + 1)
		}
		if index, err = logs.Append(job, index, batch); err != nil {
			return nil, err
		}
	}
	h, err := web.New(web.Config{Store: st, Logs: logs, Lab: l, Auth: webauth.New(st, []byte("0123456789abcdef0123456789abcdef")), DataDir: pageDir})
	if err != nil {
		return nil, err
	}
	return &pageFix{h: h, job: job, bytes: sent}, nil
}
