package download

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// UntarFile unpacks the tar archive in file into dir, which it creates.
// A compressed archive (gzip, bzip2, xz, zstd) is recognised by its
// first bytes, as LAVA's tarfile.open does.
//
// The archive comes from the job, so nothing in it may reach outside
// dir: absolute names, ".." that climbs out, links whose target is
// absolute or climbs out, and entries below a symbolic link are refused
// with a Job error. Every write also goes through an os.Root on dir, so
// a case missed here still cannot escape. Device nodes and fifos are
// skipped; permissions keep their rwx bits only. The default Limits
// bound its entries and the bytes of its files.
func UntarFile(file, dir string, log *joblog.Logger) error {
	return untar(file, dir, log, DefaultLimits(), file)
}

// UntarRootfs unpacks a root file system's tar archive (an NFS root)
// into dir as UntarFile does, within lim, with one difference: symbolic
// links keep any target, absolute or climbing out ("/bin/busybox",
// "../../usr/lib"), since a root file system is full of them and only the
// device that mounts it resolves them. Basalt never follows them: no
// entry is created below a link, and every write goes through an
// os.Root on dir, which refuses links that leave it.
func UntarRootfs(file, dir string, log *joblog.Logger, lim Limits) error {
	return untarWith(file, dir, log, lim.Or(DefaultLimits()), file, true)
}

// untar is UntarFile within lim; image names the archive in errors.
func untar(file, dir string, log *joblog.Logger, lim Limits, image string) error {
	return untarWith(file, dir, log, lim, image, false)
}

// untarWith is untar; rootfs keeps every link target (UntarRootfs).
func untarWith(file, dir string, log *joblog.Logger, lim Limits, image string, rootfs bool) error {
	if log == nil {
		log = joblog.Discard()
	}
	f, err := os.Open(file)
	if err != nil {
		return pipeline.InfrastructureError("unable to unpack %s: %v", file, err)
	}
	defer f.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return pipeline.InfrastructureError("unable to create %s: %v", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return pipeline.InfrastructureError("unable to open %s: %v", dir, err)
	}
	defer root.Close()
	br := bufio.NewReaderSize(f, bufSize)
	r, closeFn, err := autoDecompress(br)
	if err != nil {
		return pipeline.JobError("unable to unpack %s: %v", file, err)
	}
	defer closeFn()
	x := &extractor{root: root, file: file, log: log, realDirs: map[string]bool{".": true}, buf: make([]byte, bufSize), lim: lim, image: image, anyLink: rootfs}
	return x.extract(tar.NewReader(r))
}

// magic numbers of the compressions a tar file may come in.
var (
	magicGzip  = []byte{0x1f, 0x8b}
	magicBzip2 = []byte("BZh")
	magicXz    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	magicZstd  = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

func autoDecompress(br *bufio.Reader) (io.Reader, func(), error) {
	head, _ := br.Peek(6)
	nop := func() {}
	switch {
	case bytes.HasPrefix(head, magicGzip):
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, nop, err
		}
		return z, func() { z.Close() }, nil
	case bytes.HasPrefix(head, magicBzip2):
		return bzip2.NewReader(br), nop, nil
	case bytes.HasPrefix(head, magicXz):
		r, err := xz.NewReader(br)
		return r, nop, err
	case bytes.HasPrefix(head, magicZstd):
		d, err := zstd.NewReader(br)
		if err != nil {
			return nil, nop, err
		}
		return d, d.Close, nil
	}
	return br, nop, nil
}

type extractor struct {
	root *os.Root
	file string
	log  *joblog.Logger
	// realDirs are folders known to be directories, not links: an entry
	// may only be created below those.
	realDirs map[string]bool
	buf      []byte
	// lim bounds the entries (MaxEntries) and the bytes of the files
	// (MaxImage); bytes counts those written so far.
	lim   Limits
	image string
	bytes int64
	// anyLink keeps link targets as they are (UntarRootfs).
	anyLink bool
}

func (x *extractor) extract(tr *tar.Reader) error {
	entries := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return pipeline.JobError("unable to unpack %s: %v", x.file, err)
		}
		name, err := x.cleanName(hdr.Name)
		if err != nil {
			return err
		}
		if name == "." {
			continue
		}
		entries++
		if x.lim.MaxEntries >= 0 && int64(entries) > x.lim.MaxEntries {
			return limitError(x.image, "entries in its tar archive", x.lim.MaxEntries, FlagMaxEntries)
		}
		if err := x.entry(tr, hdr, name); err != nil {
			return err
		}
	}
	x.log.Debugf("unpacked %d entries from %s", entries, x.file)
	return nil
}

