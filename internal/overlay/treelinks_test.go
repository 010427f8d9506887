package overlay

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostMarker is the content of a dispatcher file that a fetched
// repository links to: no overlay may carry it.
const hostMarker = "HOST-ONLY-CONTENT-5c0e1b"

// linkedTree is guestTree with, in the test's folder, the symlinks a
// hostile repository brings: to a file of the dispatcher (absolute and
// relative), to a folder of the dispatcher, and to a file of its own.
// It returns the tree and each link's target by its path in the tree.
func linkedTree(t *testing.T) (string, map[string]string) {
	t.Helper()
	tree := guestTree(t)
	host := t.TempDir()
	writeTestFile(t, filepath.Join(host, "secret"), hostMarker+"\n")
	links := map[string]string{
		"0/tests/0_smoke/abs":      filepath.Join(host, "secret"),
		"0/tests/0_smoke/rel":      strings.Repeat("../", 40) + strings.TrimPrefix(filepath.Join(host, "secret"), "/"),
		"0/tests/0_smoke/hostdir":  host,
		"0/tests/0_smoke/internal": "run.sh",
	}
	for p, target := range links {
		if err := os.Symlink(target, filepath.Join(tree, p)); err != nil {
			t.Fatal(err)
		}
	}
	return tree, links
}

// TestOverlayTreeLinksStayLinks packs an overlay tree whose test folder
// holds symlinks out to the dispatcher into every form the overlay takes
// (compress-overlay's tarball, the ext2 guest disk, and the tree
// appended to a ramdisk, a root file system tarball and an ext4 image):
// each link arrives as a symlink with its target, never followed, and
// the dispatcher's file is in none of them.
func TestOverlayTreeLinksStayLinks(t *testing.T) {
	tree, links := linkedTree(t)

	t.Run("compress", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "overlay.tar.gz")
		if err := Compress(out, tree, "lava-42", ""); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		checkLinksInTar(t, raw, "lava-42/", links)
	})

	t.Run("guest", func(t *testing.T) {
		needE2fsprogs(t)
		img := filepath.Join(t.TempDir(), "guest.img")
		if _, err := BuildGuest(context.Background(), tree, img, 8); err != nil {
			t.Fatal(err)
		}
		checkLinksInExt(t, img, "/", links)
	})

	t.Run("append ext4", func(t *testing.T) {
		img := rootImage(t, 16)
		if _, err := AppendExt4(context.Background(), img, []Addition{{Name: "rootfs.lava", Dir: tree, Path: "/lava-42"}}, t.TempDir()); err != nil {
			t.Fatal(err)
		}
		checkLinksInExt(t, img, "/lava-42/", links)
	})

	t.Run("append cpio", func(t *testing.T) {
		var base bytes.Buffer
		cw := &cpioWriter{w: &base, dirs: map[string]bool{}}
		cw.entry(entry{path: "/init", kind: 'f', perm: 0o755, size: 5, host: writeTemp(t, "init\n")})
		if err := cw.trailer(); err != nil {
			t.Fatal(err)
		}
		img := filepath.Join(t.TempDir(), "ramdisk")
		if err := os.WriteFile(img, base.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := AppendCpio(img, []Addition{{Name: "ramdisk.lava", Dir: tree, Path: "/lava-42"}}, t.TempDir()); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(hostMarker)) {
			t.Errorf("the ramdisk holds the dispatcher's file")
		}
		members := unpackInitramfs(t, data, 0)
		for p, target := range links {
			m, ok := members["lava-42/"+p]
			if !ok {
				t.Errorf("%s is missing from the ramdisk", p)
				continue
			}
			if m.mode&0o170000 != cpioSymlink || m.data != target {
				t.Errorf("%s: mode %o, data %q; want a symlink to %q", p, m.mode, m.data, target)
			}
		}
		for name := range members {
			if strings.HasPrefix(name, "lava-42/0/tests/0_smoke/hostdir/") {
				t.Errorf("the dispatcher's folder was followed: %s", name)
			}
		}
	})

	t.Run("append tar", func(t *testing.T) {
		orig, err := os.ReadFile(tarFile(t, "rootfs.tar", false, reg("./etc/x", "old\n", 0o644, 0)))
		if err != nil {
			t.Fatal(err)
		}
		img := filepath.Join(t.TempDir(), "rootfs.tar")
		if err := os.WriteFile(img, orig, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := AppendTar(img, []Addition{{Name: "nfsrootfs.lava", Dir: tree, Path: "/lava-42"}}, t.TempDir()); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		got := untarLastWins(t, data)
		for p, target := range links {
			if got["lava-42/"+p] != "-> "+target {
				t.Errorf("%s = %q, want a symlink to %q", p, got["lava-42/"+p], target)
			}
		}
		checkNoHostContent(t, got)
	})
}

// checkLinksInTar reads a tar archive: every link under prefix is a
// symlink member with its target, and no member holds the host's file.
func checkLinksInTar(t *testing.T, raw []byte, prefix string, links map[string]string) {
	t.Helper()
	got := untarLastWins(t, raw)
	for p, target := range links {
		if got[prefix+p] != "-> "+target {
			t.Errorf("%s = %q, want a symlink to %q", p, got[prefix+p], target)
		}
	}
	checkNoHostContent(t, got)
}

func checkNoHostContent(t *testing.T, members map[string]string) {
	t.Helper()
	for name, content := range members {
		if strings.Contains(content, hostMarker) {
			t.Errorf("%s carries the dispatcher's file", name)
		}
		if strings.Contains(name, "0_smoke/hostdir/") {
			t.Errorf("the dispatcher's folder was followed: %s", name)
		}
	}
}

// checkLinksInExt looks into an ext2/ext4 image: each link is a symlink
// inode with its target, and the host file's content is nowhere in the
// image's bytes.
func checkLinksInExt(t *testing.T, img, prefix string, links map[string]string) {
	t.Helper()
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(hostMarker)) {
		t.Errorf("the image holds the dispatcher's file")
	}
	for p, target := range links {
		out := debugfs(t, img, "stat "+prefix+p)
		if !strings.Contains(out, "Type: symlink") {
			t.Errorf("%s is not a symlink in the image:\n%s", p, out)
			continue
		}
		// A fast symlink shows its target; a slow one keeps it in a block.
		if !strings.Contains(out, target) && !bytes.Contains(data, []byte(target)) {
			t.Errorf("%s: target %q not found in the image", p, target)
		}
	}
	if out := debugfs(t, img, "ls "+prefix+"0/tests/0_smoke/hostdir"); strings.Contains(out, "secret") {
		t.Errorf("the dispatcher's folder is a folder in the image:\n%s", out)
	}
}
