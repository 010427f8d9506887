// Package scheduler decides one scheduling pass of a LAVA lab: given snapshots of the queued jobs
// and of the devices, it says which devices run a health check, which job goes to which device and
// which jobs waited past their queue timeout. It owns the rules only: it does no I/O, reads no
// clock and touches no database, so the caller (the server) loads the snapshots, calls Pass and
// applies the Plan in one transaction. The same input always gives the same Plan.
//
// The rules are LAVA's, from lava_scheduler_app/scheduler.py (current LAVA, 2026) unless a doc
// comment says otherwise; the one deliberate difference is MultiNode (see Pass).
package scheduler

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Health is a device's health, with LAVA's names (models.py Device.HEALTH_*).
type Health int

// The device health values. The zero value is Good only so that a literal in a test reads
// naturally; LAVA's default for a new device is Maintenance, which the store sets.
const (
	HealthGood Health = iota
	HealthUnknown
	HealthLooping
	HealthBad
	HealthMaintenance
	HealthRetired
)

var healthNames = [...]string{"Good", "Unknown", "Looping", "Bad", "Maintenance", "Retired"}

func (h Health) String() string {
	if h >= 0 && int(h) < len(healthNames) {
		return healthNames[h]
	}
	return "Health(" + strconv.Itoa(int(h)) + ")"
}

// State is a device's state (models.py Device.STATE_*): only an Idle device takes work.
type State int

// The device states.
const (
	StateIdle State = iota
	StateReserved
	StateRunning
)

var stateNames = [...]string{"Idle", "Reserved", "Running"}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// JobSnapshot is one job in state Submitted, as the scheduler needs it.
type JobSnapshot struct {
	ID    int64
	SubID string // "<first id>.<n>" for a MultiNode sub-job, "" otherwise
	// Group is the MultiNode target_group shared by the sub-jobs of one submission, "" for a
	// single-node job. GroupSize is the number of its sub-jobs that need a device (dynamic
	// connections excluded); a group with fewer of them in the snapshot is not scheduled.
	// Zero means the snapshot holds the whole group.
	Group     string
	GroupSize int

	DeviceType      string   // requested_device_type
	RequestedDevice string   // requested_device: pins the job to one device, "" for any
	RequestedWorker string   // requested_worker: pins the job to one worker, "" for any
	Tags            []string // every one must be on the device
	// VLANs are the sub-job's lava-vland VLANs, in the job's order: a
	// device takes the job only when its interfaces carry them all (see
	// MatchVLANs). Nil for a job without the protocol.
	VLANs []VLAN

	// Submitter is the user who submitted the job, handed to Options.CanSubmit.
	Submitter string

	Priority   int // 0..100, higher first
	SubmitTime time.Time
	// QueueTimeout is timeouts.queue; zero means the job waits for ever (LAVA's default,
	// QUEUE_TIMEOUT_HOURS = None).
	QueueTimeout time.Duration
}

// DeviceSnapshot is one device as the scheduler needs it.
type DeviceSnapshot struct {
	Name string
	Type string
	Tags []string
	// Interfaces holds the tags of each interface of the device
	// dictionary's parameters.interfaces, in its order; an interface
	// without tags is a primary one, never put on a VLAN.
	Interfaces [][]string
	State      State
	Health     Health

	Worker string
	// WorkerOnline is true when the worker is Online (pinged within the timeout) and Active
	// (lava-scheduler check_workers); a device on any other worker takes no work.
	WorkerOnline bool

	// HasHealthCheck is true when a health-check definition exists for the device (LAVA:
	// health-checks/<template the dictionary extends>.yaml). Without one the device is never
	// sent a health check, whatever its health.
	HasHealthCheck bool
	// LastHealthCheck is the submit time of the device's last health check, zero if it never
	// had one. JobsSinceHealthCheck counts the normal jobs started since then.
	LastHealthCheck      time.Time
	JobsSinceHealthCheck int
}

// DeviceTypePolicy is the health-check schedule of one device type (models.py DeviceType).
type DeviceTypePolicy struct {
	// DisableHealthCheck: devices of the type never get a health check, and Good and Unknown
	// devices take jobs.
	DisableHealthCheck bool
	// Frequency is health_frequency: hours between health checks, or jobs when PerJob is set.
	// Zero means LAVA's default, 24 hours.
	Frequency int
	PerJob    bool
}

// Options are the lab-wide inputs of a pass that are not per job or per device.
type Options struct {
	// DeviceTypes holds the health-check policy by type name; a type that is not listed gets
	// the zero policy (health checks on, every 24 hours).
	DeviceTypes map[string]DeviceTypePolicy
	// WorkerJobLimit holds a worker's job_limit: the most of its devices that may be Reserved
	// or Running at once. Zero or absent means no limit.
	WorkerJobLimit map[string]int
	// CanSubmit says whether submitter may use device (LAVA: Device.can_submit, device then
	// device-type permissions); a device it refuses is skipped for that job, as in
	// schedule_jobs_for_device. It must be pure: the pass calls it any number of times and
	// remembers its answers by submitter. Nil lets everyone use every device.
	CanSubmit func(submitter string, device *DeviceSnapshot) bool
}

// VLAN is one VLAN of a job's lava-vland protocol: its name in the job
// and the tags the device interface that carries it must have.
type VLAN struct {
	Name string
	Tags []string
}

