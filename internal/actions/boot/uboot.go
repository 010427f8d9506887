package boot

import (
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "UBoot",
		accepts: func(device, params *value.Map) (bool, string) {
			check := pipeline.MethodCheck{Section: "boot", Method: "u-boot"}
			if ok, why := check.Named(params); !ok {
				return false, why
			}
			// LAVA raises a ConfigurationError here; declining with the
			// reason reports it the same way, as a job that cannot build.
			if !params.Has("commands") {
				return false, "commands not specified in boot parameters"
			}
			return check.Listed(device)
		},
		action: func(*value.Map) pipeline.Action { return NewUBootAction() },
	})
}

// UBootAction is LAVA's UBootAction (uboot-action, `method: u-boot`): a
// retrying boot through u-boot's interactive shell.
type UBootAction struct{ pipeline.Base }

var _ pipeline.Action = (*UBootAction)(nil)

// NewUBootAction returns uboot-action.
func NewUBootAction() *UBootAction {
	a := &UBootAction{pipeline.NewBase("UBootAction", "uboot-action",
		"interactive uboot action", "pass uboot commands")}
	a.Retry = true
	return a
}

// Populate prepares the commands (from secondary media when the block
// boots one) before connecting, so that a retry starts from the reset.
func (a *UBootAction) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(NewUBootSecondaryMedia(), nil)
	p.Add(NewBootloaderCommandOverlay("", nil), nil)
	p.Add(power.NewConnectDevice(), nil)
	p.Add(NewUBootCommands(), nil)
}

// Validate warns about the deprecated boot `type`, which belongs to the
// deploy's kernel now.
func (a *UBootAction) Validate() {
	a.Base.Validate()
	if a.Params.Has("type") {
		a.Warnf("specifying a type in the boot action is deprecated; specify the kernel type in the deploy parameters")
	}
}

// UBootCommands is LAVA's UBootCommandsAction (uboot-commands): reset,
// interrupt u-boot, send the commands, then log in.
type UBootCommands struct{ pipeline.Base }

var _ pipeline.Action = (*UBootCommands)(nil)

// NewUBootCommands returns uboot-commands.
func NewUBootCommands() *UBootCommands {
	return &UBootCommands{pipeline.NewBase("UBootCommandsAction", "uboot-commands",
		"interactive uboot commands action", "uboot commands")}
}

// Populate follows the device's u-boot parameters: uboot_ums_flash
// writes the image over USB mass storage between two resets,
// uboot_altbank switches to the alternate bank and interrupts again;
// `reset: false` in the block skips the first reset.
func (a *UBootCommands) Populate(params *value.Map) {
	mp := bootMethodParams(a.Device(), "u-boot")
	p := a.NewPipeline(params)
	if v, ok := params.Get("reset"); !ok || pipeline.Truthy(v) {
		p.Add(power.NewResetDevice(), nil)
	}
	p.Add(NewBootloaderInterrupt(""), nil)
	switch {
	case pipeline.Truthy(mp.Value("uboot_ums_flash")):
		dev := mp.Value("uboot_mass_storage_device")
		p.Add(NewBootloaderCommands("", false), nil)
		p.Add(NewWaitDevicePath(dev), nil)
		p.Add(NewFlashUBootUMS(dev), nil)
		p.Add(power.NewResetDevice(), nil)
	case pipeline.Truthy(mp.Value("uboot_altbank")):
		p.Add(NewBootloaderCommandsAltBank(), nil)
		p.Add(NewBootloaderInterrupt(""), nil)
		p.Add(NewBootloaderCommands("", true), nil)
	default:
		p.Add(NewBootloaderCommands("", true), nil)
	}
	AddShellActions(p, &a.Base, params, true)
}

// Validate needs the device's u-boot bootloader prompt.
func (a *UBootCommands) Validate() {
	a.Base.Validate()
	validateBootloaderPrompt(&a.Base, "u-boot")
}

// FlashUBootUMS is LAVA's FlashUBootUMSAction (flash-uboot-ums): writes
// the deployed image to the disk u-boot exports over USB with bmaptool.
type FlashUBootUMS struct {
	leaf
	// Path is the device's uboot_mass_storage_device, checked by Validate.
	Path any
}

// NewFlashUBootUMS returns flash-uboot-ums for the disk at path.
func NewFlashUBootUMS(path any) *FlashUBootUMS {
	return &FlashUBootUMS{leaf: leaf{pipeline.NewBase("FlashUBootUMSAction", "flash-uboot-ums",
		"Write the image file to USB Mass Storage", "USB Mass storage flash")}, Path: path}
}

// Validate needs the device's uboot_mass_storage_device; bmaptool is a
// host tool, a warning when missing.
func (a *FlashUBootUMS) Validate() {
	a.leaf.Validate()
	warnMissingTool(&a.Base, "bmaptool")
	if !pipeline.Truthy(bootMethodParams(a.Device(), a.Params.String("method")).Value("uboot_mass_storage_device")) {
		a.Errorf("uboot_mass_storage_device is not set")
	}
}
