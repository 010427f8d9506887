package boot

import (
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "DFU",
		accepts: func(device, params *value.Map) (bool, string) {
			if ok, why := (pipeline.MethodCheck{Section: "boot", Method: "dfu"}).Accepts(device, params); !ok {
				return false, why
			}
			if !device.Has("board_id") {
				return false, `"board_id" is not in the device configuration`
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewBootDFURetry() },
	})
}

// BootDFURetry is LAVA's BootDFURetry (boot-dfu-retry, `method: dfu`):
// puts the board in USB DFU mode (by hardware, or from u-boot with the
// device's enter-commands) and flashes the deployed images with
// dfu-util.
type BootDFURetry struct{ pipeline.Base }

var _ pipeline.Action = (*BootDFURetry)(nil)

// NewBootDFURetry returns boot-dfu-retry.
func NewBootDFURetry() *BootDFURetry {
	a := &BootDFURetry{pipeline.NewBase("BootDFURetry", "boot-dfu-retry",
		"boot dfu image using the command line interface", "boot dfu image")}
	a.Retry = true
	return a
}

// Populate interrupts u-boot and enters DFU from its shell only for the
// u-boot implementation; hardware DFU starts at reset.
func (a *BootDFURetry) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(power.NewConnectDevice(), nil)
	p.Add(power.NewResetDevice(), nil)
	if bootMethod(a.Device(), "dfu").String("implementation") == "u-boot" {
		p.Add(NewBootloaderInterrupt("u-boot"), nil)
		p.Add(NewEnterDFU(), nil)
	}
	p.Add(NewWaitDFUDevice(), nil)
	p.Add(NewFlashDFU(), nil)
}

// EnterDFU is LAVA's EnterDFU (enter-dfu): sends the device's
// enter-commands at the u-boot prompt, the last of which starts DFU.
type EnterDFU struct{ leaf }

// NewEnterDFU returns enter-dfu.
func NewEnterDFU() *EnterDFU {
	return &EnterDFU{leaf{pipeline.NewBase("EnterDFU", "enter-dfu",
		"enter software dfu mode", "enter software dfu mode")}}
}

// Validate needs enter-commands as a list.
func (a *EnterDFU) Validate() {
	a.leaf.Validate()
	v, ok := bootMethodParams(a.Device(), "dfu").Get("enter-commands")
	if !ok {
		a.Errorf(`"enter-commands" is not defined`)
	} else if _, isList := v.([]any); !isList {
		a.Errorf(`"enter-commands" should be a list`)
	}
}

// WaitDFUDevice is LAVA's WaitDFUDeviceAction (wait-dfu-device): waits
// for udev to show the board's DFU device.
type WaitDFUDevice struct{ leaf }

// NewWaitDFUDevice returns wait-dfu-device.
func NewWaitDFUDevice() *WaitDFUDevice {
	return &WaitDFUDevice{leaf{pipeline.NewBase("WaitDFUDeviceAction", "wait-dfu-device",
		"wait for DFU device", "wait for DFU device")}}
}

// Validate rejects the placeholder USB IDs.
func (a *WaitDFUDevice) Validate() {
	a.leaf.Validate()
	validateUSBIDs(&a.Base, "[DFU] board_id unset")
}

// FlashDFU is LAVA's FlashDFUAction (flash-dfu): runs the device's DFU
// command once per deployed image, with the image's image_arg.
type FlashDFU struct{ leaf }

// NewFlashDFU returns flash-dfu.
func NewFlashDFU() *FlashDFU {
	return &FlashDFU{leaf{pipeline.NewBase("FlashDFUAction", "flash-dfu",
		"use dfu to flash the images", "use dfu to flash the images")}}
}

// Validate needs the DFU command (a missing binary is a warning), real
// USB IDs, and for every image deployed before this boot in the
// namespace a string image_arg; at least one image.
func (a *FlashDFU) Validate() {
	a.leaf.Validate()
	dev := a.Device()
	cmd, ok := bootMethodParams(dev, "dfu").Value("command").(string)
	if !ok || cmd == "" {
		a.Errorf("invalid parameters for %s: the device's dfu method has no command", a.Name)
	} else {
		warnMissingTool(&a.Base, cmd)
	}
	for _, k := range []string{"board_id", "usb_vendor_id", "usb_product_id"} {
		if !dev.Has(k) {
			a.Errorf("invalid parameters for %s: the device has no %s", a.Name, k)
		}
	}
	if dev.Value("board_id") == unsetBoardID {
		a.Errorf("[FLASH_DFU] board_id unset")
	}
	if dev.Value("usb_vendor_id") == "0000" {
		a.Errorf("[FLASH_DFU] usb_vendor_id unset")
	}
	if dev.Value("usb_product_id") == "0000" {
		a.Errorf("[FLASH_DFU] usb_product_id unset")
	}
	n := 0
	for _, img := range deployedImages(&a.Base) {
		n++
		arg, has := img.params.Get("image_arg")
		if _, isStr := arg.(string); has && !isStr {
			a.Errorf("image_arg is not a string (try quoting it)")
		} else if !has || arg == "" {
			a.Errorf("missing image_arg for %s", img.label)
		}
	}
	if n == 0 {
		a.Errorf("no DFU command to execute")
	}
}

// deployedImage is one image a deploy of the block's namespace downloads.
type deployedImage struct {
	label  string
	params *value.Map
}

// deployedImages returns the images (deploy `images:` entries) of the
// deploy blocks before this action's block in its namespace: what LAVA
// finds in the namespace's download-action data when it validates.
func deployedImages(b *pipeline.Base) []deployedImage {
	if b.Job == nil {
		return nil
	}
	ns := pipeline.Namespace(b.Params)
	var out []deployedImage
	for _, item := range b.Job.Params.List("actions") {
		blk, _ := item.(*value.Map)
		if blk.Map("boot") == b.Params {
			break
		}
		dp := blk.Map("deploy")
		if dp == nil || pipeline.Namespace(dp) != ns {
			continue
		}
		dp.Map("images").Range(func(label string, v any) bool {
			m, _ := v.(*value.Map)
			out = append(out, deployedImage{label, m})
			return true
		})
	}
	return out
}
