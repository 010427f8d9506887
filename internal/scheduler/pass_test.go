package scheduler

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// dev is a device that takes jobs: Idle, Good, on an online worker, checked an hour ago.
func dev(name string, mods ...func(*DeviceSnapshot)) DeviceSnapshot {
	d := DeviceSnapshot{
		Name: name, Type: "qemu", Worker: "w1", WorkerOnline: true, Health: HealthGood,
		HasHealthCheck: true, LastHealthCheck: t0.Add(-time.Hour),
	}
	for _, m := range mods {
		m(&d)
	}
	return d
}

// job is a single-node job for qemu submitted at t0 plus id seconds, medium priority.
func job(id int64, mods ...func(*JobSnapshot)) JobSnapshot {
	j := JobSnapshot{ID: id, DeviceType: "qemu", Priority: 50, SubmitTime: t0.Add(time.Duration(id) * time.Second)}
	for _, m := range mods {
		m(&j)
	}
	return j
}

func group(name string, size int, ids ...int64) []JobSnapshot {
	var js []JobSnapshot
	for n, id := range ids {
		js = append(js, job(id, func(j *JobSnapshot) {
			j.Group, j.GroupSize, j.SubID = name, size, fmt.Sprintf("%d.%d", ids[0], n)
			j.SubmitTime = t0.Add(time.Duration(ids[0]) * time.Second)
		}))
	}
	return js
}

func cat(parts ...[]JobSnapshot) []JobSnapshot {
	var js []JobSnapshot
	for _, p := range parts {
		js = append(js, p...)
	}
	return js
}

// a is an assignment of a single-node job on worker w1.
func a(id int64, device string) Assignment {
	return Assignment{JobID: id, Device: device, Worker: "w1"}
}

func ga(id int64, sub, grp, device string) Assignment {
	return Assignment{JobID: id, SubID: sub, Group: grp, Device: device, Worker: "w1"}
}

func hc(device, reason string) HealthCheck {
	return HealthCheck{Device: device, DeviceType: "qemu", Worker: "w1", Reason: reason}
}

