package deploy

import (
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "Avh",
		accepts: func(device, params *value.Map) (bool, string) {
			switch {
			case !hasMethod(device, "avh"):
				return false, "'avh' not in the device configuration deploy methods"
			case params.String("to") != "avh":
				return false, "'to' parameter is not 'avh'"
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewAvhRetry() },
	})
}

// avhRequiredImages are the images an Arm Virtual Hardware firmware
// package is made of.
var avhRequiredImages = []string{"kernel", "dtb", "rootfs"}

// AvhRetry is LAVA's AvhRetryAction (deploy-avh-retry).
type AvhRetry struct{ pipeline.Base }

var _ pipeline.Action = (*AvhRetry)(nil)

// NewAvhRetry returns deploy-avh-retry.
func NewAvhRetry() *AvhRetry {
	a := &AvhRetry{pipeline.NewBase("AvhRetryAction", "deploy-avh-retry",
		"deploy avh image with retry", "deploy avh image")}
	a.Retry = true
	return a
}

// Populate adds deploy-avh.
func (a *AvhRetry) Populate(params *value.Map) {
	a.NewPipeline(params).Add(NewAvhDeploy(), nil)
}

// AvhDeploy is LAVA's AvhDeploy (deploy-avh): downloads the kernel, dtb
// and rootfs (with the overlay applied to its root partition) that make
// an Arm Virtual Hardware firmware package; the avh boot uploads it.
type AvhDeploy struct{ pipeline.Base }

// NewAvhDeploy returns deploy-avh.
func NewAvhDeploy() *AvhDeploy {
	return &AvhDeploy{pipeline.NewBase("AvhDeploy", "deploy-avh",
		"create and upload avh firmware zip package", "create and upload avh firmware zip package")}
}

// Populate adds the overlay when a test needs it and the downloads in job
// order, the rootfs followed by the overlay applied to it.
func (a *AvhDeploy) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	overlay := a.TestNeedsOverlay(params)
	if overlay {
		p.Add(NewOverlay(), nil)
	}
	params.Map("images").Range(func(label string, v any) bool {
		img, _ := v.(*value.Map)
		p.Add(NewDownloader(label, img), nil)
		if label == "rootfs" && overlay {
			p.Add(NewApplyOverlayImage(label, true), nil)
		}
		return true
	})
}

// Validate checks the avh map (a model), the API token secret, and the
// three images, the rootfs with a root_partition when the overlay goes
// in.
func (a *AvhDeploy) Validate() {
	a.Base.Validate()
	avh, ok := a.Params.Value("avh").(*value.Map)
	switch {
	case !a.Params.Has("avh"):
		a.Errorf("no 'avh' specified for AVH deploy")
	case !ok:
		a.Errorf("'deploy.avh' should be a dictionary")
	case avh.Value("model") == nil:
		a.Errorf("unable to deploy AVH without 'avh.model'")
	}
	secrets := a.Job.Params.Map("secrets")
	if tok, ok := secrets.Get("avh_api_token"); !ok {
		a.Errorf("'secrets.avh_api_token' key is required for AVH deploy")
	} else if _, isStr := tok.(string); !isStr {
		a.Errorf("'secrets.avh_api_token' should be a string")
	}
	images, ok := a.Params.Value("images").(*value.Map)
	if !ok || images.Len() == 0 {
		a.Errorf("no 'images' specified for AVH deploy")
		return
	}
	for _, k := range avhRequiredImages {
		if !images.Has(k) {
			a.Errorf("no '%s' image specified for AVH deploy", k)
		}
	}
	if a.TestNeedsOverlay(a.Params) && images.Has("rootfs") && !pipeline.Truthy(images.Map("rootfs").Value("root_partition")) {
		a.Errorf("unable to apply overlay without 'root_partition'")
	}
}
