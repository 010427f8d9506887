package dispatcher

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/job"
)

// TestPrepareRefusesContextInjection is the attack of issue 10 through
// the path "basalt validate --device" takes: jobs whose context value,
// printed by the shipped qemu template, changes the rendered device; the
// first adds a "commands:" key that its command block would run on the
// worker (strict validate called it valid). Each job must be invalid,
// with an error naming the context variable at its place in the job
// file (the job checker's for a line break, the rendered structure
// check's for a one-line value), and no device command may exist.
func TestPrepareRefusesContextInjection(t *testing.T) {
	devPath := filepath.Join("..", "..", "examples", "qemu", "device.jinja2")
	tests := []struct {
		file string
		line int    // of the context value
		want string // in the error
	}{
		{"job.yaml", 14, `context variable "guestfs_driveid" holds a line break`},
		{"one-line.yaml", 15, `context variable "guestfs_driveid": its value, printed by the device template`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			jobPath := filepath.Join("testdata", "context-injection", tt.file)
			for _, strict := range []bool{false, true} {
				p, err := Prepare(jobPath, devPath, Options{Job: job.Options{Strict: strict}})
				if err != nil {
					t.Fatal(err)
				}
				if p.Valid() {
					t.Fatalf("Prepare(%s, %s) strict=%v is valid, want the context injection refused", jobPath, devPath, strict)
				}
				if p.Device != nil && p.Device.Data.Map("commands") != nil {
					t.Errorf("rendered device has commands: %v", p.Device.Data.Map("commands"))
				}
				found := false
				for _, d := range p.Diagnostics {
					if d.Severity == job.Error && d.File == jobPath && d.Pos.Line == tt.line && d.Path == "context.guestfs_driveid" && strings.Contains(d.Msg, tt.want) {
						found = true
					}
				}
				if !found {
					t.Errorf("strict=%v: no error at %s:%d containing %q; diagnostics: %v", strict, jobPath, tt.line, tt.want, p.Diagnostics)
				}
			}
		})
	}
}
