package store

import (
	"strings"
	"testing"
)

// TestNames: every state and health is found by its LAVA name, and
// nothing else is.
func TestNames(t *testing.T) {
	for _, s := range []JobState{JobSubmitted, JobScheduling, JobScheduled, JobRunning, JobCanceling, JobFinished} {
		if got, ok := ParseJobState(string(s)); !ok || got != s {
			t.Errorf("ParseJobState(%s) = %v, %v", s, got, ok)
		}
	}
	for _, h := range []JobHealth{JobUnknown, JobComplete, JobIncomplete, JobCanceled} {
		if got, ok := ParseJobHealth(string(h)); !ok || got != h {
			t.Errorf("ParseJobHealth(%s) = %v, %v", h, got, ok)
		}
	}
	for _, h := range []DeviceHealth{HealthUnknown, HealthGood, HealthBad, HealthMaintenance, HealthLooping, HealthRetired} {
		if got, ok := ParseDeviceHealthAPI(strings.ToUpper(string(h))); !ok || got != h {
			t.Errorf("ParseDeviceHealthAPI(%s) = %v, %v", strings.ToUpper(string(h)), got, ok)
		}
	}
	for _, bad := range []string{"", "running", "RUNNING", "Good"} {
		if _, ok := ParseJobState(bad); ok {
			t.Errorf("ParseJobState(%q) accepted", bad)
		}
		if _, ok := ParseDeviceHealthAPI(bad); ok {
			t.Errorf("ParseDeviceHealthAPI(%q) accepted", bad)
		}
	}
}

func TestPriorityName(t *testing.T) {
	for p, want := range map[int]string{0: "Low", 50: "Medium", 100: "High", 1: "1", 75: "75", 99: "99"} {
		if got := PriorityName(p); got != want {
			t.Errorf("PriorityName(%d) = %q, want %q", p, got, want)
		}
	}
}
