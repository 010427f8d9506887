package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/basalt-lava/basalt/internal/store"
)

// testAdmin: what administrators set on workers, devices and device types
// is stored and read back, a worker's health cascades to its devices as
// in LAVA, device health changes are logged, aliases name device types.
func testAdmin(t *testing.T, open Factory) {
	ctx := context.Background()
	t.Run("WorkerFields", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		lab(t, s, 1)
		w, err := s.Worker(ctx, "w1")
		must(t, err)
		if w.Health != store.WorkerActive || w.JobLimit != 0 || w.Description != "" {
			t.Errorf("new worker = %+v, want Active, no limit, no description", w)
		}
		desc, limit, h := "rack 3", 2, store.WorkerMaintenance
		must(t, s.UpdateWorker(ctx, "w1", store.WorkerUpdate{Description: &desc, JobLimit: &limit, Health: &h}, store.Change{By: "admin"}))
		w, err = s.Worker(ctx, "w1")
		must(t, err)
		if w.Health != store.WorkerMaintenance || w.JobLimit != 2 || w.Description != "rack 3" {
			t.Errorf("updated worker = %+v", w)
		}
		ws, err := s.Workers(ctx)
		must(t, err)
		if len(ws) != 1 || ws[0] != w {
			t.Errorf("Workers = %+v, want [%+v]", ws, w)
		}
		// Only the fields set change.
		must(t, s.UpdateWorker(ctx, "w1", store.WorkerUpdate{}, store.Change{}))
		if w2, _ := s.Worker(ctx, "w1"); w2 != w {
			t.Errorf("empty update changed the worker: %+v, was %+v", w2, w)
		}
		bad := store.WorkerHealth("Sleepy")
		neg := -1
		for _, u := range []store.WorkerUpdate{{Health: &bad}, {JobLimit: &neg}} {
			if err := s.UpdateWorker(ctx, "w1", u, store.Change{}); err == nil {
				t.Errorf("UpdateWorker(%+v) accepted", u)
			}
		}
		if err := s.UpdateWorker(ctx, "nobody", store.WorkerUpdate{Description: &desc}, store.Change{}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateWorker(nobody) = %v, want ErrNotFound", err)
		}
		// A new token replaces the old one.
		old, err := s.SetWorkerToken(ctx, "w1", "first-token")
		must(t, err)
		tok, err := s.SetWorkerToken(ctx, "w1", "")
		must(t, err)
		if len(tok) != 64 {
			t.Errorf("SetWorkerToken random = %q, want 64 hex digits", tok)
		}
		if _, err := s.AuthenticateWorker(ctx, "w1", tok); err != nil {
			t.Errorf("AuthenticateWorker(new token) = %v", err)
		}
		if _, err := s.AuthenticateWorker(ctx, "w1", old); !errors.Is(err, store.ErrAuth) {
			t.Errorf("AuthenticateWorker(replaced token) = %v, want ErrAuth", err)
		}
		if _, err := s.SetWorkerToken(ctx, "nobody", ""); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetWorkerToken(nobody) = %v, want ErrNotFound", err)
		}
	})
	t.Run("WorkerHealthCascade", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		lab(t, s, 4)
		must(t, s.SetDeviceHealth(ctx, "d1", store.HealthGood))
		must(t, s.SetDeviceHealth(ctx, "d2", store.HealthBad))
		must(t, s.SetDeviceHealth(ctx, "d3", store.HealthMaintenance))
		// d4 stays Unknown.
		health := func() map[string]store.DeviceHealth {
			ds, err := s.Devices(ctx)
			must(t, err)
			m := map[string]store.DeviceHealth{}
			for _, d := range ds {
				m[d.Name] = d.Health
			}
			return m
		}
		set := func(h store.WorkerHealth) {
			t.Helper()
			must(t, s.UpdateWorker(ctx, "w1", store.WorkerUpdate{Health: &h}, store.Change{By: "admin", Reason: "move"}))
		}
		// Maintenance changes no device; back to Active, Good devices
		// need a health check (Unknown).
		set(store.WorkerMaintenance)
		want := map[string]store.DeviceHealth{"d1": store.HealthGood, "d2": store.HealthBad, "d3": store.HealthMaintenance, "d4": store.HealthUnknown}
		if diff := cmp.Diff(health(), want); diff != "" {
			t.Errorf("after Maintenance (-got +want):\n%s", diff)
		}
		set(store.WorkerActive)
		want["d1"] = store.HealthUnknown
		if diff := cmp.Diff(health(), want); diff != "" {
			t.Errorf("after Active (-got +want):\n%s", diff)
		}
		log, err := s.DeviceLog(ctx, "d1", 1)
		must(t, err)
		if len(log) != 1 || log[0].By != "admin" || log[0].String() != "Good → Unknown (worker going active: move)" {
			t.Errorf("d1's last log entry = %+v", log)
		}
		// Retired retires every device but the Bad ones; Active again
		// from Retired changes none.
		set(store.WorkerRetired)
		want = map[string]store.DeviceHealth{"d1": store.HealthRetired, "d2": store.HealthBad, "d3": store.HealthRetired, "d4": store.HealthRetired}
		if diff := cmp.Diff(health(), want); diff != "" {
			t.Errorf("after Retired (-got +want):\n%s", diff)
		}
		set(store.WorkerActive)
		if diff := cmp.Diff(health(), want); diff != "" {
			t.Errorf("after Active from Retired (-got +want):\n%s", diff)
		}
	})
	t.Run("DeviceFieldsAndLog", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		lab(t, s, 0)
		must(t, s.CreateDevice(ctx, store.Device{Name: "d1", DeviceType: "qemu", Worker: "w1", Description: "first", PhysicalOwner: "alice"}))
		d, err := s.Device(ctx, "d1")
		must(t, err)
		if d.Description != "first" || d.PhysicalOwner != "alice" || d.PhysicalGroup != "" {
			t.Errorf("created device = %+v", d)
		}
		desc, owner, group := "second", "", "lab"
		must(t, s.UpdateDevice(ctx, "d1", store.DeviceUpdate{Description: &desc, PhysicalOwner: &owner, PhysicalGroup: &group}))
		ds, err := s.Devices(ctx)
		must(t, err)
		if len(ds) != 1 || ds[0].Description != "second" || ds[0].PhysicalOwner != "" || ds[0].PhysicalGroup != "lab" {
			t.Errorf("updated device = %+v", ds)
		}
		at := now
		must(t, s.ChangeDeviceHealth(ctx, "d1", store.HealthGood, store.Change{By: "alice", Reason: "checked by hand", At: at}))
		must(t, s.ChangeDeviceHealth(ctx, "d1", store.HealthGood, store.Change{By: "alice", Reason: "same again"}))
		must(t, s.ChangeDeviceHealth(ctx, "d1", store.HealthMaintenance, store.Change{By: "bob", At: at.Add(time.Minute)}))
		must(t, s.SetDeviceHealth(ctx, "d1", store.HealthBad))
		log, err := s.DeviceLog(ctx, "d1", 0)
		must(t, err)
		var got []string
		for _, e := range log {
			got = append(got, e.By+": "+e.String())
		}
		want := []string{": Maintenance → Bad", "bob: Good → Maintenance", "alice: Unknown → Good (checked by hand)"}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("device log, newest first (-got +want):\n%s", diff)
		}
		if !log[2].At.Equal(at) || !log[1].At.Equal(at.Add(time.Minute)) {
			t.Errorf("log times = %v, %v; want %v, %v", log[2].At, log[1].At, at, at.Add(time.Minute))
		}
		if log, err := s.DeviceLog(ctx, "d1", 1); err != nil || len(log) != 1 || log[0].New != store.HealthBad {
			t.Errorf("DeviceLog(limit 1) = %+v, %v", log, err)
		}
		if err := s.ChangeDeviceHealth(ctx, "d1", "Sleepy", store.Change{}); err == nil {
			t.Error("ChangeDeviceHealth(Sleepy) accepted")
		}
		if _, err := s.DeviceLog(ctx, "nope", 0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeviceLog(nope) = %v, want ErrNotFound", err)
		}
		// The log goes with its device.
		must(t, s.DeleteDevice(ctx, "d1"))
		must(t, s.CreateDevice(ctx, store.Device{Name: "d1", DeviceType: "qemu", Worker: "w1"}))
		if log, err := s.DeviceLog(ctx, "d1", 0); err != nil || len(log) != 0 {
			t.Errorf("a new d1's log = %+v, %v, want empty", log, err)
		}
	})
	t.Run("FinishLogsDeviceHealth", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		lab(t, s, 1)
		must(t, s.SetDeviceHealth(ctx, "d1", store.HealthGood))
		id := reach(t, s, store.JobRunning)
		must(t, s.FinishJob(ctx, id, store.Finish{Health: store.JobIncomplete, ErrorClass: "Infrastructure", DeviceHealth: store.HealthUnknown}, now))
		// A health check's result changes only the healths it is given.
		must(t, s.SetDeviceHealth(ctx, "d1", store.HealthMaintenance))
		hc, err := s.ScheduleHealthCheck(ctx, store.NewJob{Definition: "job_name: hc\n", Submitter: "alice", DeviceType: "qemu", HealthCheck: true}, "d1")
		must(t, err)
		must(t, s.FinishJob(ctx, hc, store.Finish{Health: store.JobComplete, DeviceHealth: store.HealthGood,
			DeviceHealthFrom: []store.DeviceHealth{store.HealthGood, store.HealthUnknown, store.HealthBad}}, now))
		if d, err := s.Device(ctx, "d1"); err != nil || d.Health != store.HealthMaintenance {
			t.Errorf("d1 after a health check while in Maintenance: %+v, %v; want Maintenance", d, err)
		}
		must(t, s.SetDeviceHealth(ctx, "d1", store.HealthUnknown))
		hc, err = s.ScheduleHealthCheck(ctx, store.NewJob{Definition: "job_name: hc\n", Submitter: "alice", DeviceType: "qemu", HealthCheck: true}, "d1")
		must(t, err)
		must(t, s.FinishJob(ctx, hc, store.Finish{Health: store.JobComplete, DeviceHealth: store.HealthGood,
			DeviceHealthFrom: []store.DeviceHealth{store.HealthGood, store.HealthUnknown, store.HealthBad}}, now))
		log, err := s.DeviceLog(ctx, "d1", 0)
		must(t, err)
		var got []string
		for _, e := range log {
			got = append(got, e.String())
		}
		want := []string{
			fmt.Sprintf("Unknown → Good (job %d Complete)", hc),
			"Maintenance → Unknown",
			"Unknown → Maintenance",
			fmt.Sprintf("Good → Unknown (job %d Incomplete, Infrastructure error)", id),
			"Unknown → Good",
		}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("d1's log, newest first (-got +want):\n%s", diff)
		}
	})
	t.Run("DeviceTypeFields", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		lab(t, s, 0)
		dt, err := s.DeviceType(ctx, "qemu")
		must(t, err)
		want := store.DeviceType{Name: "qemu", Template: dt.Template, Display: true, HealthFrequency: 24, HealthDenominator: store.PerHours}
		if diff := cmp.Diff(dt, want); diff != "" {
			t.Errorf("new device type's defaults (-got +want):\n%s", diff)
		}
		desc, f, den, yes, no := "emulated", 5, store.PerJobs, true, false
		must(t, s.UpdateDeviceType(ctx, "qemu", store.DeviceTypeUpdate{Description: &desc, HealthFrequency: &f,
			HealthDenominator: &den, HealthDisabled: &yes, Display: &no, OwnersOnly: &yes}))
		// PutDeviceType (a template set over the API) keeps them.
		dt.Template = "new"
		must(t, s.PutDeviceType(ctx, dt))
		want = store.DeviceType{Name: "qemu", Template: "new", Description: "emulated", HealthFrequency: 5,
			HealthDenominator: store.PerJobs, HealthDisabled: true, OwnersOnly: true}
		dts, err := s.DeviceTypes(ctx)
		must(t, err)
		if diff := cmp.Diff(dts, []store.DeviceType{want}); diff != "" {
			t.Errorf("updated device types (-got +want):\n%s", diff)
		}
		badDen := store.HealthDenominator("weeks")
		negF := -3
		for _, u := range []store.DeviceTypeUpdate{{HealthDenominator: &badDen}, {HealthFrequency: &negF}} {
			if err := s.UpdateDeviceType(ctx, "qemu", u); err == nil {
				t.Errorf("UpdateDeviceType(%+v) accepted", u)
			}
		}
		if err := s.UpdateDeviceType(ctx, "nope", store.DeviceTypeUpdate{Description: &desc}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateDeviceType(nope) = %v, want ErrNotFound", err)
		}
	})
	t.Run("Aliases", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		lab(t, s, 0)
		must(t, s.PutDeviceType(ctx, store.DeviceType{Name: "arm"}))
		must(t, s.AddAlias(ctx, "qemu-x86", "qemu", false))
		must(t, s.AddAlias(ctx, "board", "arm", false))
		for _, c := range []struct {
			name, dt string
			move     bool
			want     error
		}{
			{"qemu-x86", "arm", false, store.ErrExists},
			{"arm", "qemu", false, store.ErrExists}, // a device type's name
			{"other", "nope", false, store.ErrNotFound},
		} {
			if err := s.AddAlias(ctx, c.name, c.dt, c.move); !errors.Is(err, c.want) {
				t.Errorf("AddAlias(%s, %s) = %v, want %v", c.name, c.dt, err, c.want)
			}
		}
		must(t, s.AddAlias(ctx, "board", "qemu", true))
		as, err := s.Aliases(ctx)
		must(t, err)
		want := []store.Alias{{Name: "board", DeviceType: "qemu"}, {Name: "qemu-x86", DeviceType: "qemu"}}
		if diff := cmp.Diff(as, want); diff != "" {
			t.Errorf("Aliases (-got +want):\n%s", diff)
		}
		if a, err := s.Alias(ctx, "qemu-x86"); err != nil || a.DeviceType != "qemu" {
			t.Errorf("Alias(qemu-x86) = %+v, %v", a, err)
		}
		must(t, s.DeleteAlias(ctx, "qemu-x86"))
		if _, err := s.Alias(ctx, "qemu-x86"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Alias(deleted) = %v, want ErrNotFound", err)
		}
		if err := s.DeleteAlias(ctx, "qemu-x86"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeleteAlias(deleted) = %v, want ErrNotFound", err)
		}
		// An alias goes with its device type.
		must(t, s.DeleteDeviceType(ctx, "qemu"))
		if as, err := s.Aliases(ctx); err != nil || len(as) != 0 {
			t.Errorf("Aliases after its type was removed = %+v, %v", as, err)
		}
	})
}
