package deploy

import (
	"fmt"
	"slices"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "USBGMS",
		accepts: func(device, params *value.Map) (bool, string) {
			check := pipeline.MethodCheck{Section: "deploy", Method: "usbg-ms",
				NotListed: "'usbg-ms' not in the device configuration deploy methods"}
			if ok, why := check.AcceptsBlockFirst(device, params); !ok {
				return false, why
			}
			// LAVA raises a ConfigurationError here; declining with the
			// reason puts the same message in the job's error.
			keys := pipeline.DeviceMethods(device, "deploy").Map("usbg-ms").Keys()
			sorted := slices.Sorted(slices.Values(keys))
			if !slices.Equal(sorted, []string{"disable", "enable"}) {
				return false, fmt.Sprintf("usbg-ms 'disable' and 'enable' commands missing: %v", sorted)
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewUSBGMS() },
	})
}

// USBGMS is LAVA's USBGMSAction (usbg-ms): downloads the image and, when
// it runs, exposes it to the device as a USB gadget mass storage with
// the device's enable command ({IMAGE} substituted); cleanup disables it.
type USBGMS struct{ pipeline.Base }

var _ pipeline.Action = (*USBGMS)(nil)

// NewUSBGMS returns usbg-ms.
func NewUSBGMS() *USBGMS {
	return &USBGMS{pipeline.NewBase("USBGMSAction", "usbg-ms", "USB Gadget Mass storage", "USBG MS")}
}

// Populate adds the overlay, the image download and the device
// environment.
func (a *USBGMS) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	if a.TestNeedsOverlay(params) {
		p.Add(NewOverlay(), nil)
	}
	if img, ok := params.Value("image").(*value.Map); ok {
		p.Add(NewDownloader("image", img), nil)
	}
	if a.TestNeedsDeployment(params) {
		p.Add(NewDeployDeviceEnv(), nil)
	}
}

// Validate needs the image and the device's enable and disable commands.
func (a *USBGMS) Validate() {
	a.Base.Validate()
	if _, ok := a.Params.Value("image").(*value.Map); !ok {
		a.Errorf("missing 'image'")
	}
	m := pipeline.DeviceMethods(a.Device(), "deploy").Map("usbg-ms")
	for _, k := range []string{"enable", "disable"} {
		if !pipeline.Truthy(m.Value(k)) {
			a.Errorf("usbg-ms '%s' command missing in the device configuration", k)
		}
	}
}
