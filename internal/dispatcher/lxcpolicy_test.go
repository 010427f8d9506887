package dispatcher

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/hostfiles"
	"github.com/basalt-lava/basalt/internal/job"
)

// TestLXCNeedsAllowLXC: an LXC job's containers are privileged (root of
// the host in all but name), so under a worker's host-access policy it is
// refused at validation naming --allow-lxc, and accepted with it (and
// with no policy: basalt run on the user's own machine).
func TestLXCNeedsAllowLXC(t *testing.T) {
	dir := t.TempDir()
	jobPath, devPath := filepath.Join(dir, "job.yaml"), filepath.Join(dir, "lxc-01.jinja2")
	const lxcJob = `device_type: lxc
job_name: lxc policy
timeouts: {job: {minutes: 4}, action: {minutes: 2}}
priority: medium
visibility: public
protocols:
  lava-lxc: {name: pol, template: busybox, distribution: busybox, release: "1"}
actions:
- deploy: {to: lxc, os: oe}
- boot: {method: lxc, prompts: ['/ #']}
`
	for p, s := range map[string]string{jobPath: lxcJob, devPath: "{% extends 'lxc.jinja2' %}\n"} {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	worker, err := hostfiles.New(hostfiles.Options{Host: "worker", Flag: "the worker's --allow-local-files"})
	if err != nil {
		t.Fatal(err)
	}
	allowed, err := hostfiles.New(hostfiles.Options{Host: "worker", LXC: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		policy  *hostfiles.Policy
		refused bool
	}{
		{"worker default", worker, true},
		{"worker --allow-lxc", allowed, false},
		{"basalt run", nil, false},
	} {
		p, err := Prepare(jobPath, devPath, Options{JobID: "7", Job: job.Options{Lax: true}, LocalFiles: c.policy})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var msgs []string
		for _, d := range job.Errors(p.Diagnostics) {
			msgs = append(msgs, d.String())
		}
		got := strings.Contains(strings.Join(msgs, "\n"), "--allow-lxc")
		if got != c.refused {
			t.Errorf("%s: refused naming --allow-lxc = %v, want %v; errors:\n%s", c.name, got, c.refused, strings.Join(msgs, "\n"))
		}
	}
}
