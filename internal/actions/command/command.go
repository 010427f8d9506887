// Package command implements the job's `command` block: one of the
// commands the device's administrator lists (commands.users, or a
// built-in power command), run on the dispatcher.
package command

import (
	"slices"

	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.NewCommand = func() pipeline.Action { return New() }
}

// builtins are the device commands a job may name directly.
var builtins = []string{"pre_power_command", "pre_os_command", "hard_reset",
	"power_on", "power_off", "recovery_mode", "recovery_exit"}

// Action is LAVA's CommandAction (user-command).
type Action struct {
	pipeline.Base
	// ran says that `do` was started, so Cleanup runs `undo`.
	ran bool
}

var _ pipeline.Action = (*Action)(nil)

// New returns user-command.
func New() *Action {
	a := &Action{Base: pipeline.NewBase("CommandAction", "user-command",
		"execute one of the commands listed by the admin", "execute commands")}
	// A command that hangs is the lab's problem, as LAVA classes it.
	a.TimeoutClass = pipeline.ClassInfrastructure
	return a
}

// Populate recomputes the timeout in LAVA's order for a command block.
// LAVA gives CommandAction its parameters before adding it to the
// pipeline, so the block's timeout replaces only the 30 s default, and
// the job's timeouts.action and the named timeouts (device, then job)
// override it: with a job action timeout of 15 min, a command block's
// `timeout: {minutes: 2}` describes as 900 s.
func (a *Action) Populate(*value.Map) {
	var jobT, devT *value.Map
	if a.Job != nil {
		jobT, devT = a.Job.Params.Map("timeouts"), a.Job.Device.Map("timeouts")
	}
	t := pipeline.Timeout{Seconds: job.DefaultActionTimeout, Source: "default"}
	set := func(v any, source string) {
		s, ok, err := job.TimeoutSeconds(v)
		switch {
		case err != nil:
			a.Errorf("%s: %v", source, err)
		case ok:
			t = pipeline.Timeout{Seconds: s, Source: source}
		}
	}
	set(a.Params.Value("timeout"), "block timeout")
	set(jobT.Value("action"), "job timeouts.action")
	set(devT.Map("actions").Value(a.Name), "device timeouts.actions."+a.Name)
	set(jobT.Map("actions").Value(a.Name), "job timeouts.actions."+a.Name)
	a.Timeout = t
}

// Validate finds the named command: a built-in one the device defines,
// or one of its user commands with string do/undo.
func (a *Action) Validate() {
	a.Base.Validate()
	name, _ := a.Params.Value("name").(string)
	cmds := a.Device().Map("commands")
	if slices.Contains(builtins, name) {
		if !cmds.Has(name) {
			a.Errorf("command '%s' not defined for this device", name)
		}
		return
	}
	users := cmds.Map("users")
	if users.Len() == 0 {
		a.Errorf("device has no configured user commands")
		return
	}
	cmd, ok := users.Value(name).(*value.Map)
	if !ok {
		a.Errorf("unknown user command '%s'", name)
		return
	}
	if _, ok := cmd.Value("do").(string); !ok {
		a.Errorf("user command %q is invalid: 'do' should be a string", name)
	}
	if u, ok := cmd.Get("undo"); ok {
		if _, isStr := u.(string); !isStr {
			a.Errorf("user command %q is invalid: 'undo' should be a string", name)
		}
	}
}
