package deploy

import (
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "DeployImages",
		accepts: func(device, params *value.Map) (bool, string) {
			check := pipeline.MethodCheck{Section: "deploy", Method: "image", Name: "tmpfs",
				NotListed: `"image" is not in the device configuration deploy methods`}
			if ok, why := check.Accepts(device, params); !ok {
				return false, why
			}
			if !params.Has("images") {
				return false, `"images" was not in the deployment parameters`
			}
			if params.Has("type") && params.Value("type") != "monitor" {
				return false, `"type" parameter was set but it was not "monitor"`
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewDeployImages() },
	})
}

// DeployImages is LAVA's DeployImagesAction (deployimages, `to: tmpfs`):
// downloads the QEMU images and prepares the overlay disk.
type DeployImages struct{ pipeline.Base }

var _ pipeline.Action = (*DeployImages)(nil)

// NewDeployImages returns deployimages.
func NewDeployImages() *DeployImages {
	return &DeployImages{pipeline.NewBase("DeployImagesAction", "deployimages",
		"deploy images using guestfs", "deploy images")}
}

// Populate follows LAVA's order: the overlay and the device environment
// first, then the uefi firmware and one download per image in job order,
// and last the guest disk built from the overlay.
func (a *DeployImages) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	overlay := a.TestNeedsOverlay(params)
	if overlay {
		p.Add(NewOverlay(), nil)
	}
	if a.TestNeedsDeployment(params) {
		p.Add(NewDeployDeviceEnv(), nil)
	}
	if uefi := params.Map("uefi"); uefi != nil {
		p.Add(NewDownloader("uefi", uefi), nil)
	}
	params.Map("images").Range(func(label string, v any) bool {
		img, _ := v.(*value.Map)
		p.Add(NewDownloader(label, img), nil)
		return true
	})
	if overlay {
		p.Add(NewApplyOverlayGuest(), nil)
	}
}

// Validate checks the images block: at least one image, each a map with
// a url, and an image_arg, when given, a string.
func (a *DeployImages) Validate() {
	a.Base.Validate()
	validateImages(&a.Base, a.Params)
}

// validateImages checks a tmpfs-style images block.
func validateImages(b *pipeline.Base, params *value.Map) {
	v, ok := params.Get("images")
	images, isMap := v.(*value.Map)
	switch {
	case !ok:
		b.Errorf("no images to deploy")
		return
	case !isMap || images.Len() == 0:
		b.Errorf("'images' must be a map of at least one image label to its url")
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
		if arg, ok := img.Get("image_arg"); ok {
			if _, isStr := arg.(string); !isStr {
				b.Errorf("images.%s: image_arg must be a string, not %s", label, value.GoString(arg))
			}
		}
		return true
	})
}
