package events

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
)

// Feed returns st publishing to h every change of a job's, a device's or
// a worker's state or health that goes through it, after the change is
// stored (LAVA's post_save signal handlers). Every part of the server
// that changes them (the scheduler, the worker API, XML-RPC, REST,
// administration) holds the one store, so none is missed. A nil h
// returns st itself.
//
// The objects are read back after the change (a job, its device and that
// device's worker), so an event carries what was stored; a read that
// fails drops the event rather than the change. Nothing is read while
// the hub has no subscriber.
func Feed(st store.Store, h *Hub) store.Store {
	if h == nil {
		return st
	}
	return &feed{Store: st, hub: h}
}

type feed struct {
	store.Store
	hub *Hub
}

// idle reports that nobody listens: no event need be built.
func (f *feed) idle() bool { return f.hub.Subscribers() == 0 }

// active are the job states a device's current job is in.
var active = []store.JobState{store.JobScheduled, store.JobRunning, store.JobCanceling}

// job publishes job id and, when withDevice, its device.
func (f *feed) job(ctx context.Context, id int64, withDevice bool) {
	if f.idle() {
		return
	}
	ctx = context.WithoutCancel(ctx)
	j, err := f.Store.Job(ctx, id)
	if err != nil {
		return
	}
	f.publishJob(ctx, j, withDevice)
}

func (f *feed) publishJob(ctx context.Context, j store.Job, withDevice bool) {
	var d store.Device
	ok := false
	if j.Device != "" {
		var err error
		d, err = f.Store.Device(ctx, j.Device)
		ok = err == nil
	}
	f.hub.Publish(JobEvent(j, d.Worker))
	if withDevice && ok {
		f.publishDevice(ctx, d, j)
	}
}

// publishDevice publishes d; j is the job it holds, when known (zero
// id: looked up when the device is not Idle).
func (f *feed) publishDevice(ctx context.Context, d store.Device, j store.Job) {
	cur := ""
	switch {
	case d.State == store.DeviceIdle:
	case j.ID != 0 && j.Device == d.Name && j.State != store.JobFinished:
		cur = displayID(j)
	default:
		if js, err := f.Store.Jobs(ctx, store.JobFilter{Device: d.Name, States: active, Limit: 1}); err == nil && len(js) > 0 {
			cur = displayID(js[0])
		}
	}
	f.hub.Publish(DeviceEvent(d, cur))
}

func displayID(j store.Job) string {
	if j.Group == "" {
		return strconv.FormatInt(j.ID, 10)
	}
	first := j.GroupFirst
	if first == 0 {
		first = j.ID - int64(j.SubID)
	}
	return strconv.FormatInt(first, 10) + "." + strconv.Itoa(j.SubID)
}

// device publishes a device when its state or health is not before's.
func (f *feed) device(ctx context.Context, name string, before store.Device, known bool) {
	if f.idle() {
		return
	}
	ctx = context.WithoutCancel(ctx)
	d, err := f.Store.Device(ctx, name)
	if err != nil || (known && d.State == before.State && d.Health == before.Health) {
		return
	}
	f.publishDevice(ctx, d, store.Job{})
}

// worker publishes a worker when its state or health is not before's.
func (f *feed) worker(ctx context.Context, name string, before store.Worker, known bool) {
	if f.idle() {
		return
	}
	ctx = context.WithoutCancel(ctx)
	w, err := f.Store.Worker(ctx, name)
	if err != nil || (known && w.State == before.State && w.Health == before.Health) {
		return
	}
	f.hub.Publish(WorkerEvent(w))
}

// snapDevice and snapWorker read an object before a change, to publish
// it only if the change changed it (nothing read when nobody listens).
func (f *feed) snapDevice(ctx context.Context, name string) (store.Device, error) {
	if f.idle() {
		return store.Device{}, errIdle
	}
	return f.Store.Device(ctx, name)
}

func (f *feed) snapWorker(ctx context.Context, name string) (store.Worker, error) {
	if f.idle() {
		return store.Worker{}, errIdle
	}
	return f.Store.Worker(ctx, name)
}

