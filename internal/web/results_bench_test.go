package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
)

// BenchmarkCasePage is the test case page with its plot in a lab of 1000
// finished jobs with 20 results each: the history query (the latest 50
// jobs of the type that have the case), the SVG, the page.
//
//	go test ./internal/web -run '^$' -bench CasePage -benchtime 50x
func BenchmarkCasePage(b *testing.B) {
	// newTestSite wants a *testing.T; its cleanups never run on this one,
	// so the benchmark cleans up itself.
	ts := newTestSite(&testing.T{})
	b.Cleanup(func() {
		ts.logs.Close()
		ts.st.Close()
		os.RemoveAll(filepath.Dir(ts.dataDir))
	})
	ctx := context.Background()
	const jobs, cases = 1000, 20
	var last int64
	for i := 0; i < jobs; i++ {
		ids, err := ts.st.Submit(ctx, []store.NewJob{{Submitter: "alice", DeviceType: "qemu", Description: "perf", Definition: "job_name: perf\n"}})
		if err != nil {
			b.Fatal(err)
		}
		if err := ts.st.Schedule(ctx, []store.Assignment{{Job: ids[0], Device: "qemu-01"}}); err != nil {
			b.Fatal(err)
		}
		rs := make([]store.Result, cases)
		for c := range rs {
			m := float64(i*c%97) + 0.5
			rs[c] = store.Result{Suite: "0_perf", Case: fmt.Sprintf("c%d", c), Result: "pass", Measurement: &m, Units: "ms", Metadata: "{}"}
		}
		if err := ts.st.FinishJob(ctx, ids[0], store.Finish{Health: store.JobComplete, Results: rs}, timeNowForBench()); err != nil {
			b.Fatal(err)
		}
		last = ids[0]
	}
	path := fmt.Sprintf("/results/%d/0_perf/c7", last)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := httptest.NewRecorder()
		ts.h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusOK || strings.Count(rec.Body.String(), `class="plot-point`) != caseHistoryJobs {
			b.Fatalf("%s: %d, %d points", path, rec.Code, strings.Count(rec.Body.String(), `class="plot-point`))
		}
	}
}

func timeNowForBench() time.Time { return time.Now() }
