package boot

import (
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "CMSIS",
		accepts: func(device, params *value.Map) (bool, string) {
			check := pipeline.MethodCheck{Section: "boot", Method: "cmsis-dap",
				NotListed: `"cmsis-dap" is not in the device configuration boot methods`}
			if ok, why := check.Accepts(device, params); !ok {
				return false, why
			}
			m := pipeline.DeviceMethods(device, "boot").Map("cmsis-dap")
			switch {
			case !device.Has("board_id"):
				return false, `device has no "board_id" configured`
			case !m.Has("parameters"):
				return false, `"parameters" was not in the device boot method configuration for "cmsis-dap"`
			case !m.Map("parameters").Has("usb_mass_device"):
				return false, `"usb_mass_device" was not in the device configuration "cmsis-dap" boot method parameters`
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewBootCMSIS() },
	})
}

// BootCMSIS is LAVA's BootCMSISRetry (boot-cmsis-retry): flashes a board
// by copying the images to its CMSIS-DAP (DAPLink) mass storage, waits
// for its serial port, and connects.
type BootCMSIS struct{ pipeline.Base }

var _ pipeline.Action = (*BootCMSIS)(nil)

// NewBootCMSIS returns boot-cmsis-retry.
func NewBootCMSIS() *BootCMSIS {
	a := &BootCMSIS{pipeline.NewBase("BootCMSISRetry", "boot-cmsis-retry",
		"boot cmsis usb image with retry", "boot cmsis usb image with retry")}
	a.Retry = true
	return a
}

// Populate follows LAVA: a power cycle and a wait for the storage on
// devices with a PDU, the flash, the wait for the serial port when the
// board resets after flashing (resets_after_flash, default true), and
// the connection.
func (a *BootCMSIS) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	mp := methodParams(a.Device(), "cmsis-dap")
	if hasHardReset(a.Device()) {
		p.Add(power.NewResetDevice(), nil)
		p.Add(NewWaitDevicePath(mp.Value("usb_mass_device")), nil)
	}
	p.Add(NewFlashCMSIS(), nil)
	if v, ok := mp.Get("resets_after_flash"); !ok || pipeline.Truthy(v) {
		p.Add(NewWaitUSBSerialDevice(), nil)
	}
	p.Add(power.NewConnectDevice(), nil)
}

// Validate needs the storage to copy to.
func (a *BootCMSIS) Validate() {
	a.Base.Validate()
	if !pipeline.Truthy(methodParams(a.Device(), "cmsis-dap").Value("usb_mass_device")) {
		a.Errorf("usb_mass_device unset")
	}
}

// FlashCMSIS is LAVA's FlashCMSISAction (flash-cmsis): mounts the
// board's storage, copies every downloaded image of the namespace, waits
// for the board to take them (it unmounts and remounts itself) and
// checks for FAIL.TXT.
type FlashCMSIS struct{ leaf }

// NewFlashCMSIS returns flash-cmsis.
func NewFlashCMSIS() *FlashCMSIS {
	return &FlashCMSIS{leaf{pipeline.NewBase("FlashCMSISAction", "flash-cmsis",
		"flash cmsis to usb mass storage", "flash cmsis to usb mass storage")}}
}

// Validate needs a board ID, the storage, something to copy, and the
// numbers of the optional delays.
func (a *FlashCMSIS) Validate() {
	a.leaf.Validate()
	validateBoardID(&a.Base, "[FLASH_CMSIS] board_id unset")
	mp := methodParams(a.Device(), "cmsis-dap")
	if !pipeline.Truthy(mp.Value("usb_mass_device")) {
		a.Errorf("usb_mass_device unset")
	}
	if deployed(&a.Base, a.Params).Len() == 0 {
		a.Errorf("no image deployed in namespace '%s' to flash", pipeline.Namespace(a.Params))
	}
	if v, ok := mp.Get("post_unmount_delay"); ok {
		if _, isNum := pipeline.ToInt(v); !isNum {
			a.Errorf("post_unmount_delay must be a number of seconds, not %s", value.GoString(v))
		}
	}
	for _, tool := range []string{"mount", "umount"} {
		warnMissingTool(&a.Base, tool)
	}
}