func TestPass(t *testing.T) {
	t.Parallel()
	tagged := func(tags ...string) func(*DeviceSnapshot) { return func(d *DeviceSnapshot) { d.Tags = tags } }
	health := func(h Health) func(*DeviceSnapshot) { return func(d *DeviceSnapshot) { d.Health = h } }
	state := func(s State) func(*DeviceSnapshot) { return func(d *DeviceSnapshot) { d.State = s } }
	noHC := func(d *DeviceSnapshot) { d.HasHealthCheck = false }
	jtags := func(tags ...string) func(*JobSnapshot) { return func(j *JobSnapshot) { j.Tags = tags } }
	prio := func(p int) func(*JobSnapshot) { return func(j *JobSnapshot) { j.Priority = p } }

	tests := []struct {
		name    string
		jobs    []JobSnapshot
		devices []DeviceSnapshot
		opts    Options
		want    Plan
	}{
		{
			name:    "a job takes an idle good device",
			jobs:    []JobSnapshot{job(1)},
			devices: []DeviceSnapshot{dev("d1")},
			want:    Plan{Assignments: []Assignment{a(1, "d1")}},
		},
		{
			name:    "a device listed twice is used once",
			jobs:    []JobSnapshot{job(1), job(2)},
			devices: []DeviceSnapshot{dev("d1"), dev("d1")},
			want:    Plan{Assignments: []Assignment{a(1, "d1")}},
		},
		{
			name: "health checks go by device type then device name",
			devices: []DeviceSnapshot{
				dev("b", func(d *DeviceSnapshot) { d.Health = HealthUnknown }),
				dev("a", func(d *DeviceSnapshot) { d.Health = HealthUnknown; d.Type = "zz" }),
				dev("c", func(d *DeviceSnapshot) { d.Health = HealthUnknown }),
			},
			want: Plan{HealthChecks: []HealthCheck{
				hc("b", "health Unknown"), hc("c", "health Unknown"),
				{Device: "a", DeviceType: "zz", Worker: "w1", Reason: "health Unknown"},
			}},
		},
		{
			name: "a device the submitter may not use is left to the next job",
			jobs: []JobSnapshot{
				job(1, func(j *JobSnapshot) { j.Submitter = "guest" }),
				job(2, func(j *JobSnapshot) { j.Submitter = "guest" }),
				job(3, func(j *JobSnapshot) { j.Submitter = "staff" }),
			},
			devices: []DeviceSnapshot{dev("d1"), dev("private")},
			opts: Options{CanSubmit: func(submitter string, d *DeviceSnapshot) bool {
				return d.Name != "private" || submitter == "staff"
			}},
			want: Plan{Assignments: []Assignment{a(1, "d1"), a(3, "private")}},
		},
		{
			name:    "device type must match",
			jobs:    []JobSnapshot{job(1, func(j *JobSnapshot) { j.DeviceType = "bbb" })},
			devices: []DeviceSnapshot{dev("d1")},
		},
		{
			name:    "one job per device per pass, first in the queue wins",
			jobs:    []JobSnapshot{job(2), job(1)},
			devices: []DeviceSnapshot{dev("d1")},
			want:    Plan{Assignments: []Assignment{a(1, "d1")}},
		},
		{
			name:    "higher priority before earlier submit time",
			jobs:    []JobSnapshot{job(1), job(2, prio(100))},
			devices: []DeviceSnapshot{dev("d1")},
			want:    Plan{Assignments: []Assignment{a(2, "d1")}},
		},
		{
			name: "same priority: earlier submit time first, whatever the id",
			jobs: []JobSnapshot{
				job(2, prio(0)),
				job(3, prio(0), func(j *JobSnapshot) { j.SubmitTime = t0 }),
			},
			devices: []DeviceSnapshot{dev("d1")},
			want:    Plan{Assignments: []Assignment{a(3, "d1")}},
		},
		{
			name: "same priority and submit time: lower id first",
			jobs: []JobSnapshot{
				job(9, func(j *JobSnapshot) { j.SubmitTime = t0 }),
				job(8, func(j *JobSnapshot) { j.SubmitTime = t0 }),
			},
			devices: []DeviceSnapshot{dev("d1")},
			want:    Plan{Assignments: []Assignment{a(8, "d1")}},
		},
		{
			name:    "every job tag must be on the device",
			jobs:    []JobSnapshot{job(1, jtags("usb", "hdmi"))},
			devices: []DeviceSnapshot{dev("d1", tagged("usb"))},
		},
		{
			name:    "extra device tags do not matter",
			jobs:    []JobSnapshot{job(1, jtags("usb"))},
			devices: []DeviceSnapshot{dev("d1", tagged("usb", "hdmi"))},
			want:    Plan{Assignments: []Assignment{a(1, "d1")}},
		},
		{
			name:    "an untagged job prefers the device with fewer extra tags",
			jobs:    []JobSnapshot{job(1), job(2, jtags("usb"))},
			devices: []DeviceSnapshot{dev("a-tagged", tagged("usb")), dev("b-plain")},
			want:    Plan{Assignments: []Assignment{a(1, "b-plain"), a(2, "a-tagged")}},
		},
		{
			name:    "a blocked tagged job does not hold back the ones after it",
			jobs:    []JobSnapshot{job(1, jtags("gpu")), job(2)},
			devices: []DeviceSnapshot{dev("d1")},
			want:    Plan{Assignments: []Assignment{a(2, "d1")}},
		},
		{
			name:    "requested device pins the job",
			jobs:    []JobSnapshot{job(1, func(j *JobSnapshot) { j.RequestedDevice = "d2" })},
			devices: []DeviceSnapshot{dev("d1"), dev("d2")},
			want:    Plan{Assignments: []Assignment{a(1, "d2")}},
		},
		{
			name:    "requested worker pins the job",
			jobs:    []JobSnapshot{job(1, func(j *JobSnapshot) { j.RequestedWorker = "w2" })},
			devices: []DeviceSnapshot{dev("d1"), dev("d2", func(d *DeviceSnapshot) { d.Worker = "w2" })},
			want:    Plan{Assignments: []Assignment{{JobID: 1, Device: "d2", Worker: "w2"}}},
		},
		{
			name:    "offline worker takes nothing, not even a health check",
			jobs:    []JobSnapshot{job(1)},
			devices: []DeviceSnapshot{dev("d1", health(HealthUnknown), func(d *DeviceSnapshot) { d.WorkerOnline = false })},
		},
		{
			name:    "reserved device takes nothing",
			jobs:    []JobSnapshot{job(1)},
			devices: []DeviceSnapshot{dev("d1", state(StateReserved))},
		},
		{
			name:    "running device takes nothing",
			jobs:    []JobSnapshot{job(1)},
			devices: []DeviceSnapshot{dev("d1", state(StateRunning))},
		},
		{
			name:    "bad device takes nothing",
			jobs:    []JobSnapshot{job(1)},
			devices: []DeviceSnapshot{dev("d1", health(HealthBad))},
		},
		{
			name:    "maintenance device takes nothing",
			jobs:    []JobSnapshot{job(1)},
			devices: []DeviceSnapshot{dev("d1", health(HealthMaintenance))},
		},
		{
			name:    "retired device takes nothing",
			jobs:    []JobSnapshot{job(1)},
			devices: []DeviceSnapshot{dev("d1", health(HealthRetired))},
		},
		{
			name:    "unknown health: health check before any job",
			jobs:    []JobSnapshot{job(1)},
			devices: []DeviceSnapshot{dev("d1", health(HealthUnknown))},
			want:    Plan{HealthChecks: []HealthCheck{hc("d1", "health Unknown")}},
		},
		{
			name:    "unknown health without a health-check definition runs jobs",
			jobs:    []JobSnapshot{job(1)},
			devices: []DeviceSnapshot{dev("d1", health(HealthUnknown), noHC)},
			want:    Plan{Assignments: []Assignment{a(1, "d1")}},
		},
		{
			name:    "unknown health on a type with health checks disabled runs jobs",
			jobs:    []JobSnapshot{job(1)},
			devices: []DeviceSnapshot{dev("d1", health(HealthUnknown))},
			opts:    Options{DeviceTypes: map[string]DeviceTypePolicy{"qemu": {DisableHealthCheck: true}}},
			want:    Plan{Assignments: []Assignment{a(1, "d1")}},
		},
		{
			name:    "looping runs health checks",
			jobs:    []JobSnapshot{job(1)},
			devices: []DeviceSnapshot{dev("d1", health(HealthLooping))},
			want:    Plan{HealthChecks: []HealthCheck{hc("d1", "health Looping")}},
		},
		{
			name:    "looping never runs a job, even without a health-check definition",
			jobs:    []JobSnapshot{job(1)},
			devices: []DeviceSnapshot{dev("d1", health(HealthLooping), noHC)},
		},
		{
			name:    "looping on a type with health checks disabled runs nothing",
			jobs:    []JobSnapshot{job(1)},
			devices: []DeviceSnapshot{dev("d1", health(HealthLooping))},
			opts:    Options{DeviceTypes: map[string]DeviceTypePolicy{"qemu": {DisableHealthCheck: true}}},
		},
		{
			name:    "never checked: health check",
			devices: []DeviceSnapshot{dev("d1", func(d *DeviceSnapshot) { d.LastHealthCheck = time.Time{} })},
			want:    Plan{HealthChecks: []HealthCheck{hc("d1", "never checked")}},
		},
		{
			name:    "hours: health check due after the default 24 hours",
			jobs:    []JobSnapshot{job(1)},
			devices: []DeviceSnapshot{dev("d1", func(d *DeviceSnapshot) { d.LastHealthCheck = t0.Add(-25 * time.Hour) })},
			want:    Plan{HealthChecks: []HealthCheck{hc("d1", "last health check over 24 hours ago")}},
		},
		{
			name:    "hours: not due within the type's frequency",
			jobs:    []JobSnapshot{job(1)},
			devices: []DeviceSnapshot{dev("d1", func(d *DeviceSnapshot) { d.LastHealthCheck = t0.Add(-25 * time.Hour) })},
			opts:    Options{DeviceTypes: map[string]DeviceTypePolicy{"qemu": {Frequency: 48}}},
			want:    Plan{Assignments: []Assignment{a(1, "d1")}},
		},
		{
			name:    "jobs: health check due after the type's number of jobs",
			jobs:    []JobSnapshot{job(1)},
			devices: []DeviceSnapshot{dev("d1", func(d *DeviceSnapshot) { d.JobsSinceHealthCheck = 5 })},
			opts:    Options{DeviceTypes: map[string]DeviceTypePolicy{"qemu": {Frequency: 5, PerJob: true}}},
			want:    Plan{HealthChecks: []HealthCheck{hc("d1", "5 jobs since the last health check")}},
		},
		{
			name:    "jobs: not due before the type's number of jobs",
			jobs:    []JobSnapshot{job(1)},
			devices: []DeviceSnapshot{dev("d1", func(d *DeviceSnapshot) { d.JobsSinceHealthCheck = 4 })},
			opts:    Options{DeviceTypes: map[string]DeviceTypePolicy{"qemu": {Frequency: 5, PerJob: true}}},
			want:    Plan{Assignments: []Assignment{a(1, "d1")}},
		},
		{
			name:    "worker job limit counts reserved and running devices",
			jobs:    []JobSnapshot{job(1)},
			devices: []DeviceSnapshot{dev("d1", state(StateRunning)), dev("d2")},
			opts:    Options{WorkerJobLimit: map[string]int{"w1": 1}},
		},
		{
			name:    "worker job limit counts what the pass gave",
			jobs:    []JobSnapshot{job(1), job(2)},
			devices: []DeviceSnapshot{dev("d1"), dev("d2")},
			opts:    Options{WorkerJobLimit: map[string]int{"w1": 1}},
			want:    Plan{Assignments: []Assignment{a(1, "d1")}},
		},
		{
			name:    "worker job limit counts health checks",
			jobs:    []JobSnapshot{job(1)},
			devices: []DeviceSnapshot{dev("d1", health(HealthUnknown)), dev("d2")},
			opts:    Options{WorkerJobLimit: map[string]int{"w1": 1}},
			want:    Plan{HealthChecks: []HealthCheck{hc("d1", "health Unknown")}},
		},
		{
			name:    "worker job limit holds back health checks too",
			devices: []DeviceSnapshot{dev("d1", state(StateRunning)), dev("d2", health(HealthUnknown))},
			opts:    Options{WorkerJobLimit: map[string]int{"w1": 1}},
		},
		{
			name:    "job limits are per worker",
			jobs:    []JobSnapshot{job(1), job(2)},
			devices: []DeviceSnapshot{dev("d1"), dev("d2", func(d *DeviceSnapshot) { d.Worker = "w2" })},
			opts:    Options{WorkerJobLimit: map[string]int{"w1": 1}},
			want:    Plan{Assignments: []Assignment{a(1, "d1"), {JobID: 2, Device: "d2", Worker: "w2"}}},
		},
		{
			name: "queue timeout expires the job instead of scheduling it",
			jobs: []JobSnapshot{
				job(1, func(j *JobSnapshot) { j.SubmitTime, j.QueueTimeout = t0.Add(-time.Minute), time.Second }),
				job(2, func(j *JobSnapshot) { j.SubmitTime, j.QueueTimeout = t0.Add(-time.Minute), time.Hour }),
			},
			devices: []DeviceSnapshot{dev("d1")},
			want:    Plan{Assignments: []Assignment{a(2, "d1")}, Expired: []int64{1}},
		},
		{
			name: "queue timeout of one sub-job expires the whole group",
			jobs: cat(group("g", 2, 10, 11)[:1], []JobSnapshot{func() JobSnapshot {
				j := group("g", 2, 10, 11)[1]
				j.SubmitTime, j.QueueTimeout = t0.Add(-time.Minute), time.Second
				return j
			}()}),
			devices: []DeviceSnapshot{dev("d1"), dev("d2")},
			want:    Plan{Expired: []int64{10, 11}},
		},
		{
			name:    "multinode: a group of 3 with 2 free devices gets nothing",
			jobs:    group("g", 3, 10, 11, 12),
			devices: []DeviceSnapshot{dev("d1"), dev("d2"), dev("d3", health(HealthMaintenance))},
		},
		{
			name:    "multinode: a group of 3 with 3 free devices gets all",
			jobs:    group("g", 3, 10, 11, 12),
			devices: []DeviceSnapshot{dev("d1"), dev("d2"), dev("d3")},
			want: Plan{Assignments: []Assignment{
				ga(10, "10.0", "g", "d1"), ga(11, "10.1", "g", "d2"), ga(12, "10.2", "g", "d3"),
			}},
		},
		{
			name:    "multinode: a refused group leaves its devices to later jobs",
			jobs:    cat(group("g", 3, 10, 11, 12), []JobSnapshot{job(20)}),
			devices: []DeviceSnapshot{dev("d1"), dev("d2")},
			want:    Plan{Assignments: []Assignment{a(20, "d1")}},
		},
		{
			name:    "multinode: a group missing a sub-job from the snapshot gets nothing",
			jobs:    group("g", 3, 10, 11),
			devices: []DeviceSnapshot{dev("d1"), dev("d2"), dev("d3")},
		},
		{
			name:    "multinode: two groups compete, the first in the queue wins whole",
			jobs:    cat(group("late", 2, 20, 21), group("early", 2, 10, 11)),
			devices: []DeviceSnapshot{dev("d1"), dev("d2"), dev("d3")},
			want: Plan{Assignments: []Assignment{
				ga(10, "10.0", "early", "d1"), ga(11, "10.1", "early", "d2"),
			}},
		},
		{
			name: "multinode: roles with different tags all placed or none",
			jobs: func() []JobSnapshot {
				g := group("g", 2, 10, 11)
				g[1].Tags = []string{"usb"}
				return g
			}(),
			devices: []DeviceSnapshot{dev("d1"), dev("d2")},
		},
		{
			name: "lava-vland: each role goes to a device whose interfaces carry its VLANs' tags",
			jobs: vlanGroup([][]VLAN{{{"one", []string{"1G"}}}, {{"two", []string{"10G"}}}}),
			devices: []DeviceSnapshot{
				dev("d1", ifaces(nil, []string{"10G"})), dev("d2", ifaces(nil)), dev("d3", ifaces([]string{"1G"})),
			},
			want: Plan{Assignments: []Assignment{ga(10, "10.0", "g", "d3"), ga(11, "10.1", "g", "d1")}},
		},
		{
			name: "lava-vland: a group the greedy way cannot place is matched (the first role gives up the one device the second can use)",
			jobs: vlanGroup([][]VLAN{{{"one", []string{"1G"}}}, {{"two", []string{"10G"}}}}),
			devices: []DeviceSnapshot{
				dev("d1", ifaces([]string{"1G", "10G"})), dev("d2", ifaces([]string{"1G"})),
			},
			want: Plan{Assignments: []Assignment{ga(10, "10.0", "g", "d2"), ga(11, "10.1", "g", "d1")}},
		},
		{
			name: "lava-vland: a group no device set can carry waits, its devices left to other jobs",
			jobs: cat(vlanGroup([][]VLAN{{{"one", []string{"1G"}}}, {{"two", []string{"1G"}}}}), []JobSnapshot{job(20)}),
			devices: []DeviceSnapshot{
				dev("d1", ifaces([]string{"1G"})), dev("d2", ifaces([]string{"RJ45"})),
			},
			want: Plan{Assignments: []Assignment{a(20, "d1")}},
		},
		{
			name: "lava-vland: the matched group respects the worker's job limit",
			jobs: vlanGroup([][]VLAN{{{"one", []string{"1G"}}}, {{"two", []string{"10G"}}}}),
			devices: []DeviceSnapshot{
				dev("d1", ifaces([]string{"1G", "10G"})), dev("d2", ifaces([]string{"1G"})),
			},
			opts: Options{WorkerJobLimit: map[string]int{"w1": 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Pass(t0, tt.jobs, tt.devices, tt.opts)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Pass() (-want +got):\n%s", diff)
			}
		})
	}
}

