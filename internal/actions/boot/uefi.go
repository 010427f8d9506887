package boot

import (
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "UefiShell",
		accepts: func(device, params *value.Map) (bool, string) {
			check := pipeline.MethodCheck{Section: "boot", Method: "uefi"}
			if ok, why := check.Named(params); !ok {
				return false, why
			}
			if ok, _ := check.Listed(device); ok {
				p := bootMethodParams(device, "uefi")
				if p.Len() == 0 {
					return false, `there were no parameters in the "uefi" device configuration boot method`
				}
				if !p.Has("shell_interrupt_string") {
					return false, `"shell_interrupt_string" was not in the uefi device configuration boot method parameters`
				}
				if p.Has("shell_interrupt_prompt") && p.Has("bootloader_prompt") {
					return true, "accepted"
				}
			}
			return false, "missing or invalid parameters in the uefi device configuration boot methods"
		},
		action: func(*value.Map) pipeline.Action { return NewUefiShellAction() },
	})
}

// UefiShellAction is LAVA's UefiShellAction (uefi-shell-main-action,
// `method: uefi`): reach the UEFI shell (through the firmware menu when
// the device names a shell_menu) and type the boot commands there.
type UefiShellAction struct{ pipeline.Base }

var _ pipeline.Action = (*UefiShellAction)(nil)

// NewUefiShellAction returns uefi-shell-main-action.
func NewUefiShellAction() *UefiShellAction {
	a := &UefiShellAction{pipeline.NewBase("UefiShellAction", "uefi-shell-main-action",
		"UEFI shell boot action", "run UEFI shell to system")}
	a.Retry = true
	return a
}

// Populate goes through the menu only when a shell_menu names the
// sequence to the shell.
func (a *UefiShellAction) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(NewBootloaderCommandOverlay("", nil), nil)
	p.Add(NewMenuConnect(), nil)
	p.Add(power.NewResetDevice(), nil)
	if uefiShellMenu(a.Device(), params) != "" {
		p.Add(NewUefiShellMenuInterrupt(), nil)
		p.Add(NewUefiShellMenuSelector(), nil)
	}
	p.Add(NewUefiShellInterrupt(), nil)
	p.Add(NewUefiBootloaderCommands(), nil)
	AddShellActions(p, &a.Base, params, true)
}

// Validate needs the UEFI shell's prompt.
func (a *UefiShellAction) Validate() {
	a.Base.Validate()
	validateBootloaderPrompt(&a.Base, "uefi")
}

// UefiShellInterrupt is LAVA's UefiShellInterrupt (uefi-shell-interrupt):
// waits for the shell_interrupt_prompt and sends the
// shell_interrupt_string to stop the startup script.
type UefiShellInterrupt struct{ leaf }

// NewUefiShellInterrupt returns uefi-shell-interrupt.
func NewUefiShellInterrupt() *UefiShellInterrupt {
	return &UefiShellInterrupt{leaf{pipeline.NewBase("UefiShellInterrupt", "uefi-shell-interrupt",
		"interrupt uefi menu to get to a shell", "first uefi interrupt")}}
}

// Validate needs the prompt and string (the strategy checked them; a
// device edited since must still fail here rather than at run time).
func (a *UefiShellInterrupt) Validate() {
	a.leaf.Validate()
	p := bootMethodParams(a.Device(), "uefi")
	if !p.Has("shell_interrupt_prompt") || !p.Has("shell_interrupt_string") {
		a.Errorf("missing shell_interrupt_prompt or shell_interrupt_string in the device's uefi parameters")
	}
}
