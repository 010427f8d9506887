package boot

import (
	"regexp"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// The actions every interactive bootloader family shares (LAVA's
// actions/boot/__init__.py): the command overlay that substitutes job
// data into the bootloader commands, the interrupt, the command sender
// and the secondary-media substitutions.

// bootMethod returns the device's actions.boot.methods.<method> map.
func bootMethod(device *value.Map, method string) *value.Map {
	return pipeline.DeviceMethods(device, "boot").Map(method)
}

// bootMethodParams returns the device's actions.boot.methods.<method>.parameters.
func bootMethodParams(device *value.Map, method string) *value.Map {
	return bootMethod(device, method).Map("parameters")
}

// hasConnectCommand reports whether the device has a primary connect
// command, as LAVA's device.connect_command is not empty: commands.connect
// or the commands.connections entry tagged primary.
func hasConnectCommand(device *value.Map) bool {
	cmds := device.Map("commands")
	if s, ok := cmds.Value("connect").(string); ok && s != "" {
		return true
	}
	found := false
	cmds.Map("connections").Range(func(_ string, v any) bool {
		c, _ := v.(*value.Map)
		for _, t := range stringList(c.Value("tags")) {
			if t == "primary" && c.String("connect") != "" {
				found = true
				return false
			}
		}
		return true
	})
	return found
}

// stringList reads a string or a list of strings.
func stringList(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// requireConstant records an error when a constant LAVA would look up
// with get_constant (which raises ConfigurationError when it is missing)
// is in neither the deployment data nor the device's constants.
func requireConstant(b *pipeline.Base, key, prefix string) {
	if _, ok := b.Constant(key, prefix); !ok {
		if prefix != "" {
			b.Errorf("constant '%s' for '%s' is missing from the device configuration", key, prefix)
		} else {
			b.Errorf("constant '%s' is missing from the device configuration", key)
		}
	}
}

// BootloaderCommandOverlay is LAVA's BootloaderCommandOverlay
// (bootloader-overlay): it picks the bootloader commands (the job's own
// list, or a named set from the device) and, at run time, substitutes
// the job's files and addresses ({KERNEL}, {DTB}, {SERVER_IP}, …) into
// them for bootloader-commands to send.
type BootloaderCommandOverlay struct {
	leaf
	// Method is the device boot method whose commands and parameters are
	// used; empty means the block's method.
	Method string
	// Commands, when not nil, are used instead of any from the job or
	// the device (the uuu boot's boot-media erase commands).
	Commands []any
}

var _ pipeline.Action = (*BootloaderCommandOverlay)(nil)

// NewBootloaderCommandOverlay returns bootloader-overlay for method
// (empty: the block's method) with preset commands (nil: from the job
// or the device).
func NewBootloaderCommandOverlay(method string, commands []any) *BootloaderCommandOverlay {
	return &BootloaderCommandOverlay{leaf: leaf{pipeline.NewBase("BootloaderCommandOverlay", "bootloader-overlay",
		"substitute job data into bootloader command list", "replace placeholders with job data")},
		Method: method, Commands: commands}
}

// method returns the device boot method the action works with.
func (a *BootloaderCommandOverlay) method() string {
	if a.Method != "" {
		return a.Method
	}
	return a.Params.String("method")
}

// macAddress is LAVA's check of lava_mac, case-insensitive.
var macAddress = regexp.MustCompile(`(?i)([0-9A-F]{2}[:-]){5}([0-9A-F]{2})`)

// Validate finds the commands as LAVA does: a `bootloader` boot sends the
// job's commands; any other method sends the job's list (with a warning)
// or the device's named command set; every command must be a string.
func (a *BootloaderCommandOverlay) Validate() {
	a.leaf.Validate()
	validateOverlayCommands(&a.Base, a.method(), a.Commands)
}

// validateOverlayCommands is the validation of bootloader-overlay and of
// the overlays that extend it (depthcharge-overlay).
func validateOverlayCommands(b *pipeline.Base, method string, preset []any) {
	params := b.Params
	methods := pipeline.DeviceMethods(b.Device(), "boot")
	commands := preset
	if commands == nil {
		cv, has := params.Get("commands")
		list, isList := cv.([]any)
		switch {
		case params.String("method") == "bootloader":
			if !isList {
				b.Errorf("'commands' of a bootloader boot must be a list of commands")
			}
			commands = list
		case isList:
			commands = list
			b.Warnf("using boot commands supplied in the job definition, NOT the LAVA device configuration")
		case !has:
			b.Errorf("missing commands")
		default:
			name, _ := cv.(string)
			set := methods.Map(method).Map(name)
			switch {
			case !methods.Map(method).Has(name):
				b.Errorf("command '%v' not found in supported methods", cv)
			case !set.Has("commands"):
				b.Errorf("no commands found in parameters")
			default:
				commands, _ = set.Value("commands").([]any)
			}
		}
	}
	for _, c := range commands {
		if _, ok := c.(string); !ok {
			b.Errorf("deploy commands instruction is not a string: %s", value.GoString(c))
		}
	}
	if mac, ok := methods.Map(method).Map("parameters").Get("lava_mac"); ok {
		s, _ := mac.(string)
		if !macAddress.MatchString(s) {
			b.Errorf("lava_mac is not a valid mac address")
		}
	}
}

// BootloaderInterrupt is LAVA's BootloaderInterruptAction
// (bootloader-interrupt): waits for the bootloader's interrupt prompt
// and sends the interrupt character(s), or, when the device needs no
// interrupt, just waits for the bootloader prompt.
type BootloaderInterrupt struct {
	leaf
	// Method is the boot method whose parameters and constants apply;
	// empty means the block's (or u-boot for fastboot over u-boot).
	Method string
}

var _ pipeline.Action = (*BootloaderInterrupt)(nil)

// NewBootloaderInterrupt returns bootloader-interrupt for method (empty:
// from the block).
func NewBootloaderInterrupt(method string) *BootloaderInterrupt {
	a := &BootloaderInterrupt{leaf: leaf{pipeline.NewBase("BootloaderInterruptAction", "bootloader-interrupt",
		"interrupt bootloader", "interrupt bootloader to get an interactive shell")}, Method: method}
	a.TimeoutClass = pipeline.ClassInfrastructure
	return a
}

// method resolves the boot method as LAVA does: a deploy or boot by
// fastboot (or download) interrupts u-boot when the device reaches
// fastboot through u-boot; grub-efi blocks use the grub-efi constants.
func (a *BootloaderInterrupt) method() string {
	dev := a.Device()
	m := a.Method
	if m == "" {
		to, bm := a.Params.String("to"), a.Params.String("method")
		if to == "fastboot" || to == "download" || bm == "fastboot" || bm == "download" {
			if pipeline.Truthy(dev.Value("fastboot_via_uboot")) {
				m = "u-boot"
			}
		} else {
			m = bm
		}
	}
	if a.Params.String("method") == "grub-efi" && pipeline.DeviceHasMethod(dev, "boot", "grub-efi") {
		m = "grub-efi"
	}
	return m
}

// Validate checks the bootloader's parameters and constants the
// interrupt needs: a connection, the bootloader prompt, the interrupt
// prompt and character (iPXE needs only control characters).
func (a *BootloaderInterrupt) Validate() {
	a.leaf.Validate()
	dev := a.Device()
	m := a.method()
	if m == "" {
		a.Errorf("no bootloader to interrupt: the block names no method and the device does not reach fastboot through u-boot")
		return
	}
	if !hasConnectCommand(dev) {
		a.Errorf("unable to connect to device: no primary connect command")
	}
	params := bootMethodParams(dev, m)
	if params == nil {
		a.Errorf("device has no parameters for boot method '%s'", m)
		return
	}
	if !params.Has("bootloader_prompt") {
		a.Errorf("missing bootloader prompt for device")
	}
	if !params.Has("interrupt_prompt") {
		requireConstant(&a.Base, "interrupt-prompt", m)
	}
	if m != "ipxe" && !params.Has("interrupt_char") {
		requireConstant(&a.Base, "interrupt-character", m)
	}
}

// BootloaderCommands is LAVA's BootloaderCommandsAction
// (bootloader-commands): sends the commands bootloader-overlay prepared,
// one per bootloader prompt, and waits for the final message unless the
// boot stays in the bootloader.
type BootloaderCommands struct {
	leaf
	Method string
	// ExpectFinal is false when the boot stays in the bootloader (a
	// `bootloader` boot, commands before a UMS flash).
	ExpectFinal bool
}

var _ pipeline.Action = (*BootloaderCommands)(nil)

// NewBootloaderCommands returns bootloader-commands.
func NewBootloaderCommands(method string, expectFinal bool) *BootloaderCommands {
	a := &BootloaderCommands{leaf: leaf{pipeline.NewBase("BootloaderCommandsAction", "bootloader-commands",
		"send commands to bootloader", "interactive bootloader")}, Method: method, ExpectFinal: expectFinal}
	a.DefaultTimeout = bootloaderCommandTimeout
	a.TimeoutClass = pipeline.ClassInfrastructure
	return a
}

// bootloaderCommandTimeout is LAVA's BOOTLOADER_DEFAULT_CMD_TIMEOUT: the
// time bootloader commands get when neither device nor job names one.
const bootloaderCommandTimeout = 180

// NewUefiBootloaderCommands returns LAVA's UefiBootloaderCommandsAction:
// bootloader-commands with UEFI's CRLF line separator.
func NewUefiBootloaderCommands() *BootloaderCommands {
	a := NewBootloaderCommands("", true)
	a.Class = "UefiBootloaderCommandsAction"
	return a
}

// Validate needs the device's parameters for the method: the commands
// are sent at its bootloader_prompt.
func (a *BootloaderCommands) Validate() {
	a.leaf.Validate()
	validateBootloaderPrompt(&a.Base, a.Method)
}

func validateBootloaderPrompt(b *pipeline.Base, method string) {
	if method == "" {
		method = b.Params.String("method")
	}
	params := bootMethodParams(b.Device(), method)
	if params == nil {
		b.Errorf("device has no parameters for boot method '%s'", method)
		return
	}
	if !params.Has("bootloader_prompt") {
		b.Errorf("missing bootloader prompt for device")
	}
}

// BootloaderCommandsAltBank is LAVA's BootloaderCommandsActionAltBank
// (bootloader-commands-altbank): sends uboot_altbank_cmd to switch
// u-boot to its alternate bank.
type BootloaderCommandsAltBank struct{ leaf }

// NewBootloaderCommandsAltBank returns bootloader-commands-altbank.
func NewBootloaderCommandsAltBank() *BootloaderCommandsAltBank {
	a := &BootloaderCommandsAltBank{leaf{pipeline.NewBase("BootloaderCommandsActionAltBank", "bootloader-commands-altbank",
		"send commands to bootloader altbank", "interactive bootloader altbank")}}
	a.DefaultTimeout = bootloaderCommandTimeout
	a.TimeoutClass = pipeline.ClassInfrastructure
	return a
}

// Validate needs the bootloader prompt and the alternate-bank command.
func (a *BootloaderCommandsAltBank) Validate() {
	a.leaf.Validate()
	validateBootloaderPrompt(&a.Base, "")
	if bootMethodParams(a.Device(), a.Params.String("method")).String("uboot_altbank_cmd") == "" {
		a.Errorf("uboot_altbank is set but the device has no uboot_altbank_cmd")
	}
}

// BootloaderSecondaryMedia is LAVA's BootloaderSecondaryMedia
// (bootloader-from-media; uboot-from-media for u-boot): when the block
// boots a kernel already written to a medium the device lists
// (parameters.media), it records where the kernel, ramdisk, dtb and root
// are for the command overlay.
type BootloaderSecondaryMedia struct {
	leaf
	// uboot adds u-boot's own needs: kernel_type, mapped to bootz,
	// booti or bootm.
	uboot bool
}

var _ pipeline.Action = (*BootloaderSecondaryMedia)(nil)

// NewBootloaderSecondaryMedia returns bootloader-from-media.
func NewBootloaderSecondaryMedia() *BootloaderSecondaryMedia {
	return &BootloaderSecondaryMedia{leaf: leaf{pipeline.NewBase("BootloaderSecondaryMedia", "bootloader-from-media",
		"let bootloader know where to find the kernel in the image on secondary media",
		"set bootloader strings for deployed media")}}
}

// NewUBootSecondaryMedia returns uboot-from-media.
func NewUBootSecondaryMedia() *BootloaderSecondaryMedia {
	return &BootloaderSecondaryMedia{leaf: leaf{pipeline.NewBase("UBootSecondaryMedia", "uboot-from-media",
		"let uboot know where to find the kernel in the image on secondary media",
		"set uboot strings for deployed media")}, uboot: true}
}

// Validate checks, only when the block's commands name one of the
// device's media (a boot from secondary media), the locations LAVA needs:
// kernel, root_uuid and boot_part, and for u-boot a known kernel_type.
func (a *BootloaderSecondaryMedia) Validate() {
	a.leaf.Validate()
	media := a.Device().Map("parameters").Map("media")
	name, isName := a.Params.Value("commands").(string)
	if media == nil || !isName || !media.Has(name) {
		return
	}
	if !a.Params.Has("kernel") {
		a.Errorf("missing kernel location")
	}
	if !a.Params.Has("root_uuid") {
		a.Errorf("missing UUID of the roofs inside the deployed image")
	}
	if !a.Params.Has("boot_part") {
		a.Errorf("missing boot_part for the partition number of the boot files inside the deployed image")
	}
	if !a.uboot {
		return
	}
	kt, ok := a.Params.Value("kernel_type").(string)
	if !ok {
		a.Errorf("missing kernel_type for secondary media boot")
		return
	}
	if _, ok := UBootBootCommand(kt, a.Device()); !ok {
		a.Errorf("unknown kernel_type '%s': use zimage, image or uimage", kt)
	}
}

// UBootBootCommand maps a kernel type to the u-boot command that boots
// it, as LAVA's map_kernel_uboot: zimage → bootz and image → booti when
// the device has load addresses for them, else bootm (the kernel is then
// converted to a uImage); uimage → bootm. LAVA maps any other type to
// bootm too; ok is false for those, since bootm of an unknown kernel type
// is a typo in the job rather than a choice.
func UBootBootCommand(kernelType string, device *value.Map) (cmd string, ok bool) {
	params := device.Map("parameters")
	switch kernelType {
	case "zimage":
		if params.Has("bootz") {
			return "bootz", true
		}
	case "image":
		if params.Has("booti") {
			return "booti", true
		}
	case "uimage":
	default:
		return "bootm", false
	}
	return "bootm", true
}
