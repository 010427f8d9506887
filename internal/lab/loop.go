package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/device"
	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/scheduler"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/value"
)

// retryDelay is how long the loop waits after a pass that failed (the
// database restarting, say) before it tries again.
const retryDelay = time.Second

// Run schedules until ctx ends: a pass on every Kick (a submission, a
// finished or canceled job, a worker that came back) and every
// Config.Interval, and worker leases checked every quarter lease. A pass
// that fails is logged and retried. When ctx ends, held polls are
// answered and Run returns nil.
func (l *Lab) Run(ctx context.Context) error {
	defer l.stopOnce.Do(func() { close(l.stopping) })
	periodic := time.NewTicker(l.cfg.Interval)
	defer periodic.Stop()
	leases := time.NewTicker(max(l.lease/4, 10*time.Millisecond))
	defer leases.Stop()
	retry := time.NewTimer(0) // a first pass at once
	defer retry.Stop()
	full := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-leases.C:
			if err := l.expireLeases(ctx); err != nil && ctx.Err() == nil {
				l.log.Warn("checking worker leases failed", "err", err)
			}
			continue
		case <-l.kick:
			full = false
		case <-periodic.C:
			full = true
		case <-retry.C:
			full = true
		}
		if err := l.pass(ctx, full); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			l.log.Warn("scheduling pass failed; retrying", "err", err, "in", retryDelay)
			retry.Reset(retryDelay)
		}
	}
}

// healthFromStore maps the store's device health to the scheduler's.
var healthFromStore = map[store.DeviceHealth]scheduler.Health{
	store.HealthGood: scheduler.HealthGood, store.HealthUnknown: scheduler.HealthUnknown,
	store.HealthLooping: scheduler.HealthLooping, store.HealthBad: scheduler.HealthBad,
	store.HealthMaintenance: scheduler.HealthMaintenance, store.HealthRetired: scheduler.HealthRetired,
}

var stateFromStore = map[store.DeviceState]scheduler.State{
	store.DeviceIdle: scheduler.StateIdle, store.DeviceReserved: scheduler.StateReserved, store.DeviceRunning: scheduler.StateRunning,
}

// Pass runs one scheduling pass: it reads a snapshot of the store, sets
// Bad the devices whose configuration does not render, asks
// scheduler.Pass for a plan and applies it: expired jobs canceled, health
// checks created on their reserved devices, jobs scheduled (a MultiNode
// group in one transaction, with its roles map written into each
// definition). A job or group whose device was taken meanwhile is left
// for the next pass.
func (l *Lab) Pass(ctx context.Context) error { return l.pass(ctx, true) }

