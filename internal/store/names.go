package store

import "strconv"

// LAVA's names of states and healths as its APIs take them, one table
// for lavarpc, restapi and the pages.

var (
	jobStateNames = map[string]JobState{
		"Submitted": JobSubmitted, "Scheduling": JobScheduling, "Scheduled": JobScheduled,
		"Running": JobRunning, "Canceling": JobCanceling, "Finished": JobFinished,
	}
	jobHealthNames = map[string]JobHealth{
		"Unknown": JobUnknown, "Complete": JobComplete, "Incomplete": JobIncomplete, "Canceled": JobCanceled,
	}
	// deviceHealthAPINames is LAVA's Device.HEALTH_REVERSE.
	deviceHealthAPINames = map[string]DeviceHealth{
		"GOOD": HealthGood, "UNKNOWN": HealthUnknown, "LOOPING": HealthLooping,
		"BAD": HealthBad, "MAINTENANCE": HealthMaintenance, "RETIRED": HealthRetired,
	}
)

// ParseJobState returns the job state whose display name is name
// ("Running"), as LAVA's TestJob.STATE_REVERSE reads it.
func ParseJobState(name string) (JobState, bool) {
	s, ok := jobStateNames[name]
	return s, ok
}

// ParseJobHealth returns the job health whose display name is name
// ("Complete"), as LAVA's TestJob.HEALTH_REVERSE reads it.
func ParseJobHealth(name string) (JobHealth, bool) {
	h, ok := jobHealthNames[name]
	return h, ok
}

// ParseDeviceHealthAPI returns the device health of LAVA's API name
// ("GOOD", "MAINTENANCE"...: Device.HEALTH_REVERSE), as
// scheduler.devices.update and REST's set_health take it.
func ParseDeviceHealthAPI(name string) (DeviceHealth, bool) {
	h, ok := deviceHealthAPINames[name]
	return h, ok
}

// PriorityName is LAVA's TestJob.get_priority_display: the name of its
// three named priorities (0 Low, 50 Medium, 100 High), the number
// otherwise (as the e-mail of notify: and the job page show it).
func PriorityName(p int) string {
	switch p {
	case 0:
		return "Low"
	case 50:
		return "Medium"
	case 100:
		return "High"
	}
	return strconv.Itoa(p)
}
