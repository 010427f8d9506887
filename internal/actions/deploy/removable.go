package deploy

import (
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "Removable",
		accepts: func(device, params *value.Map) (bool, string) {
			media := params.String("to")
			if media != "sata" && media != "sd" && media != "usb" {
				return false, `"media" was not "sata", "sd", or "usb"`
			}
			mm := device.Map("parameters").Map("media")
			if mm == nil {
				return false, `"parameters" was not in the device or "media" was not in the parameters`
			}
			dev, _ := params.Value("device").(string)
			if !mm.Map(media).Has(dev) {
				return false, `media was not in the device "media" parameters`
			}
			if !mm.Map(media).Map(dev).Has("uuid") {
				return false, `"uuid" was not in the parameters for the media device ` + dev
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewMassStorage() },
	})
	pipeline.Register(&strategy{
		name: "UBootUMS",
		accepts: func(device, params *value.Map) (bool, string) {
			check := pipeline.MethodCheck{Section: "deploy", Method: "u-boot-ums"}
			if ok, why := check.Named(params); !ok {
				return false, why
			}
			if !params.Has("image") {
				return false, `"image" was not in the deploy parameters`
			}
			return check.Listed(device)
		},
		action: func(*value.Map) pipeline.Action { return NewUBootUMSDeploy() },
	})
}

// MassStorage is LAVA's MassStorage (storage-deploy, `to: sata|sd|usb`):
// from a running system (an earlier ramdisk boot), writes an image to a
// removable drive of the device with dd; the device names the drive by
// UUID in parameters.media.
type MassStorage struct{ pipeline.Base }

var _ pipeline.Action = (*MassStorage)(nil)

// NewMassStorage returns storage-deploy.
func NewMassStorage() *MassStorage {
	return &MassStorage{pipeline.NewBase("MassStorage", "storage-deploy",
		"Deploy image to mass storage", "write image to storage")}
}

// Populate downloads the image (or images, in the job's order: current
// LAVA; 2023.01 sorted the labels), applies the overlay where asked, then writes the drive.
func (a *MassStorage) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	overlay := a.TestNeedsOverlay(params)
	if overlay {
		p.Add(NewOverlay(), nil)
	}
	if images := params.Map("images"); images != nil {
		images.Range(func(k string, v any) bool {
			img, _ := v.(*value.Map)
			p.Add(NewDownloader(k, img), nil)
			if overlay && pipeline.Truthy(img.Value("apply-overlay")) {
				p.Add(NewApplyOverlayImage(k, true), nil)
			}
			return true
		})
		p.Add(NewDD(), nil)
	} else if img := params.Map("image"); img != nil {
		p.Add(NewDownloader("image", img), nil)
		if overlay {
			p.Add(NewApplyOverlayImage("image", true), nil)
		}
		p.Add(NewDD(), nil)
	}
	if a.TestNeedsDeployment(params) {
		p.Add(NewDeployDeviceEnv(), nil)
	}
}

// Validate needs the drive's device. Nothing to write is allowed, as in
// LAVA: the drive may hold the image already, for a later boot from it.
func (a *MassStorage) Validate() {
	a.Base.Validate()
	if !a.Params.Has("device") {
		a.Errorf("no device specified for mass storage deployment")
	}
}

// DD is LAVA's DDAction (dd-image): on the booted device, fetches the
// image from the dispatcher and writes it to the drive with the device's
// download tool and dd.
type DD struct{ leaf }

// NewDD returns dd-image.
func NewDD() *DD {
	a := &DD{leaf{pipeline.NewBase("DDAction", "dd-image", "deploy image to drive", "write image to drive")}}
	a.DefaultTimeout = 600 // writing a whole image takes minutes
	return a
}

// Validate checks the drive and the download tool, as LAVA does: the
// media entry with its uuid and device_id, and the tool's prompts and
// options in the device's boot method for the medium.
func (a *DD) Validate() {
	a.leaf.Validate()
	media := a.Params.String("to")
	devName, _ := a.Params.Value("device").(string)
	drive := a.Device().Map("parameters").Map("media").Map(media).Map(devName)
	if drive == nil {
		a.Errorf("media %s device %s is not in the device's parameters.media", media, devName)
		return
	}
	if !drive.Has("uuid") {
		a.Errorf("unable to find disk by uuid for %s", devName)
	}
	if !drive.Has("device_id") {
		a.Errorf("missing device_id for %s", devName)
	}
	if v, ok := a.Params.Get("download"); ok {
		dl, isMap := v.(*value.Map)
		if !isMap || !dl.Has("tool") || !dl.Has("options") || !dl.Has("prompt") {
			a.Errorf("download needs tool, options and prompt")
		}
	}
}

// UBootUMSDeploy is LAVA's UBootUMSAction (uboot-ums-deploy, `to:
// u-boot-ums`): downloads the image that a u-boot boot writes over USB
// mass storage, with the overlay applied.
type UBootUMSDeploy struct{ pipeline.Base }

var _ pipeline.Action = (*UBootUMSDeploy)(nil)

// NewUBootUMSDeploy returns uboot-ums-deploy.
func NewUBootUMSDeploy() *UBootUMSDeploy {
	return &UBootUMSDeploy{pipeline.NewBase("UBootUMSAction", "uboot-ums-deploy",
		"download image and deploy using uboot mass storage emulation", "uboot-ums deployment")}
}

// Populate downloads the image, then the overlay when a test needs it.
func (a *UBootUMSDeploy) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(NewDownloader("image", params.Map("image")), nil)
	if a.TestNeedsOverlay(params) {
		p.Add(NewOverlay(), nil)
		p.Add(NewApplyOverlayImage("image", true), nil)
		if a.TestNeedsDeployment(params) {
			p.Add(NewDeployDeviceEnv(), nil)
		}
	}
}
