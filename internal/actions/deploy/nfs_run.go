package deploy

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/download"
	"github.com/basalt-lava/basalt/internal/nfsserver"
	"github.com/basalt-lava/basalt/internal/overlay"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// dataNFSServer holds the namespace's running NFS server
// (*nfsserver.Server), stopped by the extracting action's Cleanup.
const dataNFSServer pipeline.DataKey = "nfs-server/server"

// nfsImage is the block's nfsrootfs: at the top of a to: nfs or to: tftp
// deploy, under images for qemu-nfs.
func nfsImage(params *value.Map) *value.Map {
	if m := params.Map("nfsrootfs"); m != nil {
		return m
	}
	return params.Map("images").Map("nfsrootfs")
}

// CannotRun is empty: ExtractNfs runs (below), although it embeds leaf.
func (*ExtractNfs) CannotRun() string { return "" }

// Run unpacks the NFS root for QEMU and exports it (LAVA's
// ExtractNfsAction, with the export LAVA leaves to the host's nfsd).
func (a *ExtractNfs) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	return conn, extractNfsRoot(ctx, &a.Base, a.Params.Map("images").Map("nfsrootfs"))
}

// Cleanup stops the NFS server: the export ends with the job, or with
// the failed attempt a retry replaces.
func (a *ExtractNfs) Cleanup(ctx context.Context) error {
	stopNFS(&a.Base)
	return a.leaf.Cleanup(ctx)
}

// CannotRun is empty: ExtractNfsRootfs runs (below), although it embeds leaf.
func (*ExtractNfsRootfs) CannotRun() string { return "" }

// CannotRun refuses a persistent_nfs (an NFS export elsewhere, which
// LAVA mounts on the dispatcher to apply the overlay): not written.
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

// Run unpacks the nfsrootfs of a to: nfs or to: tftp deploy and exports
// it; nothing when the block has none.
func (a *ExtractNfsRootfs) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	return conn, extractNfsRoot(ctx, &a.Base, a.Params.Map("nfsrootfs"))
}

// Cleanup stops the NFS server.
func (a *ExtractNfsRootfs) Cleanup(ctx context.Context) error {
	stopNFS(&a.Base)
	return a.leaf.Cleanup(ctx)
}

// extractNfsRoot unpacks the downloaded nfsrootfs into a folder of the
// job, moves to its prefix, records it as the NFS root and starts the
// NFS server exporting it. The archive is the job's: UntarRootfs keeps
// it inside the folder, within the job's limits.
func extractNfsRoot(ctx context.Context, b *pipeline.Base, img *value.Map) error {
	if img == nil {
		return nil
	}
	file := b.DataString(pipeline.DataDownload("nfsrootfs", pipeline.DownloadFile))
	if file == "" {
		return pipeline.Bug("%s: no file specified extract as nfsrootfs", b.Name)
	}
	dir, err := scratchDir(b)
	if err != nil {
		return err
	}
	// Absolute: the device mounts it by this name (--tmp-dir may be relative).
	dir, err = filepath.Abs(dir)
	if err != nil {
		return pipeline.InfrastructureError("locating the NFS root's folder: %v", err)
	}
	root := filepath.Join(dir, "nfsroot")
	start := time.Now()
	if err := download.UntarRootfs(file, root, b.Log(), download.LimitsFrom(ctx)); err != nil {
		return err
	}
	b.Log().Debugf("Extracted nfsroot to %s in %.2fs", root, time.Since(start).Seconds())
	if prefix, ok := img.Value("prefix").(string); ok {
		root, err = prefixedRoot(root, prefix)
		if err != nil {
			return err
		}
		b.Log().Warnf("Adding '%s' prefix, any other content will not be visible.", prefix)
	}
	b.SetData(pipeline.DataNFSRoot, root)
	return startNFS(ctx, b, root, filepath.Join(dir, "nfs-server"))
}

