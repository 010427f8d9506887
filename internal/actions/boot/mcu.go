package boot

import (
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// Helpers shared by the microcontroller boot methods (cmsis-dap, jlink,
// pyocd, openocd, gdb, musca), which flash what the deploys of their
// namespace downloaded.

// mcuStrategy returns the usual strategy of a microcontroller boot
// method: the device lists the method, the block asks for it, and the
// device has the board_id that finds the board on USB.
func mcuStrategy(name, method string, action func() pipeline.Action) *strategy {
	return &strategy{
		name: name,
		accepts: func(device, params *value.Map) (bool, string) {
			if ok, why := (pipeline.MethodCheck{Section: "boot", Method: method}).Accepts(device, params); !ok {
				return false, why
			}
			if !device.Has("board_id") {
				return false, `"board_id" is not in the device configuration`
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return action() },
	}
}

// methodParams returns the device's parameters for a boot method.
func methodParams(device *value.Map, method string) *value.Map {
	return pipeline.DeviceMethods(device, "boot").Map(method).Map("parameters")
}

// deployed returns the images the deploys of the namespace of params
// download before the block params belongs to, by label: what LAVA's
// flash actions find under download-action in the namespace data.
func deployed(b *pipeline.Base, params *value.Map) *value.Map {
	out := value.NewMap()
	if b.Job == nil {
		return out
	}
	ns := pipeline.Namespace(params)
	for _, item := range b.Job.Params.List("actions") {
		blk, _ := item.(*value.Map)
		if blk.Map("boot") == params {
			break
		}
		dp := blk.Map("deploy")
		if dp == nil || pipeline.Namespace(dp) != ns {
			continue
		}
		dp.Map("images").Range(func(label string, v any) bool {
			out.Set(label, v)
			return true
		})
	}
	return out
}

// validateBoardID records msg when the device's board_id is the
// placeholder the templates render for an unset one.
func validateBoardID(b *pipeline.Base, msg string) {
	if b.Device().Value("board_id") == unsetBoardID {
		b.Errorf("%s", msg)
	}
}

// addResetAndWait adds, on devices with a PDU, the power cycle and the
// wait for the board to come back on USB.
func addResetAndWait(p *pipeline.Pipeline, b *pipeline.Base) {
	if hasHardReset(b.Device()) {
		p.Add(power.NewResetDevice(), nil)
		p.Add(NewWaitDeviceBoardID(b.Device().Value("board_id")), nil)
	}
}
