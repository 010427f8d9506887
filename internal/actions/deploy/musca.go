package deploy

import (
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "Musca",
		accepts: func(device, params *value.Map) (bool, string) {
			check := pipeline.MethodCheck{Section: "deploy", Method: "musca", NotNamed: `"to" was not "musca"`}
			if ok, why := check.Accepts(device, params); !ok {
				return false, why
			}
			if !device.Has("board_id") {
				return false, `"board_id" is not in the device configuration`
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewMusca() },
	})
}

// Musca is LAVA's MuscaAction (musca-deploy): an Arm Musca board is
// flashed by copying the test binary to its DAPLink mass storage; the
// board then re-presents the storage, with FAIL.TXT when flashing failed.
type Musca struct{ pipeline.Base }

var _ pipeline.Action = (*Musca)(nil)

// NewMusca returns musca-deploy.
func NewMusca() *Musca {
	a := &Musca{pipeline.NewBase("MuscaAction", "musca-deploy", "deploy image to Musca device",
		"Musca device image deployment")}
	a.Retry = true
	return a
}

// Populate follows LAVA: release the console, download, power-cycle,
// wait for the storage, copy the binary, then wait for the storage to
// come back (a udev change, not an add) and look for FAIL.TXT.
func (a *Musca) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(power.NewDisconnectDevice(), nil)
	if img := params.Map("images").Map("test_binary"); img != nil {
		p.Add(NewDownloader("test_binary", img), nil)
	}
	p.Add(power.NewResetDevice(), nil)
	p.Add(NewWaitMuscaMassStorage("add"), nil)
	p.Add(NewMountMuscaMassStorage(), nil)
	p.Add(NewDeployMuscaTestBinary(), nil)
	p.Add(NewUnmountMuscaMassStorage(), nil)
	p.Add(NewWaitMuscaMassStorage("change"), nil)
	p.Add(NewMountMuscaMassStorage(), nil)
	p.Add(NewCheckMuscaFlash(), nil)
	p.Add(NewUnmountMuscaMassStorage(), nil)
}

// Validate needs the test binary.
func (a *Musca) Validate() {
	a.Base.Validate()
	images, ok := a.Params.Value("images").(*value.Map)
	switch {
	case !ok:
		a.Errorf("missing 'images'")
	case !images.Has("test_binary"):
		a.Errorf("missing 'test_binary'")
	}
}

// muscaIDSerial returns the device's musca id_serial, the name of the
// board's disk under /dev/disk/by-id.
func muscaIDSerial(device *value.Map) (string, bool) {
	s, ok := pipeline.DeviceMethods(device, "deploy").Map("musca").Value("id_serial").(string)
	return s, ok && s != ""
}

// WaitMuscaMassStorage is LAVA's WaitMuscaMassStorageAction
// (wait-musca-path): waits for the udev event (add, or change after
// flashing) of the board's disk with a FAT16 filesystem, the second of
// the two events the board sends, when the filesystem can be mounted.
type WaitMuscaMassStorage struct {
	leaf
	UdevAction string
}

// NewWaitMuscaMassStorage returns wait-musca-path for a udev action.
func NewWaitMuscaMassStorage(udevAction string) *WaitMuscaMassStorage {
	return &WaitMuscaMassStorage{leaf: leaf{pipeline.NewBase("WaitMuscaMassStorageAction", "wait-musca-path",
		"wait for musca mass storage", "wait for musca mass storage")}, UdevAction: udevAction}
}

// Validate needs a known udev action and the disk's id_serial.
func (a *WaitMuscaMassStorage) Validate() {
	a.leaf.Validate()
	if a.UdevAction != "add" && a.UdevAction != "change" {
		a.Errorf("invalid device action %q", a.UdevAction)
	}
	if _, ok := muscaIDSerial(a.Device()); !ok {
		a.Errorf(`"id_serial" not set in device configuration (/dev/disk/by-id/...)`)
	}
}

// MountMuscaMassStorage is LAVA's MountMuscaMassStorageDevice
// (mount-musca-usbmsd): mounts /dev/disk/by-id/<id_serial>.
type MountMuscaMassStorage struct{ leaf }

// NewMountMuscaMassStorage returns mount-musca-usbmsd.
func NewMountMuscaMassStorage() *MountMuscaMassStorage {
	return &MountMuscaMassStorage{leaf{pipeline.NewBase("MountMuscaMassStorageDevice", "mount-musca-usbmsd",
		"mount musca usb msd", "mount musca usb mass storage device on the dispatcher")}}
}

// Validate needs the disk's id_serial.
func (a *MountMuscaMassStorage) Validate() {
	a.leaf.Validate()
	if _, ok := muscaIDSerial(a.Device()); !ok {
		a.Errorf("id_serial parameter not set for actions.deploy.methods.musca")
	}
	warnMissingTool(&a.Base, "mount")
}

// UnmountMuscaMassStorage is LAVA's UnmountMuscaMassStorageDevice
// (unmount-musca-usbmsd).
type UnmountMuscaMassStorage struct{ leaf }

// NewUnmountMuscaMassStorage returns unmount-musca-usbmsd.
func NewUnmountMuscaMassStorage() *UnmountMuscaMassStorage {
	return &UnmountMuscaMassStorage{leaf{pipeline.NewBase("UnmountMuscaMassStorageDevice", "unmount-musca-usbmsd",
		"unmount musca usb msd", "unmount musca usb mass storage device")}}
}

// DeployMuscaTestBinary is LAVA's DeployMuscaTestBinary
// (deploy-musca-test-binary): copies the test binary to the mounted disk.
type DeployMuscaTestBinary struct{ leaf }

// NewDeployMuscaTestBinary returns deploy-musca-test-binary.
func NewDeployMuscaTestBinary() *DeployMuscaTestBinary {
	return &DeployMuscaTestBinary{leaf{pipeline.NewBase("DeployMuscaTestBinary", "deploy-musca-test-binary",
		"deploy test binary to usb msd", "copy test binary to Musca device")}}
}

// Validate needs the test binary.
func (a *DeployMuscaTestBinary) Validate() {
	a.leaf.Validate()
	if !a.Params.Map("images").Has("test_binary") {
		a.Errorf("missing 'test_binary' in 'images'")
	}
}

// CheckMuscaFlash is LAVA's CheckMuscaFlashAction (check-musca-flash):
// fails when the board left a FAIL.TXT after flashing.
type CheckMuscaFlash struct{ leaf }

// NewCheckMuscaFlash returns check-musca-flash.
func NewCheckMuscaFlash() *CheckMuscaFlash {
	return &CheckMuscaFlash{leaf{pipeline.NewBase("CheckMuscaFlashAction", "check-musca-flash",
		"checks if software flashed to the musca correctly", "check for FAIL.TXT on musca")}}
}
