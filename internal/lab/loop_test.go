package lab

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/workerapi"
)

func logLines(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf(`- {"dt": "2026-12-07T02:00:%02d.000000", "lvl": "info", "msg": "line %d"}`, i%60, i))
	}
	return out
}

func hasStart(resp workerapi.PollResponse) bool { return len(resp.Start) > 0 }

// TestJobLifecycle: a job goes Submitted → Scheduled → Running →
// Finished through the loop and the worker API; its log is acked by
// index, its results stored, its device left Idle and Good.
func TestJobLifecycle(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		f := newFixture(t, open(t), 1)
		r := f.start(t, nil)
		p := r.peer(t, "w1", f.token)
		jobs, err := r.lab.Submit(ctx, f.alice, readFile(t, "job.yaml"))
		must(t, err)
		id := jobs[0].ID

		resp := pollFor(t, p, nil, hasStart)
		if len(resp.Start) != 1 || int64(resp.Start[0].Job) != id {
			t.Fatalf("poll started %+v, want job %d", resp.Start, id)
		}
		sj := resp.Start[0]
		if sj.Definition != jobs[0].Definition || !strings.Contains(sj.Device, "qemu-system-x86_64") || sj.Coordinator != "" || sj.LogAcked != 0 {
			t.Errorf("StartJob = %+v", sj)
		}
		if resp.LeaseMS != DefaultLease.Milliseconds() || len(resp.Running) != 1 {
			t.Errorf("lease %d ms, running %v", resp.LeaseMS, resp.Running)
		}
		j, err := f.st.Job(ctx, id)
		must(t, err)
		if j.State != store.JobRunning || j.Device != "qemu-01" {
			t.Errorf("job after the poll: %s on %q, want Running on qemu-01", j.State, j.Device)
		}

		spool := logLines(0, 25)
		spool[3] = `- {"dt": "2026-12-07T02:00:03.000000", "lvl": "results", "msg": {"case": "streamed", "definition": "0_smoke", "result": "fail"}}`
		acked, err := p.Log(ctx, sj.Job, 0, spool[:10])
		must(t, err)
		if acked != 10 {
			t.Errorf("acked %d, want 10", acked)
		}
		// Sent again from 5 (a lost reply): nothing repeated.
		acked, err = p.Log(ctx, sj.Job, 5, spool[5:25])
		must(t, err)
		if acked != 25 {
			t.Errorf("acked %d, want 25", acked)
		}
		if _, err := p.Log(ctx, sj.Job, 30, spool[:1]); err == nil {
			t.Error("a log batch past the end was accepted")
		}
		if err := p.Finish(ctx, workerapi.FinishRequest{Job: sj.Job, Health: workerapi.Complete, LogLines: 26}); err == nil {
			t.Error("a finish claiming more lines than held was accepted")
		}
		m := "1.5"
		fin := workerapi.FinishRequest{Job: sj.Job, Health: workerapi.Complete, LogLines: 25, Results: []workerapi.Result{
			{Suite: "lava", Case: "job", Result: "pass"},
			{Suite: "0_smoke", Case: "boot-time", Result: "pass", Measurement: m, Units: "seconds", Metadata: map[string]string{"level": "3.1"}},
		}}
		must(t, p.Finish(ctx, fin))
		must(t, p.Finish(ctx, fin)) // again: nothing changes

		j, err = f.st.Job(ctx, id)
		must(t, err)
		if j.State != store.JobFinished || j.Health != store.JobComplete {
			t.Errorf("job after finish: %s/%s", j.State, j.Health)
		}
		rs, err := f.st.Results(ctx, id)
		must(t, err)
		if len(rs) != 2 || rs[1].Measurement == nil || *rs[1].Measurement != 1.5 || rs[1].Metadata != `{"level":"3.1"}` {
			t.Errorf("results = %+v", rs)
		}
		if diff := cmp.Diff(f.logs.get(t, id), spool); diff != "" {
			t.Errorf("stored log (-got +want):\n%s", diff)
		}
		d, err := f.st.Device(ctx, "qemu-01")
		must(t, err)
		if d.State != store.DeviceIdle || d.Health != store.HealthGood {
			t.Errorf("device after the job: %s/%s, want Idle/Good", d.State, d.Health)
		}
		if _, err := p.Log(ctx, sj.Job, 25, spool[:1]); err == nil {
			t.Error("log lines for a finished job were accepted")
		}
		// Another worker may not touch the job.
		tok2, err := f.st.CreateWorker(ctx, "w2", "")
		must(t, err)
		p2 := r.peer(t, "w2", tok2)
		if err := p2.Finish(ctx, fin); err == nil {
			t.Error("worker w2 finished w1's job")
		}
	})
}

