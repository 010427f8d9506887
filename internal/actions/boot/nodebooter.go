package boot

import (
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name:    "BootNodebooter",
		accepts: pipeline.MethodCheck{Section: "boot", Method: "nodebooter"}.Accepts,
		action:  func(*value.Map) pipeline.Action { return NewBootNodebooter() },
	})
}

// BootNodebooter is current LAVA's BootNodebooterAction (boot-nodebooter,
// which Basalt lacked): a nodebooter container on the worker serves the
// device's network boot; the device is reset into it and logged in.
type BootNodebooter struct{ pipeline.Base }

var _ pipeline.Action = (*BootNodebooter)(nil)

// NewBootNodebooter returns boot-nodebooter, a retry action.
func NewBootNodebooter() *BootNodebooter {
	a := &BootNodebooter{pipeline.NewBase("BootNodebooterAction", "boot-nodebooter", "boot nodebooter", "boot nodebooter")}
	a.Retry = true
	return a
}

// Populate adds the container, its configuration, the reset, and the
// login and overlay unpack when the block asks for them.
func (a *BootNodebooter) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(&RunNodebooterContainer{leaf{pipeline.NewBase("RunNodebooterContainer", "run-nodebooter-container",
		"run nodebooter container based on image", "run nodebooter container")}}, nil)
	p.Add(&ConfigureNodebooter{leaf{pipeline.NewBase("ConfigureNodebooter", "configure-nodebooter",
		"update nodebooter settings and add dut via API", "configure nodebooter")}}, nil)
	p.Add(power.NewResetDevice(), nil)
	if params.Has("prompts") {
		p.Add(NewAutoLogin(true), nil)
	}
	if params.Has("transfer_overlay") {
		p.Add(NewOverlayUnpack(), nil)
	}
}

// RunNodebooterContainer is LAVA's RunNodebooterContainer
// (run-nodebooter-container).
type RunNodebooterContainer struct{ leaf }

// Validate needs the block's docker map and the device's environment
// with the DUT's MAC address and interface.
func (a *RunNodebooterContainer) Validate() {
	a.leaf.Validate()
	if !a.Params.Has("docker") {
		a.Errorf("specify docker parameter")
	}
	validateNodebooterEnvironment(&a.Base, "DUT_MAC", "DUT_IFACE")
}

// ConfigureNodebooter is LAVA's ConfigureNodebooter
// (configure-nodebooter): registers the DUT with the container's API.
type ConfigureNodebooter struct{ leaf }

// Validate needs the DUT's MAC address in the device's environment.
func (a *ConfigureNodebooter) Validate() {
	a.leaf.Validate()
	validateNodebooterEnvironment(&a.Base, "DUT_MAC")
}

func validateNodebooterEnvironment(b *pipeline.Base, keys ...string) {
	v, ok := b.Device().Get("environment")
	if !ok {
		b.Errorf("missing 'environment' variable in the device configuration")
		return
	}
	env, isMap := v.(*value.Map)
	if !isMap {
		b.Errorf("incorrect environment format in device configuration")
	}
	for _, k := range keys {
		if !env.Has(k) {
			b.Errorf("missing %s parameter in the device config 'environment' variable", k)
		}
	}
}
