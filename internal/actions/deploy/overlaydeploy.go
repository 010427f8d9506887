package deploy

import (
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	// `to: overlay` only builds the LAVA overlay, for devices whose image
	// is already in place.
	pipeline.Register(&strategy{
		name: "Overlay",
		accepts: pipeline.MethodCheck{Section: "deploy", Method: "overlay",
			NotListed: "'overlay' not in the device configuration deploy methods"}.Accepts,
		action: func(*value.Map) pipeline.Action { return NewOverlay() },
	})
}