// TestCancel: a running job's cancel reaches its worker's poll; the
// worker's finish ends it Canceled. A queued job ends Canceled at once.
func TestCancel(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		f := newFixture(t, open(t), 1)
		r := f.start(t, nil)
		p := r.peer(t, "w1", f.token)
		jobs, err := r.lab.Submit(ctx, f.alice, readFile(t, "job.yaml"))
		must(t, err)
		queued, err := r.lab.Submit(ctx, f.alice, readFile(t, "job.yaml"))
		must(t, err)
		resp := pollFor(t, p, nil, hasStart)
		id := resp.Start[0].Job
		if int64(id) != jobs[0].ID {
			t.Fatalf("started %d, want %d", id, jobs[0].ID)
		}
		j, err := f.st.Job(ctx, int64(id))
		must(t, err)
		bob, err := f.st.CreateUser(ctx, "bob", "", false)
		must(t, err)
		if err := r.lab.Cancel(ctx, bob, j); err == nil {
			t.Error("bob canceled alice's job")
		}
		must(t, r.lab.Cancel(ctx, f.alice, j))
		must(t, r.lab.Cancel(ctx, f.alice, j)) // again: no error
		running := []workerapi.RunningJob{{Job: id}}
		resp = pollFor(t, p, running, func(r workerapi.PollResponse) bool { return len(r.Cancel) > 0 })
		if len(resp.Cancel) != 1 || resp.Cancel[0] != id {
			t.Errorf("poll canceled %v, want [%d]", resp.Cancel, id)
		}
		// Once the worker says it is canceling, the cancel is not repeated.
		resp, err = p.Poll(ctx, []workerapi.RunningJob{{Job: id, Canceling: true}}, 0)
		must(t, err)
		if len(resp.Cancel) != 0 || len(resp.Running) != 1 {
			t.Errorf("poll while canceling: cancel %v running %v", resp.Cancel, resp.Running)
		}
		must(t, p.Finish(ctx, workerapi.FinishRequest{Job: id, Health: workerapi.Incomplete, ErrorType: "Canceled"}))
		j, err = f.st.Job(ctx, int64(id))
		must(t, err)
		if j.State != store.JobFinished || j.Health != store.JobCanceled {
			t.Errorf("canceled job: %s/%s, want Finished/Canceled", j.State, j.Health)
		}
		q := queued[0]
		must(t, r.lab.Cancel(ctx, f.alice, q))
		q, err = f.st.Job(ctx, q.ID)
		must(t, err)
		if q.State != store.JobFinished || q.Health != store.JobCanceled {
			t.Errorf("canceled queued job: %s/%s", q.State, q.Health)
		}
	})
}

