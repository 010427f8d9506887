package overlay

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

func needE2fsprogs(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"mkfs.ext2", "debugfs", "dumpe2fs"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
}

// debugfs runs one read-only debugfs request on an image.
func debugfs(t *testing.T, image, request string) string {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", request, image).Output()
	if err != nil {
		t.Fatalf("debugfs -R %q: %v", request, err)
	}
	return string(out)
}

// guestTree is an overlay tree like lava-overlay's: the helpers and a test.
func guestTree(t *testing.T) string {
	t.Helper()
	tree := filepath.Join(t.TempDir(), "lava-42")
	if _, err := WriteScripts(mkdir(t, tree, "bin"), ScriptConfig{Shell: "/bin/sh"}); err != nil {
		t.Fatal(err)
	}
	test := mkdir(t, tree, "0", "tests", "0_smoke")
	writeTestFile(t, filepath.Join(test, "run.sh"), "echo run\n")
	writeTestFile(t, filepath.Join(tree, "0", "lava-test-runner.conf"), "/lava-42/0/tests/0_smoke\n")
	writeTestFile(t, filepath.Join(tree, "environment"), "export LAVA_JOB_ID=42\n")
	return tree
}

var (
	statMode  = regexp.MustCompile(`Mode:\s+(\d+)`)
	statOwner = regexp.MustCompile(`User:\s+(\d+)\s+Group:\s+(\d+)`)
)

// inodeOf returns mode and owner of a path in the image.
func inodeOf(t *testing.T, image, path string) (mode, owner string) {
	t.Helper()
	out := debugfs(t, image, "stat "+path)
	m, o := statMode.FindStringSubmatch(out), statOwner.FindStringSubmatch(out)
	if m == nil || o == nil {
		t.Fatalf("debugfs stat %s: %s", path, out)
	}
	return m[1], o[1] + ":" + o[2]
}

func TestBuildGuest(t *testing.T) {
	needE2fsprogs(t)
	tree := guestTree(t)
	image := filepath.Join(t.TempDir(), "lava-guest.img")
	start := time.Now()
	g, err := BuildGuest(context.Background(), tree, image, 512)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("512 MB overlay disk built in %v", time.Since(start))

	super, err := exec.Command("dumpe2fs", "-h", image).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Filesystem volume name:   LAVA\n",
		"Filesystem UUID:          " + g.UUID + "\n",
		"Block count:              131072\n",
	} {
		if !strings.Contains(string(super), want) {
			t.Errorf("dumpe2fs -h lacks %q", want)
		}
	}
	// ext2: the guest mounts it with -t ext2, which refuses a journal.
	if strings.Contains(string(super), "has_journal") {
		t.Errorf("the filesystem has a journal: not ext2")
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(g.UUID) {
		t.Errorf("UUID %q is not a random UUID", g.UUID)
	}

	// The root of the disk is the results folder: bin/ at the top.
	ls := debugfs(t, image, "ls -l /bin")
	for _, n := range ScriptNames("") {
		if !strings.Contains(ls, " "+n+"\n") && !strings.HasSuffix(strings.TrimSpace(ls), n) {
			t.Errorf("ls -l /bin lacks %s:\n%s", n, ls)
		}
	}
	owner := "0:0"
	if !g.OwnersMapped && g.Owner != 0 {
		// No user namespace for this user: the files stay its own.
		owner = fmt.Sprintf("%d:%d", g.Owner, os.Getegid())
	}
	for path, want := range map[string]string{
		"/bin/lava-test-runner":    "0755 " + owner,
		"/bin":                     "0755 " + owner,
		"/":                        "0755 0:0",
		"/environment":             "0644 " + owner,
		"/0/tests/0_smoke/run.sh":  "0644 " + owner,
		"/0/lava-test-runner.conf": "0644 " + owner,
	} {
		mode, o := inodeOf(t, image, path)
		if got := mode + " " + o; got != want {
			t.Errorf("%s: mode and owner %s, want %s", path, got, want)
		}
	}
	runner, _ := os.ReadFile(filepath.Join(tree, "bin", "lava-test-runner"))
	if got := debugfs(t, image, "cat /bin/lava-test-runner"); got != string(runner) {
		t.Errorf("lava-test-runner in the image differs from the overlay's")
	}

	// Sparse: the 512 MB file takes a few MB of disk.
	fi, _ := os.Stat(image)
	if fi.Size() != 512<<20 {
		t.Errorf("image size %d, want %d", fi.Size(), 512<<20)
	}
	if used := fi.Sys().(*syscall.Stat_t).Blocks * 512; used > 64<<20 {
		t.Errorf("image uses %d bytes of disk: not sparse", used)
	}
}

// TestBuildGuestOwners builds from a tree that belongs to another user,
// as a dispatcher not running as root makes it: the files must still be
// root's on the device.
func TestBuildGuestOwners(t *testing.T) {
	needE2fsprogs(t)
	// Not t.TempDir: its parent is root's alone, and the stand-in user
	// below must reach the files.
	base, err := os.MkdirTemp("", "guest-owners-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	tree := filepath.Join(base, "lava-42")
	if _, err := WriteScripts(mkdir(t, tree, "bin"), ScriptConfig{Shell: "/bin/sh"}); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// Root stands in for an ordinary user: give everything away.
		err := filepath.Walk(base, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, 1000, 1000)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	image := filepath.Join(base, "lava-guest.img")
	g, err := BuildGuest(context.Background(), tree, image, 64)
	if err != nil {
		t.Fatal(err)
	}
	mode, owner := inodeOf(t, image, "/bin/lava-test-case")
	if !g.OwnersMapped {
		t.Logf("no user namespaces here: the files keep uid %d (%s)", g.Owner, owner)
		return
	}
	if mode+" "+owner != "0755 0:0" {
		t.Errorf("lava-test-case: %s %s, want 0755 0:0", mode, owner)
	}
	if _, rootOwner := inodeOf(t, image, "/"); rootOwner != "0:0" {
		t.Errorf("root folder owner %s, want 0:0", rootOwner)
	}
}

func TestBuildGuestErrors(t *testing.T) {
	needE2fsprogs(t)
	tree := guestTree(t)
	writeTestFile(t, filepath.Join(tree, "big"), strings.Repeat("x", 3<<20))
	_, err := BuildGuest(context.Background(), tree, filepath.Join(t.TempDir(), "small.img"), 2)
	if pipeline.ClassOf(err) != pipeline.ClassJob || !strings.Contains(err.Error(), "does not fit in the 2 MB guest disk") {
		t.Errorf("overlay larger than the disk: %v (class %s), want a job error saying so", err, pipeline.ClassOf(err))
	}
	if _, err := BuildGuest(context.Background(), tree, filepath.Join(t.TempDir(), "x.img"), 0); pipeline.ClassOf(err) != pipeline.ClassConfiguration {
		t.Errorf("size 0: %v, want a configuration error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := BuildGuest(ctx, tree, filepath.Join(t.TempDir(), "c.img"), 64); err == nil {
		t.Errorf("canceled context: no error")
	}
}

func BenchmarkBuildGuest(b *testing.B) {
	needE2fsprogs(b)
	tree := filepath.Join(b.TempDir(), "lava-1")
	if err := os.MkdirAll(filepath.Join(tree, "bin"), 0o755); err != nil {
		b.Fatal(err)
	}
	if _, err := WriteScripts(filepath.Join(tree, "bin"), ScriptConfig{Shell: "/bin/sh"}); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	for b.Loop() {
		if _, err := BuildGuest(context.Background(), tree, filepath.Join(dir, "g.img"), 512); err != nil {
			b.Fatal(err)
		}
	}
}
