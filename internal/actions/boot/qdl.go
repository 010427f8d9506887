package boot

import (
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "QDL",
		accepts: func(device, params *value.Map) (bool, string) {
			if ok, why := (pipeline.MethodCheck{Section: "boot", Method: "qdl"}).Accepts(device, params); !ok {
				return false, why
			}
			if !device.Has("board_qdl_id") {
				return false, `"board_qdl_id" is not in the device configuration`
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewBootQDL() },
	})
}

// unsetQDLID is the placeholder the templates render for an unset
// board_qdl_id.
const unsetQDLID = "00000000"

// BootQDL is LAVA's BootQDLRetry (boot-qdl-retry): puts a Qualcomm board
// into Emergency Download (EDL) mode and flashes the unpacked qcomflash
// build with qdl. The "boot" is the flashing; a later boot (minimal)
// starts the flashed system.
type BootQDL struct{ pipeline.Base }

var _ pipeline.Action = (*BootQDL)(nil)

// NewBootQDL returns boot-qdl-retry.
func NewBootQDL() *BootQDL {
	a := &BootQDL{pipeline.NewBase("BootQDLRetry", "boot-qdl-retry",
		"boot to EDL mode using any available method", "boot to EDL mode")}
	a.Retry = true
	return a
}

// Populate adds connect, reset, the device's EDL entry commands, the wait
// for the EDL USB device and the flash.
func (a *BootQDL) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(power.NewConnectDevice(), nil)
	p.Add(power.NewResetDevice(), nil)
	p.Add(NewEnterQDL(), nil)
	p.Add(NewWaitQDLDevice(), nil)
	p.Add(NewFlashQDL(), nil)
}

// EnterQDL is LAVA's EnterQDL (enter-qdl): runs the device's
// enter-commands on the dispatcher (e.g. a relay holding the EDL button).
type EnterQDL struct{ leaf }

// NewEnterQDL returns enter-qdl.
func NewEnterQDL() *EnterQDL {
	return &EnterQDL{leaf{pipeline.NewBase("EnterQDL", "enter-qdl", "enter QDL mode", "enter QDL mode")}}
}

// Validate needs enter-commands, a list (possibly empty).
func (a *EnterQDL) Validate() {
	a.leaf.Validate()
	v, ok := methodParams(a.Device(), "qdl").Get("enter-commands")
	if !ok {
		a.Errorf(`"enter-commands" is not defined`)
		return
	}
	if _, isList := v.([]any); !isList {
		a.Errorf(`"enter-commands" should be a list`)
	}
}

// WaitQDLDevice is LAVA's WaitQDLDeviceAction (wait-qdl-device): waits for
// the board's EDL USB device (the device's vendor and product IDs and
// board_qdl_id serial).
type WaitQDLDevice struct{ leaf }

// NewWaitQDLDevice returns wait-qdl-device.
func NewWaitQDLDevice() *WaitQDLDevice {
	return &WaitQDLDevice{leaf{pipeline.NewBase("WaitQDLDeviceAction", "wait-qdl-device",
		"wait for QDL device", "wait for QDL device")}}
}

// unsetQDLBoardID is the board_id placeholder of LAVA's qdl device
// templates.
const unsetQDLBoardID = "QUSB_BULK_CID:0420_SN:00000000"

// Validate checks what the wait matches, as LAVA's WaitQDLDeviceAction
// does: the board_id (the USB product string of the EDL device) and the
// vendor and product IDs, none left at its template placeholder.
func (a *WaitQDLDevice) Validate() {
	a.leaf.Validate()
	dev := a.Device()
	if dev.Value("board_id") == unsetQDLBoardID {
		a.Errorf("[QDL] board_id unset")
	}
	for _, k := range []string{"usb_vendor_id", "usb_product_id"} {
		if dev.Value(k) == "0000" {
			a.Errorf("%s unset", k)
		}
	}
}

func validateQDLIDs(b *pipeline.Base) {
	dev := b.Device()
	switch v, ok := dev.Get("board_qdl_id"); {
	case !ok:
		b.Errorf("board_qdl_id missing in the device configuration")
	case v == unsetQDLID:
		b.Errorf("[FLASH_QDL] board_qdl_id unset")
	}
	for _, k := range []string{"usb_vendor_id", "usb_product_id"} {
		switch v, ok := dev.Get(k); {
		case !ok:
			b.Errorf("%s missing in the device configuration", k)
		case v == "0000":
			b.Errorf("%s unset", k)
		}
	}
}

// FlashQDL is LAVA's FlashQDLAction (flash-qdl): runs `qdl [--debug]
// [--storage S] --serial <board_qdl_id> <firehose> <rawprogram> <patch>`
// in the unpacked qcomflash directory.
type FlashQDL struct{ leaf }

// NewFlashQDL returns flash-qdl.
func NewFlashQDL() *FlashQDL {
	return &FlashQDL{leaf{pipeline.NewBase("FlashQDLAction", "flash-qdl",
		"use qdl to flash flat build to the board", "use qdl to flash flat build to the board")}}
}

// Validate needs the qdl command, the block's firehose_program,
// rawprogram and patch (paths inside the qcomflash build) and the EDL
// IDs; a storage must be a string.
func (a *FlashQDL) Validate() {
	a.leaf.Validate()
	cmd, _ := methodParams(a.Device(), "qdl").Value("command").(string)
	if cmd == "" {
		a.Errorf("invalid device configuration: no qdl command")
	} else {
		warnMissingTool(&a.Base, cmd)
	}
	for _, k := range []string{"firehose_program", "rawprogram", "patch"} {
		if s, ok := a.Params.Value(k).(string); !ok || s == "" {
			a.Errorf("invalid parameters for %s: '%s' must be a non-empty string", a.Name, k)
		}
	}
	if v, ok := a.Params.Get("storage"); ok && v != nil {
		if _, isStr := v.(string); !isStr {
			a.Errorf("invalid parameters for %s: 'storage' must be a string", a.Name)
		}
	}
	validateQDLIDs(&a.Base)
}
