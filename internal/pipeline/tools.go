package pipeline

import (
	"os/exec"
	"sync"
)

// lookPaths remembers where host tools were found: validation asks about
// the same few tools (git, qemu, docker…) from many actions, and each
// lookup walks the whole PATH.
var lookPaths sync.Map // tool name → error (nil when found)

// HasTool reports whether the host tool is on PATH.
func HasTool(tool string) bool {
	if v, ok := lookPaths.Load(tool); ok {
		return v == nil
	}
	_, err := exec.LookPath(tool)
	if err != nil {
		lookPaths.Store(tool, err)
		return false
	}
	lookPaths.Store(tool, nil)
	return true
}

// WarnMissingTool records a job warning when a host tool that running the
// action needs is not on PATH. It is a warning, not an error: validation
// must still describe the job, and the tool may be installed before it
// runs.
func (b *Base) WarnMissingTool(tool string) {
	if !HasTool(tool) {
		b.Warnf("%s is not installed on the dispatcher (not found on PATH)", tool)
	}
}
