package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A job that completes but whose results cannot be written is not
// reported complete: the summary's last line says why, and the exit
// status fails.
func TestRunResultsNotKept(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "job.yaml")
	text := "device_type: qemu\njob_name: kept\ntimeouts: {job: {minutes: 5}, action: {minutes: 1}}\nvisibility: public\nactions:\n- command: {name: pass}\n"
	if err := os.WriteFile(job, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	// results.yaml is a folder: writing it fails.
	if err := os.MkdirAll(filepath.Join(out, "results.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := Main([]string{"run", job, "--device", "../dispatcher/testdata/run/device.yaml", "--output-dir", out, "--quiet"}, &stdout, &stderr)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitFailed, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "job incomplete: Infrastructure error: the job completed, but its results were not kept:") {
		t.Errorf("summary line %q", last)
	}
	if !strings.Contains(stderr.String(), "results.yaml") {
		t.Errorf("stderr does not name results.yaml: %s", stderr.String())
	}
}
