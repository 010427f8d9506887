package boot

import (
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "Depthcharge",
		accepts: func(device, params *value.Map) (bool, string) {
			check := pipeline.MethodCheck{Section: "boot", Method: "depthcharge"}
			if ok, why := check.Named(params); !ok {
				return false, why
			}
			if !params.Has("commands") {
				// A ConfigurationError in LAVA; see UBoot.
				return false, "commands not specified in boot parameters"
			}
			return check.Listed(device)
		},
		action: func(*value.Map) pipeline.Action { return NewDepthchargeAction() },
	})
}

// DepthchargeAction is LAVA's DepthchargeAction (depthcharge-action,
// `method: depthcharge`): ChromeOS devices whose Coreboot payload fetches
// a kernel (a FIT image on Arm) and a command line file over TFTP.
type DepthchargeAction struct{ pipeline.Base }

var _ pipeline.Action = (*DepthchargeAction)(nil)

// NewDepthchargeAction returns depthcharge-action.
func NewDepthchargeAction() *DepthchargeAction {
	return &DepthchargeAction{pipeline.NewBase("DepthchargeAction", "depthcharge-action",
		"interactive Depthcharge action", "sets up boot with Depthcharge")}
}

// Populate writes the command line file, then boots with retries.
func (a *DepthchargeAction) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(NewDepthchargeCommandOverlay(), nil)
	p.Add(NewDepthchargeRetry(), nil)
}

// DepthchargeCommandOverlay is LAVA's DepthchargeCommandOverlay
// (depthcharge-overlay): bootloader-overlay plus the kernel command line
// file ({CMDLINE}) built from the device's cmdline for the named
// commands.
type DepthchargeCommandOverlay struct{ leaf }

// NewDepthchargeCommandOverlay returns depthcharge-overlay.
func NewDepthchargeCommandOverlay() *DepthchargeCommandOverlay {
	return &DepthchargeCommandOverlay{leaf{pipeline.NewBase("DepthchargeCommandOverlay", "depthcharge-overlay",
		"substitute job data into bootloader command list", "replace placeholders with job data")}}
}

// Validate checks the commands as bootloader-overlay does, and the
// cmdline of the named command set.
func (a *DepthchargeCommandOverlay) Validate() {
	a.leaf.Validate()
	validateOverlayCommands(&a.Base, "depthcharge", nil)
	name, _ := a.Params.Value("commands").(string)
	if set := bootMethod(a.Device(), "depthcharge").Map(name); set != nil && !set.Has("cmdline") {
		a.Errorf("no cmdline found in %s", name)
	}
}

// DepthchargeRetry is LAVA's DepthchargeRetry (depthcharge-retry).
type DepthchargeRetry struct{ pipeline.Base }

var _ pipeline.Action = (*DepthchargeRetry)(nil)

// NewDepthchargeRetry returns depthcharge-retry.
func NewDepthchargeRetry() *DepthchargeRetry {
	a := &DepthchargeRetry{pipeline.NewBase("DepthchargeRetry", "depthcharge-retry",
		"interactive depthcharge retry action", "depthcharge commands with retry")}
	a.Retry = true
	return a
}

// Populate reconnects (the console may have been held by the previous
// attempt), resets, waits for Depthcharge and sends the commands.
func (a *DepthchargeRetry) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(power.NewResetConnection(), nil)
	p.Add(power.NewResetDevice(), nil)
	p.Add(NewDepthchargeStart(), nil)
	p.Add(NewBootloaderCommands("", true), nil)
	AddShellActions(p, &a.Base, params, true)
}

// DepthchargeStart is LAVA's DepthchargeStart (depthcharge-start): waits
// for the device's start_message, Depthcharge's prompt being ready.
type DepthchargeStart struct{ leaf }

// NewDepthchargeStart returns depthcharge-start.
func NewDepthchargeStart() *DepthchargeStart {
	a := &DepthchargeStart{leaf{pipeline.NewBase("DepthchargeStart", "depthcharge-start",
		"wait for Depthcharge to start", "Depthcharge start")}}
	a.DefaultTimeout = bootloaderCommandTimeout
	return a
}

// Validate needs a connection and the start message.
func (a *DepthchargeStart) Validate() {
	a.leaf.Validate()
	if !hasConnectCommand(a.Device()) {
		a.Errorf("unable to connect to device")
	}
	if !bootMethodParams(a.Device(), "depthcharge").Has("start_message") {
		a.Errorf("missing Depthcharge start message for device")
	}
}
