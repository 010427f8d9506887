package overlay

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

// An Addition is one overlay to put into an image (LAVA's
// images.<key>.overlays): the LAVA overlay tarball at "/", a tarball of
// kernel modules at "/", a single file at its full path.
type Addition struct {
	// Name labels the overlay in messages ("rootfs.lava", "rootfs.modules").
	Name string
	// File is the overlay on the dispatcher: a tar archive (plain, gz,
	// bz2, xz or zstd) when Tar is set, else a file copied as it is.
	File string
	// Tar says File is an archive unpacked below Path.
	Tar bool
	// Dir, when set instead of File, is a folder on the dispatcher whose
	// contents go below Path, owned by root: the LAVA overlay's tree as
	// lava-overlay left it, which is what compress-overlay's tarball
	// holds, without packing and unpacking it again.
	Dir string
	// Path is where it goes in the image: the folder a tarball or Dir is
	// unpacked into, the full name of a file. Absolute, without "..".
	Path string
}

// entry is one thing to create in an image, in the order it is created.
type entry struct {
	path string // absolute and clean, in the image
	kind byte   // 'd' folder, 'f' file, 'l' symlink
	perm uint32 // permission bits, set-id and sticky included (the image is the job's)
	uid  int
	gid  int
	link string // a symlink's target
	size int64
	host string // a file's content, staged on the dispatcher
	from string // the member or file it comes from, for messages
}

// stagedOverlays is every entry of a list of additions, the files'
// contents copied to numbered files in a scratch folder: nothing the
// archives name is ever a path on the dispatcher.
type stagedOverlays struct {
	entries []entry
	// skipped counts the device nodes and fifos left out.
	skipped int
	bytes   int64
}

// maxImageNameLen bounds one path in an image (Linux's PATH_MAX).
const maxImageNameLen = 4096

// maxOverlayEntries bounds the members of the overlays put into one
// image: each costs a staged file and a few debugfs commands, and an
// archive of empty files costs nothing to send. Linaro's whole
// test-definitions repository is some 3,000.
var maxOverlayEntries = 200000