// TestLeaseExpiry: a worker that stops polling loses its lease: it goes
// Offline, its running job ends Incomplete with an infrastructure error
// naming the worker and the lease, the device's health goes Unknown.
func TestLeaseExpiry(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		f := newFixture(t, open(t), 1)
		r := f.start(t, func(c *Config) { c.Lease = 300 * time.Millisecond })
		p := r.peer(t, "w1", f.token)
		_, err := r.lab.Submit(ctx, f.alice, readFile(t, "job.yaml"))
		must(t, err)
		resp := pollFor(t, p, nil, hasStart)
		id := int64(resp.Start[0].Job)
		// A result in the log, then the worker goes silent: the result
		// stays.
		lines := append(logLines(0, 2),
			`- {"dt": "2026-12-07T02:00:03.000000", "lvl": "results", "msg": {"case": "boot-time", "definition": "0_smoke", "result": "pass", "measurement": 1.5, "units": "seconds"}}`)
		if _, err := p.Log(ctx, workerapi.JobID(id), 0, lines); err != nil {
			t.Fatal(err)
		}
		var j store.Job
		waitFor(t, "the job ends", func() (bool, error) {
			j, err = f.st.Job(ctx, id)
			return j.State == store.JobFinished, err
		})
		if j.Health != store.JobIncomplete || j.ErrorClass != "Infrastructure" || !strings.Contains(j.ErrorMsg, "worker w1") || !strings.Contains(j.ErrorMsg, "lease") {
			t.Errorf("job after the lease: %s %s %q", j.Health, j.ErrorClass, j.ErrorMsg)
		}
		d, err := f.st.Device(ctx, "qemu-01")
		must(t, err)
		w, err := f.st.Worker(ctx, "w1")
		must(t, err)
		if d.Health != store.HealthUnknown || d.State != store.DeviceIdle || w.State != store.WorkerOffline {
			t.Errorf("after the lease: device %s/%s, worker %s; want Idle/Unknown, Offline", d.State, d.Health, w.State)
		}
		// The result logged is kept; the end is logged as lava-run would,
		// with the lava/job result saying why.
		rs, err := f.st.Results(ctx, id)
		must(t, err)
		if len(rs) != 2 || rs[0].Suite != "0_smoke" || rs[0].Case != "boot-time" || rs[0].Result != "pass" ||
			rs[0].Measurement == nil || *rs[0].Measurement != 1.5 || rs[0].Units != "seconds" || !strings.Contains(rs[0].Metadata, `"measurement":"1.5"`) ||
			rs[1].Suite != "lava" || rs[1].Case != "job" || rs[1].Result != "fail" || !strings.Contains(rs[1].Metadata, `"error_type":"Infrastructure"`) {
			t.Errorf("results of the lost job = %+v", rs)
		}
		// Each result is timed and points at its record in the log.
		for i, want := range []int64{2, 4} {
			if i < len(rs) && (rs[i].Logged.IsZero() || rs[i].LogStart == nil || *rs[i].LogStart != want || rs[i].LogEnd == nil || *rs[i].LogEnd != want) {
				t.Errorf("result %s/%s: logged %v, lines %v-%v, want line %d", rs[i].Suite, rs[i].Case, rs[i].Logged, rs[i].LogStart, rs[i].LogEnd, want)
			}
		}
		stored := f.logs.get(t, id)
		if len(stored) != 5 || !strings.Contains(stored[4], `"lvl": "results"`) || !strings.Contains(stored[4], `"error_type": "Infrastructure"`) ||
			!strings.Contains(stored[3], "worker w1 lost its lease") {
			t.Errorf("the lost job's log ends:\n%s", strings.Join(stored, "\n"))
		}
		// The worker comes back: the job is not its any more.
		resp, err = p.Poll(ctx, []workerapi.RunningJob{{Job: workerapi.JobID(id), LogAcked: 0}}, 0)
		must(t, err)
		if len(resp.Running) != 0 {
			t.Errorf("the server still lists %v as running", resp.Running)
		}
		if _, err := p.Log(ctx, workerapi.JobID(id), 0, logLines(0, 1)); err == nil {
			t.Error("log of an expired job accepted")
		}
	})
}

// TestServerRestart: a new Lab on the same store and logs carries on a
// running job: the worker's poll lists it as running, the rest of the log
// is accepted from the acked index, the finish is recorded; and the
// restart expires no one (the lease is timed from the start).
func TestServerRestart(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		f := newFixture(t, open(t), 1)
		r1 := f.start(t, nil)
		p := r1.peer(t, "w1", f.token)
		_, err := r1.lab.Submit(ctx, f.alice, readFile(t, "job.yaml"))
		must(t, err)
		resp := pollFor(t, p, nil, hasStart)
		id := resp.Start[0].Job
		spool := logLines(0, 40)
		acked, err := p.Log(ctx, id, 0, spool[:15])
		must(t, err)
		r1.stop()

		clock := time.Now().Add(time.Hour) // long after the last ping
		r2 := f.start(t, func(c *Config) { c.Lease = time.Minute; c.Now = func() time.Time { return clock } })
		must(t, r2.lab.expireLeases(ctx))
		if w, err := f.st.Worker(ctx, "w1"); err != nil || w.State != store.WorkerOnline {
			t.Errorf("worker after the restart: %+v, %v; want Online", w, err)
		}
		p = r2.peer(t, "w1", f.token)
		resp, err = p.Poll(ctx, []workerapi.RunningJob{{Job: id, LogAcked: acked}}, 0)
		must(t, err)
		if diff := cmp.Diff(resp.Running, []workerapi.JobID{id}); diff != "" || len(resp.Start) != 0 || len(resp.Cancel) != 0 {
			t.Errorf("poll after the restart: running (-got +want) %s, start %v, cancel %v", diff, resp.Start, resp.Cancel)
		}
		// The worker lost the last reply and resends from 10.
		acked, err = p.Log(ctx, id, 10, spool[10:40])
		must(t, err)
		if acked != 40 {
			t.Errorf("acked %d, want 40", acked)
		}
		must(t, p.Finish(ctx, workerapi.FinishRequest{Job: id, Health: workerapi.Complete, LogLines: 40}))
		if diff := cmp.Diff(f.logs.get(t, int64(id)), spool); diff != "" {
			t.Errorf("stored log (-got +want):\n%s", diff)
		}
		j, err := f.st.Job(ctx, int64(id))
		must(t, err)
		if j.Health != store.JobComplete {
			t.Errorf("job health %s, want Complete", j.Health)
		}
	})
}

