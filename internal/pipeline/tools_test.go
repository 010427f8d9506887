package pipeline

import (
	"os"
	"path/filepath"
	"testing"
)

// A tool installed between two jobs is found by the second: the lookup
// is remembered for one job only, not for the life of the process (a
// worker runs many jobs).
func TestToolInstalledBetweenJobs(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	const tool = "basalt-test-tool"
	base := func(j *Job) *Base {
		b := NewBase("Step", "needs-tool", "", "")
		b.Job = j
		return &b
	}

	first := &Job{}
	base(first).WarnMissingTool(tool)
	if len(first.Warnings) != 1 {
		t.Fatalf("first job, tool missing: warnings %q, want one", first.Warnings)
	}
	if err := os.WriteFile(filepath.Join(dir, tool), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Within a job the answer stays the one the job started with.
	if first.HasTool(tool) {
		t.Error("the first job's answer changed during the job")
	}

	second := &Job{}
	base(second).WarnMissingTool(tool)
	if len(second.Warnings) != 0 || !second.HasTool(tool) {
		t.Fatalf("second job, tool installed: warnings %q, HasTool %v; want none, true", second.Warnings, second.HasTool(tool))
	}
	var none *Job
	if !none.HasTool(tool) {
		t.Error("HasTool on a nil Job does not find the tool")
	}
}
