package overlay

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// TarResult says what AppendTar did.
type TarResult struct {
	// Entries is how many folders, files and symlinks were appended.
	Entries int
	// Bytes is the size of the files appended.
	Bytes int64
	// Compression is the image's compression ("" for a plain tar).
	Compression string
}

// AppendTar adds the additions to a tar image (an NFS root file system)
// as members appended after the archive's last one, names relative as
// "./etc/x": unpacked, later members replace earlier ones, so the tree
// is the one LAVA gets by unpacking, adding the overlays and packing it
// again. A compressed image (gz, xz or zstd) is decompressed into
// scratch and compressed again the same way, as LAVA does.
func AppendTar(image string, adds []Addition, scratch string) (*TarResult, error) {
	compression, err := tarCompression(image)
	if err != nil {
		return nil, err
	}
	staged, err := stage(adds, scratch)
	if err != nil {
		return nil, err
	}
	res := &TarResult{Entries: len(staged.entries), Bytes: staged.bytes, Compression: compression}
	plain := image
	if compression != "" {
		plain = filepath.Join(scratch, "image.tar")
		if err := decompressFile(image, plain); err != nil {
			return nil, err
		}
	}
	if err := appendTarMembers(plain, staged.entries); err != nil {
		return nil, err
	}
	if compression != "" {
		if err := compressFile(plain, image, compression); err != nil {
			return nil, err
		}
		os.Remove(plain)
	}
	return res, nil
}

// tarCompression recognises a tar image's compression by its magic.
func tarCompression(image string) (string, error) {
	c, _, err := magicCompression(image)
	switch {
	case err != nil:
		return "", err
	case c == "bz2":
		return "", pipeline.JobError("%s is compressed with bzip2, which Basalt cannot write: give the image uncompressed or with gz, xz or zstd", filepath.Base(image))
	case c != "":
		return c, nil
	}
	f, err := os.Open(image)
	if err != nil {
		return "", pipeline.InfrastructureError("opening the image: %w", err)
	}
	defer f.Close()
	if _, err := tar.NewReader(f).Next(); err != nil && err != io.EOF {
		return "", pipeline.JobError("%s is not a tar archive, plain or compressed with gz, xz or zstd: %v", filepath.Base(image), err)
	}
	return "", nil
}

// countingReader counts what has been read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// appendTarMembers writes the entries over the end-of-archive blocks of
// the plain tar file, then a new end.
func appendTarMembers(name string, entries []entry) error {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return pipeline.InfrastructureError("opening the image: %w", err)
	}
	defer f.Close()
	// The end is where the two zero blocks start: reading them is what
	// makes Next report io.EOF.
	cr := &countingReader{r: bufio.NewReaderSize(f, 1<<16)}
	tr := tar.NewReader(cr)
	for {
		_, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return pipeline.JobError("the tar image is damaged: %v", err)
		}
	}
	end := cr.n - 2*512
	if end < 0 {
		end = 0
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		return pipeline.InfrastructureError("tar image: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	tw := tar.NewWriter(bw)
	now := time.Now()
	for _, e := range entries {
		h := &tar.Header{Name: "." + e.path, Mode: int64(e.perm), Uid: e.uid, Gid: e.gid, ModTime: now, Format: tar.FormatPAX}
		switch e.kind {
		case 'd':
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		case 'l':
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, e.link, 0o777
		case 'f':
			h.Typeflag, h.Size = tar.TypeReg, e.size
		}
		if err := tw.WriteHeader(h); err != nil {
			return pipeline.InfrastructureError("appending to the tar image: %w", err)
		}
		if e.kind == 'f' {
			src, err := os.Open(e.host)
			if err != nil {
				return pipeline.InfrastructureError("staged overlay file: %w", err)
			}
			_, err = io.Copy(tw, io.LimitReader(src, e.size))
			src.Close()
			if err != nil {
				return pipeline.InfrastructureError("appending to the tar image: %w", err)
			}
		}
	}
	err = tw.Close()
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		var pos int64
		if pos, err = f.Seek(0, io.SeekCurrent); err == nil {
			err = f.Truncate(pos)
		}
	}
	if err != nil {
		return pipeline.InfrastructureError("appending to the tar image: %w", err)
	}
	return nil
}

// decompressFile writes the decompressed content of src to dst.
func decompressFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return pipeline.InfrastructureError("opening the image: %w", err)
	}
	defer in.Close()
	r, done, err := decompress(in)
	if err != nil {
		return err
	}
	defer done()
	out, err := os.Create(dst)
	if err != nil {
		return pipeline.InfrastructureError("decompressing the image: %w", err)
	}
	_, err = io.Copy(out, r)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return pipeline.JobError("decompressing the image: %v", err)
	}
	return nil
}

// compressFile replaces dst with src compressed as compression says.
func compressFile(src, dst, compression string) error {
	in, err := os.Open(src)
	if err != nil {
		return pipeline.InfrastructureError("compressing the image: %w", err)
	}
	defer in.Close()
	tmp := dst + ".basalt-tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return pipeline.InfrastructureError("compressing the image: %w", err)
	}
	bw := bufio.NewWriterSize(out, 1<<16)
	var w io.WriteCloser
	switch compression {
	case "gz":
		w = gzip.NewWriter(bw)
	case "xz":
		w, err = xz.NewWriter(bw)
	case "zstd":
		w, err = zstd.NewWriter(bw)
	default:
		err = errors.New("unknown compression " + compression)
	}
	if err == nil {
		_, err = io.Copy(w, in)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return pipeline.InfrastructureError("compressing the image (%s): %w", compression, err)
	}
	return nil
}