var errIdle = errors.New("no subscriber")

// Jobs.

func (f *feed) Submit(ctx context.Context, jobs []store.NewJob) ([]int64, error) {
	ids, err := f.Store.Submit(ctx, jobs)
	if err == nil {
		for _, id := range ids {
			f.job(ctx, id, false)
		}
	}
	return ids, err
}

func (f *feed) Schedule(ctx context.Context, as []store.Assignment) error {
	err := f.Store.Schedule(ctx, as)
	if err == nil {
		for _, a := range as {
			f.job(ctx, a.Job, true)
		}
	}
	return err
}

func (f *feed) ClaimJob(ctx context.Context, worker string, now time.Time) (store.Job, bool, error) {
	j, ok, err := f.Store.ClaimJob(ctx, worker, now)
	if err == nil && ok {
		f.job(ctx, j.ID, true)
	}
	return j, ok, err
}

func (f *feed) CancelJob(ctx context.Context, id int64, now time.Time) (store.JobState, error) {
	s, err := f.Store.CancelJob(ctx, id, now)
	if err == nil {
		// A job canceled before it ran frees its reserved device; a
		// running one only goes Canceling, its device unchanged.
		f.job(ctx, id, s == store.JobFinished)
	}
	return s, err
}

func (f *feed) FinishJob(ctx context.Context, id int64, fin store.Finish, now time.Time) error {
	err := f.Store.FinishJob(ctx, id, fin, now)
	if err == nil {
		f.job(ctx, id, true)
	}
	return err
}

func (f *feed) ScheduleHealthCheck(ctx context.Context, j store.NewJob, device string) (int64, error) {
	id, err := f.Store.ScheduleHealthCheck(ctx, j, device)
	if err == nil {
		f.job(ctx, id, true)
	}
	return id, err
}

// Devices.

func (f *feed) SetDeviceHealth(ctx context.Context, device string, health store.DeviceHealth) error {
	before, berr := f.snapDevice(ctx, device)
	err := f.Store.SetDeviceHealth(ctx, device, health)
	if err == nil {
		f.device(ctx, device, before, berr == nil)
	}
	return err
}

func (f *feed) ChangeDeviceHealth(ctx context.Context, device string, health store.DeviceHealth, c store.Change) error {
	before, berr := f.snapDevice(ctx, device)
	err := f.Store.ChangeDeviceHealth(ctx, device, health, c)
	if err == nil {
		f.device(ctx, device, before, berr == nil)
	}
	return err
}

// Workers.

func (f *feed) PingWorker(ctx context.Context, name string, at time.Time) error {
	before, berr := f.snapWorker(ctx, name)
	err := f.Store.PingWorker(ctx, name, at)
	if err == nil && (berr != nil || before.State != store.WorkerOnline) {
		f.worker(ctx, name, before, berr == nil)
	}
	return err
}

func (f *feed) SetWorkerState(ctx context.Context, name string, state store.WorkerState) error {
	before, berr := f.snapWorker(ctx, name)
	err := f.Store.SetWorkerState(ctx, name, state)
	if err == nil {
		f.worker(ctx, name, before, berr == nil)
	}
	return err
}

// UpdateWorker: a health change of the worker cascades to its devices
// (store.Admin), each published when it changed.
func (f *feed) UpdateWorker(ctx context.Context, name string, u store.WorkerUpdate, c store.Change) error {
	before, berr := f.snapWorker(ctx, name)
	devs := map[string]store.Device{}
	if u.Health != nil && !f.idle() {
		if ds, err := f.Store.Devices(ctx); err == nil {
			for _, d := range ds {
				if d.Worker == name {
					devs[d.Name] = d
				}
			}
		}
	}
	err := f.Store.UpdateWorker(ctx, name, u, c)
	if err == nil {
		f.worker(ctx, name, before, berr == nil)
		for n, d := range devs {
			f.device(ctx, n, d, true)
		}
	}
	return err
}
