package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/value"
)

// readLog reads logs.yaml back as YAML: every line must parse.
func readLog(t *testing.T, dir string) []*value.Map {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "logs.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := value.DecodeYAML(b)
	if err != nil {
		t.Fatalf("logs.yaml is not YAML: %v", err)
	}
	var out []*value.Map
	for _, e := range v.([]any) {
		out = append(out, e.(*value.Map))
	}
	return out
}

// An invalid job still leaves a log, results saying why, and a failing
// exit status.
func TestRunInvalidJob(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "job.yaml")
	os.WriteFile(job, []byte("device_type: qemu\njob_name: broken\ntimeouts: {job: {minutes: 1}}\nvisibility: public\nactions:\n- deploy: {to: tmpfs}\n"), 0o644)
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	code := Main([]string{"run", job, "--device", "../../examples/qemu/device.jinja2", "--output-dir", out, "--quiet"}, &stdout, &stderr)
	if code != exitFailed {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
	recs := readLog(t, out)
	last := recs[len(recs)-1]
	if last.String("lvl") != "error" || !strings.Contains(last.String("msg"), "job incomplete: Job error") {
		t.Fatalf("last log line %v", value.GoString(last))
	}
	var job0 *value.Map
	for _, r := range recs {
		if m := r.Map("msg"); r.String("lvl") == "results" && m.String("case") == "job" {
			job0 = m
		}
	}
	if job0 == nil || job0.String("result") != "fail" || job0.String("error_type") != "Job" {
		t.Fatalf("job result %v", value.GoString(job0))
	}
	for _, f := range []string{"results.yaml", "results.xml"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if !strings.Contains(stdout.String(), "job incomplete: Job error: invalid job") {
		t.Errorf("summary:\n%s", stdout.String())
	}
}

func TestRunUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"run", "job.yaml"}, &stdout, &stderr); code != exitUsage {
		t.Fatalf("without --device: exit %d", code)
	}
	if code := Main([]string{"run", "job.yaml", "--device", "d", "--job-id", "../x"}, &stdout, &stderr); code != exitUsage {
		t.Fatalf("bad job id: exit %d", code)
	}
}