// cleanName returns the entry's name relative to the root, or a Job
// error for a name that would leave it.
func (x *extractor) cleanName(name string) (string, error) {
	if strings.ContainsRune(name, 0) {
		return "", pipeline.JobError("invalid name %q in tar file %s", name, x.file)
	}
	if path.IsAbs(name) {
		return "", pipeline.JobError("attempted path traversal in tar file %s: absolute name %q", x.file, name)
	}
	c := path.Clean(name)
	if escapes(c) {
		return "", pipeline.JobError("attempted path traversal in tar file %s: %q", x.file, name)
	}
	return c, nil
}

// escapes reports whether a clean relative path climbs above its start.
func escapes(c string) bool { return c == ".." || strings.HasPrefix(c, "../") }

func (x *extractor) entry(tr *tar.Reader, hdr *tar.Header, name string) error {
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := x.parents(name); err != nil {
			return err
		}
		if st, err := x.root.Lstat(name); err == nil && st.IsDir() {
			x.realDirs[name] = true
			return nil
		}
		x.remove(name)
		if err := x.root.Mkdir(name, fs.FileMode(hdr.Mode)&0o777|0o700); err != nil {
			return x.fsError(name, err)
		}
		x.realDirs[name] = true
	case tar.TypeReg: // the reader turns old TypeRegA entries into these
		if err := x.parents(name); err != nil {
			return err
		}
		x.remove(name)
		if x.bytes += hdr.Size; x.lim.MaxImage >= 0 && x.bytes > x.lim.MaxImage {
			return limitError(x.image, "unpacked from its tar archive", x.lim.MaxImage, FlagMaxImage)
		}
		f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fs.FileMode(hdr.Mode)&0o777)
		if err != nil {
			return x.fsError(name, err)
		}
		_, err = io.CopyBuffer(onlyWriter{f}, tr, x.buf)
		if cerr := f.Close(); err == nil && cerr != nil {
			return x.fsError(name, cerr)
		}
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				return x.fsError(name, err)
			}
			return pipeline.JobError("unable to unpack %s: %s: %v", x.file, name, err)
		}
	case tar.TypeSymlink:
		if err := x.parents(name); err != nil {
			return err
		}
		target := hdr.Linkname
		if x.anyLink && target != "" && !strings.ContainsRune(target, 0) {
			x.remove(name)
			if err := x.root.Symlink(target, name); err != nil {
				return x.fsError(name, err)
			}
			return nil
		}
		if target == "" || strings.ContainsRune(target, 0) || path.IsAbs(target) {
			return pipeline.JobError("attempted path traversal in tar file %s: link %q points to %q", x.file, name, target)
		}
		// The link is written clean: "a/../../x" resolved by the kernel
		// through a link "a" could climb where the clean form does not.
		target = path.Clean(target)
		if escapes(path.Join(path.Dir(name), target)) {
			return pipeline.JobError("attempted path traversal in tar file %s: link %q points to %q", x.file, name, hdr.Linkname)
		}
		x.remove(name)
		if err := x.root.Symlink(target, name); err != nil {
			return x.fsError(name, err)
		}
	case tar.TypeLink:
		if err := x.parents(name); err != nil {
			return err
		}
		old, err := x.cleanName(hdr.Linkname)
		if err != nil {
			return err
		}
		x.remove(name)
		if err := x.root.Link(old, name); err != nil {
			return pipeline.JobError("unable to unpack %s: hard link %q to %q: %v", x.file, name, hdr.Linkname, err)
		}
	default:
		x.log.Debugf("skipping %q in %s: type %q is not unpacked", name, x.file, hdr.Typeflag)
	}
	return nil
}

// parents makes the folders above name and checks that none of them is
// a symbolic link: what is below a link would land wherever it points.
func (x *extractor) parents(name string) error {
	dir := path.Dir(name)
	if x.realDirs[dir] {
		return nil
	}
	parts := strings.Split(dir, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		if x.realDirs[p] {
			continue
		}
		st, err := x.root.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := x.root.Mkdir(p, 0o755); err != nil {
				return x.fsError(p, err)
			}
		case err != nil:
			return x.fsError(p, err)
		case st.Mode()&fs.ModeSymlink != 0:
			return pipeline.JobError("attempted path traversal in tar file %s: %q is below the link %q", x.file, name, p)
		case !st.IsDir():
			return pipeline.JobError("unable to unpack %s: %q is below %q, which is not a directory", x.file, name, p)
		}
		x.realDirs[p] = true
	}
	return nil
}

// remove clears the way for an entry that replaces an earlier one, as
// tar does. A non-empty folder stays, and creating the entry then fails.
func (x *extractor) remove(name string) {
	if err := x.root.Remove(name); err == nil {
		delete(x.realDirs, name)
	}
}

func (x *extractor) fsError(name string, err error) error {
	return pipeline.InfrastructureError("unable to unpack %s: %s: %v", x.file, name, err)
}

// onlyWriter hides the file's ReadFrom so copies use our buffer.
type onlyWriter struct{ w io.Writer }

func (w onlyWriter) Write(p []byte) (int, error) { return w.w.Write(p) }
