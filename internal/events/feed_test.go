package events

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/sqlite"
)

// drain returns the events received so far, one line each.
func drain(ch <-chan Event) []string {
	var out []string
	for {
		select {
		case e := <-ch:
			switch e.Kind {
			case TestJob:
				out = append(out, fmt.Sprintf("job %d %s/%s on %q worker %q", e.Job.ID, e.Job.State, e.Job.Health, e.Job.Device, e.JobWorker))
			case Device:
				out = append(out, fmt.Sprintf("device %s %s/%s job %q", e.Device.Name, e.Device.State, e.Device.Health, e.DeviceJob))
			case Worker:
				out = append(out, fmt.Sprintf("worker %s %s/%s", e.Worker.Name, e.Worker.State, e.Worker.Health))
			}
		default:
			return out
		}
	}
}

// TestFeed: through a real store, each stored change of a job, device
// or worker state or health is published once, with what was stored;
// what changes nothing publishes nothing.
func TestFeed(t *testing.T) {
	ctx := context.Background()
	raw, err := sqlite.Open(ctx, t.TempDir()+"/basalt.db")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	h := NewHub()
	st := Feed(raw, h)
	ch, cancel := h.Subscribe(64)
	defer cancel()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = st.CreateUser(ctx, "alice", "", false)
	must(err)
	must(st.PutDeviceType(ctx, store.DeviceType{Name: "qemu"}))
	_, err = st.CreateWorker(ctx, "w1", "")
	must(err)
	must(st.CreateDevice(ctx, store.Device{Name: "d1", DeviceType: "qemu", Worker: "w1"}))
	now := time.Now()
	step := func(what string, f func(), want ...string) {
		t.Helper()
		f()
		if got := drain(ch); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s published\n%s\nwant\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	step("first ping", func() { must(st.PingWorker(ctx, "w1", now)) }, "worker w1 Online/Active")
	step("second ping", func() { must(st.PingWorker(ctx, "w1", now)) })
	step("health Good", func() { must(st.SetDeviceHealth(ctx, "d1", store.HealthGood)) }, `device d1 Idle/Good job ""`)
	step("health Good again", func() { must(st.ChangeDeviceHealth(ctx, "d1", store.HealthGood, store.Change{})) })
	var ids []int64
	step("submit", func() {
		ids, err = st.Submit(ctx, []store.NewJob{{Definition: "x", Submitter: "alice", DeviceType: "qemu"}, {Definition: "y", Submitter: "alice", DeviceType: "qemu"}})
		must(err)
	}, `job 1 Submitted/Unknown on "" worker ""`, `job 2 Submitted/Unknown on "" worker ""`)
	step("schedule", func() { must(st.Schedule(ctx, []store.Assignment{{Job: ids[0], Device: "d1"}})) },
		`job 1 Scheduled/Unknown on "d1" worker "w1"`, `device d1 Reserved/Good job "1"`)
	step("claim", func() {
		_, ok, err := st.ClaimJob(ctx, "w1", now)
		must(err)
		if !ok {
			t.Fatal("nothing claimed")
		}
	}, `job 1 Running/Unknown on "d1" worker "w1"`, `device d1 Running/Good job "1"`)
	step("nothing to claim", func() {
		_, _, err := st.ClaimJob(ctx, "w1", now)
		must(err)
	})
	step("finish", func() { must(st.FinishJob(ctx, ids[0], store.Finish{Health: store.JobComplete}, now)) },
		`job 1 Finished/Complete on "d1" worker "w1"`, `device d1 Idle/Good job ""`)
	step("cancel queued", func() {
		_, err := st.CancelJob(ctx, ids[1], now)
		must(err)
	}, `job 2 Finished/Canceled on "" worker ""`)
	retired := store.WorkerRetired
	step("retire worker", func() { must(st.UpdateWorker(ctx, "w1", store.WorkerUpdate{Health: &retired}, store.Change{})) },
		"worker w1 Online/Retired", `device d1 Idle/Retired job ""`)
	step("worker offline", func() { must(st.SetWorkerState(ctx, "w1", store.WorkerOffline)) }, "worker w1 Offline/Retired")
	if Feed(raw, nil) != raw {
		t.Error("Feed without a hub is not the store itself")
	}
}
