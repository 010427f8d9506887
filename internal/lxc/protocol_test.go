package lxc

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// action returns an action named name of a job on a device with the
// given commands, whose block holds protocols.
func action(t *testing.T, name, commands, protocols string) *pipeline.Base {
	t.Helper()
	b := pipeline.NewBase("X", name, "d", "s")
	b.Params = block(t, "protocols:\n"+protocols)
	b.Job = &pipeline.Job{ID: "1", Params: value.MapOf(), Device: block(t, "commands:\n"+commands)}
	b.Job.Runtime.Log = joblog.Discard()
	return &b
}

func TestBeforeActionRequests(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	p := NewProtocol(Config{Name: "c-1"}, "", nil)
	ctx := context.Background()

	// The device's command runs, split on spaces, without a shell.
	a := action(t, "fastboot-deploy", "  pre_power_command: touch "+marker+"\n",
		"  lava-lxc:\n  - action: fastboot-deploy\n    request: pre-power-command\n")
	if err := p.BeforeAction(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("pre-power-command did not run: %v", err)
	}

	// Another action of the block is not concerned.
	os.Remove(marker)
	other := action(t, "boot-lxc", "  pre_power_command: touch "+marker+"\n",
		"  lava-lxc:\n  - action: fastboot-deploy\n    request: pre-power-command\n")
	if err := p.BeforeAction(ctx, other); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("the request ran for another action")
	}

	cases := []struct {
		name, commands, protocols string
		class                     pipeline.Class
		want                      string
	}{
		{"failing command", "  pre_os_command: [\"true\", \"false\"]\n",
			"  lava-lxc:\n  - action: x\n    request: pre-os-command\n", pipeline.ClassInfrastructure, "false failed"},
		{"no command", "  hard_reset_command: reset\n",
			"  lava-lxc:\n  - action: x\n    request: pre-os-command\n", pipeline.ClassJob, "No pre OS command is defined for this device."},
		{"unknown request", "  pre_os_command: 'true'\n",
			"  lava-lxc:\n  - action: x\n    request: lava-send\n", pipeline.ClassJob, "Unrecognised protocol request"},
		{"shell is not used", "  pre_os_command: 'true; touch " + marker + "'\n",
			"  lava-lxc:\n  - action: x\n    request: pre-os-command\n", pipeline.ClassInfrastructure, "failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := p.BeforeAction(ctx, action(t, "x", c.commands, c.protocols))
			if err == nil {
				t.Fatal("no error")
			}
			if pipeline.ClassOf(err) != c.class || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v (%s), want %s %q", err, pipeline.ClassOf(err), c.class, c.want)
			}
		})
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("a device command went through a shell")
	}

	// The job-level block (the container's description) is no request.
	desc := action(t, "x", "  pre_os_command: 'false'\n", "  lava-lxc:\n    name: c\n    distribution: d\n    release: r\n")
	if err := p.BeforeAction(ctx, desc); err != nil {
		t.Errorf("the container's description was taken for a request: %v", err)
	}
}

// Finalise of a container the job never created or reused touches
// nothing (LAVA destroyed whatever had the name).
func TestFinaliseNotOwned(t *testing.T) {
	lxcPath := t.TempDir()
	dir := filepath.Join(lxcPath, "someone-else-1")
	os.MkdirAll(dir, 0o755)
	p := NewProtocol(Config{Name: "someone-else-1"}, lxcPath, nil)
	if err := p.Finalise(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("the folder of a container the job did not own was removed")
	}
}
