package boot

import (
	"slices"

	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "BootFastboot",
		// LAVA checks only the method: the device's fastboot boot
		// sequence may be empty, and fastboot-boot validates the rest.
		accepts: func(_, params *value.Map) (bool, string) {
			return pipeline.MethodCheck{Section: "boot", Method: "fastboot", NotNamed: `boot "method" was not "fastboot"`}.Named(params)
		},
		action: func(*value.Map) pipeline.Action { return NewBootFastboot() },
	})
}

// fastbootSequences are the steps a device's
// actions.boot.methods.fastboot list may name, in LAVA's
// _fastboot_sequence_map; each is preceded by a wait for the device.
var fastbootSequences = map[string]func() pipeline.Action{
	"boot":           func() pipeline.Action { return NewFastbootBoot() },
	"reboot":         func() pipeline.Action { return NewFastbootReboot() },
	"no-flash-boot":  func() pipeline.Action { return NewFastbootBoot() },
	"auto-login":     func() pipeline.Action { return NewAutoLogin(true) },
	"overlay-unpack": func() pipeline.Action { return NewOverlayUnpack() },
	"shell-session":  func() pipeline.Action { return NewExpectShell() },
	"export-env":     func() pipeline.Action { return NewExportDeviceEnv() },
}

// hasHardReset reports whether the device can be power-cycled (LAVA's
// device.hard_reset_command is truthy).
func hasHardReset(device *value.Map) bool {
	return pipeline.Truthy(device.Map("commands").Value("hard_reset"))
}

// BootFastboot is LAVA's BootFastbootAction (fastboot-boot): gets the
// device into fastboot mode, runs the device's fastboot boot sequence,
// then logs in when the device has a console.
type BootFastboot struct{ pipeline.Base }

var _ pipeline.Action = (*BootFastboot)(nil)

// NewBootFastboot returns fastboot-boot.
func NewBootFastboot() *BootFastboot {
	a := &BootFastboot{pipeline.NewBase("BootFastbootAction", "fastboot-boot",
		"fastboot boot into the system", "fastboot boot")}
	a.Retry = true
	return a
}

// Populate follows LAVA: the block's fastboot commands first; then into
// fastboot mode through U-Boot, a power cycle, or adb/fastboot
// reboot-bootloader (devices without a PDU, like phones); then the
// device's sequence; then pre-os and login on devices with a console
// (they are the ones with a PDU), or adb on the others.
func (a *BootFastboot) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	dev := a.Device()
	if pipeline.Truthy(params.Value("commands")) {
		p.Add(NewFastbootBootCommands(), nil)
	}
	serial := dev.Value("fastboot_serial_number")
	switch {
	case pipeline.Truthy(dev.Value("fastboot_via_uboot")):
		p.Add(power.NewConnectDevice(), nil)
		p.Add(NewUBootEnterFastboot(), nil)
		AddDetectFastbootDevice(p, &a.Base)
	case hasHardReset(dev):
		p.Add(power.NewConnectDevice(), nil)
		p.Add(power.NewResetDevice(), nil)
		AddDetectFastbootDevice(p, &a.Base)
	default:
		p.Add(NewWaitDeviceBoardID(serial), nil)
		p.Add(NewEnterFastboot(), nil)
	}
	seqs, _ := pipeline.DeviceMethods(dev, "boot").Value("fastboot").([]any)
	for _, s := range seqs {
		p.Add(NewWaitDeviceBoardID(serial), nil)
		name, _ := s.(string)
		if mk := fastbootSequences[name]; mk != nil {
			p.Add(mk(), nil)
		}
	}
	if hasHardReset(dev) {
		// LAVA (2026) runs pre_os_command here also when fastboot runs in
		// a container: the command switches the board's USB, not the
		// container's.
		p.Add(power.NewPreOs(), nil)
		if params.Has("prompts") {
			p.Add(NewAutoLogin(true), nil)
			if a.TestHasShell(params) {
				p.Add(NewExpectShell(), nil)
				if params.Has("transfer_overlay") {
					p.Add(NewOverlayUnpack(), nil)
				}
				p.Add(NewExportDeviceEnv(), nil)
			}
		}
	} else if !InContainer(&a.Base, params) {
		p.Add(NewConnectAdb(), nil)
		p.Add(NewAdbOverlayUnpack(), nil)
	}
}

