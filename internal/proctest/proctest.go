// Package proctest finds, for tests, the processes a test started and
// should have ended: those that name the test's folder (or some other
// mark of its own) on their command line or in their environment. Tests
// use it to prove nothing is left running after a job, a daemon or a
// browser stops.
package proctest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Mentioning lists the live processes whose command line holds s. This
// process and zombies (exited, their parent going away) are not counted.
func Mentioning(s string) []int { return find(s, false) }

// Naming lists the live processes whose command line or environment holds
// s (a process may carry a folder only in a variable, e.g.
// XDG_CONFIG_HOME), with the same exceptions as Mentioning.
func Naming(s string) []int { return find(s, true) }

func find(s string, env bool) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		found := bytes.Contains(cmdline, []byte(s))
		if !found && env {
			environ, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
			found = bytes.Contains(environ, []byte(s))
		}
		if !found {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
			continue // a zombie whose parent is going away
		}
		pids = append(pids, pid)
	}
	return pids
}

// Linger waits up to d for every process mentioning s (as Mentioning) to
// go, and returns those still there then (none when all went). Stopping
// is asynchronous (a SIGTERM handled, a child reaped): a test gives the
// processes a moment before calling them left behind.
func Linger(s string, d time.Duration) []int {
	deadline := time.Now().Add(d)
	for {
		left := Mentioning(s)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Kill sends SIGKILL to each of pids, so that a test that found them
// left behind does not leave them to the next one.
func Kill(pids []int) {
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGKILL)
	}
}

// Cmdline is pid's command line, its arguments separated by spaces
// ("" once the process is gone).
func Cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
}
