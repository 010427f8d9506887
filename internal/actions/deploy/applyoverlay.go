package deploy

import (
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// ApplyOverlayGuest builds the second QEMU disk (ext2, label LAVA) that
// holds the overlay; the test shell mounts it by UUID.
type ApplyOverlayGuest struct{ leaf }

// NewApplyOverlayGuest returns apply-overlay-guest.
func NewApplyOverlayGuest() *ApplyOverlayGuest {
	a := &ApplyOverlayGuest{leaf{pipeline.NewBase("ApplyOverlayGuest", "apply-overlay-guest",
		"prepare a qcow2 drive containing the overlay", "build a guest filesystem with the overlay")}}
	// As LAVA's timeout_exception: a disk that takes too long is the host's fault.
	a.TimeoutClass = pipeline.ClassInfrastructure
	return a
}

// overlayBackends are LAVA's overlay_backend values.
var overlayBackends = []string{"auto", "e2fsprogs", "guestfs"}

// Validate needs the guest size from the device's image method and the
// tools that build the disk. Missing tools are warnings: the description
// must still be written.
func (a *ApplyOverlayGuest) Validate() {
	a.leaf.Validate()
	v, _ := a.Device().Lookup("actions", "deploy", "methods", "image", "parameters", "guest")
	guest, _ := v.(*value.Map)
	if guest == nil {
		a.Errorf("device configuration does not specify size of guest filesystem")
	} else if sz, ok := guest.Get("size"); ok {
		if n, isInt := pipeline.ToInt(sz); !isInt || n <= 0 {
			a.Errorf("invalid guest filesystem size %s", value.GoString(sz))
		}
	}
	backend := "auto"
	if b, ok := a.Params.Value("overlay_backend").(string); ok {
		backend = b
	}
	found := false
	for _, ob := range overlayBackends {
		found = found || ob == backend
	}
	if !found {
		a.Errorf("unknown overlay_backend %q", backend)
	}
	// mkfs.ext2 alone builds the disk (-d fills it from the overlay).
	warnMissingTool(&a.Base, "mkfs.ext2")
}

// ApplyOverlayTftp unpacks the overlay into an NFS root or a ramdisk.
type ApplyOverlayTftp struct{ leaf }

// NewApplyOverlayTftp returns apply-overlay-tftp.
func NewApplyOverlayTftp() *ApplyOverlayTftp {
	return &ApplyOverlayTftp{leaf{pipeline.NewBase("ApplyOverlayTftp", "apply-overlay-tftp",
		"unpack the overlay into the nfsrootfs or ramdisk", "apply lava overlay test files")}}
}

// ExtractRootfs unpacks a rootfs download, ready for the overlay.
type ExtractRootfs struct{ leaf }

// NewExtractRootfs returns extract-rootfs.
func NewExtractRootfs() *ExtractRootfs {
	return &ExtractRootfs{leaf{pipeline.NewBase("ExtractRootfs", "extract-rootfs",
		"unpack rootfs", "unpack rootfs, ready to apply lava overlay")}}
}

// ExtractModules unpacks a modules download into the root filesystem.
type ExtractModules struct{ leaf }

// NewExtractModules returns extract-modules.
func NewExtractModules() *ExtractModules {
	return &ExtractModules{leaf{pipeline.NewBase("ExtractModules", "extract-modules",
		"extract supplied kernel modules", "extract kernel modules")}}
}
