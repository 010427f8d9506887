package deploy

import (
	"github.com/basalt-lava/basalt/internal/actions/boot"
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name:             "VExpressMsd",
		noDeploymentData: true,
		accepts:          pipeline.MethodCheck{Section: "deploy", Method: "vemsd"}.AcceptsBlockFirst,
		action:           func(*value.Map) pipeline.Action { return NewVExpressMsdRetry() },
	})
}

// VExpressMsdRetry is LAVA's VExpressMsdRetry (vexpress-fw-deploy-retry,
// `to: vemsd`): writes a Versatile Express (Juno) board recovery image to
// the board's USB mass-storage firmware partition, with retries.
type VExpressMsdRetry struct{ pipeline.Base }

var _ pipeline.Action = (*VExpressMsdRetry)(nil)

// NewVExpressMsdRetry returns vexpress-fw-deploy-retry.
func NewVExpressMsdRetry() *VExpressMsdRetry {
	a := &VExpressMsdRetry{pipeline.NewBase("VExpressMsdRetry", "vexpress-fw-deploy-retry",
		"deploy vexpress board recovery image with retry", "VExpress FW deployment with retry")}
	a.Retry = true
	return a
}

// Populate adds vexpress-fw-deploy.
func (a *VExpressMsdRetry) Populate(params *value.Map) {
	a.NewPipeline(params).Add(NewVExpressMsd(), nil)
}

// VExpressMsd is LAVA's VExpressMsdAction (vexpress-fw-deploy): download
// and unpack the recovery image, reset into the MCC, expose its USB mass
// storage, copy the image over, and erase the flash when the device says
// how.
type VExpressMsd struct{ pipeline.Base }

var _ pipeline.Action = (*VExpressMsd)(nil)

// NewVExpressMsd returns vexpress-fw-deploy.
func NewVExpressMsd() *VExpressMsd {
	return &VExpressMsd{pipeline.NewBase("VExpressMsdAction", "vexpress-fw-deploy",
		"deploy vexpress board recovery image", "VExpress FW deployment")}
}

// Populate follows LAVA's order; the flash erase only for devices with a
// flash_prompt.
func (a *VExpressMsd) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(NewDownloader("recovery_image", params.Map("recovery_image")), nil)
	p.Add(power.NewConnectDevice(), nil)
	p.Add(power.NewResetDevice(), nil)
	p.Add(NewExtractVExpressRecoveryImage(), nil)
	p.Add(NewEnterVExpressMCC(), nil)
	p.Add(NewEnableVExpressMassStorage(), nil)
	p.Add(boot.NewWaitUSBMassStorageDevice(), nil)
	p.Add(NewMountVExpressMassStorage(), nil)
	p.Add(NewDeployVExpressRecoveryImage(), nil)
	p.Add(NewUnmountVExpressMassStorage(), nil)
	if pipeline.Truthy(vemsdParams(a.Device()).Value("flash_prompt")) {
		p.Add(NewVExpressFlashErase(), nil)
	}
}

// Validate needs the recovery image.
func (a *VExpressMsd) Validate() {
	a.Base.Validate()
	if _, ok := a.Params.Value("recovery_image").(*value.Map); !ok {
		a.Errorf("recovery_image is required")
	}
}
