package download_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/download"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// zeros reads as n zero bytes.
func zeros(n int64) io.Reader { return io.LimitReader(zeroReader{}, n) }

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// bomb compresses n zero bytes: a file of some KB that decompresses to n.
func bomb(t *testing.T, compression string, n int64) []byte {
	t.Helper()
	var b bytes.Buffer
	var w io.WriteCloser
	var err error
	switch compression {
	case "bz2":
		// Go has no bzip2 encoder: the host's bzip2 makes it.
		cmd := exec.Command("bzip2", "-c")
		cmd.Stdin, cmd.Stdout = zeros(n), &b
		if err := cmd.Run(); err != nil {
			t.Skipf("bzip2: %v", err)
		}
		return b.Bytes()
	case "gz":
		w = gzip.NewWriter(&b)
	case "xz":
		w, err = xz.NewWriter(&b)
	case "zstd":
		w, err = zstd.NewWriter(&b, zstd.WithEncoderConcurrency(1))
	default:
		t.Fatalf("no bomb in %s", compression)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, zeros(n)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// wantLimit checks that err is a Job error from the limit named by flag,
// and that it names the image.
func wantLimit(t *testing.T, err error, flag, image string) {
	t.Helper()
	var le *download.LimitError
	switch {
	case err == nil:
		t.Fatalf("got no error, want the limit %s", flag)
	case pipeline.ClassOf(err) != pipeline.ClassJob || !errors.As(err, &le):
		t.Fatalf("got %v (class %s), want a Job error from the limit %s", err, pipeline.ClassOf(err), flag)
	case le.Flag != flag || !strings.Contains(err.Error(), flag) || !strings.Contains(err.Error(), image):
		t.Fatalf("got %q, want it to name %s and %s", err, flag, image)
	}
}

// TestFetchDecompressionBomb: 32 MiB of zeros compress to some KB; the
// image may decompress to 4 MiB only, and nothing stays on disk.
func TestFetchDecompressionBomb(t *testing.T) {
	t.Parallel()
	const size = 32 << 20
	for _, c := range []string{"bz2", "gz", "xz", "zstd"} {
		if _, err := exec.LookPath("bzip2"); c == "bz2" && err != nil {
			continue
		}
		data := bomb(t, c, size)
		name := "bomb.img." + c
		srv, _ := serve(t, map[string][]byte{"/" + name: data}, nil)
		local := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(local, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, m := range modes {
			for _, u := range []string{srv.URL + "/" + name, "file://" + local} {
				t.Run(c+"/"+m.name+"/"+u[:4], func(t *testing.T) {
					t.Parallel()
					dir := t.TempDir()
					req := m.req(download.Request{URL: u, Dir: dir, Compression: c, Name: "rootfs", Backoff: -1,
						Limits: download.Limits{MaxImage: 4 << 20}})
					_, err := download.Fetch(context.Background(), req)
					wantLimit(t, err, download.FlagMaxImage, "image rootfs")
					if !strings.Contains(err.Error(), "more than 4MiB decompressed") {
						t.Errorf("error %q does not say what passed which bound", err)
					}
					if left, _ := os.ReadDir(dir); len(left) != 0 {
						t.Errorf("left %v in the download folder", left)
					}
				})
			}
		}
	}
}

// TestFetchRatio: with --max-image-ratio a compressed image whose size is
// known may decompress to that many times its size.
func TestFetchRatio(t *testing.T) {
	t.Parallel()
	data := bomb(t, "zstd", 8<<20)
	srv, _ := serve(t, map[string][]byte{"/r.zst": data}, nil)
	lim := download.Limits{MaxRatio: 100}
	_, err := download.Fetch(context.Background(), download.Request{URL: srv.URL + "/r.zst", Dir: t.TempDir(), Compression: "zstd", Name: "disk", Limits: lim})
	wantLimit(t, err, download.FlagMaxRatio, "image disk")

	// The same limit lets a real image through: 1 MiB of text
	// compresses by less than 100 times.
	var text bytes.Buffer
	for i := 0; text.Len() < 1<<20; i++ {
		fmt.Fprintf(&text, "line %d of a log that does not repeat %x\n", i, i*7919)
	}
	var z bytes.Buffer
	zw, _ := zstd.NewWriter(&z)
	_, _ = zw.Write(text.Bytes())
	_ = zw.Close()
	srv2, _ := serve(t, map[string][]byte{"/t.zst": z.Bytes()}, nil)
	res, err := download.Fetch(context.Background(), download.Request{URL: srv2.URL + "/t.zst", Dir: t.TempDir(), Compression: "zstd", Limits: lim})
	if err != nil || res.Stored != int64(text.Len()) {
		t.Fatalf("Fetch of a 1 MiB text image = %v, %v; want it stored whole", res, err)
	}
}

// TestFetchEndlessBody: a server that streams without Content-Length
// (chunked) is cut at --max-download-size; one that declares a larger
// Content-Length is refused before the transfer.
func TestFetchEndlessBody(t *testing.T) {
	t.Parallel()
	const limit = 4 << 20
	sent := make(chan int64, 4)
	srv, _ := serve(t, nil, func(mux *http.ServeMux) {
		// 64 MiB in chunks: bounded, so that the test ends on a build
		// without the limit too (and fails there).
		mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.CopyBuffer(flushWriter{w}, zeros(64<<20), make([]byte, 64<<10))
			sent <- n
		})
		mux.HandleFunc("/declared", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(64<<20))
			n, _ := io.Copy(w, zeros(64<<20))
			sent <- n
		})
		mux.HandleFunc("/exact", func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.CopyBuffer(flushWriter{w}, zeros(limit), make([]byte, 64<<10))
			sent <- n
		})
	})
	for _, path := range []string{"/chunked", "/declared"} {
		dir := t.TempDir()
		ctx := download.WithLimits(context.Background(), download.Limits{MaxDownload: limit})
		_, err := download.Fetch(ctx, download.Request{URL: srv.URL + path, Dir: dir, Name: "kernel", Backoff: -1})
		wantLimit(t, err, download.FlagMaxDownload, "image kernel")
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("%s: left %v in the download folder", path, left)
		}
		if n := <-sent; n >= 64<<20 {
			t.Errorf("%s: the server sent all %d bytes; the download should have stopped", path, n)
		}
	}
	// Exactly the limit is allowed.
	res, err := download.Fetch(context.Background(), download.Request{URL: srv.URL + "/exact", Dir: t.TempDir(), Limits: download.Limits{MaxDownload: limit}})
	<-sent
	if err != nil || res.Size != limit {
		t.Fatalf("Fetch of exactly the limit = %v, %v; want it whole", res, err)
	}
}

