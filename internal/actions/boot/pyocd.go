package boot

import (
	"strings"

	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(mcuStrategy("PyOCD", "pyocd", func() pipeline.Action { return NewBootPyOCD() }))
}

// BootPyOCD is LAVA's BootPyOCD (boot-pyocd-image), a retry around
// BootPyOCDRetry: LAVA names both boot-pyocd-image.
type BootPyOCD struct{ pipeline.Base }

var _ pipeline.Action = (*BootPyOCD)(nil)

// NewBootPyOCD returns the outer boot-pyocd-image.
func NewBootPyOCD() *BootPyOCD {
	a := &BootPyOCD{pipeline.NewBase("BootPyOCD", "boot-pyocd-image",
		"boot pyocd image with retry", "boot pyocd image with retry")}
	a.Retry = true
	return a
}

// Populate adds the inner retry.
func (a *BootPyOCD) Populate(params *value.Map) {
	a.NewPipeline(params).Add(NewBootPyOCDRetry(), nil)
}

// BootPyOCDRetry is LAVA's BootPyOCDRetry (boot-pyocd-image).
type BootPyOCDRetry struct{ pipeline.Base }

// NewBootPyOCDRetry returns the inner boot-pyocd-image.
func NewBootPyOCDRetry() *BootPyOCDRetry {
	a := &BootPyOCDRetry{pipeline.NewBase("BootPyOCDRetry", "boot-pyocd-image",
		"boot pyocd image using the command line interface", "boot pyocd image")}
	a.Retry = true
	return a
}

// Populate adds the power cycle (devices with a PDU) and the flash, with
// the connection before it when the device asks (connect_before_flash),
// else after it.
func (a *BootPyOCDRetry) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	before := pipeline.Truthy(methodParams(a.Device(), "pyocd").Value("connect_before_flash"))
	addResetAndWait(p, &a.Base)
	if before {
		p.Add(power.NewConnectDevice(), nil)
	}
	p.Add(NewFlashPyOCD(), nil)
	if !before {
		p.Add(power.NewConnectDevice(), nil)
	}
}

// FlashPyOCD is LAVA's FlashPyOCDAction (flash-pyocd): one pyocd command
// per downloaded image, the image's image_arg replacing the file name
// when it has one, then the device's pre_os_command.
type FlashPyOCD struct{ leaf }

// NewFlashPyOCD returns flash-pyocd.
func NewFlashPyOCD() *FlashPyOCD {
	return &FlashPyOCD{leaf{pipeline.NewBase("FlashPyOCDAction", "flash-pyocd",
		"flash pyocd to boot the image", "flash pyocd to boot the image")}}
}

// Validate checks the command, the board ID, each image_arg and that
// there is something to flash.
func (a *FlashPyOCD) Validate() {
	a.leaf.Validate()
	mp := methodParams(a.Device(), "pyocd")
	cmd, _ := mp.Value("command").(string)
	if cmd == "" {
		a.Errorf("invalid device configuration: no pyocd command")
	} else {
		warnMissingTool(&a.Base, strings.Fields(cmd)[0])
	}
	if o, ok := mp.Get("options"); ok && o != nil {
		if _, isList := o.([]any); !isList {
			a.Errorf("invalid device configuration: pyocd options must be a list")
		}
	}
	validateBoardID(&a.Base, "[PYOCD] board_id unset")
	images := deployed(&a.Base, a.Params)
	if images.Len() == 0 {
		a.Errorf("no PyOCD command to execute: nothing deployed in namespace '%s'", pipeline.Namespace(a.Params))
	}
	images.Range(func(label string, v any) bool {
		img, _ := v.(*value.Map)
		if arg, ok := img.Get("image_arg"); ok && arg != nil {
			if _, isStr := arg.(string); !isStr {
				a.Errorf("image_arg of %s is not a string (try quoting it)", label)
			}
		}
		return true
	})
}
