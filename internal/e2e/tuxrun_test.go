package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/value"
)

// TestTuxRunJob runs examples/tuxrun/job.yaml, a job in the shape
// TuxLAVA generates for TuxRun: the ext4 root file system (zstd) with the
// LAVA overlay put into it (overlays: {lava: true}), booted as an IDE
// drive; the test definition from a zstd tarball (from: url); its
// signals through /dev/kmsg. The images come from the fixtures over HTTP.
func TestTuxRunJob(t *testing.T) {
	needFixtures(t)
	for _, f := range []string{"rootfs.ext4.zst", "test-definitions.tar.zst"} {
		if _, err := os.Stat(filepath.Join(fixtures, f)); err != nil {
			if os.Getenv("BASALT_E2E") == "1" {
				t.Fatalf("fixture missing (run `make fixtures`): %v", err)
			}
			t.Skipf("fixture missing, run `make fixtures`: %v", err)
		}
	}
	url := server(t, nil)
	b, err := os.ReadFile("../../examples/tuxrun/job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const served = "http://127.0.0.1:8000"
	if strings.Count(string(b), served+"/") < 4 {
		t.Fatalf("examples/tuxrun/job.yaml changed: it no longer fetches its 4 images from %s", served)
	}
	job := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(job, []byte(strings.ReplaceAll(string(b), served, url)), 0o644); err != nil {
		t.Fatal(err)
	}
	o := runJob(t, job, nil)
	if o.code != 0 {
		t.Fatalf("exit %d, job %v", o.code, value.GoString(o.job))
	}
	for name, want := range map[string]string{
		"pwd": "pass", "uname-a": "pass", "ip-a": "pass", "cat-/proc/version": "pass", "ls-/nonexistent": "fail",
	} {
		if r := o.result("0_smoke", name); r == nil || r.String("result") != want {
			t.Errorf("0_smoke/%s: got %v, want %s", name, value.GoString(r), want)
		}
	}
	if n := len(o.results) - countDefinition(o, "lava"); n != 5 {
		t.Errorf("%d test results, want the 5 of the smoke test", n)
	}
	for _, a := range []string{"0_smoke", "append-overlays", "apply-overlay-guest", "lava-test-shell", "job"} {
		if r := o.result("lava", a); r == nil || r.String("result") != "pass" {
			t.Errorf("lava/%s: %v", a, value.GoString(r))
		}
	}
	checks := []struct{ what, lvl, text string }{
		{"the overlay written into the ext4 image", "info", "Wrote "},
		{"no overlay disk built", "debug", "Overlay already applied"},
		{"a signal through the kernel log, behind its time stamp", "target", "] <LAVA_SIGNAL_TESTCASE TEST_CASE_ID=pwd RESULT=pass>"},
		{"the guest powered off at the end", "debug", "The guest powered off"},
	}
	for _, c := range checks {
		if !o.logHas(c.lvl, c.text) {
			t.Errorf("%s: no %s line with %q in the log", c.what, c.lvl, c.text)
		}
	}
	if o.logHas("info", "lava-guest") || o.logHas("info", "Extending command line for the test overlay disk") {
		t.Errorf("QEMU got an overlay disk although the overlay is in the root file system")
	}
}

func countDefinition(o *outcome, def string) int {
	n := 0
	for _, r := range o.results {
		if r.String("definition") == def {
			n++
		}
	}
	return n
}

// TestTuxRunCpioJob puts the LAVA overlay onto the gzip-compressed
// initramfs instead (format: cpio.newc): a second compressed archive
// appended, which the real kernel must unpack for the test to run.
func TestTuxRunCpioJob(t *testing.T) {
	needFixtures(t)
	url := server(t, nil)
	b, err := os.ReadFile("testdata/tuxrun-cpio.yaml")
	if err != nil {
		t.Fatal(err)
	}
	job := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(job, []byte(strings.ReplaceAll(string(b), "@URL@", url)), 0o644); err != nil {
		t.Fatal(err)
	}
	o := runJob(t, job, nil)
	if o.code != 0 {
		t.Fatalf("exit %d, job %v", o.code, value.GoString(o.job))
	}
	for name, want := range map[string]string{"pwd": "pass", "ls-/nonexistent": "fail"} {
		if r := o.result("0_smoke", name); r == nil || r.String("result") != want {
			t.Errorf("0_smoke/%s: got %v, want %s", name, value.GoString(r), want)
		}
	}
	if !o.logHas("info", "Appended a gz-compressed cpio archive") {
		t.Errorf("no gz-compressed archive appended to the ramdisk")
	}
	if r := o.result("lava", "0_smoke"); r == nil || r.String("result") != "pass" {
		t.Errorf("lava/0_smoke: %v", value.GoString(r))
	}
}
