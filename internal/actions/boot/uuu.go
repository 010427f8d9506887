package boot

import (
	"regexp"
	"strings"

	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name:    "UUUBoot",
		accepts: acceptsUUU,
		action:  func(*value.Map) pipeline.Action { return NewUUUBootRetry() },
	})
}

// acceptsUUU is LAVA's UUUBoot.accepts. LAVA raises ConfigurationError
// for a device without an OTG path or boot-media erase commands; here the
// strategy declines with that reason, which ends the build the same way.
func acceptsUUU(device, params *value.Map) (bool, string) {
	if ok, why := (pipeline.MethodCheck{Section: "boot", Method: "uuu"}).Named(params); !ok {
		return false, why
	}
	if !params.Has("commands") {
		return false, "commands not specified in boot parameters"
	}
	opts := uuuOptions(device)
	if opts == nil {
		return false, `"uuu" was not in the device configuration boot methods`
	}
	if !pipeline.Truthy(opts.Value("usb_otg_path")) && !pipeline.Truthy(opts.Value("usb_otg_path_command")) {
		return false, "'uuu_usb_otg_path' or 'uuu_usb_otg_path_command' not defined in device definition"
	}
	if opts.Value("corrupt_boot_media_command") == nil {
		return false, "uuu_corrupt_boot_media_command not defined in device definition"
	}
	// LAVA says "uuu" here, though u-boot is what is missing.
	return pipeline.MethodCheck{Section: "boot", Method: "u-boot"}.Listed(device)
}

// uuuOptions returns the device's actions.boot.methods.uuu.options.
func uuuOptions(device *value.Map) *value.Map {
	return bootMethod(device, "uuu").Map("options")
}

// uuuCommand is one entry of a uuu boot's commands: a protocol (uuu or
// bcu) and its command line.
type uuuCommand struct{ proto, cmd string }

// uuuCommands reads the block's commands, a list of one-key maps; bad
// entries are reported by UUUBootRetry.Validate.
func uuuCommands(params *value.Map) []uuuCommand {
	var out []uuuCommand
	for _, c := range params.List("commands") {
		m, _ := c.(*value.Map)
		m.Range(func(k string, v any) bool {
			s, _ := v.(string)
			out = append(out, uuuCommand{k, s})
			return true
		})
	}
	return out
}

// skipsSerialCheck is LAVA's rule for not probing the USB serial download
// mode (and not erasing the boot media): the first command is
// `bcu: reset usb`, which forces the mode, or only bcu commands run.
func skipsSerialCheck(cmds []uuuCommand) bool {
	if len(cmds) == 0 {
		return false
	}
	if cmds[0].proto == "bcu" && strings.Join(strings.Fields(cmds[0].cmd), " ") == "reset usb" {
		return true
	}
	for _, c := range cmds {
		if c.proto != "bcu" {
			return false
		}
	}
	return true
}

// UUUBootRetry is LAVA's UUUBootRetryAction (uuu-boot-retry, `method:
// uuu`): flashes the board with NXP's uuu over USB serial download mode,
// erasing the boot media from u-boot first when the board does not come
// up in that mode.
type UUUBootRetry struct{ pipeline.Base }

var _ pipeline.Action = (*UUUBootRetry)(nil)

// NewUUUBootRetry returns uuu-boot-retry.
func NewUUUBootRetry() *UUUBootRetry {
	a := &UUUBootRetry{pipeline.NewBase("UUUBootRetryAction", "uuu-boot-retry",
		"Boot the board using uboot and perform uuu commands", "Pass uuu commands")}
	a.Retry = true
	return a
}

// Populate adds the uuu sequence.
func (a *UUUBootRetry) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	if pipeline.Truthy(params.Value("skip_uuu_if_bootloader_valid")) {
		p.Add(NewCheckBootloaderValid(), nil)
	}
	p.Add(NewUUUSequence(), nil)
}

// CheckBootloaderValid is LAVA's CheckBootloaderValidAction
// (check-bootloader-valid, when the block sets
// skip_uuu_if_bootloader_valid): boots to the U-Boot prompt without
// commands; reaching it means the bootloader on the boot media is good
// and flashing can be skipped, an infrastructure error means it is not.
type CheckBootloaderValid struct{ pipeline.Base }

// NewCheckBootloaderValid returns check-bootloader-valid.
func NewCheckBootloaderValid() *CheckBootloaderValid {
	return &CheckBootloaderValid{pipeline.NewBase("CheckBootloaderValidAction", "check-bootloader-valid",
		"Store in 'board_valid_check' namespace_data", "Store in 'board_valid_check' namespace_data")}
}

