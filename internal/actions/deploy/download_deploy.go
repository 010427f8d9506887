package deploy

import (
	"github.com/basalt-lava/basalt/internal/actions/boot"
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	// `to: download` (current LAVA's Download strategy, which Basalt
	// lacked): powers the device on so that a later test shell can reach
	// it (with fastboot, say), then downloads the images.
	pipeline.Register(&strategy{
		name: "Download",
		accepts: func(_, params *value.Map) (bool, string) {
			return pipeline.MethodCheck{Section: "deploy", Method: "download"}.Named(params)
		},
		action: func(*value.Map) pipeline.Action { return NewDownloadDeploy() },
	})
}

// DownloadDeploy is LAVA's DownloadAction (download-deploy).
type DownloadDeploy struct{ pipeline.Base }

var _ pipeline.Action = (*DownloadDeploy)(nil)

// NewDownloadDeploy returns download-deploy.
func NewDownloadDeploy() *DownloadDeploy {
	return &DownloadDeploy{pipeline.NewBase("DownloadAction", "download-deploy", "download files", "download deployment")}
}

// Populate follows LAVA: power the device on through U-Boot's fastboot
// command, a power cycle, or adb/fastboot; then the images in job order;
// then the overlay when a test needs it. Unlike the fastboot deploy it
// does not detect the fastboot serial number.
func (a *DownloadDeploy) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	dev := a.Device()
	switch {
	case pipeline.Truthy(dev.Value("fastboot_via_uboot")):
		p.Add(power.NewConnectDevice(), nil)
		p.Add(boot.NewUBootEnterFastboot(), nil)
	case pipeline.Truthy(dev.Map("commands").Value("hard_reset")):
		p.Add(power.NewConnectDevice(), nil)
		p.Add(power.NewResetDevice(), nil)
	default:
		p.Add(boot.NewEnterFastboot(), nil)
	}
	params.Map("images").Range(func(label string, v any) bool {
		img, _ := v.(*value.Map)
		p.Add(NewDownloader(label, img), nil)
		return true
	})
	if a.TestNeedsOverlay(params) {
		p.Add(NewOverlay(), nil)
	}
}

// Validate needs at least one image, each with a url.
func (a *DownloadDeploy) Validate() {
	a.Base.Validate()
	validateFlashImages(&a.Base, a.Params)
}