// pass is Pass; when full is false (a pass asked for by an event) and no
// device can take work, it stops before reading the queue: nothing could
// be scheduled, and queue timeouts wait for the next periodic pass. So a
// burst of submissions to a busy lab does not read the whole queue for
// each one.
func (l *Lab) pass(ctx context.Context, full bool) error {
	now := l.now()
	devices, err := l.st.Devices(ctx)
	if err != nil {
		return err
	}
	workers, err := l.st.Workers(ctx)
	if err != nil {
		return err
	}
	types, err := l.st.DeviceTypes(ctx)
	if err != nil {
		return err
	}
	online := map[string]bool{}
	for _, w := range workers {
		online[w.Name] = workerTakesJobs(w)
	}
	typeByName := map[string]store.DeviceType{}
	for _, dt := range types {
		typeByName[dt.Name] = dt
	}
	loader, tkey := l.templates(types), templatesKey(types)
	takesWork := func(d store.Device) bool {
		return d.State == store.DeviceIdle && online[d.Worker] && (d.Health == store.HealthGood || d.Health == store.HealthUnknown || d.Health == store.HealthLooping)
	}
	worker := map[string]string{}
	byName := map[string]store.Device{}
	index := map[string]int{}
	snaps := make([]scheduler.DeviceSnapshot, 0, len(devices))
	free := 0
	for _, d := range devices {
		worker[d.Name], byName[d.Name], index[d.Name] = d.Worker, d, len(snaps)
		if takesWork(d) {
			free++
		}
		snaps = append(snaps, scheduler.DeviceSnapshot{
			Name: d.Name, Type: d.DeviceType, Tags: d.Tags, State: stateFromStore[d.State], Health: healthFromStore[d.Health],
			Worker: d.Worker, WorkerOnline: d.Worker != "" && online[d.Worker],
			HasHealthCheck: typeByName[d.DeviceType].HealthCheck != "",
		})
	}
	if free == 0 && !full {
		return nil
	}
	queue, err := l.st.Queue(ctx)
	if err != nil {
		return err
	}
	stats, err := l.st.HealthCheckStats(ctx)
	if err != nil {
		return err
	}
	for i := range snaps {
		st := stats[snaps[i].Name]
		snaps[i].LastHealthCheck, snaps[i].JobsSinceHealthCheck = st.Last, st.JobsSince
	}
	jobs := make([]scheduler.JobSnapshot, 0, len(queue))
	groupOf := map[int64]string{}
	vlanTypes := map[string]bool{}
	for _, j := range queue {
		if j.Dynamic() {
			// No device to find: scheduled with its group
			// (assignments), canceled with it (below).
			continue
		}
		groupOf[j.ID] = j.Group
		js := scheduler.JobSnapshot{ID: j.ID, Group: j.Group, DeviceType: j.DeviceType, Tags: j.Tags,
			Submitter: j.Submitter, Priority: j.Priority, SubmitTime: j.Submitted, QueueTimeout: j.QueueTimeout}
		if j.Group != "" {
			js.SubID = fmt.Sprint(DisplayID(j))
		}
		if j.Group != "" {
			vlans, err := l.groupVLANs(ctx, j.Group)
			if err != nil {
				return err
			}
			if js.VLANs = vlans[j.ID]; js.VLANs != nil {
				vlanTypes[j.DeviceType] = true
			}
		}
		jobs = append(jobs, js)
	}
	// The devices a lava-vland job may get need their interfaces (only
	// those of the types such jobs ask for: the others are not rendered).
	for i, d := range devices {
		if vlanTypes[d.DeviceType] && takesWork(d) {
			snaps[i].Interfaces = l.deviceInterfaces(d, tkey, loader)
		}
	}
	// The devices the plan gives work must have a configuration that
	// renders (LAVA's Device.is_valid, checked as the scheduler visits a
	// device): those that do not are set Bad and the plan made again
	// without them. Checking only these, on every core, spares a new
	// server rendering devices that get nothing.
	//
	// With nothing queued, the pass has time to spare: it checks every
	// device that could take work, so that the next submission finds them
	// checked.
	var plan scheduler.Plan
	opts := schedulerOptions(workers, types)
	for {
		plan = scheduler.Pass(now, jobs, snaps, opts)
		var used []store.Device
		for _, hc := range plan.HealthChecks {
			used = append(used, byName[hc.Device])
		}
		for _, a := range plan.Assignments {
			used = append(used, byName[a.Device])
		}
		if len(jobs) == 0 {
			for _, d := range devices {
				if takesWork(d) && snaps[index[d.Name]].Health != scheduler.HealthBad {
					used = append(used, d)
				}
			}
		}
		bad, err := l.invalidDevices(ctx, used, tkey, loader)
		if err != nil {
			return err
		}
		if len(bad) == 0 {
			break
		}
		for name, err := range bad {
			l.log.Warn("device configuration invalid: device set Bad", "device", name, "err", err)
			if err := l.st.ChangeDeviceHealth(ctx, name, store.HealthBad, store.Change{Reason: "Invalid device configuration: " + err.Error()}); err != nil {
				return err
			}
			snaps[index[name]].Health = scheduler.HealthBad
		}
	}

	for _, id := range plan.Expired {
		state, err := l.st.CancelJob(ctx, id, now)
		if err != nil && !errors.Is(err, store.ErrTransition) {
			return err
		}
		if err == nil && state == store.JobFinished {
			l.changed(id, store.JobFinished, store.JobUnknown)
		}
		l.log.Info("job canceled: queue timeout", "job", id)
		if g := groupOf[id]; g != "" {
			dyn, err := l.groupDynamic(ctx, g)
			if err != nil {
				return err
			}
			if err := l.cancelJobs(ctx, dyn); err != nil {
				return err
			}
		}
	}
	for _, hc := range plan.HealthChecks {
		if err := l.healthCheck(ctx, hc, typeByName[hc.DeviceType], devices, loader); err != nil {
			return err
		}
	}
	// Assignments in plan order; a group's are consecutive. Single jobs
	// are stored up to scheduleChunk in one transaction (one commit, not
	// one per job); a chunk refused (a job or device changed meanwhile)
	// is tried again job by job, so only the changed ones wait.
	var singles []scheduler.Assignment
	flush := func() error {
		if len(singles) == 0 {
			return nil
		}
		chunk := singles
		singles = nil
		as := make([]store.Assignment, len(chunk))
		for i, a := range chunk {
			as[i] = store.Assignment{Job: a.JobID, Device: a.Device}
		}
		err := l.st.Schedule(ctx, as)
		if err == nil {
			l.scheduled(chunk, worker)
			return nil
		}
		if !errors.Is(err, store.ErrTransition) || len(chunk) == 1 {
			return l.scheduleFailed(err)
		}
		for i := range chunk {
			if err := l.st.Schedule(ctx, as[i:i+1]); err != nil {
				if err := l.scheduleFailed(err); err != nil {
					return err
				}
				continue
			}
			l.scheduled(chunk[i:i+1], worker)
		}
		return nil
	}
	for i := 0; i < len(plan.Assignments); {
		k := i + 1
		g := plan.Assignments[i].Group
		if g == "" {
			singles = append(singles, plan.Assignments[i])
			i = k
			if len(singles) == scheduleChunk {
				if err := flush(); err != nil {
					return err
				}
			}
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		for k < len(plan.Assignments) && plan.Assignments[k].Group == g {
			k++
		}
		batch := plan.Assignments[i:k]
		i = k
		as, err := l.assignments(ctx, batch)
		if err != nil {
			return err
		}
		if err := l.st.Schedule(ctx, as); err != nil {
			if err := l.scheduleFailed(err); err != nil {
				return err
			}
			continue
		}
		l.scheduled(batch, worker)
	}
	return flush()
}

// scheduleChunk is how many single jobs a pass stores in one transaction.
const scheduleChunk = 64

// scheduleFailed returns err unless it is a refused transition (a job or
// device changed since the pass's snapshot), which is left for the next
// pass.
func (l *Lab) scheduleFailed(err error) error {
	if errors.Is(err, store.ErrTransition) {
		l.log.Info("scheduling left for the next pass", "err", err)
		return nil
	}
	return err
}

// scheduled logs stored assignments and wakes their workers.
func (l *Lab) scheduled(batch []scheduler.Assignment, worker map[string]string) {
	for _, a := range batch {
		l.log.Info("job scheduled", "job", a.JobID, "device", a.Device, "worker", a.Worker)
		l.wake(worker[a.Device])
	}
}

// assignments turns a plan's assignments into the store's; a MultiNode
// group's definitions get the roles map of its job ids, as LAVA's
// scheduler writes it when the group is ready: the jobs with a device,
// not its dynamic connections, which are scheduled with the group
// without a device and get the map too.
func (l *Lab) assignments(ctx context.Context, batch []scheduler.Assignment) ([]store.Assignment, error) {
	as := make([]store.Assignment, len(batch))
	for i, a := range batch {
		as[i] = store.Assignment{Job: a.JobID, Device: a.Device}
	}
	if batch[0].Group == "" {
		return as, nil
	}
	group, err := l.st.GroupJobs(ctx, batch[0].Group)
	if err != nil {
		return nil, err
	}
	roles := value.NewMap()
	defs := map[int64]*value.Map{}
	for _, j := range group {
		v, err := value.DecodeYAMLLimit([]byte(j.Definition), limits.Defaults().YAMLNodes)
		m, ok := v.(*value.Map)
		if err != nil || !ok {
			return nil, fmt.Errorf("job %d: stored definition does not parse: %v", j.ID, err)
		}
		defs[j.ID] = m
		if j.Dynamic() {
			if j.State == store.JobSubmitted {
				as = append(as, store.Assignment{Job: j.ID})
			}
			continue
		}
		roles.Set(fmt.Sprint(j.ID), m.Map("protocols").Map("lava-multinode").String("role"))
	}
	for i := range as {
		m := defs[as[i].Job]
		if m == nil {
			continue
		}
		if mn := m.Map("protocols").Map("lava-multinode"); mn != nil {
			mn.Set("roles", roles.Copy())
		}
		b, err := value.EncodeYAML(m)
		if err != nil {
			return nil, fmt.Errorf("job %d: %w", as[i].Job, err)
		}
		as[i].Definition = string(b)
	}
	return as, nil
}

// healthCheck creates a device's health-check job, Scheduled on it. A
// health check that is not valid on the device sets it Bad, as LAVA does
// ("Invalid health check").
func (l *Lab) healthCheck(ctx context.Context, hc scheduler.HealthCheck, dt store.DeviceType, devices []store.Device, loader *device.Renderer) error {
	var d store.Device
	for _, x := range devices {
		if x.Name == hc.Device {
			d = x
		}
	}
	j, diags := job.Parse(jobLabel, []byte(dt.HealthCheck), job.Options{})
	problems := diagStrings(job.Errors(diags))
	if j != nil && len(problems) == 0 {
		ps, deviceFault := checkOnDevice(entry{label: "health-check/" + jobLabel, definition: dt.HealthCheck, data: j.Data, deviceType: dt.Name}, d, loader)
		problems = ps
		if deviceFault {
			problems = append(problems, "the device configuration does not render")
		}
	}
	if len(problems) > 0 || j == nil {
		l.log.Warn("health check invalid on the device: device set Bad", "device", d.Name, "problems", problems)
		return l.st.ChangeDeviceHealth(ctx, d.Name, store.HealthBad, store.Change{Reason: "Invalid health check: " + strings.Join(problems, "; ")})
	}
	nj, err := newJob(store.User{Name: HealthUser}, entry{definition: dt.HealthCheck, data: j.Data, deviceType: dt.Name})
	if err != nil {
		return err
	}
	nj.HealthCheck = true
	id, err := l.st.ScheduleHealthCheck(ctx, nj, d.Name)
	if errors.Is(err, store.ErrTransition) {
		return nil // the device was taken meanwhile
	}
	if err != nil {
		return err
	}
	l.log.Info("health check scheduled", "job", id, "device", d.Name, "reason", hc.Reason)
	l.wake(d.Worker)
	return nil
}

// expireLeases ends the lease of every Online worker that has not polled
// within Lease (counted from this Lab's start for a worker not heard from
// since, and never while one of its polls is held): the worker goes
// Offline, its Running and Canceling jobs end Incomplete with an
// infrastructure error naming the worker and the lease (a Canceling job
// too: its cleanup never reported, the device's state is not known), and
// their devices go to health Unknown, so a health check runs before the
// next job. LAVA has no lease: its jobs wait for the worker for ever.
func (l *Lab) expireLeases(ctx context.Context) error {
	workers, err := l.st.Workers(ctx)
	if err != nil {
		return err
	}
	now := l.now()
	for _, w := range workers {
		if w.State != store.WorkerOnline {
			continue
		}
		l.mu.Lock()
		last, ok := l.lastPoll[w.Name]
		if !ok {
			last = l.start
		}
		held := l.polling[w.Name] > 0
		l.mu.Unlock()
		if held || now.Sub(last) <= l.lease {
			continue
		}
		if err := l.st.SetWorkerState(ctx, w.Name, store.WorkerOffline); err != nil {
			return err
		}
		l.log.Warn("worker lost its lease: offline", "worker", w.Name, "last_poll", last, "lease", l.lease)
		jobs, err := l.st.Jobs(ctx, store.JobFilter{States: []store.JobState{store.JobRunning, store.JobCanceling}, Worker: w.Name})
		if err != nil {
			return err
		}
		for _, j := range jobs {
			f := store.Finish{Health: store.JobIncomplete, ErrorClass: "Infrastructure",
				ErrorMsg:     fmt.Sprintf("worker %s lost its lease: no poll for %s (lease %s)", w.Name, now.Sub(last).Round(time.Millisecond), l.lease),
				DeviceHealth: store.HealthUnknown, DeviceHealthFrom: []store.DeviceHealth{store.HealthGood, store.HealthUnknown, store.HealthBad}}
			if err := l.endJob(ctx, j, f, now); err != nil {
				return err
			}
			l.mu.Lock()
			delete(l.missing, j.ID)
			l.mu.Unlock()
			l.log.Warn("job incomplete: worker lost", "job", j.ID, "worker", w.Name)
		}
		l.Kick()
	}
	return nil
}

// endJob ends a job the server ends itself (its worker lost, its device
// configuration gone bad): the job's log gets the error and the lava/job
// result lava-run would have written (what lavacli shows as the job's
// error), then the job is finished with f. A job finished meanwhile is
// left as it is.
func (l *Lab) endJob(ctx context.Context, j store.Job, f store.Finish, now time.Time) error {
	dt := now.UTC().Format("2006-01-02T15:04:05.000000")
	msg := strconv.QuoteToASCII(f.ErrorMsg)
	lines := []string{
		fmt.Sprintf(`- {"dt": "%s", "lvl": "error", "msg": %s}`, dt, msg),
		fmt.Sprintf(`- {"dt": "%s", "lvl": "results", "msg": {"definition": "lava", "case": "job", "result": "fail", "error_type": %s, "error_msg": %s}}`,
			dt, strconv.QuoteToASCII(f.ErrorClass), msg),
	}
	meta, _ := json.Marshal(map[string]string{"definition": "lava", "case": "job", "result": "fail", "error_type": f.ErrorClass, "error_msg": f.ErrorMsg})
	res := store.Result{Suite: "lava", Case: "job", Result: "fail", Metadata: string(meta), Logged: now}
	if held, err := l.logs.Len(j.ID); err != nil {
		l.log.Warn("the job's log cannot be read: its end is not logged", "job", j.ID, "err", err)
	} else if _, err := l.logs.Append(j.ID, held, lines); err != nil {
		l.log.Warn("the job's log cannot be written: its end is not logged", "job", j.ID, "err", err)
	} else {
		line := held + 1 // the results record
		res.LogStart, res.LogEnd = &line, &line
	}
	if err := l.st.AddResults(ctx, j.ID, []store.Result{res}); err != nil {
		return err
	}
	if err := l.st.FinishJob(ctx, j.ID, f, now); err != nil {
		if errors.Is(err, store.ErrTransition) {
			return nil
		}
		return err
	}
	l.changed(j.ID, store.JobFinished, j.Health)
	return nil
}

// finishRules is LAVA's go_state_finished for the device's health: a
// health check makes a Good, Unknown or Bad device Good when it
// completes and Bad otherwise (a Looping device stays Looping); a normal
// job ended by an infrastructure error (Infrastructure, Bug,
// Configuration) makes a Good device Unknown, so a health check runs
// before the next job.
func finishRules(j store.Job, f *store.Finish) {
	if j.HealthCheck {
		f.DeviceHealth = store.HealthBad
		if f.Health == store.JobComplete {
			f.DeviceHealth = store.HealthGood
		}
		f.DeviceHealthFrom = []store.DeviceHealth{store.HealthGood, store.HealthUnknown, store.HealthBad}
		return
	}
	switch f.ErrorClass {
	case "Infrastructure", "Bug", "Configuration":
		if f.Health == store.JobIncomplete {
			f.DeviceHealth = store.HealthUnknown
			f.DeviceHealthFrom = []store.DeviceHealth{store.HealthGood}
		}
	}
}
