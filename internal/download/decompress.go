package download

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/process"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// hostTools are the host's decompressors used, when installed, for the
// formats whose Go decoders are much slower than them: on a 64 MB image
// unxz is about 1.8 times as fast as the Go xz decoder and bunzip2 1.4
// times the Go bzip2 one, while gz and zstd decode faster in Go than
// gunzip and unzstd.
var hostTools = map[string][]string{"xz": {"xz", "-dcq"}, "bz2": {"bzip2", "-dcq"}}

// toolPath returns where the host tool for a compression is installed,
// "" when it is not. It looks every time, not once per process: a
// long-lived worker must see a tool installed since (a lookup costs
// nothing next to a download).
func toolPath(compression string) string {
	argv := hostTools[compression]
	if len(argv) == 0 {
		return ""
	}
	p, err := exec.LookPath(argv[0])
	if err != nil {
		return ""
	}
	return p
}

// decoder names what decompresses a compression, for the log.
func decoder(compression string, pureGo bool) string {
	if p := toolPath(compression); p != "" && !pureGo {
		return p
	}
	return "the Go " + compression + " decoder"
}

// copyData copies in to out, decompressing on the way when compression
// asks for it. Bytes after the compressed data are read too, so that the
// size and the checksums cover the whole download.
func copyData(ctx context.Context, in *reader, out *writer, compression string, pureGo bool, log *joblog.Logger) error {
	buf := make([]byte, bufSize)
	if !Decompresses(compression) {
		_, err := io.CopyBuffer(out, in, buf)
		return err
	}
	// The decompressors read through one large buffer: they would
	// otherwise make small reads of the network or the file.
	br := bufio.NewReaderSize(in, bufSize)
	var err error
	tool := toolPath(compression)
	switch {
	case tool != "" && !pureGo:
		err = runTool(ctx, tool, hostTools[compression][1:], br, out)
	case compression == "gz":
		err = gunzip(out, br, buf)
	case compression == "bz2":
		_, err = io.CopyBuffer(out, bzip2.NewReader(br), buf)
	case compression == "xz":
		var r *xz.Reader
		if r, err = xz.NewReader(br); err == nil {
			_, err = io.CopyBuffer(out, r, buf)
		}
	case compression == "zstd":
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

// runTool decompresses in to out with a host tool. It always waits for
// the tool and for its own copy of in to the tool's stdin, so nothing
// touches in or out once it returns: that copy ends at the end of in, or
// at its next write once the tool has exited (a read waiting on a silent
// server ends with the idle timer or ctx). The tool's complaint about the
// data is the error.
func runTool(ctx context.Context, path string, args []string, in io.Reader, out io.Writer) error {
	stdinR, stdin, err := os.Pipe()
	if err != nil {
		return pipeline.InfrastructureError("unable to start %s: %v", path, err)
	}
	stderr := &limitedBuffer{max: 4096}
	// The tool runs as a child process (internal/process): its own
	// process group, stopped when ctx ends, always reaped.
	p, err := process.Start(process.Spec{Argv: append([]string{path}, args...), Stdin: stdinR, Stdout: out, Stderr: stderr, Grace: process.GraceFrom(ctx)})
	stdinR.Close()
	if err != nil {
		stdin.Close()
		return pipeline.InfrastructureError("unable to start %s: %v", path, err)
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.CopyBuffer(stdin, in, make([]byte, bufSize))
		stdin.Close()
	}()
	select {
	case <-p.Done():
		err = p.Wait()
	case <-ctx.Done():
		p.Stop()
		err = ctx.Err()
	}
	<-copied
	if _, ok := process.IsExit(err); ok {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return errors.New(msg)
		}
	}
	return err
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
