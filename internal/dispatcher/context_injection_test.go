package dispatcher

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/job"
)

// TestPrepareRefusesContextInjection is the attack of issue 10 through
// the path "basalt validate --device" takes: a job whose context value,
// printed by the shipped qemu template, would add a "commands:" key to
// the rendered device that its command block then runs on the worker.
// The job must be invalid, with an error naming the context variable
// at its place in the job file, and no device command may exist.
func TestPrepareRefusesContextInjection(t *testing.T) {
	jobPath := filepath.Join("testdata", "context-injection", "job.yaml")
	devPath := filepath.Join("..", "..", "examples", "qemu", "device.jinja2")
	p, err := Prepare(jobPath, devPath, Options{Job: job.Options{Strict: true}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Valid() {
		t.Fatalf("Prepare(%s, %s) is valid, want the context injection refused", jobPath, devPath)
	}
	if p.Device != nil && p.Device.Data.Map("commands") != nil {
		t.Errorf("rendered device has commands: %v", p.Device.Data.Map("commands"))
	}
	found := false
	for _, d := range p.Diagnostics {
		if d.Severity == job.Error && d.File == jobPath && strings.Contains(d.Msg, "guestfs_driveid") && d.Pos.Line == 14 {
			found = true
		}
	}
	if !found {
		t.Errorf("no error at %s:14 naming guestfs_driveid; diagnostics: %v", jobPath, p.Diagnostics)
	}
}
