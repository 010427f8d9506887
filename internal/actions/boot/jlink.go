package boot

import (
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(mcuStrategy("JLink", "jlink", func() pipeline.Action { return NewBootJLink() }))
}

// BootJLink is LAVA's BootJLinkRetry (boot-jlink-image): flashes the
// board with SEGGER's JLinkExe.
type BootJLink struct{ pipeline.Base }

var _ pipeline.Action = (*BootJLink)(nil)

// NewBootJLink returns boot-jlink-image.
func NewBootJLink() *BootJLink {
	a := &BootJLink{pipeline.NewBase("BootJLinkRetry", "boot-jlink-image",
		"boot jlink image using the command line interface", "boot jlink image")}
	a.Retry = true
	return a
}

// Populate adds the power cycle (devices with a PDU), the connection,
// then the flash: the console is open before the board starts.
func (a *BootJLink) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	addResetAndWait(p, &a.Base)
	p.Add(power.NewConnectDevice(), nil)
	p.Add(NewFlashJLink(), nil)
}

// FlashJLink is LAVA's FlashJLinkAction (flash-jlink): writes a J-Link
// commander script (reset, halt, erase, loadfile and verifybin per image,
// or the block's commands, then reset) and runs JLinkExe on it.
type FlashJLink struct{ leaf }

// NewFlashJLink returns flash-jlink.
func NewFlashJLink() *FlashJLink {
	return &FlashJLink{leaf{pipeline.NewBase("FlashJLinkAction", "flash-jlink",
		"flash jlink to boot the image", "flash jlink to boot the image")}}
}

// Validate checks what the command line and the script need: the
// command, the processor (with a supported core type when the device
// lists them), a board ID, the load address, erase and reset commands,
// and something to flash.
func (a *FlashJLink) Validate() {
	a.leaf.Validate()
	mp := methodParams(a.Device(), "jlink")
	cmd, _ := mp.Value("command").(string)
	if cmd == "" {
		a.Errorf("invalid device configuration: no jlink command")
	} else {
		warnMissingTool(&a.Base, cmd)
	}
	if proc, _ := mp.Value("processor").(string); proc == "" {
		a.Errorf("invalid device-type definition, missing processor parameter")
	} else if ct, ok := mp.Get("supported_core_types"); ok && ct != nil {
		types, isList := ct.([]any)
		switch {
		case !isList:
			a.Errorf("invalid device-type definition, supported_core_types parameter needs to be a list")
		case len(types) > 0:
			core := a.Params.Value("coretype")
			if core == nil {
				core = types[0]
			}
			found := false
			for _, t := range types {
				found = found || t == core
			}
			if !found {
				a.Errorf("[coretype = %v] not supported by current device (supported_core_types = %v)", core, types)
			}
		}
	}
	validateBoardID(&a.Base, "[JLink] board_id unset")
	if _, ok := mp.Value("address").(int); !ok {
		a.Errorf("invalid device configuration: jlink load address must be a number")
	}
	for _, k := range []string{"erase_command", "reset_command"} {
		if _, ok := mp.Value(k).([]any); !ok {
			a.Errorf("invalid device configuration: jlink %s must be a list", k)
		}
	}
	if !a.Params.Has("commands") && deployed(&a.Base, a.Params).Len() == 0 {
		a.Errorf("no JLinkExe command to execute: nothing deployed in namespace '%s'", pipeline.Namespace(a.Params))
	}
}
