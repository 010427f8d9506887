package deploy

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/basalt-lava/basalt/internal/overlay"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// dataOverlayApplied says the LAVA overlay went into an image
// (LAVA's append-overlays/result/applied): the overlay disk is then not
// built, and the test shell finds the overlay in the root file system.
const dataOverlayApplied = pipeline.DataOverlayApplied

var _ pipeline.Action = (*AppendOverlays)(nil)

// Run puts the overlays into the downloaded image, in the order the job
// lists them: the LAVA overlay (overlays: {lava: true}) at the image's
// root, the others at their path. An ext4 image is edited in place with
// debugfs (LAVA's e2fsprogs backend; its default, libguestfs, boots a
// VM), or the one in its partition when the image names one; a cpio
// ramdisk gets a second archive appended, a tar image more members.
func (a *AppendOverlays) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	image := a.DataString(pipeline.DataDownload(a.Key, pipeline.DownloadFile))
	if image == "" {
		return conn, pipeline.Bug("%s: the download of %s recorded no file", a.Name, a.Key)
	}
	log := a.Log()
	log.Infof("Modifying %q", image)
	var adds []overlay.Addition
	lava := false
	a.Image.Map("overlays").Range(func(name string, v any) bool {
		label := a.Key + "." + name
		if name == "lava" {
			if !pipeline.Truthy(v) {
				return true
			}
			// The tree compress-overlay packed: the same files, without
			// packing and unpacking them again.
			tree, _, err := overlayTree(&a.Base)
			if err != nil || a.DataString(dataCompressedFile) == "" {
				log.Warnf("- %s: <MISSING> to '/'", label)
				return true
			}
			log.Debugf("- %s: %q to '/'", label, tree)
			adds = append(adds, overlay.Addition{Name: label, Dir: tree, Path: "/" + filepath.Base(tree)})
			// ssh-authorize's keys, which compress-overlay adds as ./root.
			if root := filepath.Join(filepath.Dir(tree), "root"); dirExists(root) {
				adds = append(adds, overlay.Addition{Name: label, Dir: root, Path: "/root"})
			}
			lava = true
			return true
		}
		m, _ := v.(*value.Map)
		file, dest := a.DataString(pipeline.DataDownload(label, pipeline.DownloadFile)), m.String("path")
		if file == "" {
			log.Warnf("- %s: <MISSING> to %q", label, dest)
			return true
		}
		log.Debugf("- %s: %q to %q", label, file, dest)
		adds = append(adds, overlay.Addition{Name: label, File: file, Tar: m.String("format") == "tar", Path: dest})
		return true
	})
	dir, err := scratchDir(&a.Base)
	if err != nil {
		return conn, err
	}
	start := time.Now()
	switch f := a.Image.String("format"); f {
	case "ext4":
		log.Infof("Using e2fsprogs backend for overlay injection")
		var res *overlay.Ext4Result
		if part, ok := pipeline.ToInt(a.Image.Value("partition")); ok {
			log.Infof("Writing into partition %d of %s", part, a.Key)
			res, err = overlay.AppendExt4Partition(ctx, image, part, adds, dir)
		} else {
			res, err = overlay.AppendExt4(ctx, image, adds, dir)
		}
		if err != nil {
			return conn, err
		}
		if res.GrownTo > 0 {
			log.Infof("Grew %s from %d to %d MiB for the overlays to fit", a.Key, res.GrownFrom>>20, res.GrownTo>>20)
		}
		if res.Skipped > 0 {
			log.Warnf("Left out %d device nodes and fifos (debugfs cannot make them)", res.Skipped)
		}
		log.Infof("Wrote %d entries (%d bytes) into %s in %.3fs", res.Entries, res.Bytes, a.Key, time.Since(start).Seconds())
	case "cpio.newc":
		res, err := overlay.AppendCpio(image, adds, dir)
		if err != nil {
			return conn, err
		}
		how := "a cpio archive"
		if res.Compression != "" {
			how = "a " + res.Compression + "-compressed cpio archive"
		}
		if res.Skipped > 0 {
			log.Warnf("Left out %d device nodes and fifos", res.Skipped)
		}
		log.Infof("Appended %s of %d entries (%d bytes) to %s in %.3fs", how, res.Entries, res.Bytes, a.Key, time.Since(start).Seconds())
	case "tar":
		res, err := overlay.AppendTar(image, adds, dir)
		if err != nil {
			return conn, err
		}
		log.Infof("Appended %d entries (%d bytes) to the tar image %s in %.3fs", res.Entries, res.Bytes, a.Key, time.Since(start).Seconds())
	default:
		return conn, pipeline.JobError("unsupported image format %q", f)
	}
	if lava {
		a.SetData(dataOverlayApplied, true)
	}
	return conn, nil
}

func dirExists(p string) bool {
	st, err := os.Lstat(p)
	return err == nil && st.IsDir()
}
