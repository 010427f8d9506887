package boot

import (
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "Musca",
		accepts: func(device, params *value.Map) (bool, string) {
			check := pipeline.MethodCheck{Section: "boot", Method: "musca",
				NotListed: `"musca" was not in device configuration boot methods`}
			if ok, why := check.Accepts(device, params); !ok {
				return false, why
			}
			if !device.Has("board_id") {
				return false, `"board_id" is not in the device configuration`
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewMuscaBoot() },
	})
}

// MuscaBoot is LAVA's MuscaBoot (musca-boot): the binary is already in
// flash (musca-deploy); power the board, wait for its serial port and
// connect, then log in when the block has prompts.
type MuscaBoot struct{ pipeline.Base }

var _ pipeline.Action = (*MuscaBoot)(nil)

// NewMuscaBoot returns musca-boot.
func NewMuscaBoot() *MuscaBoot {
	a := &MuscaBoot{pipeline.NewBase("MuscaBoot", "musca-boot",
		"power device and trigger software to run", "power device and trigger software to run")}
	a.Retry = true
	return a
}

// Populate follows LAVA, where the shell actions depend on a test shell
// even without prompts.
func (a *MuscaBoot) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(power.NewResetDevice(), nil)
	p.Add(NewWaitUSBSerialDevice(), nil)
	p.Add(power.NewConnectDevice(), nil)
	if params.Has("prompts") {
		p.Add(NewAutoLogin(true), nil)
	}
	if a.TestHasShell(params) {
		p.Add(NewExpectShell(), nil)
		if params.Has("transfer_overlay") {
			p.Add(NewOverlayUnpack(), nil)
		}
		p.Add(NewExportDeviceEnv(), nil)
	}
}