// Populate boots U-Boot with the block's parameters turned into a
// bootloader boot with no commands, waiting for the device's prompt; the
// interrupt gets 15 s unless the block says otherwise. As in LAVA the
// block's own timeouts map, when it has one, receives that default too
// (LAVA merges the maps shallowly and then sets the default in place).
func (a *CheckBootloaderValid) Populate(params *value.Map) {
	ub := params.Copy()
	ub.Set("method", "bootloader")
	ub.Set("bootloader", "u-boot")
	ub.Set("commands", []any{})
	ub.Set("prompts", []any{bootMethodParams(a.Device(), "u-boot").Value("bootloader_prompt")})
	timeouts, ok := ub.Value("timeouts").(*value.Map)
	if !ok {
		timeouts = value.NewMap()
		ub.Set("timeouts", timeouts)
	}
	if !timeouts.Has("bootloader-interrupt") {
		timeouts.Set("bootloader-interrupt", value.MapOf("seconds", 15))
	}
	p := a.NewPipeline(ub)
	p.Add(power.NewConnectDevice(), nil)
	p.Add(NewBootloaderCommandOverlay("u-boot", []any{}), nil)
	p.Add(NewBootBootloader(), nil)
	p.Add(power.NewDisconnectDevice(), nil)
}

var (
	// otgPath is uuu's USB path form, "2:112".
	otgPath = regexp.MustCompile(`^\d+:\d+$`)
	// bcuBoardID is bcu's board id form, "2-1.3".
	bcuBoardID = regexp.MustCompile(`^\d+-(\d+|\.)+$`)
)

// Validate checks what LAVA checks while building the uuu boot: each
// command a one-key map of uuu or bcu; every usb_otg_path in uuu's form
// unless a command finds it at run time; for bcu commands, the board
// name and an id (or a command that finds it).
func (a *UUUBootRetry) Validate() {
	a.Base.Validate()
	list, ok := a.Params.Value("commands").([]any)
	if !ok || len(list) == 0 {
		a.Errorf("'commands' must be a non-empty list of uuu or bcu commands")
	}
	hasBCU := false
	for i, c := range list {
		m, isMap := c.(*value.Map)
		if !isMap || m.Len() != 1 {
			a.Errorf("commands[%d] must be a map of one protocol (uuu or bcu) to its command", i)
			continue
		}
		proto := m.Keys()[0]
		if proto != "uuu" && proto != "bcu" {
			a.Errorf("commands[%d]: unknown protocol '%s', use uuu or bcu", i, proto)
		}
		if _, isStr := m.Value(proto).(string); !isStr {
			a.Errorf("commands[%d]: the %s command must be a string", i, proto)
		}
		hasBCU = hasBCU || proto == "bcu"
	}
	opts := uuuOptions(a.Device())
	if !opts.Has("usb_otg_path_command") || opts.Value("usb_otg_path_command") == nil {
		paths := stringList(opts.Value("usb_otg_path"))
		bad := len(paths) == 0
		for _, p := range paths {
			bad = bad || !otgPath.MatchString(p)
		}
		if bad {
			a.Errorf("uuu_usb_otg_path '%v' does not match with uuu path pattern and 'uuu_usb_otg_path_command' not defined in device",
				value.GoString(opts.Value("usb_otg_path")))
		}
	}
	if hasBCU {
		if opts.String("bcu_board_name") == "" {
			a.Errorf("'bcu_board_name' is not defined in device-types")
		}
		if !bcuBoardID.MatchString(opts.String("bcu_board_id")) && opts.Value("bcu_board_id_command") == nil {
			a.Errorf("bcu_board_id '%v' do not respect bcu format or 'bcu_board_id_command' not defined in device",
				value.GoString(opts.Value("bcu_board_id")))
		}
	}
}

// UUUSequence is the body of the uuu boot (LAVA's newer pipelines show it
// as `uuu`, class UUUAction): release the console, reset, check for USB
// serial download mode and erase the boot media if needed, then run the
// uuu and bcu commands with the console attached.
type UUUSequence struct{ pipeline.Base }

var _ pipeline.Action = (*UUUSequence)(nil)

// NewUUUSequence returns uuu.
func NewUUUSequence() *UUUSequence {
	return &UUUSequence{pipeline.NewBase("UUUAction", "uuu",
		"boot the board in USB serial download mode and run uuu commands", "uuu boot")}
}

// Populate skips the serial download check, the erase and the second
// reset when bcu forces the download mode (see skipsSerialCheck).
func (a *UUUSequence) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(power.NewDisconnectDevice(), nil)
	p.Add(power.NewResetDevice(), nil)
	if !skipsSerialCheck(uuuCommands(params)) {
		p.Add(NewCheckSerialDownloadMode(), nil)
		p.Add(NewBootCorruptBootMedia(), nil)
		p.Add(power.NewResetDevice(), nil)
	}
	p.Add(power.NewConnectDevice(), nil)
	p.Add(NewUUUBootCommands(), nil)
	p.Add(power.NewDisconnectDevice(), nil)
}

