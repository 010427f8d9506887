package download

import (
	"bufio"
	"compress/bzip2"
	"io"

	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// copyData copies in to out, decompressing on the way when compression
// asks for it. Bytes after the compressed data are read too, so that the
// size and the checksums cover the whole download.
func copyData(in *reader, out *writer, compression string, log *joblog.Logger) error {
	buf := make([]byte, bufSize)
	if !Decompresses(compression) {
		_, err := io.CopyBuffer(out, in, buf)
		return err
	}
	// The decompressors read through one large buffer: they would
	// otherwise make small reads of the network or the file.
	br := bufio.NewReaderSize(in, bufSize)
	var err error
	switch compression {
	case "gz":
		err = gunzip(out, br, buf)
	case "bz2":
		_, err = io.CopyBuffer(out, bzip2.NewReader(br), buf)
	case "xz":
		var r *xz.Reader
		if r, err = xz.NewReader(br); err == nil {
			_, err = io.CopyBuffer(out, r, buf)
		}
	case "zstd":
		var d *zstd.Decoder
		if d, err = zstd.NewReader(br); err == nil {
			_, err = io.CopyBuffer(out, d, buf)
			d.Close()
		}
	}
	if err != nil {
		return err
	}
	n, err := io.CopyBuffer(io.Discard, br, buf)
	if n > 0 {
		log.Warnf("ignored %d bytes after the %s data", n, compression)
	}
	return err
}

// gunzip decompresses every gzip member (pigz and friends write several)
// and, as gunzip does, leaves what follows the last one alone.
func gunzip(out io.Writer, br *bufio.Reader, buf []byte) error {
	z, err := gzip.NewReader(br)
	if err != nil {
		return err
	}
	defer z.Close()
	for {
		z.Multistream(false)
		if _, err := io.CopyBuffer(out, z, buf); err != nil {
			return err
		}
		b, err := br.Peek(2)
		if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			if err == io.EOF {
				err = nil
			}
			return err
		}
		if err := z.Reset(br); err != nil {
			return err
		}
	}
}
