package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mainWithin runs the command line and fails the test when it has not
// returned after limit: a command that blocks on a named pipe fails
// rather than hanging CI.
func mainWithin(t *testing.T, limit time.Duration, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := -1
	done := make(chan struct{})
	go func() { defer close(done); code = Main(args, &stdout, &stderr) }()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("basalt %s: still running after %s", strings.Join(args, " "), limit)
	}
	return code, stdout.String(), stderr.String()
}

// Every file given by path to validate, run or device render, and every
// template a dictionary uses, must be a regular file: a named pipe is
// refused at once (it used to block forever, and run ignored SIGTERM
// meanwhile) with an error that says what it is.
func TestCommandsRefuseANamedPipe(t *testing.T) {
	dir := t.TempDir()
	fifo := func(name string) string {
		p := filepath.Join(dir, name)
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	jobPipe, devPipe := fifo("job.yaml"), fifo("device.yaml")
	fifo("fifo-type.jinja2")
	dict := filepath.Join(dir, "dict.jinja2")
	if err := os.WriteFile(dict, []byte("{% extends 'fifo-type.jinja2' %}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const job, device = "../../examples/qemu/job.yaml", "../../examples/qemu/device.jinja2"
	example, err := os.ReadFile(job)
	if err != nil {
		t.Fatal(err)
	}
	imagePipe := fifo("vmlinuz")
	fileJob := filepath.Join(dir, "file-url.yaml")
	if err := os.WriteFile(fileJob, []byte(strings.Replace(string(example), "http://127.0.0.1:8000/vmlinuz", "file://"+imagePipe, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"validate", jobPipe}, "the job definition is a named pipe, not a regular file"},
		{[]string{"validate", job, "--device", devPipe}, "the device file is a named pipe, not a regular file"},
		{[]string{"validate", job, "--device", dict}, "fifo-type.jinja2: the device-type template is a named pipe, not a regular file"},
		{[]string{"run", jobPipe, "--device", device, "--output-dir", filepath.Join(out, "1"), "--quiet"}, "the job definition is a named pipe, not a regular file"},
		{[]string{"run", job, "--device", devPipe, "--output-dir", filepath.Join(out, "2"), "--quiet"}, "the device file is a named pipe, not a regular file"},
		{[]string{"validate", fileJob, "--device", device}, "image file '" + imagePipe + "' does not exist or is not readable"},
		{[]string{"device", "render", dict}, "the device-type template is a named pipe, not a regular file"},
		{[]string{"device", "render", device, "--context-file", jobPipe}, "the context file is a named pipe, not a regular file"},
		{[]string{"multinode", "split", jobPipe, "--output-dir", filepath.Join(out, "3")}, "the job definition is a named pipe, not a regular file"},
	} {
		code, stdout, stderr := mainWithin(t, 30*time.Second, tt.args...)
		if code == exitOK || !strings.Contains(stdout+stderr, tt.want) {
			t.Errorf("basalt %s: exit %d, output lacks %q:\n%s%s", strings.Join(tt.args, " "), code, tt.want, stdout, stderr)
		}
	}
}

// The limits show in each command's help, and their flags change them:
// a job over 1 MiB is refused by default, naming the flag, and accepted
// with the flag raised; --max-yaml-nodes bounds the job's YAML.
func TestLimitFlags(t *testing.T) {
	for _, cmd := range [][]string{{"validate"}, {"run"}, {"device", "render"}} {
		_, _, help := mainWithin(t, 10*time.Second, append(cmd, "--help")...)
		for _, flag := range []string{"-max-job-size", "-max-device-size", "-max-template-size", "-max-yaml-nodes"} {
			if !strings.Contains(help, flag) {
				t.Errorf("basalt %s --help lacks %s", strings.Join(cmd, " "), flag)
			}
		}
	}
	example, err := os.ReadFile("../../examples/qemu/job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.Write(example)
	b.WriteString("metadata:\n")
	for i := 0; b.Len() < 1<<20+1; i++ {
		fmt.Fprintf(&b, "  key%d: a value long enough to fill a megabyte in a reasonable number of keys\n", i)
	}
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := mainWithin(t, 60*time.Second, "validate", big)
	if want := "the job definition is over the limit of 1M bytes (--max-job-size changes it)"; code != exitFailed || !strings.Contains(stderr, want) {
		t.Errorf("validate of a 1 MiB+ job: exit %d, stderr lacks %q:\n%s", code, want, stderr)
	}
	if code, stdout, stderr := mainWithin(t, 60*time.Second, "validate", "--quiet", big, "--max-job-size", "2M"); code != exitOK {
		t.Errorf("validate --max-job-size 2M: exit %d\n%s%s", code, stdout, stderr)
	}
	code, _, stderr = mainWithin(t, 10*time.Second, "validate", "../../examples/qemu/job.yaml", "--max-yaml-nodes", "20")
	if want := "is over the limit of 20 nodes (--max-yaml-nodes changes it)"; code != exitFailed || !strings.Contains(stderr, want) {
		t.Errorf("validate --max-yaml-nodes 20: exit %d, stderr lacks %q:\n%s", code, want, stderr)
	}
	if code, _, stderr := mainWithin(t, 10*time.Second, "validate", "../../examples/qemu/job.yaml", "--max-job-size", "1X"); code != exitUsage {
		t.Errorf("--max-job-size 1X: exit %d, want %d\n%s", code, exitUsage, stderr)
	}
}
