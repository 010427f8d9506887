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

// `basalt validate --output-dir` writes description.yaml masked too, and
// its diagnostics show no secret.
func TestValidateMasksDescription(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(job, []byte(strings.Replace(secretJob, "http://127.0.0.1:1/rootfs.cpio.gz", "file:///nonexistent/rootfs", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	Main([]string{"validate", job, "--device", "../../examples/qemu/device.jinja2", "--output-dir", out}, &stdout, &stderr)
	desc, err := os.ReadFile(filepath.Join(out, "description.yaml"))
	if err != nil {
		t.Fatalf("%v; stderr %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "/nonexistent/rootfs") {
		t.Errorf("stderr does not report the missing file: %s", stderr.String())
	}
	for name, text := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String(), "description.yaml": string(desc)} {
		for _, secret := range []string{"tok3n-XYZ-123", "pa55word"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s shows %q:\n%s", name, secret, text)
			}
		}
	}
}

// A diagnostic that quotes the job (here an unknown deploy method that is
// the job's secret) is printed masked: by basalt validate, and by basalt
// run of a MultiNode submission, which checks it before splitting.
func TestDiagnosticsMasked(t *testing.T) {
	dir := t.TempDir()
	single, err := os.ReadFile("testdata/jobs/missing-image.yaml")
	if err != nil {
		t.Fatal(err)
	}
	group, err := os.ReadFile("testdata/multinode/group.yaml")
	if err != nil {
		t.Fatal(err)
	}
	withSecret := func(b []byte) []byte {
		s := strings.Replace(string(b), "visibility: public\n", "visibility: public\nsecrets: {token: tok3n-XYZ-123}\n", 1)
		return []byte(strings.Replace(s, "    to: tmpfs\n", "    to: tok3n-XYZ-123\n", 1))
	}
	jobPath, groupPath := filepath.Join(dir, "job.yaml"), filepath.Join(dir, "group.yaml")
	os.WriteFile(jobPath, withSecret(single), 0o644)
	os.WriteFile(groupPath, withSecret(group), 0o644)
	for name, args := range map[string][]string{
		"validate":  {"validate", jobPath, "--device", "../../examples/qemu/device.jinja2"},
		"run group": {"run", groupPath, "--device", "server=../../examples/multinode/device.jinja2", "--device", "client=../../examples/multinode/device.jinja2", "--output-dir", filepath.Join(dir, "out"), "--quiet"},
	} {
		var stdout, stderr bytes.Buffer
		if code := Main(args, &stdout, &stderr); code != exitFailed {
			t.Errorf("%s: exit %d, want %d", name, code, exitFailed)
		}
		all := stdout.String() + stderr.String()
		if strings.Contains(all, "tok3n-XYZ-123") || !strings.Contains(all, `unknown deploy method "`+joblog.Masked+`"`) {
			t.Errorf("%s: want the diagnostic masked:\n%s", name, all)
		}
	}
}
