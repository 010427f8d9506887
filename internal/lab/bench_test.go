package lab

import (
	"context"
	"database/sql"
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
				jobs, err := l.Submit(ctx, f.alice, job)
				if err != nil {
					b.Fatal(err)
				}
				if len(jobs) != 1 || jobs[0].State != store.JobSubmitted {
					b.Fatalf("Submit stored %+v, want one Submitted job", jobs)
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
			// Every idle device got a job from the last pass.
			if len(jobs) != 1000 {
				b.Fatalf("the pass scheduled %d jobs, want one on each of the 1,000 devices", len(jobs))
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

// BenchmarkHealthCheckStats reads the health-check history a pass needs
// from a lab of 100 devices that has run 100,000 jobs (one in a hundred a
// health check), on SQLite.
func BenchmarkHealthCheckStats(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "basalt.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	newFixture(&testing.T{}, st, 99)
	js := make([]store.NewJob, 100000)
	for i := range js {
		js[i] = store.NewJob{Definition: "x", Submitter: "alice", DeviceType: "qemu", HealthCheck: i%100 == 0}
	}
	if _, err := st.Submit(ctx, js); err != nil {
		b.Fatal(err)
	}
	st.Close()
	// The history: every job finished on a device (the store has no
	// shortcut to make a finished job, so the rows are written directly).
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE jobs SET state = 'Finished', device = 'qemu-' || printf('%02d', 1 + (id % 99)), started = submitted + id`); err != nil {
		b.Fatal(err)
	}
	db.Close()
	if st, err = sqlite.Open(ctx, path); err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		stats, err := st.HealthCheckStats(ctx)
		if err != nil || len(stats) != 99 {
			b.Fatalf("HealthCheckStats: %d devices, %v", len(stats), err)
		}
	}
}
