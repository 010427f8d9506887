package deploy

import (
	"slices"
	"strings"

	"github.com/basalt-lava/basalt/internal/actions/boot"
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "Mps",
		accepts: func(device, params *value.Map) (bool, string) {
			check := pipeline.MethodCheck{Section: "deploy", Method: "mps", NotNamed: `"to" was not "mps"`}
			if ok, why := check.Accepts(device, params); !ok {
				return false, why
			}
			if !device.Has("usb_filesystem_label") {
				return false, `"usb_filesystem_label" is not in the device configuration`
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewMps() },
	})
}

// Mps is LAVA's MpsAction (mps-deploy): an Arm MPS2+ board takes a board
// recovery image and test binaries on its USB mass storage, after a power
// cycle that exposes it; a reboot.txt (or a power-off) makes the board
// pick them up.
type Mps struct{ pipeline.Base }

var _ pipeline.Action = (*Mps)(nil)

// NewMps returns mps-deploy.
func NewMps() *Mps {
	return &Mps{pipeline.NewBase("MpsAction", "mps-deploy", "deploy image to MPS device", "MPS device image deployment")}
}

// mpsParams returns the device's mps deploy parameters.
func mpsParams(device *value.Map) *value.Map {
	return pipeline.DeviceMethods(device, "deploy").Map("mps").Map("parameters")
}

// Populate follows LAVA: let go of the console, power-cycle, wait for the
// storage, download (job order), mount, copy the recovery image (sorted
// labels put it first) or each test binary, then reboot through
// reboot.txt or, for boards configured with hard-reboot, a power-off.
func (a *Mps) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(power.NewDisconnectDevice(), nil)
	p.Add(power.NewResetDevice(), nil)
	p.Add(boot.NewWaitUSBMassStorageDevice(), nil)
	images := params.Map("images")
	images.Range(func(label string, v any) bool {
		img, _ := v.(*value.Map)
		p.Add(NewDownloader(label, img), nil)
		return true
	})
	p.Add(NewMountVExpressMassStorage(), nil)
	for _, label := range sortedLabels(images) {
		if label == "recovery_image" {
			p.Add(NewExtractVExpressRecoveryImage(), nil)
			p.Add(NewDeployVExpressRecoveryImage(), nil)
		} else {
			p.Add(NewDeployMPSTestBinary(label), nil)
		}
	}
	if pipeline.Truthy(mpsParams(a.Device()).Value("hard-reboot")) {
		p.Add(NewUnmountVExpressMassStorage(), nil)
		p.Add(power.NewPowerOff(), nil)
	} else {
		p.Add(NewDeployMPSRebootTxt(), nil)
		p.Add(NewUnmountVExpressMassStorage(), nil)
	}
}

// sortedLabels returns the labels of an images map in Python's sorted()
// order (byte order).
func sortedLabels(images *value.Map) []string {
	return slices.Sorted(slices.Values(images.Keys()))
}

// Validate checks the image labels as LAVA does: a single image is the
// recovery_image or the test_binary; several are the recovery_image and
// test_binary_<n>.
func (a *Mps) Validate() {
	a.Base.Validate()
	images, ok := a.Params.Value("images").(*value.Map)
	if !ok {
		a.Errorf("missing 'images'")
		return
	}
	labels := images.Keys()
	if len(labels) == 1 {
		if labels[0] != "recovery_image" && labels[0] != "test_binary" {
			a.Errorf("missing 'recovery_image' or 'test_binary'")
		}
		return
	}
	for _, l := range labels {
		if l != "recovery_image" && !strings.HasPrefix(l, "test_binary_") {
			a.Errorf("image '%s': images must be 'recovery_image' or start with 'test_binary_'", l)
		}
	}
}

// DeployMPSTestBinary is LAVA's DeployMPSTestBinary
// (deploy-mps-test-binary): copies a test binary to the board's storage,
// under the image's rename when it has one.
type DeployMPSTestBinary struct {
	leaf
	Key string
}

// NewDeployMPSTestBinary returns deploy-mps-test-binary for the image
// labelled key.
func NewDeployMPSTestBinary(key string) *DeployMPSTestBinary {
	return &DeployMPSTestBinary{leaf: leaf{pipeline.NewBase("DeployMPSTestBinary", "deploy-mps-test-binary",
		"deploy test binary to usb msd", "copy test binary to MPS device and rename if required")}, Key: key}
}

// Validate needs the image, and a rename that stays on the board's
// storage.
func (a *DeployMPSTestBinary) Validate() {
	a.leaf.Validate()
	img := a.Params.Map("images").Map(a.Key)
	if img == nil {
		a.Errorf("missing '%s' in 'images'", a.Key)
		return
	}
	if r, ok := img.Get("rename"); ok {
		s, isStr := r.(string)
		if !isStr || s == "" || strings.Contains(s, "..") || strings.HasPrefix(s, "/") {
			a.Errorf("invalid 'rename' for '%s': %s", a.Key, value.GoString(r))
		}
	}
}

// DeployMPSRebootTxt is LAVA's DeployMPSRebootTxt (deploy-mps-reboot-txt):
// writes the device's reboot string to reboot.txt, which makes the board
// restart with the new files.
type DeployMPSRebootTxt struct{ leaf }

// NewDeployMPSRebootTxt returns deploy-mps-reboot-txt.
func NewDeployMPSRebootTxt() *DeployMPSRebootTxt {
	return &DeployMPSRebootTxt{leaf{pipeline.NewBase("DeployMPSRebootTxt", "deploy-mps-reboot-txt",
		"deploy reboot.txt to mps", "copy reboot.txt to MPS device to trigger restart")}}
}

// Validate needs the device's reboot-string.
func (a *DeployMPSRebootTxt) Validate() {
	a.leaf.Validate()
	if _, ok := mpsParams(a.Device()).Get("reboot-string"); !ok {
		a.Errorf("missing 'reboot-string' in device configuration")
	}
}
