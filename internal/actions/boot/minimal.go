package boot

import (
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "Minimal",
		accepts: pipeline.MethodCheck{Section: "boot", Method: "minimal",
			NotListed: `"minimal" was not in device configuration boot methods`}.Accepts,
		action: func(*value.Map) pipeline.Action { return NewMinimal() },
	})
}

// Minimal is LAVA's MinimalBoot (minimal-boot): connect, optionally run
// the pre-power and pre-OS commands, reset, then log in.
type Minimal struct{ pipeline.Base }

var _ pipeline.Action = (*Minimal)(nil)

// NewMinimal returns minimal-boot.
func NewMinimal() *Minimal {
	return &Minimal{pipeline.NewBase("MinimalBoot", "minimal-boot",
		"connect and reset device", "connect and reset device")}
}

// Populate follows LAVA: reset defaults to true, the pre-commands to false.
func (a *Minimal) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(power.NewConnectDevice(), nil)
	if pipeline.Truthy(params.Value("pre_power_command")) {
		p.Add(power.NewPrePower(), nil)
	}
	if pipeline.Truthy(params.Value("pre_os_command")) {
		p.Add(power.NewPreOs(), nil)
	}
	if v, ok := params.Get("reset"); !ok || pipeline.Truthy(v) {
		p.Add(power.NewResetDevice(), nil)
	}
	AddShellActions(p, &a.Base, params, true)
}
