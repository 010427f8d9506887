package deploy

import (
	"github.com/basalt-lava/basalt/internal/actions/boot"
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "Fastboot",
		accepts: func(device, params *value.Map) (bool, string) {
			check := pipeline.MethodCheck{Section: "deploy", Method: "fastboot"}
			if ok, why := check.Named(params); !ok {
				return false, why
			}
			// Devices that find their fastboot serial at run time need no
			// serial numbers in their configuration.
			if !pipeline.Truthy(device.Value("fastboot_auto_detection")) {
				if !device.Has("adb_serial_number") {
					return false, `"adb_serial_number" is not in the device configuration`
				}
				if !device.Has("fastboot_serial_number") {
					return false, `"fastboot_serial_number" is not in the device configuration`
				}
			}
			if !device.Has("fastboot_options") {
				return false, `"fastboot_options" is not in the device configuration`
			}
			return check.Listed(device)
		},
		action: func(*value.Map) pipeline.Action { return NewFastbootDeploy() },
	})
}

// FastbootDeploy is LAVA's FastbootAction (fastboot-deploy): downloads
// the images, puts the LAVA overlay into the image that asks for it,
// gets the device into fastboot mode and flashes the images in the
// device's order.
type FastbootDeploy struct{ pipeline.Base }

var _ pipeline.Action = (*FastbootDeploy)(nil)

// NewFastbootDeploy returns fastboot-deploy.
func NewFastbootDeploy() *FastbootDeploy {
	return &FastbootDeploy{pipeline.NewBase("FastbootAction", "fastboot-deploy",
		"download files and deploy using fastboot", "fastboot deployment")}
}

// Populate follows LAVA (2026): the overlay; per image in job order its
// download, the overlay applied when the image has apply-overlay (sparse
// images unless sparse: false), and the device environment; only then,
// with everything on disk, the device is put into fastboot mode (through
// U-Boot, a PDU power cycle or adb) and flashed.
func (a *FastbootDeploy) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	overlay := a.TestNeedsOverlay(params)
	if overlay {
		p.Add(NewOverlay(), nil)
	}
	params.Map("images").Range(func(label string, v any) bool {
		img, _ := v.(*value.Map)
		p.Add(NewDownloader(label, img), nil)
		if pipeline.Truthy(img.Value("apply-overlay")) && overlay {
			if sparse, ok := img.Get("sparse"); !ok || pipeline.Truthy(sparse) {
				p.Add(NewApplyOverlaySparseImage(label), nil)
			} else {
				p.Add(NewApplyOverlayImage(label, pipeline.Truthy(img.Value("root_partition"))), nil)
			}
		}
		if overlay && a.TestNeedsDeployment(params) {
			p.Add(NewDeployDeviceEnv(), nil)
		}
		return true
	})
	AddEnterFastboot(p, &a.Base, true)
	p.Add(NewFastbootFlashOrder(), nil)
}

// AddEnterFastboot adds what puts the device into fastboot mode before
// flashing: U-Boot's fastboot command on fastboot_via_uboot devices, a
// PDU power cycle (after the pre-power command, unless the tools run in
// LXC) on devices that have one, else adb or fastboot reboot-bootloader.
func AddEnterFastboot(p *pipeline.Pipeline, b *pipeline.Base, prePower bool) {
	dev := b.Device()
	switch {
	case pipeline.Truthy(dev.Value("fastboot_via_uboot")):
		p.Add(power.NewConnectDevice(), nil)
		p.Add(boot.NewUBootEnterFastboot(), nil)
		boot.AddDetectFastbootDevice(p, b)
	case pipeline.Truthy(dev.Map("commands").Value("hard_reset")):
		p.Add(power.NewConnectDevice(), nil)
		if prePower && !boot.LXCRequested(b) {
			p.Add(power.NewPrePower(), nil)
		}
		p.Add(power.NewResetDevice(), nil)
		boot.AddDetectFastbootDevice(p, b)
	default:
		p.Add(boot.NewEnterFastboot(), nil)
	}
}

// Validate checks the images block and how fastboot will be run.
func (a *FastbootDeploy) Validate() {
	a.Base.Validate()
	validateFlashImages(&a.Base, a.Params)
	boot.ValidateContainer(&a.Base, a.Params, "fastboot")
}

