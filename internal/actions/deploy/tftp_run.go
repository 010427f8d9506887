package deploy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/basalt-lava/basalt/internal/actions/boot"
	"github.com/basalt-lava/basalt/internal/download"
	"github.com/basalt-lava/basalt/internal/janitor"
	"github.com/basalt-lava/basalt/internal/overlay"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/process"
	"github.com/basalt-lava/basalt/internal/value"
)

// The tftp deploy as it runs. Files are downloaded into the job's
// scratch folder as for every deploy; the ramdisk gets the overlay (a
// cpio archive appended, overlay.AppendCpio: the kernel unpacks both)
// and, when the device asks, a u-boot header; then tftp-deploy puts
// each file the bootloader fetches into the job's own folder of the
// dispatcher's TFTP root, under the paths LAVA's templates expect:
// <suffix>/kernel/<name>, <suffix>/ramdisk/<name>, <suffix>/dtb/<name>…
// where <suffix> is that folder's name. bootloader-overlay substitutes
// these paths for {KERNEL}, {RAMDISK}, {DTB}…. The folder is removed when
// the job ends, whatever happened (Cleanup).
//
// The TFTP root is the dispatcher's: the dispatcher configuration's
// tftp_root (Basalt's key; `basalt run --dispatcher-config`), else
// TFTP_DIRECTORY in /etc/default/tftpd-hpa as LAVA reads it, else
// /srv/tftp. Whoever serves it (tftpd-hpa, or QEMU's user network for
// an emulated board, `-netdev user,tftp=ROOT`) serves it read-only;
// Basalt writes only below the job's folder in it.

// defaultTFTPRoot is tftpd-hpa's default TFTP_DIRECTORY.
const defaultTFTPRoot = "/srv/tftp"

// tftpdConfig is where tftpd-hpa's TFTP_DIRECTORY is set.
var tftpdConfig = "/etc/default/tftpd-hpa"

// TFTPRoot returns the dispatcher's TFTP root for job j.
func TFTPRoot(j *pipeline.Job) string {
	if d := j.Params.Map("dispatcher").String("tftp_root"); d != "" {
		return d
	}
	if d := tftpdDirectory(tftpdConfig); d != "" {
		return d
	}
	return defaultTFTPRoot
}

// tftpdDirectory reads TFTP_DIRECTORY="..." from tftpd-hpa's defaults.
func tftpdDirectory(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if ok && strings.TrimSpace(k) == "TFTP_DIRECTORY" {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return ""
}

// tftpFiles are the download labels whose files the bootloader fetches,
// besides the ramdisk (which compress-ramdisk may have replaced) and the
// dtbo and extra files.
var tftpFiles = []string{"kernel", "dtb", "tee", "preseed"}

// CannotRun is empty: TftpAction runs.
func (*TftpAction) CannotRun() string { return "" }

// Run makes the job's TFTP folder, runs the downloads and the ramdisk
// preparation, then puts the files in the folder.
func (a *TftpAction) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	root := TFTPRoot(a.Job)
	st, err := os.Stat(root)
	if err != nil || !st.IsDir() {
		return conn, pipeline.InfrastructureError("the TFTP root %s is not a folder (set tftp_root in the dispatcher configuration, or TFTP_DIRECTORY in %s): %v", root, tftpdConfig, err)
	}
	dir, err := os.MkdirTemp(root, "basalt-"+sanitizeName(a.Job.ID)+"-")
	if err != nil {
		return conn, pipeline.InfrastructureError("creating the job's TFTP folder in %s: %v", root, err)
	}
	// A TFTP server running as another user (tftpd-hpa's tftp) reads it.
	os.Chmod(dir, 0o755)
	// Removed by Cleanup; should Basalt be killed before, by the janitor
	// (the folder's name is Basalt's own, made just above).
	a.undo = janitor.Add("TFTP folder "+dir, "rm", "-rf", "--", dir)
	suffix := filepath.Base(dir)
	a.SetData(pipeline.DataTFTPDir, dir)
	a.SetData(pipeline.DataTFTPSuffix, suffix)
	a.Log().Debugf("TFTP folder: %s (as %s in the bootloader commands)", dir, suffix)
	conn, err = a.Base.Run(ctx, conn)
	if err != nil {
		return conn, err
	}
	var labels []string
	for _, k := range tftpFiles {
		if a.Params.Has(k) {
			labels = append(labels, k)
		}
	}
	for i := range a.Params.List("dtbo") {
		labels = append(labels, fmt.Sprintf("dtbo%d", i))
	}
	if a.Params.Has("ramdisk") {
		labels = append(labels, "ramdisk")
	}
	for _, label := range labels {
		src := a.DataString(pipeline.DataDownload(label, pipeline.DownloadFile))
		if label == "ramdisk" {
			if f := a.DataString(pipeline.DataRamdiskFinal); f != "" {
				src = f
			}
		}
		if label == "kernel" {
			if f := a.DataString(dataPreparedKernel); f != "" {
				src = f
			}
		}
		if src == "" {
			return conn, pipeline.Bug("%s: no file for %s", a.Name, label)
		}
		rel, err := publish(src, dir, label)
		if err != nil {
			return conn, pipeline.InfrastructureError("putting %s in the TFTP folder: %v", label, err)
		}
		a.SetData(pipeline.DataTFTPFile(label), filepath.Join(suffix, rel))
	}
	for _, name := range a.Params.Map("extra_files").Keys() {
		src := a.DataString(pipeline.DataDownload(name, pipeline.DownloadFile))
		if src == "" {
			continue
		}
		rel, err := publish(src, filepath.Join(dir, "extra_files"), name)
		if err != nil {
			return conn, pipeline.InfrastructureError("putting %s in the TFTP folder: %v", name, err)
		}
		a.SetData(pipeline.DataTFTPFile(name), filepath.Join(suffix, "extra_files", rel))
	}
	return conn, nil
}

