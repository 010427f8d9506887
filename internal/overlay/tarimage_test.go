package overlay

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

// untarLastWins reads a tar as an unpacking would leave it: later
// members replace earlier ones.
func untarLastWins(t *testing.T, data []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading the image back: %v", err)
		}
		b, _ := io.ReadAll(tr)
		name := strings.TrimPrefix(strings.TrimSuffix(h.Name, "/"), "./")
		switch h.Typeflag {
		case tar.TypeDir:
			out[name] = "dir"
		case tar.TypeSymlink:
			out[name] = "-> " + h.Linkname
		default:
			out[name] = string(b)
		}
	}
}

func TestAppendTar(t *testing.T) {
	orig, err := os.ReadFile(tarFile(t, "rootfs.tar", false,
		&tar.Header{Name: "./etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		reg("./etc/x", "old\n", 0o644, 0),
		reg("./bin/sh", "shell\n", 0o755, 0)))
	if err != nil {
		t.Fatal(err)
	}
	tree := guestTree(t)
	modules := tarFile(t, "modules.tar", false, reg("lib/modules/6.1/x.ko", "module\n", 0o644, 0), reg("etc/x", "new\n", 0o600, 0))
	adds := []Addition{{Name: "nfsrootfs.lava", Dir: tree, Path: "/lava-42"}, {Name: "nfsrootfs.modules", File: modules, Tar: true, Path: "/"}}
	for _, c := range []string{"", "gz", "xz", "zstd"} {
		t.Run("compression="+c, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "rootfs.tar")
			if err := os.WriteFile(img, compressBytes(t, c, orig), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := AppendTar(img, adds, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if res.Compression != c {
				t.Errorf("compression %q, want %q", res.Compression, c)
			}
			data, _ := os.ReadFile(img)
			if c != "" {
				data = decompressPart(t, data)
			}
			got := untarLastWins(t, data)
			for name, want := range map[string]string{
				"etc/x":                          "new\n",
				"bin/sh":                         "shell\n",
				"lib/modules/6.1/x.ko":           "module\n",
				"lava-42":                        "dir",
				"lava-42/0/tests/0_smoke/run.sh": "echo run\n",
			} {
				if got[name] != want {
					t.Errorf("%s = %q, want %q", name, got[name], want)
				}
			}
			// What unpacks the image on an NFS server: GNU tar, which
			// must read past the original end and keep the last member.
			if c != "" {
				return
			}
			gnutar, err := exec.LookPath("tar")
			if err != nil {
				return
			}
			dest := t.TempDir()
			if out, err := exec.Command(gnutar, "-xf", img, "-C", dest).CombinedOutput(); err != nil {
				t.Fatalf("tar -x: %v: %s", err, out)
			}
			if b, _ := os.ReadFile(filepath.Join(dest, "etc", "x")); string(b) != "new\n" {
				t.Errorf("etc/x unpacked by tar = %q", b)
			}
			if _, err := os.Stat(filepath.Join(dest, "lava-42", "bin", "lava-test-runner")); err != nil {
				t.Errorf("lava-test-runner not unpacked by tar: %v", err)
			}
		})
	}
}

func TestAppendTarRefused(t *testing.T) {
	for name, data := range map[string][]byte{
		"bzip2":   []byte("BZh91AY&SY"),
		"not tar": bytes.Repeat([]byte("hello world "), 100),
	} {
		img := filepath.Join(t.TempDir(), "rootfs.tar")
		if err := os.WriteFile(img, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := AppendTar(img, nil, t.TempDir()); pipeline.ClassOf(err) != pipeline.ClassJob {
			t.Errorf("%s: AppendTar = %v, want a job error", name, err)
		}
	}
}