// stage reads the additions in order into scratch. Archive members that
// would leave their folder ("..", absolute names), that go through a
// symlink made by an earlier member, or whose names the image tools
// cannot take, are refused: the archives are the job's.
func stage(adds []Addition, scratch string) (*stagedOverlays, error) {
	s := &stagedOverlays{}
	links := map[string]bool{} // symlinks the additions made
	files := map[string]string{}
	n := 0
	newHost := func() string {
		n++
		return filepath.Join(scratch, strconv.Itoa(n))
	}
	for _, a := range adds {
		dest, err := imagePath(a.Path)
		if err != nil {
			return nil, pipeline.JobError("overlay %s: invalid path %q: %v", a.Name, a.Path, err)
		}
		add := func(e entry) error {
			if err := checkImageName(e.path); err != nil {
				return pipeline.JobError("overlay %s: %q: %v", a.Name, e.from, err)
			}
			if e.host != "" {
				if err := checkImageName(e.host); err != nil {
					return pipeline.InfrastructureError("overlay %s: the dispatcher's copy %q: %v", a.Name, e.host, err)
				}
			}
			if e.kind == 'l' {
				if err := checkImageName(e.link); err != nil {
					return pipeline.JobError("overlay %s: symlink target of %q: %v", a.Name, e.from, err)
				}
			}
			for p := path.Dir(e.path); p != "/"; p = path.Dir(p) {
				if links[p] {
					return pipeline.JobError("overlay %s: %q goes through the symlink %s the overlay made", a.Name, e.from, p)
				}
			}
			if len(s.entries) >= maxOverlayEntries {
				return pipeline.JobError("the overlays of the image hold more than %d members", maxOverlayEntries)
			}
			delete(links, e.path)
			if e.kind == 'l' {
				links[e.path] = true
			}
			s.entries = append(s.entries, e)
			return nil
		}
		if a.Dir != "" {
			if err := walkTree(a.Dir, dest, add, s); err != nil {
				return nil, err
			}
			continue
		}
		if !a.Tar {
			host := newHost()
			size, err := copyToFile(a.File, host)
			if err != nil {
				return nil, err
			}
			s.bytes += size
			if dest == "/" {
				return nil, pipeline.JobError("overlay %s: a file cannot replace the root folder", a.Name)
			}
			if err := add(entry{path: dest, kind: 'f', perm: 0o644, size: size, host: host, from: a.Path}); err != nil {
				return nil, err
			}
			continue
		}
		f, err := os.Open(a.File)
		if err != nil {
			return nil, pipeline.InfrastructureError("opening overlay %s: %w", a.Name, err)
		}
		err = func() error {
			in, done, err := decompress(f)
			if err != nil {
				return err
			}
			defer done()
			tr := tar.NewReader(in)
			for {
				h, err := tr.Next()
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return pipeline.JobError("overlay %s: unable to read the archive: %v", a.Name, err)
				}
				rel, err := memberName(h.Name)
				if err != nil {
					return pipeline.JobError("overlay %s: attempted path traversal at %q: %v", a.Name, h.Name, err)
				}
				if rel == "." {
					// The folder itself: it exists or is made, and keeps
					// its mode (LAVA would set the root folder's from it).
					continue
				}
				e := entry{path: path.Join(dest, rel), perm: uint32(h.Mode) & 0o7777, uid: h.Uid, gid: h.Gid, from: h.Name}
				switch h.Typeflag {
				case tar.TypeDir:
					e.kind = 'd'
				case tar.TypeReg:
					e.kind, e.size, e.host = 'f', h.Size, newHost()
					if s.bytes += h.Size; s.bytes > MaxExtract {
						return pipeline.JobError("overlay %s unpacks to more than %d MB", a.Name, MaxExtract>>20)
					}
					if err := writeStaged(e.host, tr, h.Size); err != nil {
						return err
					}
					files[e.path] = e.host
				case tar.TypeSymlink:
					e.kind, e.link = 'l', h.Linkname
				case tar.TypeLink:
					// A copy: the image tools do not count links.
					target, err := memberName(h.Linkname)
					if err != nil {
						return pipeline.JobError("overlay %s: attempted path traversal at %q: %v", a.Name, h.Linkname, err)
					}
					host, ok := files[path.Join(dest, target)]
					if !ok {
						return pipeline.JobError("overlay %s: hard link %q to %q, which the archive has not given before", a.Name, h.Name, h.Linkname)
					}
					st, err := os.Stat(host)
					if err != nil {
						return pipeline.InfrastructureError("overlay %s: %v", a.Name, err)
					}
					e.kind, e.size, e.host = 'f', st.Size(), host
					files[e.path] = host
				case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
					s.skipped++
					continue
				case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink:
					continue
				default:
					return pipeline.JobError("overlay %s: member %q has the unsupported type %q", a.Name, h.Name, h.Typeflag)
				}
				if err := add(e); err != nil {
					return err
				}
			}
		}()
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// walkTree adds the contents of a folder on the dispatcher below dest,
// owned by root; its files are written from where they are.
func walkTree(dir, dest string, add func(entry) error, s *stagedOverlays) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return pipeline.InfrastructureError("reading the overlay: %w", err)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel == "." && dest == "/" {
			// The image's root keeps its mode.
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return pipeline.InfrastructureError("reading the overlay: %w", err)
		}
		e := entry{path: path.Join(dest, filepath.ToSlash(rel)), perm: uint32(info.Mode().Perm()), from: rel}
		switch {
		case info.IsDir():
			e.kind = 'd'
		case info.Mode().IsRegular():
			e.kind, e.size, e.host = 'f', info.Size(), p
			if s.bytes += e.size; s.bytes > MaxExtract {
				return pipeline.JobError("the overlay holds more than %d MB", MaxExtract>>20)
			}
		case info.Mode()&fs.ModeSymlink != 0:
			if e.link, err = os.Readlink(p); err != nil {
				return pipeline.InfrastructureError("reading the overlay: %w", err)
			}
			e.kind = 'l'
		default:
			s.skipped++
			return nil
		}
		if info.Mode()&fs.ModeSetuid != 0 {
			e.perm |= 0o4000
		}
		if info.Mode()&fs.ModeSetgid != 0 {
			e.perm |= 0o2000
		}
		if info.Mode()&fs.ModeSticky != 0 {
			e.perm |= 0o1000
		}
		return add(e)
	})
}

// imagePath checks an overlay's destination: absolute, without "..".
func imagePath(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", errors.New("an absolute path is needed")
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", errors.New(`".." is not allowed`)
		}
	}
	return path.Clean(p), nil
}

// checkImageName refuses what cannot be written safely to debugfs'
// command file or a cpio header: control characters (a newline would
// start another command), double quotes and backslashes (debugfs'
// quoting), and names longer than PATH_MAX.
func checkImageName(p string) error {
	if p == "" {
		return errors.New("empty name")
	}
	if len(p) > maxImageNameLen {
		return fmt.Errorf("name longer than %d bytes", maxImageNameLen)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' {
			return fmt.Errorf("the name holds %q, which overlays may not use", r)
		}
	}
	return nil
}

func writeStaged(name string, r io.Reader, size int64) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return pipeline.InfrastructureError("staging an overlay file: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(r, size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != size {
		return pipeline.JobError("overlay archive truncated: %d of %d bytes", n, size)
	}
	if err != nil {
		return pipeline.JobError("unpacking the overlay archive: %v", err)
	}
	return nil
}

func copyToFile(src, dst string) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, pipeline.InfrastructureError("opening overlay file: %w", err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return 0, pipeline.InfrastructureError("overlay file %s is not a regular file", src)
	}
	if st.Size() > MaxExtract {
		return 0, pipeline.JobError("overlay file is larger than %d MB", MaxExtract>>20)
	}
	err = writeStaged(dst, in, st.Size())
	return st.Size(), err
}

// parents lists the folders above p, outermost first, "/" excluded.
func parents(p string) []string {
	var out []string
	for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
		out = append(out, d)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