// TestHealthCheckFirst: a device whose health is Unknown runs its type's
// health check before any job; its completion makes the device Good and
// the job runs next. A failed health check makes the device Bad.
func TestHealthCheckFirst(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		f := newFixture(t, open(t), 1)
		hc := strings.Replace(readFile(t, "job.yaml"), "job_name: lab-test", "job_name: qemu-health", 1)
		must(t, f.st.PutDeviceType(ctx, store.DeviceType{Name: "qemu", HealthCheck: hc}))
		must(t, f.st.SetDeviceHealth(ctx, "qemu-01", store.HealthUnknown))
		r := f.start(t, nil)
		p := r.peer(t, "w1", f.token)
		jobs, err := r.lab.Submit(ctx, f.alice, readFile(t, "job.yaml"))
		must(t, err)

		resp := pollFor(t, p, nil, hasStart)
		hcID := resp.Start[0].Job
		j, err := f.st.Job(ctx, int64(hcID))
		must(t, err)
		if !j.HealthCheck || j.Submitter != HealthUser || j.Description != "qemu-health" || int64(hcID) == jobs[0].ID {
			t.Fatalf("first job started: %+v, want the health check", j)
		}
		must(t, p.Finish(ctx, workerapi.FinishRequest{Job: hcID, Health: workerapi.Complete}))
		d, err := f.st.Device(ctx, "qemu-01")
		must(t, err)
		if d.Health != store.HealthGood {
			t.Errorf("device after a passing health check: %s, want Good", d.Health)
		}
		resp = pollFor(t, p, nil, hasStart)
		if int64(resp.Start[0].Job) != jobs[0].ID {
			t.Errorf("second start: job %d, want the submitted job %d", resp.Start[0].Job, jobs[0].ID)
		}
		// An infrastructure error sends the device back to Unknown, and
		// the next health check, failing, makes it Bad.
		must(t, p.Finish(ctx, workerapi.FinishRequest{Job: resp.Start[0].Job, Health: workerapi.Incomplete, ErrorType: "Infrastructure", ErrorMessage: "power failed"}))
		if d, _ = f.st.Device(ctx, "qemu-01"); d.Health != store.HealthUnknown {
			t.Errorf("device after an infrastructure error: %s, want Unknown", d.Health)
		}
		resp = pollFor(t, p, nil, hasStart)
		if j, _ := f.st.Job(ctx, int64(resp.Start[0].Job)); !j.HealthCheck {
			t.Fatalf("started %+v after the infrastructure error, want a health check", j)
		}
		must(t, p.Finish(ctx, workerapi.FinishRequest{Job: resp.Start[0].Job, Health: workerapi.Incomplete, ErrorType: "Test"}))
		if d, _ = f.st.Device(ctx, "qemu-01"); d.Health != store.HealthBad {
			t.Errorf("device after a failed health check: %s, want Bad", d.Health)
		}
	})
}

