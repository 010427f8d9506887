package deploy

import (
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "Avh",
		accepts: pipeline.MethodCheck{Section: "deploy", Method: "avh",
			NotListed: "'avh' not in the device configuration deploy methods",
			NotNamed:  "'to' parameter is not 'avh'"}.Accepts,
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

// AvhDeploy is LAVA's AvhDeploy (deploy-avh): gets an Arm Virtual
// Hardware firmware package, either made from downloaded kernel, dtb and
// rootfs images (the overlay applied to the rootfs's root partition) or
// downloaded whole as fw_package (the overlay applied to its storage
// file); the avh boot uploads it.
type AvhDeploy struct{ pipeline.Base }

// NewAvhDeploy returns deploy-avh.
func NewAvhDeploy() *AvhDeploy {
	return &AvhDeploy{pipeline.NewBase("AvhDeploy", "deploy-avh",
		"create and upload avh firmware zip package", "create and upload avh firmware zip package")}
}

// Populate adds the overlay when a test needs it, then either the images
// in job order (the rootfs followed by the overlay applied to it) or the
// firmware package followed by the overlay applied to it.
func (a *AvhDeploy) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	overlay := a.TestNeedsOverlay(params)
	if overlay {
		p.Add(NewOverlay(), nil)
	}
	if images := params.Map("images"); pipeline.Truthy(images) {
		images.Range(func(label string, v any) bool {
			img, _ := v.(*value.Map)
			p.Add(NewDownloader(label, img), nil)
			if label == "rootfs" && overlay {
				p.Add(NewApplyOverlayImage(label, true), nil)
			}
			return true
		})
		return
	}
	if fw, ok := params.Value("fw_package").(*value.Map); ok && pipeline.Truthy(fw) {
		p.Add(NewDownloader("fw_package", fw), nil)
		if overlay {
			p.Add(NewApplyOverlayAvh(), nil)
		}
	}
}

// Validate checks, as current LAVA does: the model, from the device's avh
// options or the block's options (which win); the API token secret; and
// either the three images (the rootfs with a root_partition when the
// overlay goes in) or a firmware package.
func (a *AvhDeploy) Validate() {
	a.Base.Validate()
	model := pipeline.DeviceMethods(a.Device(), "deploy").Map("avh").Map("options").Value("model")
	if opts, ok := a.Params.Get("options"); ok && pipeline.Truthy(opts) {
		m, isMap := opts.(*value.Map)
		if !isMap {
			a.Errorf("'deploy.options' should be a dictionary")
		} else if v, ok := m.Get("model"); ok {
			model = v
		}
	}
	if model == nil {
		a.Errorf("avh 'options.model' not provided in either device dictionary or job definition")
	}
	secrets := a.Job.Params.Map("secrets")
	if tok, ok := secrets.Get("avh_api_token"); !ok {
		a.Errorf("'secrets.avh_api_token' key is required for AVH deploy")
	} else if _, isStr := tok.(string); !isStr {
		a.Errorf("'secrets.avh_api_token' should be a string")
	}
	if v, ok := a.Params.Get("images"); ok && pipeline.Truthy(v) {
		images, isMap := v.(*value.Map)
		if !isMap {
			a.Errorf("'deploy.images' should be a dictionary")
			return
		}
		for _, k := range avhRequiredImages {
			if !images.Has(k) {
				a.Errorf("no '%s' image specified for AVH deploy", k)
			}
		}
		if a.TestNeedsOverlay(a.Params) && images.Has("rootfs") && images.Map("rootfs").Value("root_partition") == nil {
			a.Errorf("unable to apply overlay without 'root_partition'")
		}
		return
	}
	if !pipeline.Truthy(a.Params.Value("fw_package")) {
		a.Errorf("either 'images' or 'fw_package' is needed to deploy avh")
	}
}

// ApplyOverlayAvh is LAVA's ApplyOverlayAvh (apply-overlay-avh): copies
// the overlay into the root partition of the storage file inside the
// downloaded firmware package.
type ApplyOverlayAvh struct{ leaf }

// NewApplyOverlayAvh returns apply-overlay-avh.
func NewApplyOverlayAvh() *ApplyOverlayAvh {
	a := &ApplyOverlayAvh{leaf{pipeline.NewBase("ApplyOverlayAvh", "apply-overlay-avh",
		"apply overlay via guestfs to avh storage file", "apply overlay to avh storage file")}}
	a.TimeoutClass = pipeline.ClassInfrastructure
	return a
}

// Validate needs the storage file and its root partition.
func (a *ApplyOverlayAvh) Validate() {
	a.leaf.Validate()
	fw := a.Params.Map("fw_package")
	if fw.Value("storage_file") == nil {
		a.Errorf("unable to apply overlay without 'fw_package.storage_file'")
	}
	if fw.Value("root_partition") == nil {
		a.Errorf("unable to apply overlay without 'fw_package.root_partition'")
	}
}
