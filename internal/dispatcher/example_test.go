package dispatcher

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/google/go-cmp/cmp"
)

// TestQEMUExample validates examples/qemu, the job the README points
// newcomers at, the way "basalt validate examples/qemu/job.yaml --device
// examples/qemu/device.jinja2" does. The example folder holds no
// device-type templates, so this also proves the shipped qemu.jinja2 and
// base.jinja2 serve a LAVA-style dictionary. The pipeline must have the
// shape LAVA builds for its kvm jobs (pipeline-refs/kvm-inline.yaml), with
// one download per image and four overlay actions per test definition.
func TestQEMUExample(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "qemu")
	for _, name := range []string{"qemu.jinja2", "base.jinja2"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Fatalf("%s/%s exists: the example must use the shipped device-type templates", dir, name)
		}
	}
	jobPath, devPath := filepath.Join(dir, "job.yaml"), filepath.Join(dir, "device.jinja2")
	p, err := Prepare(jobPath, devPath, Options{})
	if err != nil {
		t.Fatalf("Prepare(%q, %q): %v", jobPath, devPath, err)
	}
	for _, d := range p.Diagnostics {
		t.Log(d)
	}
	if errs := job.Errors(p.Diagnostics); len(errs) > 0 {
		t.Fatalf("Prepare(%q, %q): %d errors, want a valid job", jobPath, devPath, len(errs))
	}

	// TCG, 512 MB, x86_64: what the dictionary and the job context ask for.
	params := p.Device.Map("actions", "boot", "methods", "qemu", "parameters")
	if got := params.String("command"); got != "qemu-system-x86_64" {
		t.Errorf("qemu command = %q, want qemu-system-x86_64", got)
	}
	var opts []string
	for _, o := range params.List("options") {
		s, _ := o.(string)
		opts = append(opts, s)
	}
	if slices.Contains(opts, "-enable-kvm") || !slices.Contains(opts, "-m 512") {
		t.Errorf("qemu options = %q, want -m 512 and no -enable-kvm", opts)
	}

	var got []string
	p.Pipeline.Pipeline.Walk(func(a pipeline.Action) {
		b := a.ActionBase()
		got = append(got, strings.Repeat("  ", strings.Count(b.Level, "."))+b.Name)
	})
	want := []string{
		"deployimages",
		"  lava-overlay",
		"    lava-multinode-overlay",
		"    test-definition",
		"      inline-repo-action",
		"      test-overlay",
		"      test-install-overlay",
		"      test-runscript-overlay",
		"      inline-repo-action",
		"      test-overlay",
		"      test-install-overlay",
		"      test-runscript-overlay",
		"    compress-overlay",
		"  deploy-device-env",
		"  download-retry",
		"    http-download",
		"  download-retry",
		"    http-download",
		"  apply-overlay-guest",
		"boot-image-retry",
		"  boot-qemu-image",
		"    execute-qemu",
		"  auto-login-action",
		"    login-action",
		"  expect-shell-connection",
		"  export-device-env",
		"lava-test-retry",
		"  lava-test-shell",
		"finalize",
		"  power-off",
		"  read-feedback",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pipeline of %s (-want +got):\n%s", jobPath, diff)
	}

	// Timeouts sized for TCG: every block gets minutes, the job 20.
	if p.Pipeline.Timeout.Seconds != 20*60 {
		t.Errorf("job timeout = %ds, want 1200s", p.Pipeline.Timeout.Seconds)
	}
	for _, a := range p.Pipeline.Pipeline.Actions {
		b := a.ActionBase()
		if b.Name != "finalize" && b.Timeout.Seconds < 5*60 {
			t.Errorf("%s timeout = %ds (%s), want at least 300s for TCG", b.Name, b.Timeout.Seconds, b.Timeout.Source)
		}
	}
}