// CheckSerialDownloadMode is LAVA's CheckSerialDownloadMode
// (check-serial-availability): tries `uuu <boot image>` for ten seconds
// to learn whether the board is in USB serial download mode.
type CheckSerialDownloadMode struct{ leaf }

// NewCheckSerialDownloadMode returns check-serial-availability.
func NewCheckSerialDownloadMode() *CheckSerialDownloadMode {
	return &CheckSerialDownloadMode{leaf{pipeline.NewBase("CheckSerialDownloadMode", "check-serial-availability",
		"Store in 'otg_availability_check' namespace_data if USB serial download mode available",
		"Store in 'otg_availability_check' namespace_data if USB serial download mode available")}}
}

// Validate warns about the host tools the check runs.
func (a *CheckSerialDownloadMode) Validate() {
	a.leaf.Validate()
	validateUUUTool(&a.Base, "uuu")
	warnMissingTool(&a.Base, "timeout")
}

// validateUUUTool warns about a missing uuu or bcu, unless the device
// runs them in a docker container (uuu_docker_image).
func validateUUUTool(b *pipeline.Base, tool string) {
	if uuuOptions(b.Device()).String("docker_image") != "" {
		return
	}
	warnMissingTool(b, tool)
}

// BootCorruptBootMedia is LAVA's BootBootloaderCorruptBootMediaAction
// (boot-corrupt-boot-media): when the board is not in serial download
// mode, boot into u-boot and run the device's corrupt_boot_media_command
// so that the ROM falls back to USB download at the next reset.
type BootCorruptBootMedia struct{ pipeline.Base }

var _ pipeline.Action = (*BootCorruptBootMedia)(nil)

// NewBootCorruptBootMedia returns boot-corrupt-boot-media.
func NewBootCorruptBootMedia() *BootCorruptBootMedia {
	return &BootCorruptBootMedia{pipeline.NewBase("BootBootloaderCorruptBootMediaAction", "boot-corrupt-boot-media",
		"boot using 'bootloader' method and corrupt boot media", "boot bootloader")}
}

// Populate builds a u-boot `bootloader` boot from the block's parameters
// (its timeout applies) with the erase commands, optionally powering off
// first (power_off_before_corrupt_boot_media).
func (a *BootCorruptBootMedia) Populate(params *value.Map) {
	opts := uuuOptions(a.Device())
	erase := opts.Value("corrupt_boot_media_command")
	if s, ok := erase.(string); ok {
		erase = []any{s}
	}
	cmds, _ := erase.([]any)
	// The device's U-Boot prompt, which the erase must have returned to
	// before the device is disconnected and power cycled.
	prompt := bootMethodParams(a.Device(), "u-boot").Value("bootloader_prompt")
	ub := params.Copy()
	ub.Set("method", "bootloader")
	ub.Set("bootloader", "u-boot")
	ub.Set("commands", cmds)
	ub.Set("prompts", []any{prompt})
	ub.Set("parameters", value.MapOf("bootloader-final-message", prompt))
	p := a.NewPipeline(ub)
	if pipeline.Truthy(opts.Value("power_off_before_corrupt_boot_media")) {
		p.Add(power.NewPowerOff(), nil)
	}
	p.Add(power.NewConnectDevice(), nil)
	p.Add(NewBootloaderCommandOverlay("u-boot", cmds), nil)
	p.Add(NewBootBootloader(), nil)
	p.Add(power.NewDisconnectDevice(), nil)
}

// Validate needs the erase commands as a string or a list.
func (a *BootCorruptBootMedia) Validate() {
	a.Base.Validate()
	switch uuuOptions(a.Device()).Value("corrupt_boot_media_command").(type) {
	case string, []any:
	default:
		a.Errorf("uuu_corrupt_boot_media_command must be a command or a list of commands")
	}
}

// UUUBootCommands is LAVA's UUUBootAction (uuu-boot): runs each uuu
// command (with {image} labels replaced by the deployed files) and each
// bcu command against the board.
type UUUBootCommands struct{ leaf }

// NewUUUBootCommands returns uuu-boot.
func NewUUUBootCommands() *UUUBootCommands {
	return &UUUBootCommands{leaf{pipeline.NewBase("UUUBootAction", "uuu-boot",
		"interactive uuu action", "uuu commands")}}
}

// Validate warns about missing uuu and, for bcu commands, bcu.
func (a *UUUBootCommands) Validate() {
	a.leaf.Validate()
	validateUUUTool(&a.Base, "uuu")
	for _, c := range uuuCommands(a.Params) {
		if c.proto == "bcu" {
			validateUUUTool(&a.Base, "bcu")
			break
		}
	}
}
