package deploy

import (
	"maps"
	"slices"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// The Versatile Express mass-storage actions (LAVA's vemsd.py): Arm
// boards (Juno, MPS2+) expose their configuration flash as a USB mass
// storage device; a deploy mounts it on the dispatcher, replaces its
// contents with a board recovery image or a test binary, and unmounts
// it. The MPS and Musca deploys and the vemsd deploy share them.

// recoveryImage returns the recovery_image download of a block: under
// images for MPS, at the top for vemsd.
func recoveryImage(params *value.Map) *value.Map {
	if img := params.Map("images").Map("recovery_image"); img != nil {
		return img
	}
	return params.Map("recovery_image")
}

// ExtractVExpressRecoveryImage is LAVA's ExtractVExpressRecoveryImage
// (extract-vexpress-recovery-image): unpacks the recovery image (a zip
// or a tar.gz) into a directory ready to copy to the board.
type ExtractVExpressRecoveryImage struct{ leaf }

// NewExtractVExpressRecoveryImage returns extract-vexpress-recovery-image.
func NewExtractVExpressRecoveryImage() *ExtractVExpressRecoveryImage {
	return &ExtractVExpressRecoveryImage{leaf{pipeline.NewBase("ExtractVExpressRecoveryImage",
		"extract-vexpress-recovery-image", "unpack versatile express recovery image",
		"unpack versatile express recovery image ready for deployment")}}
}

// Validate needs a recovery image whose compression says how to unpack
// it: LAVA can only unpack zip and gz (a tarball) here.
func (a *ExtractVExpressRecoveryImage) Validate() {
	a.leaf.Validate()
	img := recoveryImage(a.Params)
	if img == nil {
		a.Errorf("no file specified extract as recovery_image")
		return
	}
	switch c := img.Value("compression"); c {
	case nil, "":
		a.Errorf("no compression set for recovery image")
	case "zip", "gz":
	default:
		a.Errorf("unsupported compression for VExpress recovery: %v", c)
	}
}

// MountVExpressMassStorage is LAVA's MountVExpressMassStorageDevice
// (mount-vexpress-usbmsd): mounts the board's mass storage, found by the
// device's usb_filesystem_label, under /mnt.
type MountVExpressMassStorage struct{ leaf }

// NewMountVExpressMassStorage returns mount-vexpress-usbmsd.
func NewMountVExpressMassStorage() *MountVExpressMassStorage {
	return &MountVExpressMassStorage{leaf{pipeline.NewBase("MountVExpressMassStorageDevice",
		"mount-vexpress-usbmsd", "mount vexpress usb msd",
		"mount vexpress usb mass storage device on the dispatcher")}}
}

// Validate needs the filesystem label that finds the disk.
func (a *MountVExpressMassStorage) Validate() {
	a.leaf.Validate()
	if s, ok := a.Device().Value("usb_filesystem_label").(string); !ok || s == "" {
		a.Errorf("filesystem label (usb_filesystem_label) unset for Versatile Express")
	}
	warnMissingTool(&a.Base, "mount")
}

// DeployVExpressRecoveryImage is LAVA's DeployVExpressRecoveryImage
// (deploy-vexpress-recovery-image): replaces the mounted storage's
// contents with the unpacked recovery image.
type DeployVExpressRecoveryImage struct{ leaf }

// NewDeployVExpressRecoveryImage returns deploy-vexpress-recovery-image.
func NewDeployVExpressRecoveryImage() *DeployVExpressRecoveryImage {
	return &DeployVExpressRecoveryImage{leaf{pipeline.NewBase("DeployVExpressRecoveryImage",
		"deploy-vexpress-recovery-image", "deploy vexpress recovery image to usb msd",
		"copy recovery image contents to vexpress usb mass storage device")}}
}

// UnmountVExpressMassStorage is LAVA's UnmountVExpressMassStorageDevice
// (unmount-vexpress-usbmsd): syncs and unmounts the board's storage,
// which makes the board pick up the new files.
type UnmountVExpressMassStorage struct{ leaf }

// NewUnmountVExpressMassStorage returns unmount-vexpress-usbmsd.
func NewUnmountVExpressMassStorage() *UnmountVExpressMassStorage {
	return &UnmountVExpressMassStorage{leaf{pipeline.NewBase("UnmountVExpressMassStorageDevice",
		"unmount-vexpress-usbmsd", "unmount vexpress usb msd", "unmount vexpress usb mass storage device")}}
}

// Validate warns when the tools are missing.
func (a *UnmountVExpressMassStorage) Validate() {
	a.leaf.Validate()
	warnMissingTool(&a.Base, "umount")
}

// vemsdParams returns the device's vemsd deploy parameters.
func vemsdParams(device *value.Map) *value.Map {
	return pipeline.DeviceMethods(device, "deploy").Map("vemsd").Map("parameters")
}

// requireStrings records msg for every key of m that is not a string.
func requireStrings(b *pipeline.Base, m *value.Map, keys map[string]string) {
	for _, k := range sortedKeys(keys) {
		if _, ok := m.Value(k).(string); !ok {
			b.Errorf("%s", keys[k])
		}
	}
}

// sortedKeys returns the keys of m in order, so that errors come out in a
// stable order.
func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// EnterVExpressMCC is LAVA's EnterVExpressMCC (enter-vexpress-mcc):
// interrupts the board's autorun, if it is on, to reach the
// Motherboard Configuration Controller prompt.
type EnterVExpressMCC struct{ leaf }

// NewEnterVExpressMCC returns enter-vexpress-mcc.
func NewEnterVExpressMCC() *EnterVExpressMCC {
	return &EnterVExpressMCC{leaf{pipeline.NewBase("EnterVExpressMCC", "enter-vexpress-mcc",
		"enter Versatile Express MCC", "enter Versatile Express MCC, interrupting autorun if needed")}}
}

// Validate needs the MCC prompt, the autorun prompt and the MCC reset
// message from the device's vemsd parameters.
func (a *EnterVExpressMCC) Validate() {
	a.leaf.Validate()
	requireStrings(&a.Base, vemsdParams(a.Device()), map[string]string{
		"mcc_prompt":     "Versatile Express MCC prompt unset",
		"autorun_prompt": "Versatile Express autorun prompt unset",
		"mcc_reset_msg":  "Versatile Express MCC reset message unset",
	})
}

// EnableVExpressMassStorage is LAVA's EnableVExpressMassStorage
// (enable-vexpress-usbmsd): the MCC command that exposes the storage.
type EnableVExpressMassStorage struct{ leaf }

// NewEnableVExpressMassStorage returns enable-vexpress-usbmsd.
func NewEnableVExpressMassStorage() *EnableVExpressMassStorage {
	return &EnableVExpressMassStorage{leaf{pipeline.NewBase("EnableVExpressMassStorage",
		"enable-vexpress-usbmsd", "enable vexpress usb msd", "enable vexpress usb mass storage device")}}
}

// Validate needs the MCC prompt and the mount command.
func (a *EnableVExpressMassStorage) Validate() {
	a.leaf.Validate()
	requireStrings(&a.Base, vemsdParams(a.Device()), map[string]string{
		"mcc_prompt":    "Versatile Express MCC prompt unset",
		"msd_mount_cmd": "Versatile Express USB Mass Storage mount command unset",
	})
}

// VExpressFlashErase is LAVA's VExpressFlashErase (erase-vexpress-flash):
// erases the NOR flash from the MCC's flash menu.
type VExpressFlashErase struct{ leaf }

// NewVExpressFlashErase returns erase-vexpress-flash.
func NewVExpressFlashErase() *VExpressFlashErase {
	return &VExpressFlashErase{leaf{pipeline.NewBase("VExpressFlashErase", "erase-vexpress-flash",
		"erase vexpress flash", "erase vexpress flash using the commands set by the user")}}
}

// Validate needs every prompt and command of the flash menu.
func (a *VExpressFlashErase) Validate() {
	a.leaf.Validate()
	requireStrings(&a.Base, vemsdParams(a.Device()), map[string]string{
		"mcc_prompt":      "Versatile Express MCC prompt unset",
		"flash_prompt":    "Versatile Express flash prompt unset",
		"flash_enter_cmd": "Versatile Express flash enter command unset",
		"flash_erase_cmd": "Versatile Express flash erase command unset",
		"flash_erase_msg": "Versatile Express flash erase message unset",
		"flash_exit_cmd":  "Versatile Express flash exit command unset",
	})
}
