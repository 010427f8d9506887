package boot

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// The UEFI menu selector as it runs (LAVA's UEFIMenuInterrupt and
// SelectorMenuAction): uefi-menu-interrupt waits for the firmware's
// interrupt prompt and sends the interrupt string; the selector waits
// for the menu's bootloader_prompt, then walks the device's sequence.
// Each `select` may hold `wait` (the text expected after this step's
// keys), `items` (labels of numbered entries, "[2] Shell": the number of
// the entry whose label equals the item is typed with the line
// separator; `fallback` is the label tried when an item is missing),
// `escape` (Ctrl-[) and `enter` (a string sent as it is, then Ctrl-M).
//
// A firmware whose menu has no numbered entries (OVMF's boot manager)
// cannot be driven by `items`; its device type walks the menu with
// `enter` strings holding the arrow keys' escape sequences and `wait`s
// on the page each step opens, which LAVA's selector allows too.
//
// grub-efi uses the same selector (grub-efi-menu-selector) on the
// uefi-menu method's menu_options sequence before GRUB starts. The UEFI
// shell reached through a menu (uefi-shell-menu-selector) keeps
// CannotRun: its sequence is in the uefi method, and no firmware Basalt
// can test draws that menu.

// CannotRun is empty: UEFIMenuInterrupt runs.
func (*UEFIMenuInterrupt) CannotRun() string { return "" }

// Run waits for interrupt_prompt (a regular expression, as LAVA's
// prompt_str) and sends interrupt_string as it is.
func (a *UEFIMenuInterrupt) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	s, err := sessionOf(&a.Base, conn)
	if err != nil {
		return conn, err
	}
	p := bootMethodParams(a.Device(), a.Method)
	if err := waitPrompt(ctx, &a.Base, s, "the firmware's menu interrupt prompt", []string{p.String("interrupt_prompt")}); err != nil {
		return conn, err
	}
	str := p.String("interrupt_string")
	a.Log().Input(str)
	if err := s.Send(str); err != nil {
		return conn, pipeline.InfrastructureError("sending the menu interrupt: %v", err)
	}
	return s, nil
}

// CannotRun says why the shell's menu does not run; the other variants
// run.
func (a *UefiMenuSelector) CannotRun() string {
	if a.Class == "UefiShellMenuSelector" {
		return "the UEFI shell reached through a firmware menu (shell_menu) is not run yet"
	}
	return ""
}

// menuSequence returns the sequence the variant walks: the block's
// commands, or for grub-efi the uefi-menu method's menu_options.
func (a *UefiMenuSelector) menuSequence() (string, []any) {
	m := bootMethod(a.Device(), "uefi-menu")
	name, _ := a.Params.Value("commands").(string)
	if a.Class == "GrubMenuSelector" {
		if opt, _ := m.Value("menu_options").(string); opt != "" {
			name = opt
		}
	}
	items, _ := m.Value(name).([]any)
	return name, items
}

// Run waits for the menu's bootloader_prompt, walks the sequence, then
// waits for boot_message when the device gives one.
func (a *UefiMenuSelector) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	s, err := sessionOf(&a.Base, conn)
	if err != nil {
		return conn, err
	}
	params := bootMethodParams(a.Device(), "uefi-menu")
	name, items := a.menuSequence()
	sep := "\r\n"
	lineSep := bootMethod(a.Device(), "uefi-menu").String("line_separator")
	if v, ok := a.Params.Value("line_separator").(string); ok {
		lineSep = v
	}
	if lineSep == "unix" {
		sep = "\n"
	}
	item, err := menuItemPattern(params)
	if err != nil {
		return conn, err
	}
	prompt := params.String("bootloader_prompt")
	if err := waitPrompt(ctx, &a.Base, s, "the firmware menu's prompt", []string{prompt}); err != nil {
		return conn, err
	}
	screen := strings.Join(s.Tail(menuTail), "\n")
	a.Log().Debugf("walking the menu sequence %q", name)
	for i, it := range items {
		m, _ := it.(*value.Map)
		sel := m.Map("select")
		next := sel.String("wait")
		send := func(what, data string) error {
			a.Log().Input(data)
			if err := s.Send(data); err != nil {
				return pipeline.InfrastructureError("sending %s: %v", what, err)
			}
			if next == "" {
				return nil
			}
			if err := waitPrompt(ctx, &a.Base, s, fmt.Sprintf("menu step %d's %q", i+1, next), []string{next}); err != nil {
				return err
			}
			screen = strings.Join(s.Tail(menuTail), "\n")
			return nil
		}
		for _, label := range stringList(sel.Value("items")) {
			num := selectMenuItem(item, screen, label)
			if num == "" && sel.Has("fallback") {
				num = selectMenuItem(item, screen, sel.String("fallback"))
			}
			if num == "" {
				return conn, pipeline.JobError("No selection was made: no menu entry labelled %q", label)
			}
			a.Log().Debugf("Selecting option %s", num)
			if err := send("a menu selection", num+sep); err != nil {
				return conn, err
			}
		}
		if sel.Has("escape") {
			if err := send("escape", "\x1b"); err != nil {
				return conn, err
			}
		}
		if sel.Has("enter") {
			if err := send("a menu entry", fmt.Sprint(sel.Value("enter"))+"\r"); err != nil {
				return conn, err
			}
		}
		// Menus redraw slowly on a serial line: a key typed before the
		// page is drawn can be lost, as LAVA's character delays avoid.
		time.Sleep(menuSettle)
	}
	if msg := params.String("boot_message"); msg != "" {
		if err := waitPrompt(ctx, &a.Base, s, "the menu's boot message", []string{msg}); err != nil {
			return conn, err
		}
	}
	a.SetData(DataConnection, s)
	return s, nil
}

// menuTail is how many console lines the items are looked for in, and
// menuSettle the pause after each step of the sequence.
const (
	menuTail   = 60
	menuSettle = 500 * time.Millisecond
)

// menuItemPattern is LAVA's SelectorMenu.pattern: item_markup around
// item_class characters (the number), the separator, then the label
// (label_class characters).
func menuItemPattern(params *value.Map) (*regexp.Regexp, error) {
	markup := stringList(params.Value("item_markup"))
	if len(markup) < 2 {
		return nil, pipeline.JobError("uefi-menu item_markup must hold two strings")
	}
	label := params.String("label_class")
	if label == "" {
		label = `a-zA-Z0-9\s\:`
	}
	re, err := regexp.Compile(regexp.QuoteMeta(markup[0]) + "([" + params.String("item_class") + "]+)" +
		regexp.QuoteMeta(markup[1]) + params.String("separator") + "([" + label + "]*)")
	if err != nil {
		return nil, pipeline.JobError("uefi-menu item pattern: %v", err)
	}
	return re, nil
}

// selectMenuItem returns the number of the entry labelled label, the
// latest menu first (LAVA reads the screen from its end), or "".
func selectMenuItem(re *regexp.Regexp, screen, label string) string {
	lines := strings.Split(screen, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if m := re.FindStringSubmatch(strings.TrimSpace(lines[i])); m != nil && m[2] == label {
			return m[1]
		}
	}
	return ""
}
