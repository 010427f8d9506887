package deploy

import (
	"slices"

	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "RecoveryMode",
		accepts: func(device, params *value.Map) (bool, string) {
			check := pipeline.MethodCheck{Section: "deploy", Method: "recovery",
				NotListed: "'recovery' not in the device configuration deploy methods"}
			if ok, why := check.Accepts(device, params); !ok {
				return false, why
			}
			if !params.Has("images") {
				return false, `"images" is not in the deployment parameters`
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewRecoveryModeDeploy() },
	})
}

// RecoveryModeDeploy is LAVA's RecoveryModeAction (deploy-recovery-mode,
// `to: recovery`): downloads firmware images that a recovery boot then
// flashes; when the device's recovery method is tagged serial, it
// connects the console too. (LAVA also copied the files into LXC, which
// newer LAVA and Basalt do not have.)
type RecoveryModeDeploy struct{ pipeline.Base }

var _ pipeline.Action = (*RecoveryModeDeploy)(nil)

// NewRecoveryModeDeploy returns deploy-recovery-mode.
func NewRecoveryModeDeploy() *RecoveryModeDeploy {
	return &RecoveryModeDeploy{pipeline.NewBase("RecoveryModeAction", "deploy-recovery-mode",
		"deploy firmware by switching to recovery mode", "deploy firmware in recovery mode")}
}

// Populate downloads the images in the job's order (current LAVA;
// 2023.01 sorted the labels).
func (a *RecoveryModeDeploy) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	params.Map("images").Range(func(k string, v any) bool {
		img, _ := v.(*value.Map)
		p.Add(NewDownloader(k, img), nil)
		return true
	})
	rec := pipeline.DeviceMethods(a.Device(), "deploy").Map("recovery")
	var tags []any
	if rec != nil {
		tags = rec.List("tags")
	}
	if slices.Contains(tags, any("serial")) {
		p.Add(power.NewConnectDevice(), nil)
	}
}

// Validate checks the images: each a map with a url.
func (a *RecoveryModeDeploy) Validate() {
	a.Base.Validate()
	validateImages(&a.Base, a.Params)
}