// ifaces gives a device interfaces with these tags.
func ifaces(tags ...[]string) func(*DeviceSnapshot) {
	return func(d *DeviceSnapshot) { d.Interfaces = tags }
}

// vlanGroup is group g of sub-jobs 10, 11, ..., each with its VLANs.
func vlanGroup(roles [][]VLAN) []JobSnapshot {
	ids := make([]int64, len(roles))
	for i := range roles {
		ids[i] = int64(10 + i)
	}
	g := group("g", len(roles), ids...)
	for i := range g {
		g[i].VLANs = roles[i]
	}
	return g
}

func TestMatchVLANs(t *testing.T) {
	t.Parallel()
	v := func(tags ...string) VLAN { return VLAN{Name: "v", Tags: tags} }
	tests := []struct {
		name   string
		vlans  []VLAN
		ifaces [][]string
		want   bool
	}{
		{"no interfaces", []VLAN{v("1G")}, nil, false},
		{"only a primary interface (no tags)", []VLAN{v("1G")}, [][]string{nil}, false},
		{"an interface with the tag", []VLAN{v("1G")}, [][]string{nil, {"1G"}}, true},
		{"every tag on one interface", []VLAN{v("1G", "RJ45")}, [][]string{{"RJ45", "1G", "x"}}, true},
		{"the tags spread over two interfaces do not count", []VLAN{v("1G", "RJ45")}, [][]string{{"1G"}, {"RJ45"}}, false},
		{"two VLANs need two interfaces", []VLAN{v("1G"), v("1G")}, [][]string{{"1G"}}, false},
		{"two VLANs on two interfaces", []VLAN{v("1G"), v("1G")}, [][]string{{"1G"}, {"1G", "10G"}}, true},
		// LAVA's rule is first come, first served: the first VLAN takes
		// the first interface that fits, even when the second needed it.
		{"first fit, as LAVA", []VLAN{v("1G"), v("10G")}, [][]string{{"1G", "10G"}, {"1G"}}, false},
		{"an empty tag list takes any tagged interface", []VLAN{v()}, [][]string{nil, {"1G"}}, true},
		{"an empty tag list still needs a tagged interface", []VLAN{v()}, [][]string{nil}, false},
	}
	for _, tt := range tests {
		if got := MatchVLANs(tt.vlans, tt.ifaces); got != tt.want {
			t.Errorf("%s: MatchVLANs(%v, %v) = %v, want %v", tt.name, tt.vlans, tt.ifaces, got, tt.want)
		}
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		job       func(*JobSnapshot)
		device    func(*DeviceSnapshot)
		ok        bool
		wantScore int
	}{
		{name: "plain job, plain device", ok: true},
		{name: "other device type", job: func(j *JobSnapshot) { j.DeviceType = "bbb" }},
		{name: "reserved device", device: func(d *DeviceSnapshot) { d.State = StateReserved }},
		{name: "running device", device: func(d *DeviceSnapshot) { d.State = StateRunning }},
		{name: "offline worker", device: func(d *DeviceSnapshot) { d.WorkerOnline = false }},
		{name: "unknown health", device: func(d *DeviceSnapshot) { d.Health = HealthUnknown }, ok: true},
		{name: "looping health", device: func(d *DeviceSnapshot) { d.Health = HealthLooping }},
		{name: "bad health", device: func(d *DeviceSnapshot) { d.Health = HealthBad }},
		{name: "maintenance", device: func(d *DeviceSnapshot) { d.Health = HealthMaintenance }},
		{name: "retired", device: func(d *DeviceSnapshot) { d.Health = HealthRetired }},
		{name: "requested device is this one", job: func(j *JobSnapshot) { j.RequestedDevice = "d1" }, ok: true},
		{name: "requested device is another", job: func(j *JobSnapshot) { j.RequestedDevice = "d2" }},
		{name: "requested worker is this one", job: func(j *JobSnapshot) { j.RequestedWorker = "w1" }, ok: true},
		{name: "requested worker is another", job: func(j *JobSnapshot) { j.RequestedWorker = "w2" }},
		{
			name:   "job tags all on the device, one extra",
			job:    func(j *JobSnapshot) { j.Tags = []string{"usb"} },
			device: func(d *DeviceSnapshot) { d.Tags = []string{"hdmi", "usb"} },
			ok:     true, wantScore: -1,
		},
		{
			name:   "a job tag missing on the device",
			job:    func(j *JobSnapshot) { j.Tags = []string{"usb", "gpu"} },
			device: func(d *DeviceSnapshot) { d.Tags = []string{"hdmi", "usb"} },
		},
		{
			name:   "lava-vland job, device interfaces carry it",
			job:    func(j *JobSnapshot) { j.VLANs = []VLAN{{"one", []string{"1G"}}} },
			device: func(d *DeviceSnapshot) { d.Interfaces = [][]string{nil, {"1G"}} },
			ok:     true,
		},
		{
			name: "lava-vland job, device without interfaces",
			job:  func(j *JobSnapshot) { j.VLANs = []VLAN{{"one", []string{"1G"}}} },
		},
		{
			name:   "untagged job on a device with two tags",
			device: func(d *DeviceSnapshot) { d.Tags = []string{"hdmi", "usb"} },
			ok:     true, wantScore: -2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j, d := job(1), dev("d1")
			if tt.job != nil {
				tt.job(&j)
			}
			if tt.device != nil {
				tt.device(&d)
			}
			ok, score := Match(&j, &d)
			if ok != tt.ok || score != tt.wantScore {
				t.Errorf("Match(%+v, %+v) = %v, %d; want %v, %d", j, d, ok, score, tt.ok, tt.wantScore)
			}
		})
	}
}

