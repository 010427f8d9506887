package boot

import (
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "SecondaryShell",
		accepts: func(_, params *value.Map) (bool, string) {
			return pipeline.MethodCheck{Section: "boot", Method: "new_connection", NotNamed: "new_connection not in method"}.Named(params)
		},
		action: func(*value.Map) pipeline.Action { return NewSecondaryShell() },
	})
}

// SecondaryShell is LAVA's SecondaryShellAction (secondary-shell-action,
// `method: new_connection`): a shell on a second serial of the same
// device, in its own namespace.
type SecondaryShell struct{ pipeline.Base }

var _ pipeline.Action = (*SecondaryShell)(nil)

// NewSecondaryShell returns secondary-shell-action.
func NewSecondaryShell() *SecondaryShell {
	return &SecondaryShell{pipeline.NewBase("SecondaryShellAction", "secondary-shell-action",
		"Connect to a secondary shell on specified hardware", "connect to a specified second shell")}
}

// Populate connects to the named connection; nothing boots on it.
func (a *SecondaryShell) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(power.NewConnectShell(params.String("connection")), nil)
	AddShellActions(p, &a.Base, params, false)
}

// Validate needs the connection name.
func (a *SecondaryShell) Validate() {
	a.Base.Validate()
	if a.Params.String("connection") == "" {
		a.Errorf("'connection' must name one of the device's connections")
	}
}
