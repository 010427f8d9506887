package pipeline

import (
	"os/exec"
	"sync"
)

// toolCache remembers, for one job, whether host tools are on PATH:
// validation asks about the same few tools (git, qemu, docker…) from
// many actions, and each lookup walks the whole PATH. It lives in the
// Job, not in the process, so that a long-lived worker sees a tool
// installed since its last job.
type toolCache struct {
	mu    sync.Mutex
	found map[string]bool
}

// HasTool reports whether the host tool is on PATH, looking once per job
// (a nil Job looks every time).
func (j *Job) HasTool(tool string) bool {
	if j == nil {
		_, err := exec.LookPath(tool)
		return err == nil
	}
	c := &j.tools
	c.mu.Lock()
	defer c.mu.Unlock()
	if found, ok := c.found[tool]; ok {
		return found
	}
	_, err := exec.LookPath(tool)
	if c.found == nil {
		c.found = map[string]bool{}
	}
	c.found[tool] = err == nil
	return err == nil
}

// WarnMissingTool records a job warning when a host tool that running the
// action needs is not on PATH. It is a warning, not an error: validation
// must still describe the job, and the tool may be installed before it
// runs.
func (b *Base) WarnMissingTool(tool string) {
	if !b.Job.HasTool(tool) {
		b.Warnf("%s is not installed on the dispatcher (not found on PATH)", tool)
	}
}