// validateFlashImages checks an images block whose labels are partition
// names: at least one image, each a map with a url.
func validateFlashImages(b *pipeline.Base, params *value.Map) {
	images, ok := params.Value("images").(*value.Map)
	if !ok || images.Len() == 0 {
		b.Errorf("'images' must be a map of at least one partition to its image")
		return
	}
	images.Range(func(label string, v any) bool {
		img, ok := v.(*value.Map)
		if !ok {
			b.Errorf("images.%s must be a map with a url", label)
			return true
		}
		if _, ok := img.Value("url").(string); !ok {
			b.Errorf("images.%s: 'url' is missing", label)
		}
		if r, ok := img.Get("reboot"); ok && !validReboots[stringOf(r)] {
			b.Errorf("images.%s: unknown reboot %s, one of fastboot-reboot, fastboot-reboot-bootloader, fastboot-reboot-fastboot, hard-reset",
				label, value.GoString(r))
		}
		return true
	})
}

// validReboots are the values of an image's reboot key.
var validReboots = map[string]bool{
	"fastboot-reboot": true, "fastboot-reboot-bootloader": true,
	"fastboot-reboot-fastboot": true, "hard-reset": true,
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}

// FastbootFlashOrder is LAVA's FastbootFlashOrderAction
// (fastboot-flash-order-action): flashes the images in the order of the
// device's flash_cmds_order, then the others, each after waiting for the
// device, with the reboot an image asks for after it.
type FastbootFlashOrder struct{ pipeline.Base }

// NewFastbootFlashOrder returns fastboot-flash-order-action.
func NewFastbootFlashOrder() *FastbootFlashOrder {
	return &FastbootFlashOrder{pipeline.NewBase("FastbootFlashOrderAction", "fastboot-flash-order-action",
		"Determine support for each flash operation", "Handle reset and options for each flash url.")}
}

// FlashOrder returns the partitions to flash: those of the device's
// order that the job has, then the job's others in job order. (LAVA
// takes the others from a Python set, whose order is arbitrary; job
// order is the one a job writer expects.)
func FlashOrder(device, images *value.Map) []string {
	order, _ := device.Value("flash_cmds_order").([]any)
	seen := map[string]bool{}
	var out []string
	for _, o := range order {
		s, _ := o.(string)
		seen[s] = true
		if images.Has(s) {
			out = append(out, s)
		}
	}
	for _, k := range images.Keys() {
		if !seen[k] {
			out = append(out, k)
		}
	}
	return out
}

// Populate adds read-feedback, then per partition a wait for the device
// and the flash, and the image's reboot followed by read-feedback.
func (a *FastbootFlashOrder) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	dev := a.Device()
	images := params.Map("images")
	serial := dev.Value("fastboot_serial_number")
	p.Add(power.NewReadFeedback(), nil)
	for _, part := range FlashOrder(dev, images) {
		p.Add(boot.NewWaitDeviceBoardID(serial), nil)
		p.Add(NewFastbootFlash(part), nil)
		var reboot pipeline.Action
		switch images.Map(part).String("reboot") {
		case "fastboot-reboot":
			reboot = newFastbootRebootBetween("FastbootReboot", "fastboot-reboot",
				"Reset a device between flash operations using fastboot reboot.",
				"execute a reboot using fastboot")
		case "fastboot-reboot-bootloader":
			reboot = newFastbootRebootBetween("FastbootRebootBootloader", "fastboot-reboot-bootloader",
				"Reset a device between flash operations using fastboot reboot-bootloader.",
				"execute a reboot to bootloader using fastboot")
		case "fastboot-reboot-fastboot":
			reboot = newFastbootRebootBetween("FastbootRebootFastboot", "fastboot-reboot-fastboot",
				"Reset a device between flash operations using fastboot reboot fastboot.",
				"execute a reboot to fastbootd using fastboot")
		case "hard-reset":
			reboot = power.NewPDUReboot()
		}
		if reboot != nil {
			p.Add(reboot, nil)
			p.Add(power.NewReadFeedback(), nil)
		}
	}
}

