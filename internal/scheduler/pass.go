package scheduler

import (
	"slices"
	"strings"
	"time"
)

// Pass decides one scheduling pass at time now, in LAVA's order (scheduler.py schedule):
//
//  1. Queue timeouts (check_queue_timeout): a job whose SubmitTime + QueueTimeout is before now
//     goes to Plan.Expired and is not scheduled; a MultiNode sub-job takes its whole group with
//     it. (LAVA checks them after scheduling, so a job could still start in the pass it
//     expires in; expiring first is the same decision a pass earlier.)
//  2. Health checks before jobs (schedule_health_checks): device types in name order, devices in
//     name order; an Idle device on an Online, Active worker with health Good, Unknown or Looping
//     whose worker is under its job limit gets a HealthCheck when one is due (see healthCheckDue)
//     and is then busy for the pass. A device with no health-check definition, or of a type with
//     health checks disabled, never gets one and is available as it is.
//  3. Jobs (schedule_jobs): the queue in LAVA's order (priority descending, submit time, sub_id,
//     id); each job takes the best device that Match accepts, that is still free in this pass
//     and whose worker is under its job limit (a worker's Reserved and Running devices count,
//     plus what this pass gave it). Best is the highest Match score, then the worker with the
//     fewest busy devices, then the device name. Options.CanSubmit, when set, may refuse a
//     submitter a device. One job per device per pass.
//
// MultiNode differs from LAVA on purpose: LAVA reserves each sub-job's device as it finds one and
// leaves the group waiting, devices Reserved, until the rest are found (transition_multinode_jobs).
// Here a group is placed when its first sub-job comes up in the queue, all of its GroupSize
// sub-jobs in the same pass or none of them, so no device is held idle by a half-placed group
// and two groups competing for the same devices cannot deadlock each other. When taking the best
// device for each member in turn fails, the group is matched as a whole (matchGroup): a role whose
// lava-vland tags only one device's interfaces carry gets it even when an earlier role could have
// had it. LAVA, device by device, can leave such a group waiting.
//
// Devices are identified by Name; a second snapshot with a name already seen is ignored.
// Jobs are identified by ID; the input slices are not modified.
func Pass(now time.Time, jobs []JobSnapshot, devices []DeviceSnapshot, opts Options) Plan {
	p := newPass(devices, opts)
	var plan Plan

	queue := p.expire(now, jobs, &plan)
	plan.HealthChecks = p.healthChecks(now)
	plan.Assignments = p.assign(queue)
	return plan
}

type pass struct {
	opts    Options
	devices []*DeviceSnapshot // unique by name, sorted by (type, name)
	busy    map[string]int    // worker → Reserved + Running devices, and what this pass gave it
	index   map[string]int    // device name → index in devices
	taken   []bool            // by index in devices
	// free lists the devices of each type that may take a job this pass, in name order, with
	// how many of them are not taken yet.
	free      map[string][]int
	freeCount map[string]int
}

