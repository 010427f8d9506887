package dispatcher

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/value"
)

// LAVA dropped LXC in 2026 (commit 860dd65ce, "Drop LXC support"); its
// last LXC jobs and their pipeline descriptions are in the commit before.
// The corpus has none of them, so this test reads them from LAVA's git
// checkout at ../src/lava (relative to the repository, as the corpus is
// at ../shared), and skips when it is absent.
const lavaLastLXC = "860dd65ce^"

// lxcCases are LAVA's LXC jobs, the device each ran on and its expected
// description (tests/lava_dispatcher/test_lxc.py and test_fastboot.py).
var lxcCases = []struct{ job, device string }{
	{"lxc", "lxc-01"},
	{"bbb-lxc-notest", "bbb-01"},
	{"adb-nuc", "adb-nuc-01"},
	{"frdm-k64f-lxc", "frdm-k64f-01"},
	{"hikey-oe", "hi6220-hikey-r2-01"},
	{"x15", "x15-01"},
	{"nexus5x", "nexus5x-01"},
	{"pixel", "pixel-01"},
	{"fastboot", "nexus4-01"},
}

// lxcBlocks are the top-level actions the LXC protocol builds; the
// others in these jobs (fastboot, tftp, u-boot, cmsis) are compared by
// the corpus tests where the corpus has them.
var lxcBlocks = map[string]bool{"lxc-deploy": true, "lxc-boot": true}

// lastLXCRelease extracts LAVA's LXC jobs, devices, device types and
// descriptions into a temporary folder, or skips.
func lastLXCRelease(t *testing.T) string {
	t.Helper()
	src, _ := filepath.Abs("../../../src/lava")
	if _, err := os.Stat(filepath.Join(src, ".git")); err != nil {
		t.Skipf("LAVA's git checkout not found at %s (../src/lava from the repository): %v", src, err)
	}
	if err := exec.Command("git", "-C", src, "cat-file", "-e", lavaLastLXC).Run(); err != nil {
		t.Skipf("LAVA's checkout lacks commit %s", lavaLastLXC)
	}
	dir := t.TempDir()
	archive := exec.Command("git", "-C", src, "archive", lavaLastLXC, "etc/dispatcher-config/device-types",
		"tests/lava_scheduler_app/devices", "tests/lava_dispatcher/sample_jobs", "tests/lava_dispatcher/pipeline_refs")
	untar := exec.Command("tar", "-x", "-C", dir)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	untar.Stdin = pipe
	if err := untar.Start(); err != nil {
		t.Fatal(err)
	}
	if err := archive.Run(); err != nil {
		t.Fatalf("git archive: %v", err)
	}
	if err := untar.Wait(); err != nil {
		t.Fatalf("tar: %v", err)
	}
	return dir
}

// withoutAction drops every action named name from a description and
// renumbers the levels after it, as if it had never been added.
func withoutAction(actions []any, name, parent string) []any {
	var out []any
	for _, a := range actions {
		m := a.(*value.Map)
		if m.String("name") == name {
			continue
		}
		c := m.Copy()
		level := fmt.Sprint(len(out) + 1)
		if parent != "" {
			level = parent + "." + level
		}
		c.Set("level", level)
		if sub, ok := c.Value("pipeline").([]any); ok {
			c.Set("pipeline", withoutAction(sub, name, level))
		}
		out = append(out, c)
	}
	return out
}

// TestLXCConformance builds LAVA's LXC jobs with Prepare (the entry
// point of `basalt validate` and `basalt run`) against LAVA's device
// dictionaries and device types of the same release, and compares the
// LXC blocks (lxc-deploy, lxc-boot) with LAVA's describe(): names,
// levels, timeouts, retries, nesting. LAVA 2023 added lava-vland-overlay
// to every overlay; current LAVA and Basalt add it only with VLANd, so
// it is dropped from the expected descriptions before comparing. The
// other blocks must at least be the same actions in the same order.
func TestLXCConformance(t *testing.T) {
	dir := lastLXCRelease(t)
	opts := Options{DeviceTypeDirs: []string{filepath.Join(dir, "etc/dispatcher-config/device-types")},
		Job: job.Options{Lax: true, SubJob: true}}
	compared := 0
	for _, c := range lxcCases {
		t.Run(c.job, func(t *testing.T) {
			p, err := Prepare(filepath.Join(dir, "tests/lava_dispatcher/sample_jobs", c.job+".yaml"),
				filepath.Join(dir, "tests/lava_scheduler_app/devices", c.device+".jinja2"), opts)
			if err != nil {
				t.Fatal(err)
			}
			if p.Pipeline == nil {
				t.Fatalf("no pipeline: %v", p.Diagnostics)
			}
			for _, d := range job.Errors(p.Diagnostics) {
				// Only the running of other methods may be missing.
				if strings.Contains(d.Msg, "lxc") && !strings.Contains(d.Msg, unrunnableMsg) {
					t.Errorf("%s", d)
				}
			}
			want := withoutAction(loadYAML(t, filepath.Join(dir, "tests/lava_dispatcher/pipeline_refs", c.job+".yaml")).([]any), "lava-vland-overlay", "")
			got := p.Pipeline.Describe()
			if len(got) != len(want) {
				t.Fatalf("%d top-level actions, LAVA has %d", len(got), len(want))
			}
			for i := range want {
				w, g := want[i].(*value.Map), got[i].(*value.Map)
				if w.String("name") != g.String("name") {
					t.Errorf("top-level action %d is %s, LAVA's is %s", i+1, g.String("name"), w.String("name"))
					continue
				}
				if !lxcBlocks[w.String("name")] {
					continue
				}
				compared++
				if diffs := compareDescription("", []any{g}, []any{w}); len(diffs) > 0 {
					t.Errorf("%d differences:\n%s", len(diffs), strings.Join(diffs, "\n"))
				}
			}
		})
	}
	if compared == 0 && !t.Failed() {
		t.Error("no LXC block compared")
	}
	t.Logf("%d LXC blocks compared with LAVA's descriptions", compared)
}
