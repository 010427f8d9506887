package deploy

import (
	"context"
	"path/filepath"
	"time"

	"github.com/basalt-lava/basalt/internal/overlay"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// guestFile is the overlay disk's name. LAVA converts its disk to qcow2
// (lava-guest.qcow2); a raw image needs no conversion and QEMU takes it
// as is (format=raw).
const guestFile = "lava-guest.img"

// guestSizeMB is the device's guest.size (MB) for the overlay disk.
func guestSizeMB(b *pipeline.Base) (int, error) {
	v, ok := b.Device().Lookup("actions", "deploy", "methods", "image", "parameters", "guest", "size")
	if !ok || v == nil {
		return overlay.DefaultGuestSizeMB, nil
	}
	n, isInt := pipeline.ToInt(v)
	if !isInt || n <= 0 {
		return 0, pipeline.ConfigurationError("invalid guest filesystem size %s", value.GoString(v))
	}
	return n, nil
}

// CannotRun is empty: ApplyOverlayGuest runs (below), although it embeds leaf.
func (*ApplyOverlayGuest) CannotRun() string { return "" }

// Run builds the second QEMU disk: ext2, label LAVA, the overlay's
// results folder at its root (the test shell mounts it on
// /lava-<jobid> by UUID). LAVA builds it with libguestfs, which boots a
// VM (about 20 s under TCG); mkfs.ext2 -d takes milliseconds.
func (a *ApplyOverlayGuest) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	if pipeline.Truthy(a.Data(dataOverlayApplied)) {
		// append-overlays put it into the root file system.
		a.Log().Debugf("Overlay already applied")
		return conn, nil
	}
	tree, _, err := overlayTree(&a.Base)
	if err != nil {
		return conn, err
	}
	size, err := guestSizeMB(&a.Base)
	if err != nil {
		return conn, err
	}
	dir, err := scratchDir(&a.Base)
	if err != nil {
		return conn, err
	}
	start := time.Now()
	g, err := overlay.BuildGuest(ctx, tree, filepath.Join(dir, guestFile), size)
	if err != nil {
		return conn, err
	}
	a.Log().Infof("Overlay disk %s: ext2, label %s, UUID %s, %d MB, built in %.3fs",
		g.Path, overlay.GuestLabel, g.UUID, size, time.Since(start).Seconds())
	if !g.OwnersMapped && g.Owner != 0 {
		a.Log().Warnf("the overlay files belong to uid %d on the device: this host allows no user namespace to map them to root", g.Owner)
	}
	a.SetData(dataGuestFile, g.Path)
	a.SetData(dataGuestFormat, "raw")
	a.SetData(dataGuestUUID, g.UUID)
	a.SetResult("success", g.UUID)
	return conn, nil
}
