package boot

import (
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "BootBootloader",
		accepts: func(device, params *value.Map) (bool, string) {
			check := pipeline.MethodCheck{Section: "boot", Method: "bootloader", NotNamed: "'method' was not 'bootloader'"}
			if ok, why := check.Named(params); !ok {
				return false, why
			}
			if !params.Has("bootloader") {
				return false, "'bootloader' is undefined"
			}
			bl := params.String("bootloader")
			return pipeline.MethodCheck{Section: "boot", Method: bl,
				NotListed: "boot method '" + bl + "' not in the device configuration"}.Listed(device)
		},
		action: func(*value.Map) pipeline.Action { return NewBootBootloaderRetry() },
	})
}

// BootBootloaderRetry is LAVA's BootBootloaderRetry
// (boot-bootloader-retry, `method: bootloader`): power the device up into
// its bootloader (u-boot, barebox, …), send the job's commands and stay
// there, for interactive tests of the bootloader itself.
type BootBootloaderRetry struct{ pipeline.Base }

var _ pipeline.Action = (*BootBootloaderRetry)(nil)

// NewBootBootloaderRetry returns boot-bootloader-retry.
func NewBootBootloaderRetry() *BootBootloaderRetry {
	a := &BootBootloaderRetry{pipeline.NewBase("BootBootloaderRetry", "boot-bootloader-retry",
		"boot to bootloader with retry", "boot bootloader retry")}
	a.Retry = true
	return a
}

// Populate prepares the job's commands for the named bootloader, then
// boots into it.
func (a *BootBootloaderRetry) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(NewBootloaderCommandOverlay(params.String("bootloader"), nil), nil)
	p.Add(NewBootBootloader(), nil)
}

// Validate needs the commands as a list: they are the job's own.
func (a *BootBootloaderRetry) Validate() {
	a.Base.Validate()
	if _, ok := a.Params.Value("commands").([]any); !ok {
		a.Errorf("'commands' must be a list of bootloader commands")
	}
}

// BootBootloader is LAVA's BootBootloaderAction (boot-bootloader):
// reconnect the console, reset, interrupt the bootloader and send the
// commands without waiting for a kernel.
type BootBootloader struct{ pipeline.Base }

var _ pipeline.Action = (*BootBootloader)(nil)

// NewBootBootloader returns boot-bootloader.
func NewBootBootloader() *BootBootloader {
	return &BootBootloader{pipeline.NewBase("BootBootloaderAction", "boot-bootloader",
		"boot to bootloader", "boot bootloader")}
}

// Populate reconnects first so that a console left by an earlier action
// does not swallow the interrupt prompt.
func (a *BootBootloader) Populate(params *value.Map) {
	bl := params.String("bootloader")
	p := a.NewPipeline(params)
	p.Add(power.NewResetConnection(), nil)
	p.Add(power.NewResetDevice(), nil)
	p.Add(NewBootloaderInterrupt(bl), nil)
	p.Add(NewBootloaderCommands(bl, false), nil)
}
