package power_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/actions/command"
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func decode(t *testing.T, s string) *value.Map {
	t.Helper()
	v, err := value.DecodeYAML([]byte(s))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return v.(*value.Map)
}

// add puts a into a one-action job on device and validates it.
func add(t *testing.T, a pipeline.Action, device, params string) []string {
	t.Helper()
	j := &pipeline.Job{Params: value.NewMap(), Device: decode(t, device), TestInfo: map[string][]pipeline.TestInfo{}}
	j.Pipeline = pipeline.NewTopPipeline(j)
	j.Pipeline.Add(a, decode(t, params))
	return j.Validate()
}

func TestResetDeviceChildren(t *testing.T) {
	t.Parallel()
	for device, want := range map[string]string{
		`{commands: {hard_reset: "pdu reboot 1"}}`: "pdu-reboot",
		`{commands: {hard_reset: ["a", "b"]}}`:     "pdu-reboot",
		`{commands: {}}`:                           "send-reboot-commands",
	} {
		a := power.NewResetDevice()
		add(t, a, device, "{}")
		if got := a.Pipeline.Actions[0].ActionBase().Name; got != want {
			t.Errorf("reset-device on %s: child %s, want %s", device, got, want)
		}
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	serial := `{actions: {boot: {connections: {serial: {}}}}, commands: {connections: {uart0: {connect: "telnet x 1", tags: [primary, telnet]}}}}`
	tests := []struct {
		name   string
		action pipeline.Action
		device string
		params string
		want   string
	}{
		{"connect ok", power.NewConnectDevice(), serial, "{}", ""},
		{"connect without serial", power.NewConnectDevice(), `{commands: {connect: "telnet x 1"}}`, "{}", "serial connection"},
		{"connect without primary", power.NewConnectDevice(), `{actions: {boot: {connections: {serial: {}}}}, commands: {connections: {u: {connect: c, tags: [telnet]}}}}`, "{}", "primary connection"},
		{"connect without commands", power.NewConnectDevice(), `{actions: {boot: {connections: {}}}}`, "{}", ""},
		{"connect must use connections", power.NewConnectDevice(), `{commands: {connect: "telnet x 1", must_use_connection: true}}`, "{}", "missing connections block"},
		{"connect with neither", power.NewConnectDevice(), `{actions: {boot: {connections: {serial: {}}}}, commands: {power_on: "on"}}`, "{}", "primary connection"},
		{"disconnect deprecated connect", power.NewDisconnectDevice(), `{actions: {boot: {connections: {serial: {}}}}, commands: {connect: "telnet x 1"}}`, "{}", ""},
		{"disconnect without tag", power.NewDisconnectDevice(), `{actions: {boot: {connections: {serial: {}}}}, commands: {connections: {u: {connect: c, tags: [primary]}}}}`, "{}", "does not know how to disconnect"},
		{"pdu without hard_reset", power.NewPDUReboot(), `{commands: {}}`, "{}", "hard reset required"},
		{"user command ok", command.New(), `{commands: {users: {dance: {do: "dance 1", undo: "stop"}}}}`, "{name: dance}", ""},
		{"unknown user command", command.New(), `{commands: {users: {dance: {do: "dance 1"}}}}`, "{name: sing}", "unknown user command 'sing'"},
		{"no user commands", command.New(), `{commands: {}}`, "{name: sing}", "no configured user commands"},
		{"builtin not defined", command.New(), `{commands: {}}`, "{name: power_on}", "not defined for this device"},
		{"do not a string", command.New(), `{commands: {users: {d: {do: [a]}}}}`, "{name: d}", "'do' should be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errs := add(t, tt.action, tt.device, tt.params)
			if tt.want == "" && len(errs) > 0 {
				t.Errorf("Validate() = %q, want none", errs)
			}
			if tt.want != "" && !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, tt.want) }) {
				t.Errorf("Validate() = %q, want one containing %q", errs, tt.want)
			}
		})
	}
}
