package dispatcher

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/value"
	"github.com/basalt-lava/basalt/internal/vland"
)

// LAVA dropped VLANd in 2026 (commit 8579e1d3f, "Drop VLANd code"); its
// VLANd jobs (tests/lava_dispatcher/test_vland.py) and their pipeline
// description are in the commit before, read from LAVA's git checkout at
// ../src/lava as TestLXCConformance does.
const lavaLastVland = "8579e1d3f^"

func lastVlandRelease(t *testing.T) string {
	t.Helper()
	src, _ := filepath.Abs("../../../src/lava")
	if _, err := os.Stat(filepath.Join(src, ".git")); err != nil {
		t.Skipf("LAVA's git checkout not found at %s (../src/lava from the repository): %v", src, err)
	}
	if err := exec.Command("git", "-C", src, "cat-file", "-e", lavaLastVland).Run(); err != nil {
		t.Skipf("LAVA's checkout lacks commit %s", lavaLastVland)
	}
	dir := t.TempDir()
	archive := exec.Command("git", "-C", src, "archive", lavaLastVland, "etc/dispatcher-config/device-types",
		"tests/lava_scheduler_app/devices/bbb-01.jinja2", "tests/lava_dispatcher/sample_jobs/bbb-group-vland-alpha.yaml",
		"tests/lava_dispatcher/sample_jobs/bbb-group-vland-beta.yaml", "tests/lava_dispatcher/pipeline_refs/bbb-group-vland-alpha.yaml")
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

// findAction returns the first action named name in a description.
func findAction(actions []any, name string) *value.Map {
	for _, a := range actions {
		m := a.(*value.Map)
		if m.String("name") == name {
			return m
		}
		if sub, ok := m.Value("pipeline").([]any); ok {
			if f := findAction(sub, name); f != nil {
				return f
			}
		}
	}
	return nil
}

// TestVlandConformance builds LAVA's VLANd sub-jobs (the alpha and beta
// of a group on bbb-01) with Prepare, the entry point of `basalt
// validate` and `basalt run`, against LAVA's device dictionary and
// device types of the same release: no VLANd problem is found, the
// overlay (with lava-vland-overlay at 1.1.2) is described as LAVA's
// describe() has it, and the VLAN is matched with the interface, switch
// port and name test_vland.py expects.
func TestVlandConformance(t *testing.T) {
	dir := lastVlandRelease(t)
	opts := Options{DeviceTypeDirs: []string{filepath.Join(dir, "etc/dispatcher-config/device-types")},
		Job: job.Options{Lax: true, SubJob: true}}
	device := filepath.Join(dir, "tests/lava_scheduler_app/devices/bbb-01.jinja2")
	for _, role := range []string{"alpha", "beta"} {
		t.Run(role, func(t *testing.T) {
			// LAVA's unit test loads these without checking them
			// (validate=False): their actions lack the role a sub-job
			// has, which is added here as LAVA's server would keep it.
			sample := loadYAML(t, filepath.Join(dir, "tests/lava_dispatcher/sample_jobs", "bbb-group-vland-"+role+".yaml")).(*value.Map)
			for _, a := range sample.List("actions") {
				a.(*value.Map).Range(func(_ string, blk any) bool {
					blk.(*value.Map).Set("role", role)
					return true
				})
			}
			b, err := value.EncodeYAML(sample)
			if err != nil {
				t.Fatal(err)
			}
			jobPath := filepath.Join(t.TempDir(), role+".yaml")
			if err := os.WriteFile(jobPath, b, 0o644); err != nil {
				t.Fatal(err)
			}
			p, err := Prepare(jobPath, device, opts)
			if err != nil {
				t.Fatal(err)
			}
			if p.Pipeline == nil {
				t.Fatalf("no pipeline: %v", p.Diagnostics)
			}
			for _, d := range job.Errors(p.Diagnostics) {
				if strings.Contains(d.Msg, "vland") || strings.Contains(d.Msg, "vlan") {
					t.Errorf("%s", d)
				}
			}
			got := findAction(p.Pipeline.Describe(), "lava-overlay")
			ref := loadYAML(t, filepath.Join(dir, "tests/lava_dispatcher/pipeline_refs/bbb-group-vland-alpha.yaml")).([]any)
			want := findAction(ref, "lava-overlay")
			if got == nil || want == nil {
				t.Fatalf("lava-overlay: Basalt's %v, LAVA's %v", got != nil, want != nil)
			}
			if diffs := compareDescription("", []any{got}, []any{want}); len(diffs) > 0 {
				t.Errorf("%d differences:\n%s", len(diffs), strings.Join(diffs, "\n"))
			}
			va := findAction([]any{got}, "lava-vland-overlay")
			if va == nil || va.String("level") != "1.1.2" || va.String("description") != "Populate specific vland scripts for tests to lookup vlan data." {
				t.Errorf("lava-vland-overlay = %v", value.GoString(va))
			}

			plan, err := vland.MakePlan(p.Pipeline.Params, p.Pipeline.Device, "4212")
			if err != nil {
				t.Fatal(err)
			}
			wantVLANs := []vland.PlannedVLAN{{Friendly: "vlan_one", Name: "4212vlanone", Tags: []string{"100M", "RJ45", "10M"},
				Interface: "eth1", Switch: "192.168.0.2", Port: 7}}
			if diff := cmp.Diff(plan.VLANs, wantVLANs); diff != "" {
				t.Errorf("plan (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(plan.Names, []string{"vlan_one,eth1"}); diff != "" {
				t.Errorf("lava-vland-names (-got +want):\n%s", diff)
			}
			wantTags := []string{"eth1,RJ45", "eth1,10M", "eth1,100M"}
			if diff := cmp.Diff(plan.Tags, wantTags); diff != "" {
				t.Errorf("lava-vland-tags (-got +want):\n%s", diff)
			}
			wantSelf := []string{"eth0,f0:de:f1:46:8c:21,/sys/devices/pci0000:00/0000:00:19.0/net/eth0",
				"eth1,00:24:d7:9b:c0:8c,/sys/devices/pci0000:00/0000:00:1c.1/0000:03:00.0/net/eth1"}
			if diff := cmp.Diff(plan.Self, wantSelf); diff != "" {
				t.Errorf("lava-vland-self (-got +want):\n%s", diff)
			}
		})
	}
}
