package deploy

import (
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "UUU",
		accepts: func(_, params *value.Map) (bool, string) {
			if ok, why := (pipeline.MethodCheck{Section: "deploy", Method: "uuu"}).Named(params); !ok {
				return false, why
			}
			if !params.Has("images") {
				return false, "'images' not in deploy parameters"
			}
			if !params.Map("images").Has("boot") {
				return false, "'boot' image is required, not found in 'images' parameter"
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewUUUDeploy() },
	})
}

// UUUDeploy is LAVA's UUUAction (uuu-deploy, `to: uuu`): downloads the
// images the uuu boot flashes, applying the overlay to those marked
// apply-overlay.
type UUUDeploy struct{ pipeline.Base }

var _ pipeline.Action = (*UUUDeploy)(nil)

// NewUUUDeploy returns uuu-deploy.
func NewUUUDeploy() *UUUDeploy {
	return &UUUDeploy{pipeline.NewBase("UUUAction", "uuu-deploy",
		"deploy images using uuu", "uuu deployment")}
}

// Populate downloads each image in job order; an image with
// apply-overlay gets the overlay (sparse or raw, into root_partition when
// given) when a test needs it.
func (a *UUUDeploy) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	overlay := a.TestNeedsOverlay(params)
	if overlay {
		p.Add(NewOverlay(), nil)
	}
	params.Map("images").Range(func(label string, v any) bool {
		img, _ := v.(*value.Map)
		p.Add(NewDownloader(label, img), nil)
		if overlay && pipeline.Truthy(img.Value("apply-overlay")) {
			if pipeline.Truthy(img.Value("sparse")) {
				p.Add(NewApplyOverlaySparseImage(label), nil)
			} else {
				p.Add(NewApplyOverlayImage(label, img.Value("root_partition") != nil), nil)
			}
		}
		return true
	})
}

// Validate checks the images: each a map with a url.
func (a *UUUDeploy) Validate() {
	a.Base.Validate()
	validateImages(&a.Base, a.Params)
}
