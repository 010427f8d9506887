package lab

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
)

// state returns a job's state, failing the test on error.
func (f *fixture) state(t *testing.T, id int64) store.Job {
	t.Helper()
	j, err := f.st.Job(context.Background(), id)
	must(t, err)
	return j
}

// TestWorkerHealthAndJobLimit: a pass gives no job to the devices of a
// worker in Maintenance, gives jobs again once it is Active, and never
// more at once than the worker's job limit.
func TestWorkerHealthAndJobLimit(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		f := newFixture(t, open(t), 2)
		must(t, f.st.PingWorker(ctx, "w1", time.Now()))
		maint, active, limit := store.WorkerMaintenance, store.WorkerActive, 1
		must(t, f.st.UpdateWorker(ctx, "w1", store.WorkerUpdate{Health: &maint}, store.Change{By: "admin"}))
		l, err := New(Config{Store: f.st, Logs: f.logs})
		must(t, err)
		var ids []int64
		for range 2 {
			jobs, err := l.Submit(ctx, f.alice, readFile(t, "job.yaml"))
			must(t, err)
			ids = append(ids, jobs[0].ID)
		}
		must(t, l.Pass(ctx))
		for _, id := range ids {
			if j := f.state(t, id); j.State != store.JobSubmitted {
				t.Errorf("job %d with its worker in Maintenance: %s on %q, want Submitted", id, j.State, j.Device)
			}
		}
		must(t, f.st.UpdateWorker(ctx, "w1", store.WorkerUpdate{Health: &active, JobLimit: &limit}, store.Change{By: "admin"}))
		must(t, l.Pass(ctx))
		if j := f.state(t, ids[0]); j.State != store.JobScheduled {
			t.Errorf("first job with its worker Active: %s, want Scheduled", j.State)
		}
		if j := f.state(t, ids[1]); j.State != store.JobSubmitted {
			t.Errorf("second job with the worker's job limit 1 reached: %s on %q, want Submitted", j.State, j.Device)
		}
		// Without the limit the second job gets the other device.
		limit = 0
		must(t, f.st.UpdateWorker(ctx, "w1", store.WorkerUpdate{JobLimit: &limit}, store.Change{}))
		must(t, l.Pass(ctx))
		if j := f.state(t, ids[1]); j.State != store.JobScheduled {
			t.Errorf("second job without a job limit: %s, want Scheduled", j.State)
		}
	})
}

// TestHealthFrequency: the health-check schedule is the device type's as
// stored: two hours after a health check a job runs under the default
// (24 hours); once the type's frequency is 1 hour, a health check runs
// first; per jobs, after health_frequency jobs; never when disabled.
func TestHealthFrequency(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		f := newFixture(t, open(t), 1)
		hc := strings.Replace(readFile(t, "job.yaml"), "job_name: lab-test", "job_name: qemu-health", 1)
		must(t, f.st.PutDeviceType(ctx, store.DeviceType{Name: "qemu", HealthCheck: hc}))
		var offset atomic.Int64 // the lab's clock runs ahead of the store's
		l, err := New(Config{Store: f.st, Logs: f.logs, Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
		must(t, err)
		// run makes a pass and runs what it scheduled to the end; it
		// returns whether that was a health check.
		run := func(what string) (healthCheck bool) {
			t.Helper()
			must(t, f.st.PingWorker(ctx, "w1", time.Now()))
			must(t, l.Pass(ctx))
			j, ok, err := f.st.ClaimJob(ctx, "w1", time.Now())
			must(t, err)
			if !ok {
				t.Fatalf("%s: the pass scheduled nothing", what)
			}
			must(t, f.st.FinishJob(ctx, j.ID, store.Finish{Health: store.JobComplete, DeviceHealth: store.HealthGood}, time.Now()))
			return j.HealthCheck
		}
		// The clock jumps hours ahead: jobs without the fixture's queue
		// timeout (1 hour), so that none expires.
		job := strings.Replace(readFile(t, "job.yaml"), "  queue:\n    hours: 1\n", "", 1)
		if strings.Contains(job, "queue:") {
			t.Fatal("testdata/job.yaml's queue timeout was not removed")
		}
		submit := func() {
			t.Helper()
			_, err := l.Submit(ctx, f.alice, job)
			must(t, err)
		}
		submit()
		if !run("first pass") {
			t.Fatal("first pass: a job ran on a device never checked, want its health check")
		}
		if run("then") {
			t.Fatal("a second health check ran at once")
		}
		offset.Store(int64(2 * time.Hour))
		submit()
		if run("2 hours later, default frequency") {
			t.Error("2 hours after a health check, with the default 24 hours, a health check ran")
		}
		one := 1
		must(t, f.st.UpdateDeviceType(ctx, "qemu", store.DeviceTypeUpdate{HealthFrequency: &one}))
		submit()
		if !run("2 hours later, frequency 1 hour") {
			t.Error("2 hours after a health check, with health_frequency 1 hour, the job ran first")
		}
		offset.Store(0) // the clock back to the last health check's
		if run("then") {
			t.Fatal("a second health check ran at once")
		}
		// Every 2 jobs.
		two, jobs := 2, store.PerJobs
		must(t, f.st.UpdateDeviceType(ctx, "qemu", store.DeviceTypeUpdate{HealthFrequency: &two, HealthDenominator: &jobs}))
		submit()
		if run("a job after the health check") {
			t.Error("per 2 jobs: a health check ran after 1 job")
		}
		submit()
		if !run("2 jobs after the health check") {
			t.Error("per 2 jobs: no health check after 2 jobs")
		}
		// Disabled: the job runs whatever the schedule.
		yes := true
		must(t, f.st.UpdateDeviceType(ctx, "qemu", store.DeviceTypeUpdate{HealthDisabled: &yes}))
		for i := range 3 {
			submit()
			if run("health checks disabled") {
				t.Fatalf("job %d with health checks disabled: a health check ran", i+1)
			}
		}
	})
}

// TestAliasAtSubmit: a job asking for an alias is stored with the device
// type the alias names, and scheduled on it; an unknown name is still
// refused.
func TestAliasAtSubmit(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		f := newFixture(t, open(t), 1)
		must(t, f.st.PingWorker(ctx, "w1", time.Now()))
		must(t, f.st.AddAlias(ctx, "x86-emulated", "qemu", false))
		l, err := New(Config{Store: f.st, Logs: f.logs})
		must(t, err)
		def := strings.Replace(readFile(t, "job.yaml"), "device_type: qemu", "device_type: x86-emulated", 1)
		jobs, err := l.Submit(ctx, f.alice, def)
		must(t, err)
		if jobs[0].DeviceType != "qemu" || jobs[0].Definition != def {
			t.Errorf("stored job: device type %q, definition changed: %v; want qemu, unchanged", jobs[0].DeviceType, jobs[0].Definition != def)
		}
		must(t, l.Pass(ctx))
		if j := f.state(t, jobs[0].ID); j.State != store.JobScheduled || j.Device != "qemu-01" {
			t.Errorf("job for the alias: %s on %q, want Scheduled on qemu-01", j.State, j.Device)
		}
		if _, err := l.Submit(ctx, f.alice, strings.Replace(def, "x86-emulated", "no-such-alias", 1)); err == nil {
			t.Error("a job for an unknown device type was accepted")
		}
	})
}
