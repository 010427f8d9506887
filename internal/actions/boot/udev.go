package boot

import (
	"github.com/basalt-lava/basalt/internal/pipeline"
)

// The udev waits: actions that block until the device shows up on the
// dispatcher's USB bus in the shape the next step needs (a serial tty, a
// mass-storage partition, a fastboot or EDL device). LAVA keeps them in
// utils/udev.py; they live here because both deploy (which imports boot)
// and boot families use them.

// unsetBoardID is the placeholder LAVA's device templates render when a
// device dictionary does not set board_id.
const unsetBoardID = "0000000000"

// WaitDeviceBoardID is LAVA's WaitDeviceBoardID (wait-device-boardid):
// waits for a udev device whose ID_SERIAL_SHORT is the board ID.
type WaitDeviceBoardID struct {
	leaf
	// BoardID is the serial to wait for; when empty, the device's
	// board_id is used, as LAVA does when it is given no ID.
	BoardID any
}

// NewWaitDeviceBoardID returns wait-device-boardid for boardID (nil: the
// device's board_id).
func NewWaitDeviceBoardID(boardID any) *WaitDeviceBoardID {
	return &WaitDeviceBoardID{leaf: leaf{pipeline.NewBase("WaitDeviceBoardID", "wait-device-boardid",
		"wait for udev device with board ID", "wait for udev device with board ID")}, BoardID: boardID}
}

// Validate needs the board ID to be a string: a number would never match
// a udev serial.
func (a *WaitDeviceBoardID) Validate() {
	a.leaf.Validate()
	id := a.BoardID
	if id == nil {
		id = a.Device().Value("board_id")
	}
	if _, ok := id.(string); !ok {
		a.Errorf("invalid board_id")
	}
}

// WaitUSBSerialDevice is LAVA's WaitUSBSerialDeviceAction
// (wait-usb-serial): waits for the board's USB serial tty, identified by
// board_id, usb_vendor_id and usb_product_id.
type WaitUSBSerialDevice struct{ leaf }

// NewWaitUSBSerialDevice returns wait-usb-serial.
func NewWaitUSBSerialDevice() *WaitUSBSerialDevice {
	return &WaitUSBSerialDevice{leaf{pipeline.NewBase("WaitUSBSerialDeviceAction", "wait-usb-serial",
		"wait for USB serial device", "wait for USB serial device")}}
}

// Validate rejects the placeholder IDs the templates render when the
// device dictionary sets none, and a usb_sleep that is not a number of
// seconds.
func (a *WaitUSBSerialDevice) Validate() {
	a.leaf.Validate()
	validateUSBIDs(&a.Base, "[USBSERIAL] board_id unset")
	if v, ok := a.Device().Get("usb_sleep"); ok {
		if _, isInt := v.(int); !isInt {
			a.Errorf("usb_sleep should be an integer")
		}
	}
}

// validateUSBIDs checks board_id, usb_vendor_id and usb_product_id
// against the template placeholders.
func validateUSBIDs(b *pipeline.Base, boardMsg string) {
	dev := b.Device()
	if dev.Value("board_id") == unsetBoardID {
		b.Errorf("%s", boardMsg)
	}
	if dev.Value("usb_vendor_id") == "0000" {
		b.Errorf("usb_vendor_id unset")
	}
	if dev.Value("usb_product_id") == "0000" {
		b.Errorf("usb_product_id unset")
	}
}

// WaitUSBMassStorageDevice is LAVA's WaitUSBMassStorageDeviceAction
// (wait-usb-mass-storage-device): waits for a partition whose filesystem
// label is the device's usb_filesystem_label.
type WaitUSBMassStorageDevice struct{ leaf }

// NewWaitUSBMassStorageDevice returns wait-usb-mass-storage-device.
func NewWaitUSBMassStorageDevice() *WaitUSBMassStorageDevice {
	return &WaitUSBMassStorageDevice{leaf{pipeline.NewBase("WaitUSBMassStorageDeviceAction",
		"wait-usb-mass-storage-device", "wait for USB mass storage device", "wait for USB mass storage device")}}
}

// Validate needs the filesystem label to match on.
func (a *WaitUSBMassStorageDevice) Validate() {
	a.leaf.Validate()
	if _, ok := a.Device().Value("usb_filesystem_label").(string); !ok {
		a.Errorf("usb_fs_label unset")
	}
}

// WaitDevicePath is LAVA's WaitDevicePathAction (wait-device-path): waits
// for a udev device node to appear.
type WaitDevicePath struct {
	leaf
	Path any
}

// NewWaitDevicePath returns wait-device-path for path (from the device
// configuration, so of any type until validated).
func NewWaitDevicePath(path any) *WaitDevicePath {
	return &WaitDevicePath{leaf: leaf{pipeline.NewBase("WaitDevicePathAction", "wait-device-path",
		"wait for udev device path", "wait for udev device path")}, Path: path}
}

// Validate needs a path.
func (a *WaitDevicePath) Validate() {
	a.leaf.Validate()
	if s, ok := a.Path.(string); !ok || s == "" {
		a.Errorf("invalid device path")
	}
}
