package lxce2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const multinodeJob = `job_name: lxc multinode
timeouts:
  job: {minutes: 4}
  action: {minutes: 2}
priority: medium
visibility: public
protocols:
  lava-multinode:
    roles:
      server: {device_type: lxc, count: 1}
      client: {device_type: lxc, count: 1}
    timeout: {minutes: 2}
  lava-lxc:
    server:
      name: @NAME@-server
      template: busybox
      distribution: busybox
      release: "1"
    client:
      name: @NAME@-client
      template: busybox
      distribution: busybox
      release: "1"
actions:
- deploy:
    role: [server, client]
    to: lxc
    os: oe
- boot:
    role: [server, client]
    method: lxc
    prompts: ['/ #']
- test:
    role: [server, client]
    definitions:
    - from: inline
      name: sync
      path: inline/sync.yaml
      repository:
        metadata: {format: Lava-Test Test Definition 1.0, name: sync}
        run:
          steps:
          - lava-sync both-up
          - hostname > /tmp/host; lava-role > /tmp/role
          - lava-test-case own-container --shell grep -q -f /tmp/role /tmp/host
`

// TestMultinode: a MultiNode group whose roles each describe their
// container (lava-lxc per role, as LAVA's split gives each sub-job its
// own): both containers run at once, the roles synchronise through the
// coordinator, each test runs in its own role's container, and both are
// gone after.
func TestMultinode(t *testing.T) {
	needLXC(t)
	before := containers(t)
	name := unique("basalt-mn")
	dir := t.TempDir()
	jobPath, devPath, out := filepath.Join(dir, "mn.yaml"), filepath.Join(dir, "lxc-01.jinja2"), filepath.Join(dir, "out")
	os.WriteFile(jobPath, []byte(strings.ReplaceAll(multinodeJob, "@NAME@", name)), 0o644)
	os.WriteFile(devPath, []byte(device), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, basalt, "run", jobPath, "--device", "server="+devPath, "--device", "client="+devPath,
		"--output-dir", out, "--job-id", "20")
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	if err := cmd.Run(); err != nil {
		t.Fatalf("basalt run: %v\n%s", err, stdout.String())
	}
	for _, role := range []string{"server-0", "client-0"} {
		b, err := os.ReadFile(filepath.Join(out, role, "results.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []string{"multinode-sync-both-up", "own-container"} {
			if !bytes.Contains(b, []byte("name: "+c+"\n      result: pass")) {
				t.Errorf("%s: no passing result %s:\n%s", role, c, b)
			}
		}
		if bytes.Contains(b, []byte("result: fail")) {
			t.Errorf("%s: a result failed:\n%s", role, b)
		}
	}
	if !strings.Contains(stdout.String(), "group complete") {
		t.Errorf("group not complete:\n%s", stdout.String())
	}
	noneLeft(t, before, name)
}