// TestPassProperties runs random passes and checks what must hold for any input: no device is
// used twice, every assignment satisfies Match, groups are whole or absent, expired jobs are not
// scheduled, and the same input gives the same plan.
func TestPassProperties(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 300 {
		jobs, devices := randomLab(rng, 1+rng.IntN(60), 1+rng.IntN(20))
		plan := Pass(t0, jobs, devices, Options{WorkerJobLimit: map[string]int{"w0": 2}})
		again := Pass(t0, jobs, devices, Options{WorkerJobLimit: map[string]int{"w0": 2}})
		if diff := cmp.Diff(plan, again); diff != "" {
			t.Fatalf("iteration %d: two passes over the same input differ (-first +second):\n%s", iter, diff)
		}
		// The order of the snapshots does not matter either.
		js, ds := slices.Clone(jobs), slices.Clone(devices)
		rng.Shuffle(len(js), func(i, k int) { js[i], js[k] = js[k], js[i] })
		rng.Shuffle(len(ds), func(i, k int) { ds[i], ds[k] = ds[k], ds[i] })
		if diff := cmp.Diff(plan, Pass(t0, js, ds, Options{WorkerJobLimit: map[string]int{"w0": 2}})); diff != "" {
			t.Fatalf("iteration %d: shuffled input gives another plan (-sorted +shuffled):\n%s", iter, diff)
		}
		checkPlan(t, iter, plan, jobs, devices)
	}
}