// Validate checks the device's fastboot boot sequence: a list whose
// steps LAVA knows. An unknown step would be skipped silently at run
// time, so it is an error here.
func (a *BootFastboot) Validate() {
	a.Base.Validate()
	methods := pipeline.DeviceMethods(a.Device(), "boot")
	v, ok := methods.Get("fastboot")
	if ok && v == nil {
		a.Errorf("fastboot_sequence undefined")
	}
	if seqs, isList := v.([]any); isList {
		for _, s := range seqs {
			name, _ := s.(string)
			if fastbootSequences[name] == nil {
				a.Errorf("unknown boot sequence '%v', one of %v", s, sequenceNames())
			}
		}
	} else if ok && v != nil {
		a.Errorf("the device's fastboot boot sequence must be a list")
	}
	if c, ok := a.Params.Get("commands"); ok {
		if _, isList := c.([]any); !isList {
			a.Errorf("'commands' must be a list of fastboot commands")
		}
	}
	ValidateContainer(&a.Base, a.Params, "fastboot")
}

// ValidateFastbootDevice checks what every fastboot command line needs
// from the device: a real fastboot serial number and a list of options.
// withADB adds the adb serial number, for actions that also run adb.
func ValidateFastbootDevice(b *pipeline.Base, withADB bool) {
	validateFastbootDevice(b, withADB, false)
}

// ValidateFastbootDeviceDetected is ValidateFastbootDevice for the
// actions that run after detect-fastboot-device: on a device with
// fastboot_auto_detection the serial number may be left unset, since the
// detection finds it (current LAVA).
func ValidateFastbootDeviceDetected(b *pipeline.Base) {
	validateFastbootDevice(b, false, pipeline.Truthy(b.Device().Value("fastboot_auto_detection")))
}

func validateFastbootDevice(b *pipeline.Base, withADB, detected bool) {
	dev := b.Device()
	if withADB {
		switch v, ok := dev.Get("adb_serial_number"); {
		case !ok:
			b.Errorf("device adb serial number missing")
		case v == unsetBoardID:
			b.Errorf("device adb serial number unset")
		}
	}
	switch v, ok := dev.Get("fastboot_serial_number"); {
	case detected:
	case !ok:
		b.Errorf("device fastboot serial number missing")
	case v == unsetBoardID:
		b.Errorf("device fastboot serial number unset")
	}
	switch v, ok := dev.Get("fastboot_options"); {
	case !ok:
		b.Errorf("device fastboot options missing")
	default:
		if _, isList := v.([]any); !isList {
			b.Errorf("device fastboot options is not a list")
		}
	}
}

// FastbootBootCommands is LAVA's BootFastbootCommands
// (fastboot-boot-commands): runs the block's commands as fastboot
// arguments before booting (e.g. --set-active=_a).
type FastbootBootCommands struct{ leaf }

// NewFastbootBootCommands returns fastboot-boot-commands.
func NewFastbootBootCommands() *FastbootBootCommands {
	return &FastbootBootCommands{leaf{pipeline.NewBase("BootFastbootCommands", "fastboot-boot-commands",
		"Run custom fastboot commands before boot", "Run fastboot boot commands")}}
}

// Validate needs each command to be a string.
func (a *FastbootBootCommands) Validate() {
	a.leaf.Validate()
	cmds, _ := a.Params.Value("commands").([]any)
	for i, c := range cmds {
		if s, ok := c.(string); !ok || s == "" {
			a.Errorf("commands[%d] must be a non-empty string", i)
		}
	}
	ValidateFastbootDeviceDetected(&a.Base)
	ValidateContainer(&a.Base, a.Params, "fastboot")
}

// FastbootBoot is LAVA's FastbootBootAction (boot-fastboot): `fastboot
// boot` with the downloaded boot image.
type FastbootBoot struct{ leaf }