// MatchVLANs says whether a device whose interfaces have the tags in
// interfaces can carry vlans, by LAVA's rule (dbutils.py
// match_vlan_interface, which schedule_jobs_for_device applies to every
// job with lava-vland): each VLAN in turn takes the first interface, in
// the dictionary's order, that has tags, has every tag the VLAN asks for
// and that no earlier VLAN took. It is the dispatcher's rule too
// (vland.MakePlan), so a device chosen here passes the job's own check.
func MatchVLANs(vlans []VLAN, interfaces [][]string) bool {
	used := make([]bool, len(interfaces))
	for _, v := range vlans {
		found := false
		for i, tags := range interfaces {
			if used[i] || len(tags) == 0 || !containsAll(tags, v.Tags) {
				continue
			}
			used[i], found = true, true
			break
		}
		if !found {
			return false
		}
	}
	return true
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// Assignment gives a queued job a device.
type Assignment struct {
	JobID  int64
	SubID  string
	Group  string
	Device string
	Worker string
}

// HealthCheck asks the caller to create a health-check job for a device and to reserve the
// device for it (LAVA: the job is created Scheduled with requested_device set).
type HealthCheck struct {
	Device     string
	DeviceType string
	Worker     string
	Reason     string // why it is due, for the log: "health Unknown", "never checked", ...
}

// Plan is the outcome of one pass. Each list is in the order the pass decided it.
type Plan struct {
	HealthChecks []HealthCheck
	Assignments  []Assignment
	// Expired lists the jobs whose queue timeout passed: the caller cancels them
	// (scheduler.py check_queue_timeout). A MultiNode job expires with its whole group.
	Expired []int64
}

const defaultHealthFrequency = 24 // hours: settings.HEALTH_FREQUENCY_HOURS

// Match says whether job may run on device, ignoring what the rest of the pass does (other jobs,
// worker limits, health checks that are due). It checks, after schedule_jobs_for_device_type and
// schedule_jobs_for_device in scheduler.py:
//   - the device is Idle, its worker Online and Active, its health Good or Unknown (Looping runs
//     health checks only; Bad, Maintenance and Retired run nothing);
//   - the job asks for the device's type;
//   - the job's requested device and worker, when set, are this device and its worker;
//   - every tag of the job is on the device (extra device tags do not matter);
//   - the device's interfaces carry the job's lava-vland VLANs (MatchVLANs).
//
// The score ranks the devices a job may use, higher better: a device with fewer tags the job
// did not ask for scores higher, so tagged devices stay free for jobs that need their tags.
func Match(job *JobSnapshot, device *DeviceSnapshot) (ok bool, score int) {
	if !deviceTakesJobs(device) {
		return false, 0
	}
	if job.DeviceType != device.Type {
		return false, 0
	}
	if job.RequestedDevice != "" && job.RequestedDevice != device.Name {
		return false, 0
	}
	if job.RequestedWorker != "" && job.RequestedWorker != device.Worker {
		return false, 0
	}
	if !containsAll(device.Tags, job.Tags) {
		return false, 0
	}
	if job.VLANs != nil && !MatchVLANs(job.VLANs, device.Interfaces) {
		return false, 0
	}
	return true, -extraTags(len(device.Tags), len(job.Tags))
}

func extraTags(deviceTags, jobTags int) int {
	// A job's tags are all on the device (checked), so the difference counts the others;
	// duplicates in the job's list could make it negative.
	return max(deviceTags-jobTags, 0)
}

func deviceTakesJobs(d *DeviceSnapshot) bool {
	return d.State == StateIdle && d.WorkerOnline &&
		(d.Health == HealthGood || d.Health == HealthUnknown)
}

// healthCheckDue says whether an idle device on a usable worker gets a health check this pass,
// and why (scheduler.py schedule_health_checks_for_device_type): health Unknown or Looping, no
// health check ever, or the type's frequency reached (in jobs started since the last health
// check, or in hours since its submission).
func healthCheckDue(now time.Time, d *DeviceSnapshot, p DeviceTypePolicy) (bool, string) {
	switch {
	case d.Health == HealthUnknown:
		return true, "health Unknown"
	case d.Health == HealthLooping:
		return true, "health Looping"
	case d.LastHealthCheck.IsZero():
		return true, "never checked"
	}
	freq := p.Frequency
	if freq == 0 {
		freq = defaultHealthFrequency
	}
	if p.PerJob {
		if d.JobsSinceHealthCheck >= freq {
			return true, strconv.Itoa(d.JobsSinceHealthCheck) + " jobs since the last health check"
		}
		return false, ""
	}
	if d.LastHealthCheck.Add(time.Duration(freq) * time.Hour).Before(now) {
		return true, "last health check over " + strconv.Itoa(freq) + " hours ago"
	}
	return false, ""
}

// jobLess is LAVA's queue order: priority descending, then submit time, sub_id and id
// (scheduler.py schedule_jobs_for_device, order_by("-priority", "submit_time", "sub_id", "id")).
func jobLess(a, b *JobSnapshot) int {
	if a.Priority != b.Priority {
		if a.Priority > b.Priority {
			return -1
		}
		return 1
	}
	if c := a.SubmitTime.Compare(b.SubmitTime); c != 0 {
		return c
	}
	if c := strings.Compare(a.SubID, b.SubID); c != 0 {
		return c
	}
	switch {
	case a.ID < b.ID:
		return -1
	case a.ID > b.ID:
		return 1
	}
	return 0
}
