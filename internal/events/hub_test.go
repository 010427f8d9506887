package events

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
)

// TestHubSlowSubscriber: a subscriber that does not read loses what does
// not fit its buffer, is told how many it lost, and never blocks the
// publisher or the other subscribers.
func TestHubSlowSubscriber(t *testing.T) {
	h := NewHub()
	slow, cancelSlow := h.Subscribe(2)
	fast, cancelFast := h.Subscribe(100)
	defer cancelFast()
	for i := range 10 {
		h.Publish(WorkerEvent(store.Worker{Name: "w", JobLimit: i}))
	}
	for i := range 10 {
		e := <-fast
		if e.Worker.JobLimit != i || e.Missed != 0 {
			t.Errorf("fast got %+v missed %d, want event %d", e.Worker, e.Missed, i)
		}
	}
	if a, b := <-slow, <-slow; a.Worker.JobLimit != 0 || b.Worker.JobLimit != 1 {
		t.Errorf("slow got %d %d", a.Worker.JobLimit, b.Worker.JobLimit)
	}
	h.Publish(WorkerEvent(store.Worker{Name: "w", JobLimit: 10}))
	if e := <-slow; e.Worker.JobLimit != 10 || e.Missed != 8 {
		t.Errorf("slow after its buffer emptied got %d, missed %d; want 10 and 8", e.Worker.JobLimit, e.Missed)
	}
	cancelSlow()
	cancelSlow()
	if _, open := <-slow; open {
		t.Error("channel open after cancel")
	}
	if n := h.Subscribers(); n != 1 {
		t.Errorf("%d subscribers, want 1", n)
	}
	var nilHub *Hub
	nilHub.Publish(Event{Kind: Worker}) // a lab without a hub
}

// TestData: the data of each kind has LAVA's keys (signals.py), optional
// ones only when set.
func TestData(t *testing.T) {
	sub := time.Date(2026, 1, 1, 10, 0, 0, 123456789, time.UTC)
	j := store.Job{ID: 12, State: store.JobRunning, Health: store.JobUnknown, Description: "smoke", Priority: 50,
		Submitter: "alice", DeviceType: "qemu", Device: "qemu01", Submitted: sub, Started: sub.Add(time.Second),
		Definition: "job_name: smoke\n", Group: "g", SubID: 1, GroupFirst: 11}
	e := JobEvent(j, "w1")
	if e.Job.Definition != "" || e.Username != "alice" {
		t.Errorf("event %+v", e)
	}
	for _, tc := range []struct {
		e    Event
		want string
	}{
		{e, `{"health":"Unknown","state":"Running","job":12,"description":"smoke","priority":50,"submit_time":"2026-01-01T10:00:00.123456+00:00","submitter":"alice","health_check":false,"sub_id":"11.1","device":"qemu01","worker":"w1","device_type":"qemu","start_time":"2026-01-01T10:00:01.123456+00:00"}`},
		{JobEvent(store.Job{ID: 3, State: store.JobSubmitted, Health: store.JobUnknown, Submitted: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), HealthCheck: true}, ""),
			`{"health":"Unknown","state":"Submitted","job":3,"description":"","priority":0,"submit_time":"2026-01-01T00:00:00+00:00","submitter":"","health_check":true}`},
		{DeviceEvent(store.Device{Name: "qemu01", DeviceType: "qemu", State: store.DeviceRunning, Health: store.HealthGood, Worker: "w1", Dictionary: "x"}, "12"),
			`{"health":"Good","state":"Running","device":"qemu01","device_type":"qemu","worker":"w1","job":12}`},
		{DeviceEvent(store.Device{Name: "qemu01", DeviceType: "qemu", State: store.DeviceReserved, Health: store.HealthGood}, "11.1"),
			`{"health":"Good","state":"Reserved","device":"qemu01","device_type":"qemu","worker":null,"job":"11.1"}`},
		{DeviceEvent(store.Device{Name: "qemu01", DeviceType: "qemu", State: store.DeviceIdle, Health: store.HealthBad}, ""),
			`{"health":"Bad","state":"Idle","device":"qemu01","device_type":"qemu","worker":null}`},
		{WorkerEvent(store.Worker{Name: "w1", State: store.WorkerOnline, Health: "Active"}), `{"hostname":"w1","health":"Active","state":"Online"}`},
	} {
		if got := string(tc.e.Data()); got != tc.want {
			t.Errorf("data\n got %s\nwant %s", got, tc.want)
		}
	}
	h := NewHub()
	ch, cancel := h.Subscribe(1)
	defer cancel()
	h.Publish(e)
	m := (<-ch).Message("")
	if len(m) != 5 || m[0] != "org.lavasoftware.testjob" || len(m[1]) != 36 || m[3] != "alice" {
		t.Errorf("message %q", m)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.999999-07:00", m[2]); err != nil {
		t.Errorf("time %q: %v", m[2], err)
	}
	var data map[string]any
	if err := json.Unmarshal([]byte(m[4]), &data); err != nil || data["job"] != float64(12) {
		t.Errorf("data %s: %v", m[4], err)
	}
}
