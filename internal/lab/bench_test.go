package lab

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/sqlite"
)

// BenchmarkSubmit submits the test job to a lab of n QEMU devices on
// SQLite: the submission checks (the job on every device) and the insert.
func BenchmarkSubmit(b *testing.B) {
	for _, n := range []int{1, 50} {
		b.Run(fmt.Sprintf("devices=%d", n), func(b *testing.B) {
			ctx := context.Background()
			st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "basalt.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			t := &testing.T{}
			f := newFixture(t, st, n)
			l, err := New(Config{Store: st, Logs: f.logs})
			if err != nil {
				b.Fatal(err)
			}
			job := readFile(t, "job.yaml")
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := l.Submit(ctx, f.alice, job); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPass is one scheduling pass over 10,000 queued jobs and 1,000
// idle devices on SQLite, snapshot and applying the plan included.
func BenchmarkPass(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "basalt.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	t := &testing.T{}
	f := newFixture(t, st, 1000)
	must(t, st.PingWorker(ctx, "w1", time.Now()))
	var js []store.NewJob
	for i := 0; i < 10000; i++ {
		js = append(js, store.NewJob{Definition: "x", Submitter: "alice", DeviceType: "qemu", Priority: 50})
	}
	if _, err := st.Submit(ctx, js); err != nil {
		b.Fatal(err)
	}
	l, err := New(Config{Store: st, Logs: f.logs})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		// Free the devices again: finish what the last pass scheduled.
		if i > 0 {
			jobs, err := st.Jobs(ctx, store.JobFilter{States: []store.JobState{store.JobScheduled}})
			if err != nil {
				b.Fatal(err)
			}
			for _, j := range jobs {
				if err := st.FinishJob(ctx, j.ID, store.Finish{Health: store.JobCanceled}, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StartTimer()
		if err := l.Pass(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
