package download_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/download"
	"github.com/basalt-lava/basalt/internal/hostfiles"
	"github.com/basalt-lava/basalt/internal/pipeline"
)

// TestFetchLocalFilesPolicy: at run time a file:// image is read only
// where the host-access policy allows, whatever the validation saw: the
// refusal is a Job error naming the URL and the policy, and nothing is
// written; an allowed file (plain or compressed) downloads as before.
func TestFetchLocalFilesPolicy(t *testing.T) {
	base := t.TempDir()
	allowed := filepath.Join(base, "images")
	outside := filepath.Join(base, "private")
	for _, d := range []string{allowed, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile := func(p string, b []byte) {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(filepath.Join(allowed, "rootfs.img"), []byte("rootfs"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("compressed rootfs"))
	zw.Close()
	writeFile(filepath.Join(allowed, "rootfs.img.gz"), gz.Bytes())
	writeFile(filepath.Join(outside, "token"), []byte("worker-token"))
	if err := os.Symlink(filepath.Join(outside, "token"), filepath.Join(allowed, "token.img")); err != nil {
		t.Fatal(err)
	}
	none, err := hostfiles.New(hostfiles.Options{Host: "worker", Flag: "the worker's --allow-local-files"})
	if err != nil {
		t.Fatal(err)
	}
	some, err := hostfiles.New(hostfiles.Options{Dirs: []string{allowed}, Host: "worker", Flag: "the worker's --allow-local-files"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		policy      *hostfiles.Policy
		url         string
		compression string
		want        string // the file's content, or the error's words
		refused     bool
	}{
		{"nil policy", nil, "file://" + filepath.Join(outside, "token"), "", "worker-token", false},
		{"none: /etc/passwd", none, "file:///etc/passwd", "", "local files are not allowed on this worker (allowed: none; the worker's --allow-local-files)", true},
		{"none: allowed folder's file too", none, "file://" + filepath.Join(allowed, "rootfs.img"), "", "local files are not allowed", true},
		{"allowed", some, "file://" + filepath.Join(allowed, "rootfs.img"), "", "rootfs", false},
		{"allowed, compressed", some, "file://" + filepath.Join(allowed, "rootfs.img.gz"), "gz", "compressed rootfs", false},
		{"outside", some, "file://" + filepath.Join(outside, "token"), "", "outside the folders allowed on this worker", true},
		{"dot-dot escape", some, "file://" + allowed + "/../private/token", "", "outside the folders allowed", true},
		{"link escape", some, "file://" + filepath.Join(allowed, "token.img"), "", "leads outside them through a link", true},
		{"compressed outside", some, "file://" + filepath.Join(outside, "token.gz"), "gz", "outside the folders allowed", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "dl")
			res, err := download.Fetch(context.Background(), download.Request{URL: tt.url, Dir: dir, Compression: tt.compression,
				LocalFiles: tt.policy, Attempts: 1})
			if !tt.refused {
				if err != nil {
					t.Fatalf("Fetch: %v", err)
				}
				b, _ := os.ReadFile(res.File)
				if string(b) != tt.want {
					t.Errorf("downloaded %q, want %q", b, tt.want)
				}
				return
			}
			if err == nil {
				b, _ := os.ReadFile(res.File)
				t.Fatalf("Fetch read %q", b)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.url) {
				t.Errorf("error %q, want it to name %s and say %q", err, tt.url, tt.want)
			}
			if c := pipeline.ClassOf(err); c != pipeline.ClassJob {
				t.Errorf("class %s, want Job", c)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("left %d files in the download folder", len(entries))
			}
		})
	}
}
