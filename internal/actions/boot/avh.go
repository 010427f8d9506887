package boot

import (
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "BootAvh",
		accepts: pipeline.MethodCheck{Section: "boot", Method: "avh",
			NotListed: "'avh' not in the device configuration boot methods",
			NotNamed:  "'method' is not 'avh'"}.Accepts,
		action: func(*value.Map) pipeline.Action { return NewBootAvh() },
	})
}

// BootAvh is LAVA's BootAvhAction (boot-avh): creates an Arm Virtual
// Hardware instance from the deployed firmware package and connects to
// its console over a websocket (websocat in docker).
type BootAvh struct{ pipeline.Base }

var _ pipeline.Action = (*BootAvh)(nil)

// NewBootAvh returns boot-avh.
func NewBootAvh() *BootAvh {
	a := &BootAvh{pipeline.NewBase("BootAvhAction", "boot-avh", "boot avh device", "boot avh device")}
	a.Retry = true
	return a
}

// Populate adds call-avh, then login and the shell when asked for.
func (a *BootAvh) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(NewCallAvh(), nil)
	if params.Has("prompts") {
		p.Add(NewAutoLogin(true), nil)
		if a.TestHasShell(params) {
			p.Add(NewExpectShell(), nil)
			p.Add(NewExportDeviceEnv(), nil)
		}
	}
}

// CallAvh is LAVA's CallAvhAction (call-avh).
type CallAvh struct{ leaf }

// NewCallAvh returns call-avh.
func NewCallAvh() *CallAvh {
	return &CallAvh{leaf{pipeline.NewBase("CallAvhAction", "call-avh", "call avh api", "call avh api")}}
}

// Validate checks bootargs is a map and the console container's image.
func (a *CallAvh) Validate() {
	a.leaf.Validate()
	if v, ok := a.Params.Get("bootargs"); ok && pipeline.Truthy(v) {
		if _, isMap := v.(*value.Map); !isMap {
			a.Errorf("'boot.bootargs' should be a dictionary")
		}
	}
	if a.Params.Has("docker") {
		ValidateContainer(&a.Base, a.Params)
	} else {
		warnMissingTool(&a.Base, "docker")
	}
}
