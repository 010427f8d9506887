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
		accepts: func(device, params *value.Map) (bool, string) {
			switch {
			case !hasMethod(device, "overlay"):
				return false, "'overlay' not in the device configuration deploy methods"
			case params.String("to") != "overlay":
				return false, `"to" parameter is not "overlay"`
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewOverlay() },
	})
}
