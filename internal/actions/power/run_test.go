package power_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/proctest"
	"github.com/basalt-lava/basalt/internal/value"
)

// runOne runs a in a one-action job on device and returns its error and
// the log.
func runOne(t *testing.T, a pipeline.Action, device, params string) (*pipeline.Job, string, error) {
	t.Helper()
	j := &pipeline.Job{Params: value.NewMap(), Device: decode(t, device), TestInfo: map[string][]pipeline.TestInfo{},
		Timeout: pipeline.Timeout{Seconds: 60}}
	var log bytes.Buffer
	j.Runtime.Log = joblog.New(&log, joblog.Options{})
	j.Pipeline = pipeline.NewTopPipeline(j)
	j.Pipeline.Add(a, decode(t, params))
	if errs := j.Validate(); len(errs) > 0 {
		t.Fatalf("Validate: %q", errs)
	}
	err := j.Run(context.Background())
	t.Cleanup(func() { j.Pipeline.Cleanup(context.Background()) })
	j.Runtime.Log.Flush()
	return j, log.String(), err
}

func TestPowerCommandsRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	on, pre, reset := filepath.Join(dir, "on"), filepath.Join(dir, "pre"), filepath.Join(dir, "reset")
	device := `{commands: {power_on: "touch ` + on + `", pre_power_command: "touch ` + pre + `", hard_reset: ["true", "touch ` + reset + `"]}}`
	if _, log, err := runOne(t, power.NewPowerOn(), device, "{}"); err != nil {
		t.Fatalf("power-on: %v\n%s", err, log)
	}
	for _, f := range []string{on, pre} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("power-on did not run its command: %v", err)
		}
	}
	if _, log, err := runOne(t, power.NewPDUReboot(), device, "{}"); err != nil {
		t.Fatalf("pdu-reboot: %v\n%s", err, log)
	}
	if _, err := os.Stat(reset); err != nil {
		t.Errorf("pdu-reboot did not run every hard_reset line: %v", err)
	}
}

// A power command that fails is an InfrastructureError naming it.
func TestPowerCommandFails(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		action pipeline.Action
		device string
		want   string
	}{
		{power.NewPowerOn(), `{commands: {power_on: "sh -c 'echo no board; exit 3'"}}`, "Unable to power-on"},
		{power.NewPDUReboot(), `{commands: {hard_reset: "false"}}`, "Unable to reboot: 'false' failed"},
		{power.NewPowerOff(), `{commands: {power_off: "/nonexistent/pdu off"}}`, "Unable to power-off"},
		{power.NewPreOs(), `{commands: {pre_os_command: "false"}}`, "Unable to run pre-os"},
	} {
		_, log, err := runOne(t, tt.action, tt.device, "{}")
		if pipeline.ClassOf(err) != pipeline.ClassInfrastructure || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v (class %s), want an InfrastructureError with %q\n%s", tt.action.ActionBase().Name, err, pipeline.ClassOf(err), tt.want, log)
		}
	}
}

// connect-device runs the connection command as a serial session, keeps
// it while connected, and disconnect-device closes it.
func TestConnectDevice(t *testing.T) {
	t.Parallel()
	device := `{actions: {boot: {connections: {serial: {}}}}, constants: {default-shell-prompt: "lava-test: # "},
		commands: {connections: {uart0: {connect: "sh -c 'echo board console; exec sleep 60'", tags: [primary, telnet]}}}}`
	j, log, err := runOne(t, power.NewConnectDevice(), device, "{}")
	if err != nil {
		t.Fatalf("connect-device: %v\n%s", err, log)
	}
	s, ok := j.Runtime.Data("common", pipeline.DataConnection).(*connection.Session)
	if !ok || s == nil {
		t.Fatal("connect-device left no connection in the namespace")
	}
	if s.Ended() {
		t.Fatal("the connection ended")
	}
	if len(s.Prompts) != 1 || s.Prompts[0] != "lava-test: # " {
		t.Errorf("Prompts = %q, want the default shell prompt", s.Prompts)
	}
	if !strings.Contains(log, "Connecting to device using") {
		t.Errorf("log lacks the connect line:\n%s", log)
	}
	// A second connect-device keeps it.
	again := power.NewConnectDevice()
	again.Job = j
	again.Params = value.NewMap()
	c, err := again.Run(context.Background(), nil)
	if err != nil || c != s {
		t.Errorf("second connect-device = %v, %v; want the same session", c, err)
	}
	dis := power.NewDisconnectDevice()
	dis.Job = j
	dis.Params = value.NewMap()
	if _, err := dis.Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if !s.Ended() {
		t.Error("disconnect-device left the session open")
	}
}

// A power command that outlives the action's timeout is stopped (its
// group killed and reaped) and the action fails with LAVA's class for
// power actions: an InfrastructureError.
func TestPowerCommandTimeout(t *testing.T) {
	t.Parallel()
	mark := filepath.Join(t.TempDir(), "pdu")
	j := &pipeline.Job{Params: value.NewMap(), Device: decode(t, `{commands: {hard_reset: "sh -c 'sleep 30 # `+mark+`'"}}`),
		TestInfo: map[string][]pipeline.TestInfo{}, Timeout: pipeline.Timeout{Seconds: 60}}
	j.Runtime.Log = joblog.Discard()
	j.Pipeline = pipeline.NewTopPipeline(j)
	a := power.NewPDUReboot()
	j.Pipeline.Add(a, value.NewMap())
	a.Timeout = pipeline.Timeout{Seconds: 1, Source: "test"}
	err := j.Run(context.Background())
	if pipeline.ClassOf(err) != pipeline.ClassInfrastructure || !strings.Contains(err.Error(), "pdu-reboot timed out") {
		t.Fatalf("err = %v (%s), want pdu-reboot timed out, Infrastructure", err, pipeline.ClassOf(err))
	}
	if left := proctest.Mentioning(mark); len(left) > 0 {
		t.Errorf("the power command is still running: %v", left)
	}
}

// send-reboot-commands sends the job's soft_reboot commands on the
// console and waits for the shutdown message; a device that never says
// it is a JobError ("Soft reboot failed.").
func TestSoftReboot(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, script string
		wantErr      string
	}{
		{"reboots", `read -r cmd; echo "got $cmd"; echo 'The system is going down for reboot NOW!'; sleep 30`, ""},
		{"never says so", `read -r cmd; echo "got $cmd"; sleep 30`, "Soft reboot failed."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j := &pipeline.Job{Params: value.NewMap(), Device: decode(t, `{commands: {}, constants: {shutdown-message: 'The system is going down for reboot NOW'}}`),
				TestInfo: map[string][]pipeline.TestInfo{}, Timeout: pipeline.Timeout{Seconds: 60}}
			j.Runtime.Log = joblog.Discard()
			s, err := connection.Start([]string{"sh", "-c", tt.script}, connection.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			a := power.NewSendRebootCommands()
			a.Job = j
			a.Params = decode(t, `{soft_reboot: ['reboot -f']}`)
			a.ConnectionTimeout = pipeline.Timeout{Seconds: 2}
			_, err = a.Run(context.Background(), s)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatal(err)
			case tt.wantErr != "" && (err == nil || pipeline.ClassOf(err) != pipeline.ClassJob || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("err = %v, want a JobError %q", err, tt.wantErr)
			}
			if tt.wantErr == "" && a.Results.String("commands") == "" && a.Results.Value("commands") == nil {
				t.Error("no commands in the results")
			}
		})
	}
}
