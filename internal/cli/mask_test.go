package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/joblog"
)

// secretJob downloads its images from URLs that carry a declared secret
// (a token) and an undeclared password (user:password@): neither
// download can work (port 1), so the job ends with an error naming the
// URL.
const secretJob = `device_type: qemu
job_name: secrets
timeouts: {job: {minutes: 10}, action: {minutes: 1}}
visibility: public
secrets: {token: tok3n-XYZ-123}
context: {arch: amd64, no_kvm: true}
actions:
- deploy:
    to: tmpfs
    timeout: {minutes: 2}
    images:
      kernel: {url: 'http://user:pa55word@127.0.0.1:1/vmlinuz?token=tok3n-XYZ-123', image_arg: '-kernel {kernel}'}
      ramdisk: {url: 'http://127.0.0.1:1/rootfs.cpio.gz?token=tok3n-XYZ-123', image_arg: '-initrd {ramdisk}'}
- boot: {method: qemu, media: tmpfs, prompts: ['root@basalt:~# ']}
`

// Secrets never reach an output of `basalt run`: not stdout (the job
// log and the summary's error message), not stderr, not any file of the
// job's folder (logs.yaml, description.yaml, results.yaml, results.xml).
// The declared secret and the URL's password both show as [MASKED].
func TestRunMasksEveryOutput(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(job, []byte(secretJob), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	code := Main([]string{"run", job, "--device", "../../examples/qemu/device.jinja2", "--output-dir", out}, &stdout, &stderr)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitFailed, stderr.String())
	}
	outputs := map[string]string{"stdout": stdout.String(), "stderr": stderr.String()}
	for _, f := range []string{"logs.yaml", "description.yaml", "results.yaml", "results.xml"} {
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		outputs[f] = string(b)
	}
	for name, text := range outputs {
		for _, secret := range []string{"tok3n-XYZ-123", "pa55word"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s shows %q:\n%s", name, secret, text)
			}
		}
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "job incomplete: Infrastructure error:") || !strings.Contains(last, "127.0.0.1:1") || !strings.Contains(last, joblog.Masked) {
		t.Errorf("summary line %q: want the download error, its URL masked", last)
	}
	if !strings.Contains(outputs["description.yaml"], "http://user:"+joblog.Masked+"@127.0.0.1:1/vmlinuz?token="+joblog.Masked) {
		t.Errorf("description.yaml does not list the kernel's URL masked:\n%s", outputs["description.yaml"])
	}
}
