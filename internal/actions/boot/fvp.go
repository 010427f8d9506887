package boot

import (
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "BootFVP",
		accepts: func(device, params *value.Map) (bool, string) {
			if ok, why := (pipeline.MethodCheck{Section: "boot", Method: "fvp"}).Accepts(device, params); !ok {
				return false, why
			}
			if !params.Has("image") {
				return false, `"image" was not in boot parameters`
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewBootFVP() },
	})
}

// BootFVP is LAVA's BootFVPAction (boot-fvp): runs an Arm Fixed Virtual
// Platform model in docker and logs in on its console.
type BootFVP struct{ pipeline.Base }

var _ pipeline.Action = (*BootFVP)(nil)

// NewBootFVP returns boot-fvp.
func NewBootFVP() *BootFVP {
	a := &BootFVP{pipeline.NewBase("BootFVPAction", "boot-fvp", "boot fvp", "boot fvp")}
	a.Retry = true
	return a
}

// Populate adds boot-fvp-main, then, with prompts, the other consoles'
// feedback, login and the shell; then, as current LAVA does, the eRPC
// app and the shell commands the block names, each run in the model's
// container.
func (a *BootFVP) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(NewBootFVPMain(), nil)
	if params.Has("prompts") {
		p.Add(power.NewReadFeedback(), nil)
		p.Add(NewAutoLogin(true), nil)
		if a.TestHasShell(params) {
			p.Add(NewExpectShell(), nil)
			if params.Has("transfer_overlay") {
				p.Add(NewOverlayUnpack(), nil)
			}
		}
	}
	if pipeline.Truthy(params.Value("erpc_app")) {
		p.Add(NewRunFVPeRPCApp(), nil)
	}
	if pipeline.Truthy(params.Value("commands")) {
		p.Add(NewRunFVPShellCommands(), nil)
	}
}

// RunFVPeRPCApp is LAVA's RunFVPeRPCApp (run-fvp-erpc-app): runs the
// deployed eRPC app (erpc_app names its download) inside the model's
// container; its output becomes the job's connection.
type RunFVPeRPCApp struct{ leaf }

// NewRunFVPeRPCApp returns run-fvp-erpc-app.
func NewRunFVPeRPCApp() *RunFVPeRPCApp {
	return &RunFVPeRPCApp{leaf{pipeline.NewBase("RunFVPeRPCApp", "run-fvp-erpc-app",
		"run FVP eRPC app", "run FVP eRPC app")}}
}

// RunFVPShellCommands is LAVA's RunFVPShellCommands
// (run-fvp-shell-commands): runs the block's commands, joined by &&, in
// the model's container; their output becomes the job's connection.
type RunFVPShellCommands struct{ leaf }

// NewRunFVPShellCommands returns run-fvp-shell-commands.
func NewRunFVPShellCommands() *RunFVPShellCommands {
	return &RunFVPShellCommands{leaf{pipeline.NewBase("RunFVPShellCommands", "run-fvp-shell-commands",
		"run shell commands in FVP docker container", "run shell commands in FVP docker container")}}
}

// Validate needs a non-empty list of commands.
func (a *RunFVPShellCommands) Validate() {
	a.leaf.Validate()
	switch c := a.Params.Value("commands").(type) {
	case []any:
		for i, v := range c {
			if s, ok := v.(string); !ok || s == "" {
				a.Errorf("commands[%d] must be a non-empty string", i)
			}
		}
	default:
		a.Errorf("'commands' must be a list")
	}
}

// BootFVPMain is LAVA's BootFVPMain (boot-fvp-main).
type BootFVPMain struct{ pipeline.Base }

// NewBootFVPMain returns boot-fvp-main.
func NewBootFVPMain() *BootFVPMain {
	return &BootFVPMain{pipeline.NewBase("BootFVPMain", "boot-fvp-main", "boot fvp", "boot fvp")}
}

// Populate checks the model version, starts it and, unless the block
// turns telnet off, connects to its serial port.
func (a *BootFVPMain) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(newFVPAction("CheckFVPVersionAction", "check-fvp-version",
		"call docker run with fvp version entry point", "check fvp version", false), nil)
	p.Add(newFVPAction("StartFVPAction", "run-fvp",
		"call docker run with fvp boot entry point", "run fvp model", true), nil)
	if v, ok := params.Get("use_telnet"); !ok || pipeline.Truthy(v) {
		p.Add(&leaf{pipeline.NewBase("GetFVPSerialAction", "fvp-serial-connect",
			"connect to the fvp serial connection via telnet", "connect to the fvp serial output")}, nil)
		p.Add(power.NewReadFeedback(), nil)
	}
}

// fvpAction is one of LAVA's BaseFVPAction subclasses: a docker run of
// the model image.
type fvpAction struct {
	leaf
	start bool // run-fvp, which needs the console string and arguments
}

func newFVPAction(class, name, description, summary string, start bool) *fvpAction {
	return &fvpAction{leaf: leaf{pipeline.NewBase(class, name, description, summary)}, start: start}
}

// Validate needs the docker image name and the device's fvp options; the
// model start also needs the console string and the model arguments.
func (a *fvpAction) Validate() {
	a.leaf.Validate()
	d, _ := a.Params.Value("docker").(*value.Map)
	if name, _ := d.Value("name").(string); name == "" {
		a.Errorf("specify docker image name")
	} else if !dockerImageName.MatchString(name) {
		a.Errorf("image name '%s' is invalid", name)
	}
	warnMissingTool(&a.Base, "docker")
	if pipeline.DeviceMethods(a.Device(), "boot").Map("fvp").Map("options") == nil {
		a.Errorf("device configuration has no options for the fvp boot method")
	}
	if !a.start {
		return
	}
	if !a.Params.Has("console_string") {
		a.Errorf("'console_string' is not set")
	}
	if _, ok := a.Params.Value("arguments").([]any); !ok {
		a.Errorf("'arguments' is not set")
	}
}