// prefixedRoot is root/prefix, which must be a folder of the archive
// itself: relative, not climbing out, and no link on the way (a link
// would export whatever it points to).
func prefixedRoot(root, prefix string) (string, error) {
	clean := path.Clean(prefix)
	if path.IsAbs(prefix) || !strings.HasSuffix(prefix, "/") || clean == ".." || strings.HasPrefix(clean, "../") || strings.ContainsRune(prefix, 0) {
		return "", pipeline.JobError("nfsrootfs prefix %q: a relative folder inside the archive, ending with /, is needed", prefix)
	}
	if clean == "." {
		return root, nil
	}
	p := root
	for _, part := range strings.Split(clean, "/") {
		p = filepath.Join(p, part)
		st, err := os.Lstat(p)
		if err != nil || !st.IsDir() {
			return "", pipeline.JobError("nfsrootfs prefix %q: %q is not a folder of the archive", prefix, strings.TrimPrefix(p, root+"/"))
		}
	}
	return p, nil
}

// startNFS exports root with a server of the job's own, at the address
// the device reaches the dispatcher at for NFS, and records how to reach
// it. A second deploy in the namespace replaces the first server.
func startNFS(ctx context.Context, b *pipeline.Base, root, state string) error {
	stopNFS(b)
	ip := nfsServerIP(b.Job)
	s, err := nfsserver.Start(ctx, nfsserver.Config{Dir: root, StateDir: state, Bind: nfsserver.BindFor(ip), Log: b.Log()})
	if err != nil {
		return err
	}
	b.SetData(dataNFSServer, s)
	b.SetData(pipeline.DataNFSServerIP, ip)
	b.SetData(pipeline.DataNFSClientOptions, s.ClientOptions())
	b.Log().Infof("NFS root %s:%s", ip, pipeline.NFSRootArg(b))
	return nil
}

// stopNFS stops the namespace's NFS server, if any; safe more than once.
func stopNFS(b *pipeline.Base) {
	if b.Job == nil {
		return
	}
	if s, ok := b.Data(dataNFSServer).(*nfsserver.Server); ok {
		if err := s.Stop(); err != nil {
			b.Log().Warnf("stopping the NFS server: %v", err)
		}
	}
}

// nfsServerIP is LAVA's dispatcher_ip(config, "nfs"): the dispatcher
// configuration's dispatcher_nfs_ip, else its dispatcher_ip, else the
// address of the interface that routes outwards. 10.0.2.2 suits QEMU's
// user network, and keeps the server on the loopback (BindFor).
func nfsServerIP(j *pipeline.Job) string {
	if ip := j.Params.Map("dispatcher").String("dispatcher_nfs_ip"); ip != "" {
		return ip
	}
	return dispatcherIP(j)
}

// applyToNFS unpacks the compressed overlay into the NFS root (LAVA's
// ApplyOverlayTftp, NFS cases: nfsrootfs of to: nfs and to: tftp,
// images.nfsrootfs of qemu-nfs): it lands at its results folder
// (/lava-<job>) of the root the device mounts.
func (a *ApplyOverlayTftp) applyToNFS(ctx context.Context) error {
	if pipeline.Truthy(a.Data(dataOverlayApplied)) {
		a.Log().Debugf("Overlay already applied")
		return nil
	}
	file := a.DataString(pipeline.DataCompressedOverlay)
	if file == "" {
		a.Log().Warnf("No overlay to apply")
		return nil
	}
	ns := a.Namespace()
	if v, ok := nfsImage(a.Params).Get("install_overlay"); ok && !pipeline.Truthy(v) {
		a.Log().Infof("[%s] Skipping applying overlay to NFS", ns)
		return nil
	}
	root := a.DataString(pipeline.DataNFSRoot)
	if root == "" {
		return pipeline.Bug("%s: no NFS root extracted in namespace %s", a.Name, ns)
	}
	a.Log().Infof("[%s] Applying overlay to NFS", ns)
	a.Log().Debugf("[%s] Applying overlay %s to directory %s", ns, file, root)
	return untarOverlay(ctx, file, root)
}

// untarOverlay unpacks Basalt's overlay tarball into a root the job
// supplied: the root may hold links where the overlay goes, which
// ExtractTar refuses to write through.
func untarOverlay(ctx context.Context, file, root string) error {
	f, err := os.Open(file)
	if err != nil {
		return pipeline.InfrastructureError("unable to open the overlay %s: %v", file, err)
	}
	defer f.Close()
	return overlay.ExtractTarWithin(f, root, download.LimitsFrom(ctx))
}