func checkPlan(t *testing.T, iter int, plan Plan, jobs []JobSnapshot, devices []DeviceSnapshot) {
	t.Helper()
	byJob := map[int64]*JobSnapshot{}
	groupSize := map[string]int{}
	for i := range jobs {
		byJob[jobs[i].ID] = &jobs[i]
		if jobs[i].Group != "" {
			groupSize[jobs[i].Group]++
		}
	}
	byDev := map[string]*DeviceSnapshot{}
	for i := range devices {
		byDev[devices[i].Name] = &devices[i]
	}
	expired := map[int64]bool{}
	for _, id := range plan.Expired {
		expired[id] = true
	}
	used := map[string]bool{}
	for _, h := range plan.HealthChecks {
		if used[h.Device] {
			t.Fatalf("iteration %d: device %s used twice", iter, h.Device)
		}
		used[h.Device] = true
	}
	placed := map[string]int{}
	for _, as := range plan.Assignments {
		if used[as.Device] {
			t.Fatalf("iteration %d: device %s used twice", iter, as.Device)
		}
		used[as.Device] = true
		j, d := byJob[as.JobID], byDev[as.Device]
		if ok, _ := Match(j, d); !ok {
			t.Fatalf("iteration %d: job %d on %s, which Match refuses", iter, as.JobID, as.Device)
		}
		if expired[as.JobID] {
			t.Fatalf("iteration %d: job %d both expired and scheduled", iter, as.JobID)
		}
		if j.Group != "" {
			placed[j.Group]++
		}
	}
	for g, n := range placed {
		if n != groupSize[g] {
			t.Fatalf("iteration %d: group %s has %d of %d sub-jobs placed", iter, g, n, groupSize[g])
		}
	}
	// w0's job limit of 2: what the pass gives it never takes it over.
	busy, given := 0, 0
	for _, d := range devices {
		if d.Worker == "w0" && (d.State == StateReserved || d.State == StateRunning) {
			busy++
		}
	}
	for name := range used {
		if byDev[name].Worker == "w0" {
			given++
		}
	}
	if given > 0 && busy+given > 2 {
		t.Fatalf("iteration %d: worker w0 has %d busy devices and was given %d more, over its limit of 2", iter, busy, given)
	}
}

