package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/basalt-lava/basalt/internal/store"
)

// testDynamic: a MultiNode dynamic connection (connection: ssh,
// host_role) has no device; it is scheduled with its group, claimed by
// its host job's worker, listed among that worker's jobs and ends without
// touching a device.
func testDynamic(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	lab(t, s, 2)
	_, err := s.CreateWorker(ctx, "w2", "")
	must(t, err)
	group := func(g string, hostSub int) ([]int64, error) {
		return s.Submit(ctx, []store.NewJob{
			{Definition: "guest", Submitter: "alice", Group: g, SubID: 0, Dynamic: true, HostSubID: hostSub},
			{Definition: "host", Submitter: "alice", DeviceType: "qemu", Group: g, SubID: 1},
		})
	}
	// A host that is not in the submission, or is a dynamic connection
	// itself, is refused, and nothing is stored.
	for _, hostSub := range []int{5, 0} {
		if _, err := group("bad", hostSub); err == nil {
			t.Errorf("Submit with host sub_id %d: no error", hostSub)
		}
	}
	if js, err := s.GroupJobs(ctx, "bad"); err != nil || len(js) != 0 {
		t.Errorf("a refused submission stored %d jobs (%v)", len(js), err)
	}
	ids, err := group("g", 1)
	must(t, err)
	guest, host := ids[0], ids[1]
	j, err := s.Job(ctx, guest)
	must(t, err)
	if j.HostJob != host || !j.Dynamic() || j.Device != "" || j.DeviceType != "" {
		t.Errorf("dynamic job: HostJob %d Device %q DeviceType %q, want host %d and no device", j.HostJob, j.Device, j.DeviceType, host)
	}
	if j, _ := s.Job(ctx, host); j.HostJob != 0 || j.Dynamic() {
		t.Errorf("host job: HostJob %d, want 0", j.HostJob)
	}
	// A job with a device type cannot be scheduled without a device.
	single := submit(t, s, 1)[0]
	if err := s.Schedule(ctx, []store.Assignment{{Job: single}}); !errors.Is(err, store.ErrTransition) {
		t.Errorf("Schedule(a normal job without a device) = %v, want ErrTransition", err)
	}
	must(t, s.Schedule(ctx, []store.Assignment{{Job: host, Device: "d1"}, {Job: guest, Definition: "guest scheduled"}}))
	if j, _ := s.Job(ctx, guest); j.State != store.JobScheduled || j.Device != "" || j.Definition != "guest scheduled" {
		t.Errorf("dynamic job after Schedule: %s on %q, definition %q", j.State, j.Device, j.Definition)
	}
	// Another worker gets nothing; the host's worker gets both.
	if j, ok, err := s.ClaimJob(ctx, "w2", now); ok || err != nil {
		t.Errorf("ClaimJob(w2) = job %d, %v, %v; want nothing", j.ID, ok, err)
	}
	var claimed []int64
	for {
		j, ok, err := s.ClaimJob(ctx, "w1", now)
		must(t, err)
		if !ok {
			break
		}
		claimed = append(claimed, j.ID)
	}
	if diff := cmp.Diff(claimed, []int64{guest, host}); diff != "" {
		t.Errorf("claimed by w1 (-got +want):\n%s", diff)
	}
	if d, _ := s.Device(ctx, "d1"); d.State != store.DeviceRunning {
		t.Errorf("host device is %s, want Running", d.State)
	}
	running, err := s.Jobs(ctx, store.JobFilter{States: []store.JobState{store.JobRunning}, Worker: "w1"})
	must(t, err)
	var got []int64
	for _, j := range running {
		got = append(got, j.ID)
	}
	if diff := cmp.Diff(got, []int64{guest, host}); diff != "" {
		t.Errorf("Jobs(Running, w1) (-got +want):\n%s", diff)
	}
	if n, err := s.CountJobs(ctx, store.JobFilter{Worker: "w2"}); err != nil || n != 0 {
		t.Errorf("CountJobs(w2) = %d, %v; want 0", n, err)
	}
	// Ending the dynamic job leaves the host's device as it is.
	st, err := s.CancelJob(ctx, guest, now)
	must(t, err)
	if st != store.JobCanceling {
		t.Errorf("CancelJob(running dynamic job) = %s, want Canceling", st)
	}
	must(t, s.FinishJob(ctx, guest, store.Finish{Health: store.JobCanceled, DeviceHealth: store.HealthBad}, now))
	if d, _ := s.Device(ctx, "d1"); d.State != store.DeviceRunning || d.Health == store.HealthBad {
		t.Errorf("host device is %s/%s after the dynamic job ended, want Running and its health unchanged", d.State, d.Health)
	}
	// A dynamic job whose host job has finished is not claimed.
	ids, err = group("g2", 1)
	must(t, err)
	must(t, s.Schedule(ctx, []store.Assignment{{Job: ids[1], Device: "d2"}, {Job: ids[0]}}))
	st, err = s.CancelJob(ctx, ids[1], now)
	must(t, err)
	if st != store.JobFinished {
		t.Fatalf("CancelJob(scheduled host) = %s", st)
	}
	if j, ok, err := s.ClaimJob(ctx, "w1", now); ok || err != nil {
		t.Errorf("ClaimJob(w1) with the host job canceled = job %d, %v, %v; want nothing", j.ID, ok, err)
	}
	if st, err := s.CancelJob(ctx, ids[0], now); err != nil || st != store.JobFinished {
		t.Errorf("CancelJob(scheduled dynamic job) = %s, %v; want Finished", st, err)
	}
}
