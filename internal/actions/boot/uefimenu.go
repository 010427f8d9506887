package boot

import (
	"strings"

	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// The UEFI menu family (LAVA's actions/boot/uefi_menu.py and
// menus/menus.py): boots by selecting entries of a firmware menu rather
// than typing commands at a shell.

func init() {
	pipeline.Register(&strategy{
		name: "UefiMenu",
		accepts: func(device, params *value.Map) (bool, string) {
			if ok, why := (pipeline.MethodCheck{Section: "boot", Method: "uefi-menu"}).AcceptsBlockFirst(device, params); !ok {
				return false, why
			}
			p := bootMethodParams(device, "uefi-menu")
			if !p.Has("interrupt_prompt") || !p.Has("interrupt_string") {
				return false, `"interrupt_prompt" or "interrupt_string" was not in the device configuration uefi-menu boot method parameters`
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewUefiMenuAction() },
	})
}

// UefiMenuAction is LAVA's UefiMenuAction (uefi-menu-action): interrupt
// the firmware, walk the device's named menu sequence, then log in. A
// sequence whose name contains "fastboot" runs on the connection the
// fastboot deploy left, without connecting or resetting.
type UefiMenuAction struct{ pipeline.Base }

var _ pipeline.Action = (*UefiMenuAction)(nil)

// NewUefiMenuAction returns uefi-menu-action.
func NewUefiMenuAction() *UefiMenuAction {
	a := &UefiMenuAction{pipeline.NewBase("UefiMenuAction", "uefi-menu-action",
		"interrupt and select uefi menu items", "interact with uefi menu")}
	a.Retry = true
	return a
}

// Populate follows LAVA, including its unconditional auto-login and
// export-device-env.
func (a *UefiMenuAction) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(NewUefiSubstituteCommands(), nil)
	cmds, _ := params.Value("commands").(string)
	if !strings.Contains(cmds, "fastboot") {
		p.Add(NewMenuConnect(), nil)
		p.Add(power.NewResetDevice(), nil)
	}
	p.Add(NewUEFIMenuInterrupt("uefi-menu"), nil)
	p.Add(NewUefiMenuSelector(), nil)
	p.Add(NewMenuReset(), nil)
	p.Add(NewAutoLogin(true), nil)
	p.Add(NewExportDeviceEnv(), nil)
}

// UefiSubstituteCommands is LAVA's UefiSubstituteCommands (uefi-commands):
// substitutes the job's files and addresses into the menu sequence.
type UefiSubstituteCommands struct{ leaf }

// NewUefiSubstituteCommands returns uefi-commands.
func NewUefiSubstituteCommands() *UefiSubstituteCommands {
	return &UefiSubstituteCommands{leaf{pipeline.NewBase("UefiSubstituteCommands", "uefi-commands",
		"set job-specific variables into the uefi menu commands", "substitute job values into uefi commands")}}
}

// Validate needs the named sequence in the device's uefi-menu method,
// each item a `select`.
func (a *UefiSubstituteCommands) Validate() {
	a.leaf.Validate()
	name, _ := a.Params.Value("commands").(string)
	items, ok := bootMethod(a.Device(), "uefi-menu").Value(name).([]any)
	if !ok {
		a.Errorf("missing commands for %v", value.GoString(a.Params.Value("commands")))
		return
	}
	for _, it := range items {
		if m, isMap := it.(*value.Map); !isMap || !m.Has("select") {
			a.Errorf("invalid device configuration for %s: %s", a.Name, value.GoString(it))
		}
	}
}

// MenuConnect is LAVA's MenuConnect (menu-connect): connects the console
// as a menu session, which does not wait for a shell prompt.
type MenuConnect struct{ leaf }

// NewMenuConnect returns menu-connect.
func NewMenuConnect() *MenuConnect {
	return &MenuConnect{leaf{pipeline.NewBase("MenuConnect", "menu-connect",
		"change into a menu session", "Customise connection for menu operations")}}
}

// Validate needs a connect command.
func (a *MenuConnect) Validate() {
	a.leaf.Validate()
	if !hasConnectCommand(a.Device()) {
		a.Errorf("unable to connect to device")
	}
}

// MenuReset is LAVA's MenuReset (menu-reset): turns the menu session back
// into a shell session for the login.
type MenuReset struct{ leaf }

// NewMenuReset returns menu-reset.
func NewMenuReset() *MenuReset {
	return &MenuReset{leaf{pipeline.NewBase("MenuReset", "menu-reset",
		"change out of menu session to a shell session", "reset to shell connection")}}
}

// UEFIMenuInterrupt is LAVA's UEFIMenuInterrupt (uefi-menu-interrupt) and
// UefiShellMenuInterrupt (uefi-shell-menu-interrupt): waits for the
// firmware's interrupt prompt and sends the interrupt string.
type UEFIMenuInterrupt struct {
	leaf
	// Method is the boot method whose parameters hold the prompt and
	// string: uefi-menu, or uefi for the shell.
	Method string
}

// NewUEFIMenuInterrupt returns uefi-menu-interrupt for method.
func NewUEFIMenuInterrupt(method string) *UEFIMenuInterrupt {
	return &UEFIMenuInterrupt{leaf: leaf{pipeline.NewBase("UEFIMenuInterrupt", "uefi-menu-interrupt",
		"interrupt for uefi menu", "interrupt for uefi menu")}, Method: method}
}

// NewUefiShellMenuInterrupt returns uefi-shell-menu-interrupt.
func NewUefiShellMenuInterrupt() *UEFIMenuInterrupt {
	return &UEFIMenuInterrupt{leaf: leaf{pipeline.NewBase("UefiShellMenuInterrupt", "uefi-shell-menu-interrupt",
		"interrupt default boot and to menu", "interrupt default boot and to menu")}, Method: "uefi"}
}

// Validate needs the interrupt prompt and string.
func (a *UEFIMenuInterrupt) Validate() {
	a.leaf.Validate()
	p := bootMethodParams(a.Device(), a.Method)
	if !p.Has("interrupt_prompt") {
		a.Errorf("missing interrupt prompt")
	}
	if !p.Has("interrupt_string") {
		a.Errorf("missing interrupt string")
	}
}

// UefiMenuSelector is LAVA's UefiMenuSelector (uefi-menu-selector) and
// its variants for the UEFI shell and grub-efi: walks a sequence of menu
// selections, each a `select` of items, prompt, enter, escape, wait or
// fallback.
type UefiMenuSelector struct {
	leaf
	validate func(a *UefiMenuSelector)
}

// NewUefiMenuSelector returns uefi-menu-selector, which walks the
// sequence the block's commands name in the device's uefi-menu method.
func NewUefiMenuSelector() *UefiMenuSelector {
	return &UefiMenuSelector{leaf: leaf{pipeline.NewBase("UefiMenuSelector", "uefi-menu-selector",
		"select specified uefi menu items", "select options in the uefi menu")},
		validate: func(a *UefiMenuSelector) {
			name, _ := a.Params.Value("commands").(string)
			validateUefiMenuSequence(a, name)
		}}
}

// validateUefiMenuSequence checks the sequence name names in the device's
// uefi-menu method, and the menu parameters walking it needs.
func validateUefiMenuSequence(a *UefiMenuSelector, name string) {
	params := bootMethodParams(a.Device(), "uefi-menu")
	if !params.Has("item_markup") || !params.Has("item_class") || !params.Has("separator") {
		a.Errorf("missing device parameters for UEFI menu operations")
		return
	}
	if name == "" {
		a.Errorf("missing commands in action parameters")
		return
	}
	items, has := bootMethod(a.Device(), "uefi-menu").Get(name)
	if !has {
		a.Errorf("no boot configuration called '%s' for boot method 'uefi-menu'", name)
		return
	}
	sep := bootMethod(a.Device(), "uefi-menu").String("line_separator")
	if s, ok := a.Params.Value("line_separator").(string); ok {
		sep = s
	}
	if sep != "" && sep != "dos" && sep != "unix" {
		a.Errorf("unrecognised line separator configuration")
	}
	validateMenuItems(&a.Base, items)
}

// NewUefiShellMenuSelector returns uefi-shell-menu-selector: the device's
// uefi method sequence (shell_menu, "shell" by default) that drops to the
// UEFI shell.
func NewUefiShellMenuSelector() *UefiMenuSelector {
	return &UefiMenuSelector{leaf: leaf{pipeline.NewBase("UefiShellMenuSelector", "uefi-shell-menu-selector",
		"select uefi menu items to drop to a uefi shell", "use uefi menu to drop to shell")},
		validate: func(a *UefiMenuSelector) {
			name := uefiShellMenu(a.Device(), a.Params)
			if name == "" {
				name = "shell"
			}
			items, ok := bootMethod(a.Device(), "uefi").Get(name)
			if !ok {
				a.Errorf("missing menu commands for %s", name)
				return
			}
			validateMenuItems(&a.Base, items)
		}}
}

// NewGrubMenuSelector returns grub-efi-menu-selector, which selects in
// the EFI menu, before grub starts, the sequence the device's uefi-menu
// method names in its menu_options (as LAVA's GrubMenuSelector, which
// looks in uefi-menu, not grub-efi).
func NewGrubMenuSelector() *UefiMenuSelector {
	return &UefiMenuSelector{leaf: leaf{pipeline.NewBase("GrubMenuSelector", "grub-efi-menu-selector",
		"select specified grub-efi menu items", "select grub options in the efi menu")},
		validate: func(a *UefiMenuSelector) {
			m := bootMethod(a.Device(), "uefi-menu")
			if m == nil {
				a.Errorf("no uefi-menu in device boot methods")
				return
			}
			opt, ok := m.Get("menu_options")
			if !ok {
				a.Errorf("missing entry for menu item to use for uefi-menu")
				return
			}
			name, _ := opt.(string)
			if name == "" {
				name, _ = a.Params.Value("commands").(string)
			}
			validateUefiMenuSequence(a, name)
		}}
}

// Validate runs the variant's checks.
func (a *UefiMenuSelector) Validate() {
	a.leaf.Validate()
	a.validate(a)
}

// menuKeys are what a `select` may hold (LAVA's SelectorMenuAction).
var menuKeys = map[string]bool{"items": true, "prompt": true, "enter": true, "escape": true, "wait": true, "fallback": true}

// validateMenuItems checks a menu sequence: a list whose `select` maps
// use only the keys LAVA knows.
func validateMenuItems(b *pipeline.Base, items any) {
	list, ok := items.([]any)
	if !ok {
		b.Errorf("menu sequence must be a list")
		return
	}
	for _, it := range list {
		m, _ := it.(*value.Map)
		sel := m.Map("select")
		sel.Range(func(k string, _ any) bool {
			if !menuKeys[k] {
				b.Errorf("unable to recognise item %s", k)
			}
			return true
		})
	}
}

// uefiShellMenu returns the menu sequence that reaches the UEFI shell:
// the block's shell_menu, else the device's uefi parameter; empty when
// there is none or it is not a name.
func uefiShellMenu(device, params *value.Map) string {
	v, ok := params.Get("shell_menu")
	if !ok {
		v = bootMethodParams(device, "uefi").Value("shell_menu")
	}
	s, _ := v.(string)
	return s
}
