package overlay

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/klauspost/compress/zstd"
)

// rootImage makes a small ext4 root file system like a distribution's:
// /etc/x, /usr/lib, /lib -> usr/lib (merged /usr), /root.
func rootImage(t *testing.T, sizeMB int) string {
	t.Helper()
	needE2fsprogs(t)
	base := t.TempDir()
	tree := filepath.Join(base, "tree")
	mkdir(t, tree, "etc")
	mkdir(t, tree, "usr", "lib")
	mkdir(t, tree, "root")
	writeTestFile(t, filepath.Join(tree, "etc", "x"), "old\n")
	if err := os.Symlink("usr/lib", filepath.Join(tree, "lib")); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(base, "rootfs.ext4")
	mkfs, err := e2fsTool("mkfs.ext4")
	if err != nil {
		t.Skip(err)
	}
	out, err := exec.Command(mkfs, "-q", "-F", "-d", tree, "-E", "root_owner=0:0", img, fmt.Sprintf("%dM", sizeMB)).CombinedOutput()
	if err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	return img
}

// tarFile writes a tar archive of the members, owners and modes as given.
func tarFile(t *testing.T, name string, zst bool, hs ...*tar.Header) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hs {
		body := h.Linkname
		if h.Typeflag == tar.TypeReg {
			body, h.Linkname = h.Linkname, ""
			h.Size = int64(len(body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	if zst {
		enc, _ := zstd.NewWriter(nil)
		data = enc.EncodeAll(data, nil)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// reg is a file member whose content is body (carried in Linkname until
// tarFile writes it).
func reg(name, body string, mode int64, uid int) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeReg, Linkname: body, Mode: mode, Uid: uid, Gid: uid}
}

func cat(t *testing.T, image, p string) string {
	t.Helper()
	return debugfs(t, image, "cat "+p)
}

func fsck(t *testing.T, image string) {
	t.Helper()
	bin, err := e2fsTool("e2fsck")
	if err != nil {
		t.Skip(err)
	}
	if out, err := exec.Command(bin, "-fn", image).CombinedOutput(); err != nil {
		t.Errorf("e2fsck -fn: %v\n%s", err, out)
	}
}

func TestAppendExt4(t *testing.T) {
	img := rootImage(t, 16)
	tree := guestTree(t)
	sshRoot := filepath.Join(t.TempDir(), "root")
	writeTestFile(t, filepath.Join(mkdir(t, sshRoot, ".ssh"), "authorized_keys"), "ssh-ed25519 AAAA\n")
	modules := tarFile(t, "modules.tar.zst", true,
		&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o700},
		&tar.Header{Name: "lib/modules/6.1/", Typeflag: tar.TypeDir, Mode: 0o755},
		reg("lib/modules/6.1/kernel/x.ko", "module\n", 0o644, 0),
		reg("etc/x", "new\n", 0o4755, 0),
		&tar.Header{Name: "etc/link", Typeflag: tar.TypeSymlink, Linkname: "x"},
		&tar.Header{Name: "etc/hard", Typeflag: tar.TypeLink, Linkname: "etc/x"},
		&tar.Header{Name: "opt/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 1000, Gid: 1000},
		reg("opt/tool", "#!/bin/sh\n", 0o755, 1000),
		&tar.Header{Name: "dev/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3},
	)
	single := filepath.Join(t.TempDir(), "file.bin")
	writeTestFile(t, single, "single\n")
	adds := []Addition{
		{Name: "rootfs.lava", Dir: tree, Path: "/lava-42"},
		{Name: "rootfs.lava", Dir: sshRoot, Path: "/root"},
		{Name: "rootfs.modules", File: modules, Tar: true, Path: "/"},
		{Name: "rootfs.file", File: single, Path: "/boot/extra/file.bin"},
	}
	res, err := AppendExt4(context.Background(), img, adds, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != 1 || res.GrownTo != 0 {
		t.Errorf("result %+v, want 1 skipped and no growth", res)
	}
	for p, want := range map[string]string{
		"/lava-42/0/tests/0_smoke/run.sh":  "echo run\n",
		"/lava-42/environment":             "export LAVA_JOB_ID=42\n",
		"/root/.ssh/authorized_keys":       "ssh-ed25519 AAAA\n",
		"/usr/lib/modules/6.1/kernel/x.ko": "module\n",
		"/etc/x":                           "new\n",
		"/etc/hard":                        "new\n",
		"/opt/tool":                        "#!/bin/sh\n",
		"/boot/extra/file.bin":             "single\n",
	} {
		if got := cat(t, img, p); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	for p, want := range map[string][2]string{
		"/lava-42/bin/lava-test-runner": {"0755", "0:0"},
		"/etc/x":                        {"04755", "0:0"},
		"/opt":                          {"0750", "1000:1000"},
		"/opt/tool":                     {"0755", "1000:1000"},
		"/boot/extra":                   {"0755", "0:0"},
	} {
		mode, owner := inodeOf(t, img, p)
		if mode != want[0] || owner != want[1] {
			t.Errorf("%s: mode %s owner %s, want %s %s", p, mode, owner, want[0], want[1])
		}
	}
	if out := debugfs(t, img, "stat /lib"); !strings.Contains(out, `Fast link dest: "usr/lib"`) {
		t.Errorf("/lib is no longer the image's symlink to usr/lib:\n%s", out)
	}
	if out := debugfs(t, img, "stat /etc/link"); !strings.Contains(out, `Fast link dest: "x"`) {
		t.Errorf("/etc/link:\n%s", out)
	}
	if out := debugfs(t, img, "ls /dev"); strings.Contains(out, "null") {
		t.Errorf("a device node was written: %s", out)
	}
	fsck(t, img)
}

// TestAppendExt4Grow checks that an image too small for the overlay
// grows rather than failing.
func TestAppendExt4Grow(t *testing.T) {
	img := rootImage(t, 2)
	big := make([]byte, 3<<20)
	rand.Read(big)
	f := tarFile(t, "big.tar", false, reg("data/big.bin", string(big), 0o644, 0))
	res, err := AppendExt4(context.Background(), img, []Addition{{Name: "rootfs.big", File: f, Tar: true, Path: "/"}}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if res.GrownTo <= res.GrownFrom {
		t.Errorf("result %+v: want the image grown", res)
	}
	if got := cat(t, img, "/data/big.bin"); got != string(big) {
		t.Errorf("big.bin: %d bytes, want %d, equal", len(got), len(big))
	}
	fsck(t, img)
}

// TestAppendExt4Hostile feeds overlays that try to write elsewhere.
func TestAppendExt4Hostile(t *testing.T) {
	tests := []struct {
		name string
		path string
		hs   []*tar.Header
	}{
		{"dotdot", "/", []*tar.Header{reg("../evil", "x", 0o644, 0)}},
		{"deep dotdot", "/", []*tar.Header{reg("a/../../evil", "x", 0o644, 0)}},
		{"absolute", "/", []*tar.Header{reg("/evil", "x", 0o644, 0)}},
		{"newline", "/", []*tar.Header{reg("a\nwrite /etc/passwd /evil", "x", 0o644, 0)}},
		{"quote", "/", []*tar.Header{reg(`a" "/evil`, "x", 0o644, 0)}},
		{"symlink then through it", "/", []*tar.Header{
			{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "/etc"},
			reg("up/evil", "x", 0o644, 0)}},
		{"symlink target newline", "/", []*tar.Header{{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "x\nrm /etc/x"}}},
		{"file over a folder", "/", []*tar.Header{reg("etc", "x", 0o644, 0)}},
		{"below a file", "/", []*tar.Header{reg("etc/x/evil", "x", 0o644, 0)}},
		{"hard link outside", "/", []*tar.Header{{Name: "h", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"}}},
		{"relative destination", "etc", []*tar.Header{reg("evil", "x", 0o644, 0)}},
		{"dotdot destination", "/etc/../..", []*tar.Header{reg("evil", "x", 0o644, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := rootImage(t, 8)
			before, _ := os.ReadFile(img)
			scratch := t.TempDir()
			f := tarFile(t, "evil.tar", false, tt.hs...)
			_, err := AppendExt4(context.Background(), img, []Addition{{Name: "rootfs.evil", File: f, Tar: true, Path: tt.path}}, scratch)
			if pipeline.ClassOf(err) != pipeline.ClassJob {
				t.Fatalf("AppendExt4 = %v (class %s), want a job error", err, pipeline.ClassOf(err))
			}
			t.Logf("error: %v", err)
			after, _ := os.ReadFile(img)
			if !bytes.Equal(before, after) {
				t.Errorf("the image changed")
			}
			_ = filepath.WalkDir(filepath.Dir(scratch), func(p string, d os.DirEntry, err error) error {
				if err == nil && d.Name() == "evil" {
					t.Errorf("written on the dispatcher: %s", p)
				}
				return nil
			})
		})
	}
}

// TestAppendTooManyMembers checks the bound on an overlay's members (an
// archive of empty files is cheap to send, not to write).
func TestAppendTooManyMembers(t *testing.T) {
	old := maxOverlayEntries
	maxOverlayEntries = 3
	defer func() { maxOverlayEntries = old }()
	f := tarFile(t, "many.tar", false, reg("a", "", 0o644, 0), reg("b", "", 0o644, 0), reg("c", "", 0o644, 0), reg("d", "", 0o644, 0))
	_, err := stage([]Addition{{Name: "rootfs.many", File: f, Tar: true, Path: "/"}}, t.TempDir())
	if pipeline.ClassOf(err) != pipeline.ClassJob || !strings.Contains(err.Error(), "more than 3 members") {
		t.Errorf("stage = %v, want a job error naming the limit", err)
	}
}

func TestAppendExt4NotExt4(t *testing.T) {
	f := filepath.Join(t.TempDir(), "rootfs.ext4")
	writeTestFile(t, f, strings.Repeat("x", 4096))
	_, err := AppendExt4(context.Background(), f, nil, t.TempDir())
	if pipeline.ClassOf(err) != pipeline.ClassJob || !strings.Contains(err.Error(), "not an ext2/3/4 image") {
		t.Errorf("AppendExt4 = %v, want a job error saying it is not ext4", err)
	}
}

// BenchmarkAppendExt4 appends an overlay like a TuxRun job's (the LAVA
// helpers and a test repository of some 200 files) to a 64 MB root file
// system, the image made afresh each time outside the timer: from the
// overlay's tree (what append-overlays does) and from its tarball.
func BenchmarkAppendExt4(b *testing.B) {
	b.Run("tree", func(b *testing.B) { benchmarkAppendExt4(b, false) })
	b.Run("tarball", func(b *testing.B) { benchmarkAppendExt4(b, true) })
}

func benchmarkAppendExt4(b *testing.B, tarball bool) {
	needE2fsprogs(b)
	base := b.TempDir()
	tree := filepath.Join(base, "lava-42")
	if err := os.MkdirAll(filepath.Join(tree, "bin"), 0o755); err != nil {
		b.Fatal(err)
	}
	if _, err := WriteScripts(filepath.Join(tree, "bin"), ScriptConfig{Shell: "/bin/sh"}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		d := filepath.Join(tree, "0", "tests", "0_smoke", "automated", "linux", "t"+strconv.Itoa(i%20))
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "f"+strconv.Itoa(i)+".sh"), bytes.Repeat([]byte("echo test\n"), 300), 0o755)
	}
	lava := filepath.Join(base, "overlay.tar.gz")
	if err := Compress(lava, tree, "lava-42", ""); err != nil {
		b.Fatal(err)
	}
	empty := filepath.Join(base, "empty")
	os.MkdirAll(filepath.Join(empty, "etc"), 0o755)
	mkfs, err := e2fsTool("mkfs.ext4")
	if err != nil {
		b.Skip(err)
	}
	img := filepath.Join(base, "rootfs.ext4")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if out, err := exec.Command(mkfs, "-q", "-F", "-d", empty, img, "64M").CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		scratch, _ := os.MkdirTemp(base, "s")
		b.StartTimer()
		add := Addition{Name: "rootfs.lava", Dir: tree, Path: "/lava-42"}
		if tarball {
			add = Addition{Name: "rootfs.lava", File: lava, Tar: true, Path: "/"}
		}
		if _, err := AppendExt4(context.Background(), img, []Addition{add}, scratch); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAppendExt4SlowSymlink follows an image symlink whose target is too
// long to sit in the inode (60 bytes or more), which debugfs' stat does
// not show.
func TestAppendExt4SlowSymlink(t *testing.T) {
	needE2fsprogs(t)
	tree := filepath.Join(t.TempDir(), "tree")
	long := strings.Repeat("d", 70)
	mkdir(t, tree, "usr", long)
	if err := os.Symlink("usr/"+long, filepath.Join(tree, "lnk")); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "rootfs.ext4")
	mkfs, err := e2fsTool("mkfs.ext4")
	if err != nil {
		t.Skip(err)
	}
	if out, err := exec.Command(mkfs, "-q", "-F", "-d", tree, img, "8M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	f := tarFile(t, "o.tar", false, reg("lnk/x", "through\n", 0o644, 0))
	if _, err := AppendExt4(context.Background(), img, []Addition{{Name: "rootfs.o", File: f, Tar: true, Path: "/"}}, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if got := cat(t, img, "/usr/"+long+"/x"); got != "through\n" {
		t.Errorf("x through the slow symlink = %q", got)
	}
	fsck(t, img)
}
