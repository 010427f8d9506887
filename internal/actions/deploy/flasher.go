package deploy

import (
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "Flasher",
		accepts: pipeline.MethodCheck{Section: "deploy", Method: "flasher",
			NotListed: "'flasher' not in the device configuration deploy methods"}.Accepts,
		action: func(*value.Map) pipeline.Action { return NewFlasherRetry() },
	})
}

// FlasherRetry is LAVA's FlasherRetryAction (deploy-flasher-retry).
type FlasherRetry struct{ pipeline.Base }

var _ pipeline.Action = (*FlasherRetry)(nil)

// NewFlasherRetry returns deploy-flasher-retry.
func NewFlasherRetry() *FlasherRetry {
	a := &FlasherRetry{pipeline.NewBase("FlasherRetryAction", "deploy-flasher-retry",
		"deploy flasher with retry", "deploy custom flasher")}
	a.Retry = true
	return a
}

// Populate adds deploy-flasher.
func (a *FlasherRetry) Populate(params *value.Map) {
	a.NewPipeline(params).Add(NewFlasher(), nil)
}

// Flasher is LAVA's FlasherAction (deploy-flasher): downloads the images,
// then runs the device's own flashing commands with {LABEL} and the
// power commands ({HARD_RESET_COMMAND}, …) substituted.
type Flasher struct{ pipeline.Base }

// NewFlasher returns deploy-flasher.
func NewFlasher() *Flasher {
	return &Flasher{pipeline.NewBase("FlasherAction", "deploy-flasher", "deploy flasher", "deploy custom flasher")}
}

// Populate adds the overlay, the downloads in job order and the device
// environment.
func (a *Flasher) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	if a.TestNeedsOverlay(params) {
		p.Add(NewOverlay(), nil)
	}
	params.Map("images").Range(func(label string, v any) bool {
		img, _ := v.(*value.Map)
		// download: false leaves the URL for the flasher command.
		if d, ok := img.Get("download"); ok && !pipeline.Truthy(d) {
			return true
		}
		p.Add(NewDownloader(label, img), nil)
		return true
	})
	if a.TestNeedsDeployment(params) {
		p.Add(NewDeployDeviceEnv(), nil)
	}
}

// Validate needs the device's flasher commands, a list of strings.
func (a *Flasher) Validate() {
	a.Base.Validate()
	cmds, ok := pipeline.DeviceMethods(a.Device(), "deploy").Map("flasher").Value("commands").([]any)
	if !ok {
		a.Errorf("'commands' should be a list")
		return
	}
	for i, c := range cmds {
		if _, isStr := c.(string); !isStr {
			a.Errorf("flasher commands[%d] must be a string", i)
		}
	}
}
