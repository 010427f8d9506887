package deploy

import (
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "FVP",
		accepts: func(_, params *value.Map) (bool, string) {
			return pipeline.MethodCheck{Section: "deploy", Method: "fvp", NotNamed: "'to' was not fvp"}.Named(params)
		},
		action: func(*value.Map) pipeline.Action { return NewFVPDeploy() },
	})
}

// FVPDeploy is LAVA's FVPDeploy (fvp-deploy): downloads the images an
// Arm Fixed Virtual Platform model boots; the fvp boot runs the model in
// docker with them.
type FVPDeploy struct{ pipeline.Base }

var _ pipeline.Action = (*FVPDeploy)(nil)

// NewFVPDeploy returns fvp-deploy.
func NewFVPDeploy() *FVPDeploy {
	return &FVPDeploy{pipeline.NewBase("FVPDeploy", "fvp-deploy",
		"Download images for use with fvp", "download images for use with fvp")}
}

// Populate adds the overlay when a test needs it and the downloads in
// the job's order (current LAVA; 2023.01 sorted the labels).
func (a *FVPDeploy) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	if a.TestNeedsOverlay(params) {
		p.Add(NewOverlay(), nil)
	}
	params.Map("images").Range(func(label string, v any) bool {
		img, _ := v.(*value.Map)
		p.Add(NewDownloader(label, img), nil)
		return true
	})
}

// Validate needs images; a disk image that takes overlays needs the
// partition they go into.
func (a *FVPDeploy) Validate() {
	a.Base.Validate()
	images, ok := a.Params.Value("images").(*value.Map)
	if !ok {
		a.Errorf("no 'images' specified on FVP deploy")
		return
	}
	images.Range(func(label string, v any) bool {
		img, _ := v.(*value.Map)
		if img.Has("overlays") && a.Params.String("format") == "disk" && !img.Has("partition") {
			a.Errorf("missing partition value for 'overlays' value of '%s' for FVPDeploy", label)
		}
		return true
	})
}
