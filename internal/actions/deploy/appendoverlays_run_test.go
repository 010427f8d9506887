package deploy_test

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
	"github.com/klauspost/compress/zstd"
)

// tuxrunDeploy is a TuxRun job's deploy (TuxLAVA's qemu template): an
// ext4 root file system compressed with zstd, the LAVA overlay put into
// it. URL is replaced by the test's server.
const tuxrunDeploy = `
device_type: qemu
job_name: tuxrun
timeouts: {job: {minutes: 15}, action: {minutes: 5}}
context: {arch: amd64}
actions:
- deploy:
    to: tmpfs
    os: oe
    images:
      kernel: {url: 'URL/bzImage', image_arg: '-kernel {kernel}'}
      rootfs:
        url: URL/rootfs.ext4.zst
        image_arg: '-drive file={rootfs},if=ide,format=raw'
        compression: zstd
        format: ext4
        overlays:
          lava: true
- boot: {method: qemu, prompts: ['/ #']}
- test:
    definitions:
    - repository:
        metadata: {format: Lava-Test Test Definition 1.0, name: smoke, description: smoke}
        run: {steps: [lava-test-case pwd --shell pwd]}
      from: inline
      name: smoke
      path: inline/smoke.yaml
      lava-signal: kmsg
`

// TestAppendOverlaysTuxRun runs the deploy block: the overlay lands in
// the downloaded image, at /lava-<job id>, and no overlay disk is built.
func TestAppendOverlaysTuxRun(t *testing.T) {
	mkfs, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		if mkfs, err = exec.LookPath("/sbin/mkfs.ext4"); err != nil {
			t.Skip("mkfs.ext4 is not installed")
		}
	}
	debugfs, err := exec.LookPath("debugfs")
	if err != nil {
		if debugfs, err = exec.LookPath("/sbin/debugfs"); err != nil {
			t.Skip("debugfs is not installed")
		}
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "rootfs.ext4")
	if out, err := exec.Command(mkfs, "-q", "-F", img, "16M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	raw, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := zstd.NewWriter(nil)
	srv := httptest.NewServer(&imageServer{files: map[string][]byte{
		"/bzImage":         []byte("kernel"),
		"/rootfs.ext4.zst": enc.EncodeAll(raw, nil),
	}})
	defer srv.Close()

	j := buildJob(t, strings.ReplaceAll(tuxrunDeploy, "URL", srv.URL), overlayDevice)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := j.Pipeline.Actions[0].Run(ctx, nil); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	got, _ := j.Runtime.Data("common", "download-action/rootfs/file").(string)
	if got == "" {
		t.Fatal("no rootfs downloaded")
	}
	for _, p := range []string{"/lava-42/bin/lava-test-runner", "/lava-42/0/lava-test-runner.conf", "/lava-42/0/tests/0_smoke/run.sh"} {
		out, err := exec.Command(debugfs, "-R", "cat "+p, got).Output()
		if err != nil || len(out) == 0 {
			t.Errorf("%s is not in the image: %v", p, err)
		}
	}
	out, _ := exec.Command(debugfs, "-R", "cat /lava-42/0/tests/0_smoke/run.sh", got).Output()
	if !strings.Contains(string(out), "> /dev/kmsg") {
		t.Errorf("run.sh does not signal through /dev/kmsg:\n%s", out)
	}
	if applied := j.Runtime.Data("common", "append-overlays/applied"); applied != true {
		t.Errorf("append-overlays/applied = %v, want true", applied)
	}
	if guest := j.Runtime.Data("common", "apply-overlay-guest/file"); guest != nil {
		t.Errorf("an overlay disk was built (%v) although the overlay is in the image", guest)
	}
}

// TestAppendOverlaysValidate checks what append-overlays refuses before
// the job starts.
func TestAppendOverlaysValidate(t *testing.T) {
	tests := []struct {
		name  string
		image string // replaces the rootfs image's format and overlays lines
		want  string // in the errors; "" for none
	}{
		{"ext4", "format: ext4\n        overlays: {lava: true}", ""},
		{"cpio", "format: cpio.newc\n        overlays: {lava: true}", ""},
		{"tar", "format: tar\n        overlays: {lava: true}", ""},
		{"partition", "format: ext4\n        partition: 1\n        overlays: {lava: true}", ""},
		{"bad partition", "format: ext4\n        partition: -1\n        overlays: {lava: true}", "invalid partition number -1"},
		{"sparse", "format: ext4\n        sparse: true\n        overlays: {lava: true}", "sparse image is not supported"},
		{"unknown format", "format: qcow2\n        overlays: {lava: true}", `unsupported image format "qcow2"`},
		{"overlay format", "format: ext4\n        overlays: {modules: {url: 'URL/m.tar', format: zip, path: /}}", `invalid 'format' ("zip") for 'overlays.modules'`},
		{"overlay path", "format: ext4\n        overlays: {modules: {url: 'URL/m.tar', format: tar, path: /../etc}}", "invalid 'path'"},
		{"relative overlay path", "format: ext4\n        overlays: {modules: {url: 'URL/m.tar', format: tar, path: lib}}", "invalid 'path'"},
	}
	dev, err := value.DecodeYAML([]byte(overlayDevice))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := strings.ReplaceAll(tuxrunDeploy, "format: ext4\n        overlays:\n          lava: true", tt.image)
			v, err := value.DecodeYAML([]byte(strings.ReplaceAll(job, "URL", "http://127.0.0.1:9")))
			if err != nil {
				t.Fatal(err)
			}
			j, err := pipeline.Build(v.(*value.Map), dev.(*value.Map))
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			got := strings.Join(j.Validate(), "\n")
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("Validate: %q, want %q", got, tt.want)
			}
		})
	}
}