// Validate checks what flashing needs from the device: a fastboot
// connection, a real serial number, the flash order and the options.
func (a *FastbootFlashOrder) Validate() {
	a.Base.Validate()
	dev := a.Device()
	boot.ValidateFastbootConnection(&a.Base)
	if !dev.Has("flash_cmds_order") {
		a.Errorf("device flash commands order missing")
	} else if _, ok := dev.Value("flash_cmds_order").([]any); !ok {
		a.Errorf("device flash commands order is not a list")
	}
	boot.ValidateFastbootDeviceDetected(&a.Base)
}

// FastbootFlash is LAVA's FastbootFlashAction (fastboot-flash-action):
// `fastboot flash <partition> <image>`.
type FastbootFlash struct {
	leaf
	Partition string
}

// NewFastbootFlash returns fastboot-flash-action for a partition.
func NewFastbootFlash(partition string) *FastbootFlash {
	return &FastbootFlash{leaf: leaf{pipeline.NewBase("FastbootFlashAction", "fastboot-flash-action",
		"Run a specified flash command", "Execute fastboot flash command")}, Partition: partition}
}

// Validate needs a partition and a device that can be flashed.
func (a *FastbootFlash) Validate() {
	a.leaf.Validate()
	if a.Partition == "" {
		a.Errorf("invalid configuration - missing flash command")
	}
	boot.ValidateFastbootConnection(&a.Base)
	boot.ValidateContainer(&a.Base, a.Params, "fastboot")
}

// fastbootRebootBetween is one of LAVA's FastbootReboot,
// FastbootRebootBootloader and FastbootRebootFastboot: a reboot between
// two flashes, as the image's reboot key asks.
type fastbootRebootBetween struct{ leaf }

func newFastbootRebootBetween(class, name, description, summary string) *fastbootRebootBetween {
	return &fastbootRebootBetween{leaf{pipeline.NewBase(class, name, description, summary)}}
}

// Validate checks the device can be reached over fastboot.
func (a *fastbootRebootBetween) Validate() {
	a.leaf.Validate()
	boot.ValidateFastbootConnection(&a.Base)
	boot.ValidateFastbootDeviceDetected(&a.Base)
	boot.ValidateContainer(&a.Base, a.Params, "fastboot")
}

// ApplyOverlaySparseImage is LAVA's ApplyOverlaySparseImage
// (apply-overlay-sparse-image): converts the Android sparse image to a
// raw one, copies the overlay in, and converts it back.
type ApplyOverlaySparseImage struct {
	leaf
	Key string
}

// NewApplyOverlaySparseImage returns apply-overlay-sparse-image for the
// image labelled key.
func NewApplyOverlaySparseImage(key string) *ApplyOverlaySparseImage {
	return &ApplyOverlaySparseImage{leaf: leaf{pipeline.NewBase("ApplyOverlaySparseImage", "apply-overlay-sparse-image",
		"apply overlay to sparse image", "apply overlay to sparse image")}, Key: key}
}

// Validate warns about the host tools the conversion needs.
func (a *ApplyOverlaySparseImage) Validate() {
	a.leaf.Validate()
	for _, tool := range []string{"simg2img", "img2simg", "mount", "umount"} {
		warnMissingTool(&a.Base, tool)
	}
}

// ApplyOverlayImage is LAVA's ApplyOverlayImage (apply-overlay-image):
// copies the overlay into a raw image, into its root_partition when the
// image is partitioned.
type ApplyOverlayImage struct {
	leaf
	Key              string
	UseRootPartition bool
}

// NewApplyOverlayImage returns apply-overlay-image for the image
// labelled key.
func NewApplyOverlayImage(key string, useRootPartition bool) *ApplyOverlayImage {
	return &ApplyOverlayImage{leaf: leaf{pipeline.NewBase("ApplyOverlayImage", "apply-overlay-image",
		"apply overlay via guestfs to the test image", "apply overlay to test image")},
		Key: key, UseRootPartition: useRootPartition}
}

// Validate needs the root partition to be a partition number when one is
// used: LAVA only finds out when it runs.
func (a *ApplyOverlayImage) Validate() {
	a.leaf.Validate()
	if !a.UseRootPartition {
		return
	}
	img := a.Params.Map("images").Map(a.Key)
	if img == nil {
		img = a.Params.Map(a.Key)
	}
	if img == nil {
		a.Errorf("unable to find image configuration for '%s'", a.Key)
		return
	}
	if _, ok := img.Value("root_partition").(int); !ok {
		a.Errorf("unable to apply the overlay image without 'root_partition'")
	}
}