// Cleanup removes the job's TFTP folder, on every path.
func (a *TftpAction) Cleanup(ctx context.Context) error {
	err := a.Base.Cleanup(ctx)
	if a.Job == nil {
		return err
	}
	dir := a.DataString(pipeline.DataTFTPDir)
	if dir == "" {
		return err
	}
	a.Log().Debugf("removing the TFTP folder %s", dir)
	if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
		err = pipeline.InfrastructureError("unable to remove the TFTP folder %s: %v", dir, rerr)
	} else {
		a.undo.Done()
	}
	a.SetData(pipeline.DataTFTPDir, "")
	return err
}

// sanitizeName keeps a job id usable in a folder name.
func sanitizeName(s string) string {
	out := []rune{}
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			out = append(out, r)
		}
		if len(out) >= 32 {
			break
		}
	}
	if len(out) == 0 {
		return "job"
	}
	return string(out)
}

// publish puts src at dir/label/<its name>, by a hard link when both are
// on one file system, else by a copy; it returns label/<name>.
func publish(src, dir, label string) (string, error) {
	if err := os.MkdirAll(filepath.Join(dir, label), 0o755); err != nil {
		return "", err
	}
	rel := filepath.Join(label, filepath.Base(src))
	dst := filepath.Join(dir, rel)
	if err := os.Link(src, dst); err == nil {
		return rel, nil
	}
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return "", err
	}
	return rel, out.Close()
}

// ubootHeaderLength is the size of a legacy u-boot image header.
const ubootHeaderLength = 64

// CannotRun is empty: ExtractRamdisk runs.
func (*ExtractRamdisk) CannotRun() string { return "" }

// Run copies the ramdisk into the scratch folder for the overlay,
// without its u-boot header when the job says it has one. The ramdisk
// is not unpacked: the overlay is appended as a second cpio archive.
func (a *ExtractRamdisk) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	rd := a.Params.Map("ramdisk")
	if rd == nil {
		return conn, nil
	}
	src := a.DataString(pipeline.DataDownload("ramdisk", pipeline.DownloadFile))
	if src == "" {
		return conn, pipeline.Bug("%s: the ramdisk was not downloaded", a.Name)
	}
	if rd.Has("install_modules") && !pipeline.Truthy(rd.Value("install_modules")) &&
		rd.Has("install_overlay") && !pipeline.Truthy(rd.Value("install_overlay")) {
		a.Log().Infof("Not extracting ramdisk.")
		return conn, nil
	}
	dir, err := scratchDir(&a.Base)
	if err != nil {
		return conn, err
	}
	dst := filepath.Join(dir, "ramdisk.cpio")
	skip := int64(0)
	if rd.String("header") == "u-boot" {
		skip = ubootHeaderLength
	}
	if err := copyFrom(src, dst, skip); err != nil {
		return conn, pipeline.InfrastructureError("preparing the ramdisk: %v", err)
	}
	a.SetData(pipeline.DataRamdiskWork, dst)
	return conn, nil
}

