package dispatcher

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/job"
)

// TestSSHContextRefused: a job's context cannot choose the key, the ssh
// options, the host, the port or the user of an ssh device, even where
// the device dictionary leaves them to the template's defaults: they are
// not among the context variables LAVA's schema allows, and Basalt
// refuses the job, strict or lax, before rendering the device.
func TestSSHContextRefused(t *testing.T) {
	jobPath := filepath.Join("testdata", "ssh", "job.yaml")
	for _, lax := range []bool{false, true} {
		p, err := Prepare(jobPath, filepath.Join("testdata", "ssh", "device.jinja2"), Options{Job: job.Options{Lax: lax}})
		if err != nil {
			t.Fatal(err)
		}
		if p.Valid() || p.Device != nil {
			t.Fatalf("lax=%v: the job is valid (device rendered: %v)", lax, p.Device != nil)
		}
		for _, k := range []string{"ssh_identity_file", "ssh_options", "ssh_host", "ssh_port", "ssh_user"} {
			found := false
			for _, d := range p.Diagnostics {
				if d.Path == "context."+k && d.Severity == job.Error && d.Pos.Line > 0 && strings.Contains(d.Msg, "unknown context variable") {
					found = true
				}
			}
			if !found {
				t.Errorf("lax=%v: no error for context.%s: %v", lax, k, p.Diagnostics)
			}
		}
	}
}
