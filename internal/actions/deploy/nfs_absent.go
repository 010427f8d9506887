package deploy

import (
	"context"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

// The NFS steps of a tftp deploy when the block has no NFS root: they
// have nothing to do, and a ramdisk boot must not be refused for them.
// A block with an nfsrootfs or a persistent_nfs is still refused until
// the NFS root is written (this file is then replaced by it).

// CannotRun refuses an nfsrootfs until extracting it is written.
func (a *ExtractNfsRootfs) CannotRun() string {
	if a.Params.Has("nfsrootfs") {
		return pipeline.NotWritten
	}
	return ""
}

// Run does nothing: CannotRun refused a block with an nfsrootfs.
func (a *ExtractNfsRootfs) Run(_ context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	return conn, nil
}

// CannotRun refuses a persistent_nfs until it is written.
func (a *ParsePersistentNFS) CannotRun() string {
	if a.Params.Has("persistent_nfs") {
		return pipeline.NotWritten
	}
	return ""
}

// Run does nothing: CannotRun refused a block with a persistent_nfs.
func (a *ParsePersistentNFS) Run(_ context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	return conn, nil
}