// TestInvalidDictionaryMakesDeviceBad: a pass that would give work to a
// device whose dictionary does not render sets it Bad and gives the work
// to another; the submission check leaves such a device out.
func TestInvalidDictionaryMakesDeviceBad(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		f := newFixture(t, open(t), 2)
		must(t, f.st.SetDictionary(ctx, "qemu-02", "{% extends 'no-such-type.jinja2' %}"))
		must(t, f.st.PingWorker(ctx, "w1", time.Now()))
		l, err := New(Config{Store: f.st, Logs: f.logs})
		must(t, err)
		// Two jobs: the first pass plans one on each device.
		var ids []int64
		for i := 0; i < 2; i++ {
			jobs, err := l.Submit(ctx, f.alice, readFile(t, "job.yaml"))
			must(t, err)
			ids = append(ids, jobs[0].ID)
		}
		must(t, l.Pass(ctx))
		for name, want := range map[string]store.DeviceHealth{"qemu-01": store.HealthGood, "qemu-02": store.HealthBad} {
			d, err := f.st.Device(ctx, name)
			must(t, err)
			if d.Health != want {
				t.Errorf("%s health %s, want %s", name, d.Health, want)
			}
		}
		entries, err := f.st.DeviceLog(ctx, "qemu-02", 1)
		must(t, err)
		if len(entries) != 1 || entries[0].New != store.HealthBad || !strings.HasPrefix(entries[0].Reason, "Invalid device configuration: ") {
			t.Errorf("qemu-02's device log = %+v, want Bad for its invalid configuration", entries)
		}
		j, err := f.st.Job(ctx, ids[0])
		must(t, err)
		if j.State != store.JobScheduled || j.Device != "qemu-01" {
			t.Errorf("first job %s on %q, want Scheduled on qemu-01", j.State, j.Device)
		}
	})
}

// TestMultiNodeGroup: a group is scheduled whole on devices of two
// workers; each sub-job gets the roles map of the group's ids and the
// coordinator; canceling one sub-job cancels the group.
func TestMultiNodeGroup(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		f := newFixture(t, open(t), 1)
		tok2, err := f.st.CreateWorker(ctx, "w2", "")
		must(t, err)
		must(t, f.st.CreateDevice(ctx, store.Device{Name: "qemu-02", DeviceType: "qemu", Worker: "w2", Dictionary: readFile(t, "device.jinja2")}))
		must(t, f.st.SetDeviceHealth(ctx, "qemu-02", store.HealthGood))
		r := f.start(t, nil)
		p1, p2 := r.peer(t, "w1", f.token), r.peer(t, "w2", tok2)
		// Both workers online before the submission, so the pass sees both.
		for _, p := range []*workerapi.Peer{p1, p2} {
			_, err := p.Poll(ctx, nil, 0)
			must(t, err)
		}
		jobs, err := r.lab.Submit(ctx, f.alice, readFile(t, "multinode.yaml"))
		must(t, err)
		s1 := pollFor(t, p1, nil, hasStart).Start[0]
		s2 := pollFor(t, p2, nil, hasStart).Start[0]
		roles := fmt.Sprintf("roles:\n      '%d': server\n      '%d': client", jobs[0].ID, jobs[1].ID)
		for _, s := range []workerapi.StartJob{s1, s2} {
			if s.Coordinator != "127.0.0.1:3079" || !strings.Contains(s.Definition, roles) {
				t.Errorf("sub-job %d: coordinator %q, definition without %q:\n%s", s.Job, s.Coordinator, roles, s.Definition)
			}
		}
		if s1.Job == s2.Job {
			t.Errorf("both workers started job %d", s1.Job)
		}
		must(t, r.lab.Cancel(ctx, f.alice, jobs[1]))
		for _, j := range jobs {
			j, err := f.st.Job(ctx, j.ID)
			must(t, err)
			if j.State != store.JobCanceling {
				t.Errorf("sub-job %v after canceling the group: %s, want Canceling", DisplayID(j), j.State)
			}
		}
	})
}

// TestRefusedLogRecord: a line the log store refuses is replaced by a
// warning that names it, at the same index, and the batch is acked.
func TestRefusedLogRecord(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		f := newFixture(t, open(t), 1)
		r := f.start(t, nil)
		p := r.peer(t, "w1", f.token)
		_, err := r.lab.Submit(ctx, f.alice, readFile(t, "job.yaml"))
		must(t, err)
		id := pollFor(t, p, nil, hasStart).Start[0].Job
		lines := logLines(0, 3)
		lines[1] = "printed by the guest, not a record"
		acked, err := p.Log(ctx, id, 0, lines)
		must(t, err)
		if acked != 3 {
			t.Fatalf("acked %d, want 3", acked)
		}
		got := f.logs.get(t, int64(id))
		if len(got) != 3 || got[0] != lines[0] || got[2] != lines[2] ||
			!strings.Contains(got[1], `"lvl": "warning"`) || !strings.Contains(got[1], "log line 1 was refused") {
			t.Errorf("stored log:\n%s", strings.Join(got, "\n"))
		}
	})
}