// randomLab makes a lab of two device types, a few tags and workers, random health and state,
// single jobs and MultiNode groups of 2 to 4.
func randomLab(rng *rand.Rand, nJobs, nDevices int) ([]JobSnapshot, []DeviceSnapshot) {
	types := []string{"qemu", "bbb"}
	tags := []string{"usb", "hdmi", "gpu"}
	pick := func() []string {
		var out []string
		for _, t := range tags {
			if rng.IntN(3) == 0 {
				out = append(out, t)
			}
		}
		return out
	}
	devices := make([]DeviceSnapshot, nDevices)
	for i := range devices {
		devices[i] = DeviceSnapshot{
			Name: fmt.Sprintf("dev-%03d", i), Type: types[rng.IntN(len(types))], Tags: pick(),
			State: State(rng.IntN(4) / 3 * (1 + rng.IntN(2))), Health: Health(rng.IntN(8) % 6),
			Worker: fmt.Sprintf("w%d", rng.IntN(3)), WorkerOnline: rng.IntN(5) > 0,
			HasHealthCheck: rng.IntN(2) == 0, LastHealthCheck: t0.Add(-time.Duration(rng.IntN(48)) * time.Hour),
		}
		for range rng.IntN(3) {
			devices[i].Interfaces = append(devices[i].Interfaces, pick())
		}
	}
	var jobs []JobSnapshot
	id := int64(1)
	for len(jobs) < nJobs {
		n, grp := 1, ""
		if rng.IntN(4) == 0 {
			n, grp = 2+rng.IntN(3), fmt.Sprintf("g%d", id)
		}
		submit := t0.Add(-time.Duration(rng.IntN(7200)) * time.Second)
		prio := []int{0, 50, 100}[rng.IntN(3)]
		first := id
		for k := range n {
			j := JobSnapshot{
				ID: id, Group: grp, DeviceType: types[rng.IntN(len(types))], Tags: pick(),
				Priority: prio, SubmitTime: submit,
			}
			if grp != "" {
				j.GroupSize, j.SubID = n, fmt.Sprintf("%d.%d", first, k)
			}
			if rng.IntN(10) == 0 {
				j.QueueTimeout = time.Duration(1+rng.IntN(7200)) * time.Second
			}
			if rng.IntN(10) == 0 {
				j.RequestedDevice = fmt.Sprintf("dev-%03d", rng.IntN(nDevices))
			}
			if grp != "" && rng.IntN(3) == 0 {
				for v := range 1 + rng.IntN(2) {
					tags := pick()
					j.VLANs = append(j.VLANs, VLAN{Name: fmt.Sprint("vlan", v), Tags: tags[:min(1, len(tags))]})
				}
			}
			jobs = append(jobs, j)
			id++
		}
	}
	return jobs, devices
}

