package boot

import (
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "GrubSequence",
		accepts: func(device, params *value.Map) (bool, string) {
			if ok, why := acceptsGrubMethod(device, params); !ok {
				return false, why
			}
			switch {
			case !hasMethod(device, "grub"):
				return false, `"grub" was not in the device configuration boot methods`
			case hasMethod(device, "grub-efi"):
				return false, `"grub-efi" was in the device configuration boot methods`
			case !bootMethod(device, "grub").Has("sequence"):
				return false, `"sequence" not in device configuration boot methods`
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewGrubSequenceAction() },
	})
	pipeline.Register(&strategy{
		name: "Grub",
		accepts: func(device, params *value.Map) (bool, string) {
			if ok, why := acceptsGrubMethod(device, params); !ok {
				return false, why
			}
			switch {
			case bootMethod(device, "grub").Has("sequence"):
				return false, `"sequence" was in "grub" parameters`
			case !hasMethod(device, "grub") && !hasMethod(device, "grub-efi"):
				return false, `"grub" or "grub-efi" was not in the device configuration boot methods`
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewGrubMainAction() },
	})
}

// acceptsGrubMethod is the part both grub strategies share: the block's
// method is grub or grub-efi and the device has boot methods.
func acceptsGrubMethod(device, params *value.Map) (bool, string) {
	if m := params.String("method"); m != "grub" && m != "grub-efi" {
		return false, `"method" was not "grub" or "grub-efi"`
	}
	if pipeline.DeviceMethods(device, "boot") == nil {
		return false, `"boot" was not in the device configuration actions`
	}
	return true, ""
}

// grubSequence maps the steps a device's grub sequence may name to the
// actions LAVA runs for them.
var grubSequence = map[string]func() pipeline.Action{
	"wait-fastboot-interrupt": func() pipeline.Action { return NewWaitFastbootInterrupt() },
	"auto-login":              func() pipeline.Action { return NewAutoLogin(true) },
	"shell-session":           func() pipeline.Action { return NewExpectShell() },
	"export-env":              func() pipeline.Action { return NewExportDeviceEnv() },
}

// GrubSequenceAction is LAVA's GrubSequenceAction (grub-sequence-action):
// for devices whose grub starts on its own after another stage (HiKey 960
// leaves fastboot into grub), run the device's sequence of steps, then
// log in, or wait for an installer to finish.
type GrubSequenceAction struct{ pipeline.Base }

var _ pipeline.Action = (*GrubSequenceAction)(nil)

// NewGrubSequenceAction returns grub-sequence-action.
func NewGrubSequenceAction() *GrubSequenceAction {
	a := &GrubSequenceAction{pipeline.NewBase("GrubSequenceAction", "grub-sequence-action",
		"grub boot sequence", "run grub boot using specified sequence of actions")}
	a.Retry = true
	return a
}

// Populate adds the known steps of the sequence in order; Validate
// reports unknown ones.
func (a *GrubSequenceAction) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	for _, s := range bootMethod(a.Device(), "grub").List("sequence") {
		name, _ := s.(string)
		if mk, ok := grubSequence[name]; ok {
			p.Add(mk(), nil)
		}
	}
	addGrubEnd(p, &a.Base, params)
}

// addGrubEnd ends both grub boots: log in and wait for the shell, or,
// for an installer without a shell, wait for boot_finished and power off.
func addGrubEnd(p *pipeline.Pipeline, b *pipeline.Base, params *value.Map) {
	if params.Has("prompts") {
		AddShellActions(p, b, params, true)
		return
	}
	if params.Has("boot_finished") {
		p.Add(NewInstallerWait(), nil)
		p.Add(power.NewPowerOff(), nil)
	}
}

// Validate reports sequence steps LAVA does not know.
func (a *GrubSequenceAction) Validate() {
	a.Base.Validate()
	for _, s := range bootMethod(a.Device(), "grub").List("sequence") {
		name, _ := s.(string)
		if _, ok := grubSequence[name]; !ok {
			a.Errorf("unknown boot sequence '%v'", s)
		}
	}
}

// GrubMainAction is LAVA's GrubMainAction (grub-main-action): power on,
// interrupt grub (through the EFI menu for grub-efi) and type the boot
// commands.
type GrubMainAction struct{ pipeline.Base }

var _ pipeline.Action = (*GrubMainAction)(nil)

// NewGrubMainAction returns grub-main-action.
func NewGrubMainAction() *GrubMainAction {
	a := &GrubMainAction{pipeline.NewBase("GrubMainAction", "grub-main-action",
		"main grub boot action", "run grub boot from power to system")}
	a.Retry = true
	return a
}

// Populate resets unless a grub-efi device says reset_device: false (the
// firmware was left at the menu by an earlier step).
func (a *GrubMainAction) Populate(params *value.Map) {
	method := params.String("method")
	p := a.NewPipeline(params)
	p.Add(NewBootloaderSecondaryMedia(), nil)
	p.Add(NewBootloaderCommandOverlay("", nil), nil)
	p.Add(power.NewConnectDevice(), nil)
	reset := true
	if v, ok := bootMethod(a.Device(), "grub-efi").Get("reset_device"); ok {
		reset = pipeline.Truthy(v)
	}
	if method == "grub" || (method == "grub-efi" && reset) {
		p.Add(power.NewResetDevice(), nil)
	}
	if method == "grub-efi" {
		p.Add(NewUEFIMenuInterrupt("uefi-menu"), nil)
		p.Add(NewGrubMenuSelector(), nil)
	}
	p.Add(NewBootloaderInterrupt(""), nil)
	p.Add(NewBootloaderCommands("", true), nil)
	addGrubEnd(p, &a.Base, params)
}

// InstallerWait is LAVA's InstallerWait (installer-wait): for a boot
// without a shell, waits for the block's boot_finished message.
type InstallerWait struct{ leaf }

// NewInstallerWait returns installer-wait.
func NewInstallerWait() *InstallerWait {
	return &InstallerWait{leaf{pipeline.NewBase("InstallerWait", "installer-wait",
		"installer wait", "wait for task to finish match arbitrary string")}}
}

// Validate needs boot_finished.
func (a *InstallerWait) Validate() {
	a.leaf.Validate()
	if !a.Params.Has("boot_finished") {
		a.Errorf("missing boot_finished string")
	}
}