// flakyStore fails its first Queue calls, as a database restarting does,
// and counts them.
type flakyStore struct {
	store.Store
	mu     sync.Mutex
	fails  int
	queued int // Queue calls
}

func (s *flakyStore) Queue(ctx context.Context) ([]store.Job, error) {
	s.mu.Lock()
	s.queued++
	fail := s.fails > 0
	if fail {
		s.fails--
	}
	s.mu.Unlock()
	if fail {
		return nil, errors.New("the database is restarting")
	}
	return s.Store.Queue(ctx)
}

// TestPassRetried: a pass that fails is retried without an event, and
// the job is scheduled once the store answers again.
func TestPassRetried(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		st := open(t)
		f := newFixture(t, st, 1)
		must(t, st.PingWorker(ctx, "w1", time.Now()))
		flaky := &flakyStore{Store: st, fails: 2}
		f.st = flaky
		r := f.start(t, nil)
		jobs, err := r.lab.Submit(ctx, f.alice, readFile(t, "job.yaml"))
		must(t, err)
		waitFor(t, "the job is scheduled", func() (bool, error) {
			j, err := st.Job(ctx, jobs[0].ID)
			return j.State == store.JobScheduled, err
		})
		flaky.mu.Lock()
		defer flaky.mu.Unlock()
		if flaky.fails != 0 {
			t.Errorf("%d failures left: the loop did not retry", flaky.fails)
		}
	})
}

// TestEventPassSkipsQueueWhenNothingIsFree: a pass asked for by an event
// does not read the queue when no device can take work; a periodic pass
// does (queue timeouts).
func TestEventPassSkipsQueueWhenNothingIsFree(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		st := open(t)
		f := newFixture(t, st, 1) // its worker has never polled: Offline
		counting := &flakyStore{Store: st}
		l, err := New(Config{Store: counting, Logs: f.logs})
		must(t, err)
		_, err = l.Submit(ctx, f.alice, readFile(t, "job.yaml"))
		must(t, err)
		must(t, l.pass(ctx, false))
		must(t, l.pass(ctx, true))
		if counting.queued != 1 {
			t.Errorf("the queue was read %d times, want once (by the periodic pass)", counting.queued)
		}
	})
}

// cancelingStore cancels a job just after the pass has read the queue,
// as a user's cancel racing the pass does.
type cancelingStore struct {
	store.Store
	cancel int64
}

func (s *cancelingStore) Queue(ctx context.Context) ([]store.Job, error) {
	q, err := s.Store.Queue(ctx)
	if err == nil && s.cancel != 0 {
		_, err = s.Store.CancelJob(ctx, s.cancel, time.Now())
		s.cancel = 0
	}
	return q, err
}

// TestScheduleChunkRetriedJobByJob: the single jobs a pass stores in one
// transaction are stored one by one when that transaction is refused (a
// job canceled after the pass's snapshot): the others are scheduled, the
// canceled job stays canceled and its device Idle.
func TestScheduleChunkRetriedJobByJob(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		st := open(t)
		f := newFixture(t, st, 3)
		must(t, st.PingWorker(ctx, "w1", time.Now()))
		cs := &cancelingStore{Store: st}
		l, err := New(Config{Store: cs, Logs: f.logs})
		must(t, err)
		var ids []int64
		for i := 0; i < 3; i++ {
			jobs, err := l.Submit(ctx, f.alice, readFile(t, "job.yaml"))
			must(t, err)
			ids = append(ids, jobs[0].ID)
		}
		cs.cancel = ids[1]
		must(t, l.Pass(ctx))
		devices := map[string]bool{}
		for i, id := range ids {
			j, err := st.Job(ctx, id)
			must(t, err)
			want := store.JobScheduled
			if i == 1 {
				want = store.JobFinished
			}
			if j.State != want {
				t.Errorf("job %d: %s, want %s", id, j.State, want)
			}
			if j.Device != "" {
				devices[j.Device] = true
			}
		}
		idle := 0
		for _, name := range []string{"qemu-01", "qemu-02", "qemu-03"} {
			d, err := st.Device(ctx, name)
			must(t, err)
			if d.State == store.DeviceIdle {
				idle++
			} else if !devices[name] {
				t.Errorf("%s is %s without a job", name, d.State)
			}
		}
		if idle != 1 || len(devices) != 2 {
			t.Errorf("%d devices Idle and %d with jobs, want 1 and 2", idle, len(devices))
		}
	})
}