// BenchmarkPass is the aim: one pass over 10,000 queued jobs and 1,000 devices in under
// a second.
func BenchmarkPass(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	jobs, devices := benchLab(rng)
	opts := Options{WorkerJobLimit: map[string]int{}}
	b.ResetTimer()
	var plan Plan
	for b.Loop() {
		plan = Pass(t0, jobs, devices, opts)
	}
	b.ReportMetric(float64(len(plan.Assignments)), "assigned/op")
	b.ReportMetric(float64(len(plan.HealthChecks)), "healthchecks/op")
}

// benchLab: 1,000 devices of 20 types on 50 workers, a tenth of them busy, a twentieth Unknown;
// 10,000 jobs with tags, a tenth of them sub-jobs of MultiNode groups.
func benchLab(rng *rand.Rand) ([]JobSnapshot, []DeviceSnapshot) {
	tags := []string{"usb", "hdmi", "gpu", "wifi", "can", "sata"}
	pick := func(p int) []string {
		var out []string
		for _, t := range tags {
			if rng.IntN(p) == 0 {
				out = append(out, t)
			}
		}
		return out
	}
	devices := make([]DeviceSnapshot, 1000)
	for i := range devices {
		d := DeviceSnapshot{
			Name: fmt.Sprintf("dev-%04d", i), Type: fmt.Sprintf("type-%02d", rng.IntN(20)), Tags: pick(2),
			Worker: fmt.Sprintf("worker-%02d", rng.IntN(50)), WorkerOnline: true, Health: HealthGood,
			HasHealthCheck: true, LastHealthCheck: t0.Add(-time.Hour),
		}
		if rng.IntN(10) == 0 {
			d.State = StateRunning
		}
		if rng.IntN(20) == 0 {
			d.Health = HealthUnknown
		}
		devices[i] = d
	}
	jobs := make([]JobSnapshot, 0, 10000)
	id := int64(1)
	for len(jobs) < 10000 {
		typ := fmt.Sprintf("type-%02d", rng.IntN(20))
		submit := t0.Add(-time.Duration(rng.IntN(86400)) * time.Second)
		prio := rng.IntN(101)
		if rng.IntN(20) == 0 {
			first := id
			for k := range 2 {
				jobs = append(jobs, JobSnapshot{
					ID: id, SubID: fmt.Sprintf("%d.%d", first, k), Group: fmt.Sprintf("g%d", first), GroupSize: 2,
					DeviceType: typ, Tags: pick(4), Priority: prio, SubmitTime: submit,
				})
				id++
			}
			continue
		}
		jobs = append(jobs, JobSnapshot{ID: id, DeviceType: typ, Tags: pick(4), Priority: prio, SubmitTime: submit})
		id++
	}
	return jobs, devices
}

// BenchmarkPassUnplaceable is the slow end of the same size: one device type, 1,000 free
// devices, and 10,000 jobs each pinned to a different worker that does not exist, so no
// refusal is shared and every job is matched against every device (10 million Match calls).
func BenchmarkPassUnplaceable(b *testing.B) {
	devices := make([]DeviceSnapshot, 1000)
	for i := range devices {
		devices[i] = dev(fmt.Sprintf("dev-%04d", i), func(d *DeviceSnapshot) {
			d.Worker = fmt.Sprintf("worker-%02d", i%50)
			d.Tags = []string{"usb", "hdmi"}
		})
	}
	jobs := make([]JobSnapshot, 10000)
	for i := range jobs {
		jobs[i] = job(int64(i+1), func(j *JobSnapshot) {
			j.RequestedWorker = fmt.Sprintf("gone-%d", i)
			j.Tags = []string{"usb"}
		})
	}
	var plan Plan
	for b.Loop() {
		plan = Pass(t0, jobs, devices, Options{})
	}
	if len(plan.Assignments) != 0 {
		b.Fatalf("Pass placed %d jobs pinned to workers that do not exist", len(plan.Assignments))
	}
}