// NewFastbootBoot returns boot-fastboot.
func NewFastbootBoot() *FastbootBoot {
	return &FastbootBoot{leaf{pipeline.NewBase("FastbootBootAction", "boot-fastboot",
		"fastboot boot into system", "attempt to fastboot boot")}}
}

// Validate checks the device's fastboot settings.
func (a *FastbootBoot) Validate() {
	a.leaf.Validate()
	ValidateFastbootDeviceDetected(&a.Base)
	ValidateContainer(&a.Base, a.Params, "fastboot")
}

// FastbootReboot is LAVA's FastbootRebootAction (fastboot-reboot, in a
// boot): `fastboot reboot` into the flashed system.
type FastbootReboot struct{ leaf }

// NewFastbootReboot returns the boot's fastboot-reboot.
func NewFastbootReboot() *FastbootReboot {
	return &FastbootReboot{leaf{pipeline.NewBase("FastbootRebootAction", "fastboot-reboot",
		"fastboot reboot into system", "attempt to fastboot reboot")}}
}

// Validate checks the device's fastboot settings.
func (a *FastbootReboot) Validate() {
	a.leaf.Validate()
	ValidateFastbootDeviceDetected(&a.Base)
	ValidateContainer(&a.Base, a.Params, "fastboot")
}

// EnterFastboot is LAVA's EnterFastbootAction (enter-fastboot-action):
// `adb reboot-bootloader` when the device is up in adb, else `fastboot
// reboot-bootloader` when it already is in fastboot.
type EnterFastboot struct{ leaf }

// NewEnterFastboot returns enter-fastboot-action.
func NewEnterFastboot() *EnterFastboot {
	return &EnterFastboot{leaf{pipeline.NewBase("EnterFastbootAction", "enter-fastboot-action",
		"enter fastboot bootloader", "enter fastboot")}}
}

// Validate checks the adb and fastboot serial numbers and options.
func (a *EnterFastboot) Validate() {
	a.leaf.Validate()
	ValidateFastbootDevice(&a.Base, true)
	ValidateContainer(&a.Base, a.Params, "adb", "fastboot")
}

// WaitFastbootInterrupt is LAVA's WaitFastBootInterrupt
// (wait-fastboot-interrupt): waits on the console for the device's
// fastboot interrupt prompt and sends the interrupt string, to leave
// fastboot for the next bootloader (grub on HiKey 960).
type WaitFastbootInterrupt struct{ leaf }

// NewWaitFastbootInterrupt returns wait-fastboot-interrupt.
func NewWaitFastbootInterrupt() *WaitFastbootInterrupt {
	return &WaitFastbootInterrupt{leaf{pipeline.NewBase("WaitFastBootInterrupt", "wait-fastboot-interrupt",
		"Check for prompt and pass the interrupt string to exit fastboot.",
		"watch output and try to interrupt fastboot")}}
}

// Validate needs the fastboot settings and the interrupt prompt and
// string from the device's fastboot deploy method.
func (a *WaitFastbootInterrupt) Validate() {
	a.leaf.Validate()
	ValidateFastbootDevice(&a.Base, false)
	fb := pipeline.DeviceMethods(a.Device(), "deploy").Map("fastboot")
	if !pipeline.Truthy(fb.Value("interrupt_prompt")) || !pipeline.Truthy(fb.Value("interrupt_string")) {
		a.Errorf("missing interrupt configuration for device")
	}
}

// ConnectAdb is LAVA's ConnectAdb (connect-adb): an `adb shell` session
// as the job's connection, for devices without a serial console.
type ConnectAdb struct{ leaf }

// NewConnectAdb returns connect-adb.
func NewConnectAdb() *ConnectAdb {
	return &ConnectAdb{leaf{pipeline.NewBase("ConnectAdb", "connect-adb",
		"connect via adb shell to the device", "run connection command")}}
}