// copyFrom copies src from offset skip to dst.
func copyFrom(src, dst string, skip int64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if skip > 0 {
		if _, err := in.Seek(skip, io.SeekStart); err != nil {
			return err
		}
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// CannotRun is empty: ApplyOverlayTftp runs.
func (*ApplyOverlayTftp) CannotRun() string { return "" }

// Run puts the overlay into the ramdisk (appended as a cpio archive) or
// into the extracted NFS root, as LAVA's apply-overlay-tftp does; a
// block whose image says install_overlay: false is left alone.
func (a *ApplyOverlayTftp) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	tree, results, err := overlayTree(&a.Base)
	if err != nil {
		return conn, err
	}
	add := overlay.Addition{Name: "lava", Dir: tree, Path: results}
	switch {
	case nfsImage(a.Params) != nil:
		// nfs_run.go: through an os.Root, the root being the job's.
		return conn, a.applyToNFS(ctx)
	case a.Params.Has("ramdisk"):
		if rd := a.Params.Map("ramdisk"); rd.Has("install_overlay") && !pipeline.Truthy(rd.Value("install_overlay")) {
			a.Log().Infof("[%s] Skipping applying overlay to ramdisk", a.Namespace())
			return conn, nil
		}
		work := a.DataString(pipeline.DataRamdiskWork)
		if work == "" {
			return conn, pipeline.Bug("%s: the ramdisk was not prepared", a.Name)
		}
		a.Log().Infof("[%s] Applying overlay %s to ramdisk", a.Namespace(), tree)
		scratch, err := scratchDir(&a.Base)
		if err != nil {
			return conn, err
		}
		res, err := overlay.AppendCpio(work, []overlay.Addition{add}, scratch)
		if err != nil {
			return conn, err
		}
		a.Log().Debugf("appended %d entries (%d bytes) to the ramdisk as a %s cpio archive", res.Entries, res.Bytes, orPlain(res.Compression))
	default:
		a.Log().Debugf("[%s] No overlay directory", a.Namespace())
	}
	return conn, nil
}

func orPlain(c string) string {
	if c == "" {
		return "plain"
	}
	return c
}

// CannotRun is empty: CompressRamdisk runs.
func (*CompressRamdisk) CannotRun() string { return "" }

// Run finishes the ramdisk: the overlay is already in it (appended, in
// the ramdisk's own compression), so what is left is the u-boot header
// when the device's add_header is u-boot (mkimage -A <mkimage_arch> -T
// ramdisk -C none), as LAVA does.
func (a *CompressRamdisk) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	work := a.DataString(pipeline.DataRamdiskWork)
	if !a.Params.Has("ramdisk") || work == "" {
		return conn, nil
	}
	dp, _ := a.Device().Lookup("actions", "deploy", "parameters")
	params, _ := dp.(*value.Map)
	final := work
	if params.String("add_header") == "u-boot" {
		arch := params.String("mkimage_arch")
		if arch == "" {
			return conn, pipeline.ConfigurationError("missing architecture for uboot mkimage support (mkimage_arch in deploy parameters)")
		}
		a.Log().Debugf("Adding RAMdisk u-boot header.")
		final = work + ".uboot"
		out := process.NewLineWriter(func(l string) { a.Log().Debugf("mkimage: %s", l) })
		err := process.Run(ctx, process.Spec{Argv: []string{"mkimage", "-A", arch, "-T", "ramdisk", "-C", "none", "-d", work, final}, Stdout: out, Stderr: out})
		out.Flush()
		if err != nil {
			if ctx.Err() != nil {
				return conn, ctx.Err()
			}
			return conn, pipeline.InfrastructureError("Unable to add uboot header to ramdisk: %v", err)
		}
	}
	a.SetData(pipeline.DataRamdiskFinal, final)
	return conn, nil
}

