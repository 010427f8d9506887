package cli

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRunDownloadLimit: `basalt run --max-download-size 1M` of the
// example job whose kernel URL streams 64 MiB without Content-Length
// ends with a Job error that names the image and the flag, and the
// server does not get to send it all. Without the flag the default (16
// GiB) would take the whole body.
func TestRunDownloadLimit(t *testing.T) {
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		buf := make([]byte, 64<<10)
		for range 1024 {
			n, err := w.Write(buf)
			sent.Add(int64(n))
			if err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	b, err := os.ReadFile("../../examples/qemu/job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	job := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(job, []byte(strings.ReplaceAll(string(b), "http://127.0.0.1:8000", srv.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	code := Main([]string{"run", job, "--device", "../../examples/qemu/device.jinja2", "--output-dir", out, "--quiet", "--max-download-size", "1M"}, &stdout, &stderr)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitFailed, stderr.String())
	}
	for _, want := range []string{"Job error", "image kernel", "more than 1MiB downloaded", "--max-download-size"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout.String())
		}
	}
	srv.Close() // waits for the handler
	if n := sent.Load(); n >= 64<<20 {
		t.Errorf("the server sent all %d bytes", n)
	}
	var help bytes.Buffer
	Main([]string{"run", "--help"}, io.Discard, &help)
	for _, f := range []string{"-max-download-size", "-max-image-size", "-max-image-ratio", "-max-archive-entries"} {
		if !strings.Contains(help.String(), f) {
			t.Errorf("basalt run --help lacks %s", f)
		}
	}
}