// Validate follows LAVA, which only checks devices that list an adb boot
// method: they need an adb serial number and an adb connection.
func (a *ConnectAdb) Validate() {
	a.leaf.Validate()
	dev := a.Device()
	if !hasMethod(dev, "adb") {
		return
	}
	if !dev.Has("adb_serial_number") {
		a.Errorf("device adb serial number missing")
	}
	v, _ := dev.Lookup("actions", "boot", "connections")
	if m, _ := v.(*value.Map); !m.Has("adb") {
		a.Errorf("device not configured to support adb connection")
	}
	warnMissingTool(&a.Base, "adb")
}

// AdbOverlayUnpack is LAVA's AdbOverlayUnpack (adb-overlay-unpack): `adb
// push` of the overlay tarball and unpacking it on the device.
type AdbOverlayUnpack struct{ leaf }

// NewAdbOverlayUnpack returns adb-overlay-unpack.
func NewAdbOverlayUnpack() *AdbOverlayUnpack {
	return &AdbOverlayUnpack{leaf{pipeline.NewBase("AdbOverlayUnpack", "adb-overlay-unpack",
		"unpack the overlay over adb", "unpack the overlay on the remote device")}}
}

// Validate needs a usable adb serial number.
func (a *AdbOverlayUnpack) Validate() {
	a.leaf.Validate()
	switch v, ok := a.Device().Get("adb_serial_number"); {
	case !ok:
		a.Errorf("device adb serial number missing")
	case v == unsetBoardID:
		a.Errorf("device adb serial number unset")
	}
}

// fastbootConnections reports whether the device lists a fastboot
// connection for deploying, which flashing needs.
func fastbootConnections(device *value.Map) bool {
	v, _ := device.Lookup("actions", "deploy", "connections")
	m, _ := v.(*value.Map)
	return m.Has("fastboot")
}

// ValidateFastbootConnection records LAVA's error for a device that
// cannot be flashed over fastboot.
func ValidateFastbootConnection(b *pipeline.Base) {
	if !fastbootConnections(b.Device()) {
		b.Errorf("device not configured to support fastboot deployment connections")
	}
}

// sequenceNames lists the known fastboot boot sequence steps, sorted,
// for messages and tests.
func sequenceNames() []string {
	var out []string
	for k := range fastbootSequences {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// DetectFastbootDevice is LAVA's DetectFastbootDevice
// (detect-fastboot-device): on a device with fastboot_auto_detection and
// no serial number (0000000000), once the device has been put into
// fastboot mode, finds the one device `fastboot devices` lists and uses
// its serial number as the fastboot, adb and board id.
type DetectFastbootDevice struct{ leaf }

// NewDetectFastbootDevice returns detect-fastboot-device.
func NewDetectFastbootDevice() *DetectFastbootDevice {
	return &DetectFastbootDevice{leaf{pipeline.NewBase("DetectFastbootDevice", "detect-fastboot-device",
		"Detect fastboot device serial number.", "Set fastboot SN if only one device found.")}}
}

// Validate needs the fastboot tool, on the dispatcher or in the container.
func (a *DetectFastbootDevice) Validate() {
	a.leaf.Validate()
	ValidateContainer(&a.Base, a.Params, "fastboot")
}

// detectFastbootAdded is the namespace data that says the detection is
// already in the namespace's pipeline: LAVA adds it once per namespace,
// in the first of the fastboot deploy and boot that puts the device into
// fastboot mode.
const detectFastbootAdded = "detect-fastboot-device/detect-fastboot-device/added"

// AddDetectFastbootDevice adds detect-fastboot-device to p when the
// device asks for auto detection, has no serial number, and the
// namespace does not have the detection yet.
func AddDetectFastbootDevice(p *pipeline.Pipeline, b *pipeline.Base) {
	dev := b.Device()
	if dev.Value("fastboot_serial_number") != unsetBoardID || !pipeline.Truthy(dev.Value("fastboot_auto_detection")) {
		return
	}
	if b.Job == nil || b.Data(detectFastbootAdded) != nil {
		return
	}
	p.Add(NewDetectFastbootDevice(), nil)
	b.SetData(detectFastbootAdded, true)
}
