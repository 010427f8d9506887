package overlay

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/basalt-lava/basalt/internal/download"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// MaxExtract bounds what one test archive may unpack to: the archive is
// the job's, and a small compressed file can expand to fill the disk.
const MaxExtract = 1 << 30

// errEscape marks an archive member that would land outside the folder.
var errEscape = errors.New("path escapes the destination")

// ExtractTar unpacks a tar archive, plain or compressed with gzip or
// bzip2, into dest (created if needed). The archive comes from the job:
// members leaving dest (absolute names, "..", writing through a symlink)
// are refused, and so are device files; permission bits are kept but not
// set-uid, set-gid or sticky. Problems with the archive are the job's.
// The default download.Limits bound its entries and bytes (ExtractTarWithin).
func ExtractTar(r io.Reader, dest string) error {
	return ExtractTarWithin(r, dest, download.DefaultLimits())
}

// ExtractTarWithin is ExtractTar bounded by lim, as the images of the
// job are: at most lim.MaxEntries members, and files of at most
// lim.MaxImage bytes in all (never more than MaxExtract).
func ExtractTarWithin(r io.Reader, dest string, lim download.Limits) error {
	lim = lim.Or(download.DefaultLimits())
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return pipeline.InfrastructureError("creating %s: %w", dest, err)
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return pipeline.InfrastructureError("opening %s: %w", dest, err)
	}
	defer root.Close()
	in, done, err := decompress(r)
	if err != nil {
		return err
	}
	defer done()
	tr := tar.NewReader(in)
	var total, entries int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return pipeline.JobError("unable to unpack the test archive: %v", err)
		}
		name, err := memberName(h.Name)
		if err != nil {
			return pipeline.JobError("attempted path traversal in tar file at %q: %v", h.Name, err)
		}
		if name == "." {
			continue
		}
		if entries++; lim.MaxEntries >= 0 && entries > lim.MaxEntries {
			return archiveLimit("entries in the test archive", lim.MaxEntries, download.FlagMaxEntries)
		}
		if lim.MaxImage >= 0 && lim.MaxImage < MaxExtract && h.Typeflag == tar.TypeReg && total+h.Size > lim.MaxImage {
			return archiveLimit("unpacked from the test archive", lim.MaxImage, download.FlagMaxImage)
		}
		if err := extractMember(root, tr, h, name, &total); err != nil {
			if errors.Is(err, errEscape) || strings.Contains(err.Error(), "escapes from parent") {
				return pipeline.JobError("attempted path traversal in tar file at %q: %v", h.Name, err)
			}
			var pe *pipeline.Error
			if errors.As(err, &pe) {
				return err
			}
			return pipeline.JobError("unable to unpack %q from the test archive: %v", h.Name, err)
		}
	}
}

func archiveLimit(what string, limit int64, flag string) error {
	return &pipeline.Error{Class: pipeline.ClassJob, Err: &download.LimitError{Image: "test archive", What: what, Limit: limit, Flag: flag}}
}

// memberName returns the cleaned relative name of a member, refusing any
// that leaves the destination.
func memberName(n string) (string, error) {
	n = strings.TrimPrefix(n, "./")
	if strings.HasPrefix(n, "/") {
		return "", fmt.Errorf("%w: absolute name", errEscape)
	}
	c := path.Clean(n)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", errEscape
	}
	return c, nil
}

func extractMember(root *os.Root, tr io.Reader, h *tar.Header, name string, total *int64) error {
	mode := fs.FileMode(h.Mode) & fs.ModePerm
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	switch h.Typeflag {
	case tar.TypeDir:
		if err := root.MkdirAll(name, 0o755); err != nil {
			return err
		}
		return root.Chmod(name, mode|0o700)
	case tar.TypeReg:
		*total += h.Size
		if *total > MaxExtract {
			return pipeline.JobError("the test archive unpacks to more than %d MB", MaxExtract>>20)
		}
		// Remove first: an earlier member may have put a symlink here,
		// which OpenFile would follow.
		if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, io.LimitReader(tr, h.Size))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		return root.Chmod(name, mode)
	case tar.TypeSymlink:
		// The link may point anywhere: it is only ever followed on the
		// device. Files written later through it are checked by the root.
		if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return root.Symlink(h.Linkname, name)
	case tar.TypeLink:
		target, err := memberName(h.Linkname)
		if err != nil {
			return err
		}
		if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return root.Link(target, name)
	case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink:
		return nil
	}
	return pipeline.JobError("test archive member %q: unsupported type %q (only files, folders and links)", h.Name, h.Typeflag)
}

// decompress recognises gzip, bzip2, xz and zstd by their magic numbers
// (a url test definition is a tarball in any of them, TuxRun's zstd);
// anything else is read as it is. done releases the decoder.
func decompress(r io.Reader) (in io.Reader, done func(), err error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(6)
	nothing := func() {}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, pipeline.JobError("unable to unpack the archive: %v", err)
		}
		return zr, nothing, nil
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(br), nothing, nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, nil, pipeline.JobError("unable to unpack the archive: %v", err)
		}
		return xr, nothing, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, pipeline.JobError("unable to unpack the archive: %v", err)
		}
		return zr, zr.Close, nil
	}
	return br, nothing, nil
}

// Compress writes dir as a gzipped tarball at output, its contents under
// arcname (LAVA's overlay-<level>.tar.gz holds "lava-<jobid>/…"), and,
// when rootDir exists, its contents under "./root" (the ssh keys of
// ssh-authorize). Every member belongs to root: unpacked on the device
// by root, the files are root's as if made there.
func Compress(output, dir, arcname, rootDir string) error {
	f, err := os.Create(output)
	if err != nil {
		return pipeline.InfrastructureError("creating %s: %w", output, err)
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	err = addTree(tw, dir, arcname)
	if err == nil && rootDir != "" {
		if _, serr := os.Lstat(rootDir); serr == nil {
			err = addTree(tw, rootDir, "./root")
		}
	}
	for _, c := range []io.Closer{tw, zw, f} {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return pipeline.InfrastructureError("unable to create lava overlay tarball %s: %w", output, err)
	}
	return nil
}

func addTree(tw *tar.Writer, dir, arcname string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		name := path.Join(arcname, filepath.ToSlash(rel))
		if arcname == "./root" {
			name = "./" + name
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		h.Name = name
		if info.IsDir() {
			h.Name += "/"
		}
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "root", "root"
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
}
