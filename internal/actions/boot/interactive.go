package boot

import (
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// The interactive bootloaders that share u-boot's shape (LAVA's
// barebox.py and ipxe.py): prepare the commands, connect, then retry
// reset, interrupt and commands, and log in.

func init() {
	for _, m := range []struct{ class, method string }{{"Barebox", "barebox"}, {"IPXE", "ipxe"}} {
		pipeline.Register(&strategy{
			name: m.class,
			accepts: func(device, params *value.Map) (bool, string) {
				check := pipeline.MethodCheck{Section: "boot", Method: m.method}
				if ok, why := check.Named(params); !ok {
					return false, why
				}
				// LAVA's barebox raises ConfigurationError without
				// commands; iPXE leaves it to the command overlay.
				if m.method == "barebox" && !params.Has("commands") {
					return false, "commands not specified in boot parameters"
				}
				return check.Listed(device)
			},
			action: func(*value.Map) pipeline.Action { return NewInteractiveBootloader(m.method) },
		})
	}
}

// InteractiveBootloader is LAVA's BareboxAction (barebox-action) and
// BootloaderAction (bootloader-action, for iPXE).
type InteractiveBootloader struct {
	pipeline.Base
	method string
}

var _ pipeline.Action = (*InteractiveBootloader)(nil)

// NewInteractiveBootloader returns barebox-action for barebox and
// bootloader-action for ipxe.
func NewInteractiveBootloader(method string) *InteractiveBootloader {
	if method == "barebox" {
		return &InteractiveBootloader{pipeline.NewBase("BareboxAction", "barebox-action",
			"interactive barebox action", "pass barebox commands"), method}
	}
	return &InteractiveBootloader{pipeline.NewBase("BootloaderAction", "bootloader-action",
		"interactive bootloader action", "pass boot commands"), method}
}

// Populate prepares the commands once, outside the retries.
func (a *InteractiveBootloader) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(NewBootloaderCommandOverlay("", nil), nil)
	p.Add(power.NewConnectDevice(), nil)
	p.Add(NewBootloaderRetry(a.method), nil)
}

// BootloaderRetry is LAVA's BareboxRetry (barebox-retry) and
// BootloaderRetry (bootloader-retry): reset, interrupt, send the
// commands and log in, with retries.
type BootloaderRetry struct{ pipeline.Base }

var _ pipeline.Action = (*BootloaderRetry)(nil)

// NewBootloaderRetry returns barebox-retry for barebox, else
// bootloader-retry.
func NewBootloaderRetry(method string) *BootloaderRetry {
	var a *BootloaderRetry
	if method == "barebox" {
		a = &BootloaderRetry{pipeline.NewBase("BareboxRetry", "barebox-retry",
			"interactive barebox retry action", "barebox commands with retry")}
	} else {
		a = &BootloaderRetry{pipeline.NewBase("BootloaderRetry", "bootloader-retry",
			"interactive uboot retry action", "uboot commands with retry")}
	}
	a.Retry = true
	return a
}

// Populate adds the reset, the interrupt, the commands and the login.
func (a *BootloaderRetry) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(power.NewResetDevice(), nil)
	p.Add(NewBootloaderInterrupt(""), nil)
	p.Add(NewBootloaderCommands("", true), nil)
	AddShellActions(p, &a.Base, params, true)
}