func newPass(devices []DeviceSnapshot, opts Options) *pass {
	p := &pass{opts: opts, busy: map[string]int{}, index: map[string]int{}, free: map[string][]int{}, freeCount: map[string]int{}}
	ds := make([]*DeviceSnapshot, 0, len(devices))
	for i := range devices {
		ds = append(ds, &devices[i])
	}
	slices.SortStableFunc(ds, func(a, b *DeviceSnapshot) int {
		if c := strings.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	for _, d := range ds {
		if _, seen := p.index[d.Name]; seen {
			continue
		}
		p.index[d.Name] = len(p.devices)
		p.devices = append(p.devices, d)
		if d.State == StateReserved || d.State == StateRunning {
			p.busy[d.Worker]++
		}
	}
	p.taken = make([]bool, len(p.devices))
	return p
}

// overused is WorkerSummary.overused in scheduler.py: a limit of zero means none.
func (p *pass) overused(worker string) bool {
	limit := p.opts.WorkerJobLimit[worker]
	return limit > 0 && p.busy[worker] >= limit
}

func (p *pass) expire(now time.Time, jobs []JobSnapshot, plan *Plan) []*JobSnapshot {
	expiredGroup := map[string]bool{}
	expired := func(j *JobSnapshot) bool {
		return j.QueueTimeout > 0 && j.SubmitTime.Add(j.QueueTimeout).Before(now)
	}
	for i := range jobs {
		if j := &jobs[i]; j.Group != "" && expired(j) {
			expiredGroup[j.Group] = true
		}
	}
	queue := make([]*JobSnapshot, 0, len(jobs))
	for i := range jobs {
		j := &jobs[i]
		if expired(j) || (j.Group != "" && expiredGroup[j.Group]) {
			plan.Expired = append(plan.Expired, j.ID)
			continue
		}
		queue = append(queue, j)
	}
	slices.Sort(plan.Expired)
	plan.Expired = slices.Compact(plan.Expired)
	return queue
}

func (p *pass) healthChecks(now time.Time) []HealthCheck {
	var hcs []HealthCheck
	for i, d := range p.devices {
		if d.State != StateIdle || !d.WorkerOnline {
			continue
		}
		policy := p.opts.DeviceTypes[d.Type]
		if policy.DisableHealthCheck {
			if d.Health == HealthGood || d.Health == HealthUnknown {
				p.addFree(d.Type, i)
			}
			continue
		}
		if d.Health != HealthGood && d.Health != HealthUnknown && d.Health != HealthLooping {
			continue
		}
		if p.overused(d.Worker) {
			continue
		}
		if !d.HasHealthCheck {
			p.addFree(d.Type, i)
			continue
		}
		if due, why := healthCheckDue(now, d, policy); due {
			hcs = append(hcs, HealthCheck{Device: d.Name, DeviceType: d.Type, Worker: d.Worker, Reason: why})
			p.taken[i] = true
			p.busy[d.Worker]++
			continue
		}
		p.addFree(d.Type, i)
	}
	return hcs
}

// addFree makes a device a candidate for jobs. A Looping device without a health check lands
// here too, as in LAVA, and Match then refuses it every job.
func (p *pass) addFree(typ string, i int) {
	p.free[typ] = append(p.free[typ], i)
	p.freeCount[typ]++
}

func (p *pass) assign(queue []*JobSnapshot) []Assignment {
	slices.SortStableFunc(queue, jobLess)

	groups := map[string][]*JobSnapshot{}
	for _, j := range queue {
		if j.Group != "" {
			groups[j.Group] = append(groups[j.Group], j)
		}
	}
	done := map[string]bool{} // groups already placed or refused this pass
	// failed remembers the requests that found no device. The free devices only shrink
	// between single jobs (a refused group gives back exactly what it took), so a request that
	// failed once fails again in this pass. Requests made inside a group are not remembered:
	// the group may give its devices back.
	failed := map[string]bool{}

	var out []Assignment
	for _, j := range queue {
		if j.Group == "" {
			key := requestKey(j)
			if failed[key] {
				continue
			}
			if a, ok := p.take(j); ok {
				out = append(out, a)
			} else {
				failed[key] = true
			}
			continue
		}
		if done[j.Group] {
			continue
		}
		done[j.Group] = true
		members := groups[j.Group]
		if size := j.GroupSize; size > 0 && len(members) != size {
			continue // part of the group is missing from the snapshot: never half a group
		}
		placed := make([]Assignment, 0, len(members))
		for _, m := range members {
			if failed[requestKey(m)] {
				break
			}
			a, ok := p.take(m)
			if !ok {
				break
			}
			placed = append(placed, a)
		}
		if len(placed) == len(members) {
			out = append(out, placed...)
			continue
		}
		for _, a := range placed {
			p.release(a)
		}
		if placed, ok := p.matchGroup(members); ok {
			out = append(out, placed...)
		}
	}
	return out
}

// matchGroup places a group that the greedy way (each member the best
// device left, in queue order) could not: an earlier member may have
// taken the one device a later one can use while another would have
// done for it (roles whose lava-vland tags only some interfaces carry).
// It looks for distinct devices for all members by augmenting paths
// (Kuhn's algorithm, at most members × candidates steps each), then
// checks the workers' job limits on the outcome; if they are exceeded
// the group waits, as it would have.
func (p *pass) matchGroup(members []*JobSnapshot) ([]Assignment, bool) {
	cands := make([][]int, len(members))
	for k, m := range members {
		for _, i := range p.free[m.DeviceType] {
			d := p.devices[i]
			if p.taken[i] || p.overused(d.Worker) {
				continue
			}
			if ok, _ := Match(m, d); !ok || (p.opts.CanSubmit != nil && !p.opts.CanSubmit(m.Submitter, d)) {
				continue
			}
			cands[k] = append(cands[k], i)
		}
		if len(cands[k]) == 0 {
			return nil, false
		}
	}
	owner := map[int]int{} // device index → member
	var augment func(k int, seen map[int]bool) bool
	augment = func(k int, seen map[int]bool) bool {
		for _, i := range cands[k] {
			if seen[i] {
				continue
			}
			seen[i] = true
			if o, taken := owner[i]; !taken || augment(o, seen) {
				owner[i] = k
				return true
			}
		}
		return false
	}
	for k := range members {
		if !augment(k, map[int]bool{}) {
			return nil, false
		}
	}
	device := make([]int, len(members))
	perWorker := map[string]int{}
	for i, k := range owner {
		device[k] = i
		perWorker[p.devices[i].Worker]++
	}
	for w, n := range perWorker {
		if limit := p.opts.WorkerJobLimit[w]; limit > 0 && p.busy[w]+n > limit {
			return nil, false
		}
	}
	out := make([]Assignment, len(members))
	for k, m := range members {
		d := p.devices[device[k]]
		p.taken[device[k]] = true
		p.freeCount[d.Type]--
		p.busy[d.Worker]++
		out[k] = Assignment{JobID: m.ID, SubID: m.SubID, Group: m.Group, Device: d.Name, Worker: d.Worker}
	}
	return out, true
}

// requestKey identifies what a job asks of a device, so that jobs asking the same can share a
// refusal. Tags are sorted; \x00 cannot occur in a name from the store.
func requestKey(j *JobSnapshot) string {
	tags := slices.Clone(j.Tags)
	slices.Sort(tags)
	key := j.Submitter + "\x00" + j.DeviceType + "\x00" + j.RequestedDevice + "\x00" + j.RequestedWorker + "\x00" + strings.Join(tags, "\x00")
	if j.VLANs != nil {
		// The VLANs in order (the match depends on it), each as its
		// tags; \x01 cannot occur in a name either.
		key += "\x01vlans"
		for _, v := range j.VLANs {
			key += "\x01" + strings.Join(v.Tags, "\x00")
		}
	}
	return key
}

func (p *pass) take(j *JobSnapshot) (Assignment, bool) {
	if p.freeCount[j.DeviceType] == 0 {
		return Assignment{}, false
	}
	best, bestScore, bestBusy := -1, 0, 0
	for _, i := range p.free[j.DeviceType] {
		if p.taken[i] {
			continue
		}
		d := p.devices[i]
		if p.overused(d.Worker) {
			continue
		}
		ok, score := Match(j, d)
		if !ok || (p.opts.CanSubmit != nil && !p.opts.CanSubmit(j.Submitter, d)) {
			continue
		}
		busy := p.busy[d.Worker]
		if best < 0 || score > bestScore || (score == bestScore && busy < bestBusy) {
			best, bestScore, bestBusy = i, score, busy
		}
	}
	if best < 0 {
		return Assignment{}, false
	}
	d := p.devices[best]
	p.taken[best] = true
	p.freeCount[d.Type]--
	p.busy[d.Worker]++
	return Assignment{JobID: j.ID, SubID: j.SubID, Group: j.Group, Device: d.Name, Worker: d.Worker}, true
}

// release undoes take for a group that could not be placed whole.
func (p *pass) release(a Assignment) {
	i := p.index[a.Device]
	d := p.devices[i]
	p.taken[i] = false
	p.freeCount[d.Type]++
	p.busy[d.Worker]--
}