// dataPreparedKernel is the kernel uboot-prepare-kernel converted, when
// it converted one (LAVA's prepare-kernel/file/kernel).
const dataPreparedKernel pipeline.DataKey = "prepare-kernel/file/kernel"

// CannotRun is empty: ConfigurePreseedFile runs (it has nothing to do
// without a preseed; with one it is refused until written).
func (a *ConfigurePreseedFile) CannotRun() string {
	if a.Params.Has("preseed") {
		return pipeline.NotWritten
	}
	return ""
}

// Run does nothing: CannotRun refused a block with a preseed.
func (a *ConfigurePreseedFile) Run(_ context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	return conn, nil
}

// CannotRun refuses a kernel that u-boot can only bootm and that is not
// a uImage yet: the conversion is not written.
func (a *UBootPrepareKernel) CannotRun() string {
	kt, _ := a.Params.Map("kernel").Value("type").(string)
	if kt == "" || kt == "uimage" {
		return ""
	}
	if cmd, _ := boot.UBootBootCommand(kt, a.Device()); cmd == "bootm" {
		return "converting a kernel to a uImage (bootm of a " + kt + ") not written yet"
	}
	return ""
}

// Run records the u-boot command that boots the kernel type (booti,
// bootz or bootm) for bootloader-overlay's {BOOTX}.
func (a *UBootPrepareKernel) Run(_ context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	kt, _ := a.Params.Map("kernel").Value("type").(string)
	if kt == "" {
		return conn, nil
	}
	cmd, ok := boot.UBootBootCommand(kt, a.Device())
	if !ok {
		return conn, pipeline.JobError("unknown kernel type %q: use zimage, image or uimage", kt)
	}
	a.SetData(pipeline.DataBootCommand, cmd)
	a.SetResult("bootcommand", cmd)
	return conn, nil
}

// CannotRun is empty: ExtractModules runs.
func (*ExtractModules) CannotRun() string { return "" }

// Run unpacks the modules tarball into the NFS root and into the ramdisk
// (appended as a cpio archive), as LAVA's extract-modules does for each
// that the block has, unless its install_modules is false. Modules with
// neither are a JobError, as in LAVA.
func (a *ExtractModules) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	if !pipeline.Truthy(a.Params.Value("modules")) {
		return conn, nil
	}
	modules := a.DataString(pipeline.DataDownload("modules", pipeline.DownloadFile))
	if modules == "" {
		return conn, pipeline.Bug("%s: the modules were not downloaded", a.Name)
	}
	if !a.Params.Has("ramdisk") && !a.Params.Has("nfsrootfs") {
		return conn, pipeline.JobError("Unable to identify a location for the unpacked modules")
	}
	wanted := func(key string) bool {
		m := a.Params.Map(key)
		return !m.Has("install_modules") || pipeline.Truthy(m.Value("install_modules"))
	}
	if a.Params.Has("nfsrootfs") {
		if !wanted("nfsrootfs") {
			a.Log().Infof("Skipping applying overlay to NFS")
		} else {
			root := a.DataString(pipeline.DataNFSRoot)
			if root == "" {
				return conn, pipeline.Bug("%s: the NFS root was not extracted", a.Name)
			}
			a.Log().Infof("extracting modules file %s to %s", modules, root)
			// The job's archive into the job's root, as the root itself
			// (nfs_run.go): its links keep their targets (a modules tree
			// has absolute build and source links), within the job's
			// limits, a bad archive being the job's error.
			if err := download.UntarRootfs(modules, root, a.Log(), download.LimitsFrom(ctx)); err != nil {
				return conn, err
			}
		}
	}
	if a.Params.Has("ramdisk") {
		work := a.DataString(pipeline.DataRamdiskWork)
		switch {
		case !wanted("ramdisk"):
			a.Log().Infof("Not adding modules to the ramdisk.")
		case work == "":
			return conn, pipeline.Bug("%s: the ramdisk was not prepared", a.Name)
		default:
			a.Log().Infof("extracting modules file %s to the ramdisk", modules)
			scratch, err := scratchDir(&a.Base)
			if err != nil {
				return conn, err
			}
			if _, err := overlay.AppendCpio(work, []overlay.Addition{{Name: "modules", File: modules, Tar: true, Path: "/"}}, scratch); err != nil {
				return conn, err
			}
		}
	}
	return conn, nil
}
