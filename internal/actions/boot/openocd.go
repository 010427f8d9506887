package boot

import (
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(mcuStrategy("OpenOCD", "openocd", func() pipeline.Action { return NewBootOpenOCD() }))
}

// BootOpenOCD is LAVA's BootOpenOCDRetry (boot-openocd-image): flashes
// and starts the board with OpenOCD.
type BootOpenOCD struct{ pipeline.Base }

var _ pipeline.Action = (*BootOpenOCD)(nil)

// NewBootOpenOCD returns boot-openocd-image.
func NewBootOpenOCD() *BootOpenOCD {
	a := &BootOpenOCD{pipeline.NewBase("BootOpenOCDRetry", "boot-openocd-image",
		"boot openocd image using the command line interface", "boot openocd image")}
	a.Retry = true
	return a
}

// Populate adds the power cycle (devices with a PDU), the connection and
// the flash.
func (a *BootOpenOCD) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	addResetAndWait(p, &a.Base)
	p.Add(power.NewConnectDevice(), nil)
	p.Add(NewFlashOpenOCD(), nil)
}

// FlashOpenOCD is LAVA's FlashOpenOCDAction (flash-openocd): runs openocd
// with the job's openocd_script download or the device's config files,
// the debug level, search paths and commands, {LABEL} in them replaced
// by the downloaded files.
type FlashOpenOCD struct{ leaf }

// NewFlashOpenOCD returns flash-openocd.
func NewFlashOpenOCD() *FlashOpenOCD {
	return &FlashOpenOCD{leaf{pipeline.NewBase("FlashOpenOCDAction", "flash-openocd",
		"use openocd to flash the image", "use openocd to flash the image")}}
}

// Validate checks the command and its options: LAVA reads
// options.debug unconditionally, so a device without it cannot boot.
func (a *FlashOpenOCD) Validate() {
	a.leaf.Validate()
	mp := methodParams(a.Device(), "openocd")
	cmd, _ := mp.Value("command").(string)
	if cmd == "" {
		a.Errorf("invalid device configuration: no openocd command")
	} else {
		warnMissingTool(&a.Base, cmd)
	}
	opts := mp.Map("options")
	if !opts.Has("debug") {
		a.Errorf("invalid device configuration: openocd options.debug missing")
	}
	for _, k := range []string{"file", "search", "command"} {
		if v, ok := opts.Get(k); ok && v != nil {
			if _, isList := v.([]any); !isList {
				a.Errorf("invalid device configuration: openocd options.%s must be a list", k)
			}
		}
	}
	// LAVA's placeholder for an unset board_id here has eight zeros.
	if a.Device().Value("board_id") == "00000000" {
		a.Errorf("[FLASH_OPENOCD] board_id unset")
	}
}
