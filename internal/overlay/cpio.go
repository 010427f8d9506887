package overlay

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// CpioResult says what AppendCpio did.
type CpioResult struct {
	// Entries is how many folders, files and symlinks were appended.
	Entries int
	// Bytes is the size of the files appended.
	Bytes int64
	// Skipped counts the device nodes and fifos left out.
	Skipped int
	// Compression is how the appended archive was compressed: "" (the
	// ramdisk is a plain cpio archive), "gz", "xz" or "zstd".
	Compression string
}

// AppendCpio adds the additions to a cpio (newc) ramdisk by appending a
// second archive holding them. The kernel unpacks every archive of an
// initramfs in turn, later members replacing earlier ones, and each part
// may be compressed on its own: a compressed ramdisk gets an archive
// compressed the same way (gz, xz or zstd, recognised by the file's
// magic number), so nothing is unpacked or rebuilt. LAVA unpacks the
// ramdisk, adds the overlays and packs it again; the guest sees the same
// files. Folders above what the additions hold that they do not name
// are added as root's, mode 0755 (the kernel makes no missing parents).
func AppendCpio(image string, adds []Addition, scratch string) (*CpioResult, error) {
	compression, err := ramdiskCompression(image)
	if err != nil {
		return nil, err
	}
	staged, err := stage(adds, scratch)
	if err != nil {
		return nil, err
	}
	res := &CpioResult{Entries: len(staged.entries), Bytes: staged.bytes, Skipped: staged.skipped, Compression: compression}
	f, err := os.OpenFile(image, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, pipeline.InfrastructureError("opening the ramdisk: %w", err)
	}
	err = appendArchive(f, compression, staged.entries)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// ramdiskCompression recognises the ramdisk's compression by its magic
// number; the kernel decides the same way.
func ramdiskCompression(image string) (string, error) {
	c, magic, err := magicCompression(image)
	switch {
	case err != nil:
		return "", err
	case c == "bz2":
		return "", pipeline.JobError("%s is compressed with bzip2, which Basalt cannot write: give the ramdisk uncompressed or with gz, xz or zstd", filepath.Base(image))
	case c != "":
		return c, nil
	case bytes.HasPrefix(magic, []byte("07070")):
		return "", nil
	}
	return "", pipeline.JobError("%s is not a cpio (newc) archive, plain or compressed with gz, xz or zstd (it starts with % x)", filepath.Base(image), magic)
}

// magicCompression names a file's compression from its first bytes:
// gz, xz, zstd, bz2, or "" for none of them; magic is those bytes.
func magicCompression(name string) (compression string, magic []byte, err error) {
	f, err := os.Open(name)
	if err != nil {
		return "", nil, pipeline.InfrastructureError("opening the image: %w", err)
	}
	defer f.Close()
	magic = make([]byte, 6)
	n, _ := io.ReadFull(f, magic)
	magic = magic[:n]
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return "gz", magic, nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return "xz", magic, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd", magic, nil
	case bytes.HasPrefix(magic, []byte("BZh")):
		return "bz2", magic, nil
	}
	return "", magic, nil
}

// appendArchive writes the entries as one newc archive at the end of f.
func appendArchive(f *os.File, compression string, entries []entry) error {
	st, err := f.Stat()
	if err != nil {
		return pipeline.InfrastructureError("ramdisk: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	var w io.Writer = bw
	var closer io.Closer
	switch compression {
	case "":
		// A plain archive starts on a 4-byte boundary; the kernel skips
		// the zeros in between.
		if pad := (4 - st.Size()%4) % 4; pad > 0 {
			bw.Write(make([]byte, pad))
		}
	case "gz":
		zw, _ := gzip.NewWriterLevel(bw, gzip.BestSpeed)
		w, closer = zw, zw
	case "xz":
		// CRC32, not xz's default CRC64: the kernel's decoder may lack it.
		zw, err := xz.WriterConfig{CheckSum: xz.CRC32, DictCap: 1 << 20}.NewWriter(bw)
		if err != nil {
			return pipeline.Bug("xz writer: %v", err)
		}
		w, closer = zw, zw
	case "zstd":
		zw, err := zstd.NewWriter(bw, zstd.WithWindowSize(1<<20), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return pipeline.Bug("zstd writer: %v", err)
		}
		w, closer = zw, zw
	}
	cw := &cpioWriter{w: w, ino: 0x7ff00000, mtime: time.Now().Unix(), dirs: map[string]bool{}}
	for _, e := range entries {
		if err := cw.entry(e); err != nil {
			return err
		}
	}
	err = cw.trailer()
	if err == nil && closer != nil {
		err = closer.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return pipeline.InfrastructureError("appending to the ramdisk: %w", err)
	}
	return nil
}

// cpioWriter writes newc ("070701") members.
type cpioWriter struct {
	w     io.Writer
	n     int64 // bytes written, for the 4-byte alignment
	ino   uint32
	mtime int64
	dirs  map[string]bool // folders written
	err   error
}

const (
	cpioDir     = 0o040000
	cpioFile    = 0o100000
	cpioSymlink = 0o120000
)

func (c *cpioWriter) entry(e entry) error {
	for _, p := range parents(e.path) {
		if !c.dirs[p] {
			c.header(p, cpioDir|0o755, 0, 0, 0)
			c.dirs[p] = true
		}
	}
	switch e.kind {
	case 'd':
		c.header(e.path, cpioDir|e.perm, e.uid, e.gid, 0)
		c.dirs[e.path] = true
	case 'l':
		c.header(e.path, cpioSymlink|0o777, e.uid, e.gid, int64(len(e.link)))
		c.write([]byte(e.link))
		c.pad()
	case 'f':
		c.header(e.path, cpioFile|e.perm, e.uid, e.gid, e.size)
		if c.err == nil {
			f, err := os.Open(e.host)
			if err != nil {
				return pipeline.InfrastructureError("staged overlay file: %w", err)
			}
			n, err := io.Copy(c, io.LimitReader(f, e.size))
			f.Close()
			if err == nil && n != e.size {
				err = fmt.Errorf("staged file %s changed size", e.host)
			}
			if err != nil && c.err == nil {
				c.err = err
			}
		}
		c.pad()
	}
	return c.err
}

func (c *cpioWriter) trailer() error {
	c.header("TRAILER!!!", 0, 0, 0, 0)
	// GNU cpio ends on a 512-byte block; the kernel does not mind either way.
	if r := c.n % 512; r != 0 {
		c.write(make([]byte, 512-r))
	}
	return c.err
}

// header writes one member's header and name; name is the path in the
// image, written without its leading slash as cpio -H newc does.
func (c *cpioWriter) header(name string, mode uint32, uid, gid int, size int64) {
	name = strings.TrimPrefix(name, "/")
	c.ino++
	fmt.Fprintf(c, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, uint32(uid), uint32(gid), 1, uint32(c.mtime), uint32(size),
		0, 0, 0, 0, len(name)+1, 0)
	c.write([]byte(name))
	c.write([]byte{0})
	c.pad()
}

func (c *cpioWriter) pad() {
	if r := c.n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

func (c *cpioWriter) write(b []byte) { c.Write(b) }

// Write counts what goes through and keeps the first error.
func (c *cpioWriter) Write(b []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(b)
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	return n, err
}