type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	f.w.(http.Flusher).Flush()
	return n, err
}

// TestFetchArchiveLimits: archive: tar is bounded in entries and in the
// bytes of its files, a compressed archive as well as a plain one.
func TestFetchArchiveLimits(t *testing.T) {
	t.Parallel()
	var many []entry
	for i := range 50 {
		many = append(many, file(fmt.Sprintf("f%d", i), ""))
	}
	big := tarball(t, file("big", strings.Repeat("x", 1<<20)))
	var zbig bytes.Buffer
	zw, _ := zstd.NewWriter(&zbig)
	_, _ = zw.Write(big)
	_ = zw.Close()
	srv, _ := serve(t, map[string][]byte{"/many.tar": tarball(t, many...), "/big.tar": big, "/big.tar.zst": zbig.Bytes()}, nil)
	for _, c := range []struct {
		path, compression, flag string
		lim                     download.Limits
	}{
		{"/many.tar", "", download.FlagMaxEntries, download.Limits{MaxEntries: 10}},
		{"/big.tar", "", download.FlagMaxImage, download.Limits{MaxImage: 512 << 10, MaxDownload: 4 << 20}},
		// Decompressed while downloading: the decompressed bound comes first.
		{"/big.tar.zst", "zstd", download.FlagMaxImage, download.Limits{MaxImage: 512 << 10}},
		// Kept compressed, unpacked by the archive reader.
		{"/big.tar.zst", "", download.FlagMaxImage, download.Limits{MaxImage: 512 << 10}},
	} {
		t.Run(c.path+c.compression, func(t *testing.T) {
			_, err := download.Fetch(context.Background(), download.Request{URL: srv.URL + c.path, Dir: t.TempDir(), Compression: c.compression,
				Archive: "tar", Name: "nfsrootfs", Limits: c.lim})
			wantLimit(t, err, c.flag, "image nfsrootfs")
		})
	}
	// The defaults let both through.
	for _, p := range []string{"/many.tar", "/big.tar.zst"} {
		if _, err := download.Fetch(context.Background(), download.Request{URL: srv.URL + p, Dir: t.TempDir(), Archive: "tar"}); err != nil {
			t.Errorf("Fetch %s with the default limits: %v", p, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{
		"0": 0, "512": 512, "4K": 4 << 10, "4KiB": 4 << 10, "16G": 16 << 30, "16 GiB": 16 << 30, "2t": 2 << 40, "3MB": 3 << 20, "100B": 100,
	} {
		if got, err := download.ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "G", "1.5G", "9999999999T", "12X"} {
		if got, err := download.ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
	for _, n := range []int64{0, 100, 4 << 10, 16 << 30, 3<<20 + 1} {
		if got, err := download.ParseSize(strings.ReplaceAll(download.FormatSize(n), " bytes", "")); err != nil || got != n {
			t.Errorf("ParseSize(FormatSize(%d)) = %d, %v", n, got, err)
		}
	}
}
