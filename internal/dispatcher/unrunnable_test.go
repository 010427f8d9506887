package dispatcher

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/job"
	"github.com/google/go-cmp/cmp"
)

// exampleWith writes examples/qemu/job.yaml with each old string
// replaced by its new one into a temporary folder and returns its path.
func exampleWith(t *testing.T, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "qemu", "job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(s, replace[i]) {
			t.Fatalf("examples/qemu/job.yaml lacks %q", replace[i])
		}
		s = strings.Replace(s, replace[i], replace[i+1], 1)
	}
	path := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPrepareRefusesWhatCannotRun: the QEMU example with an scp:// kernel
// and QEMU in a docker container builds and validates, but Basalt can run
// neither; Prepare reports one error per block, at the block, naming the
// method and each action, and still returns the pipeline (description).
func TestPrepareRefusesWhatCannotRun(t *testing.T) {
	jobPath := exampleWith(t,
		"http://127.0.0.1:8000/vmlinuz", "scp://files.example.com/vmlinuz",
		"    method: qemu\n", "    method: qemu\n    docker:\n      image: qemu-in-docker\n")
	p, err := Prepare(jobPath, filepath.Join("..", "..", "examples", "qemu", "device.jinja2"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Pipeline == nil {
		t.Fatalf("no pipeline: %v", p.Diagnostics)
	}
	var got []string
	for _, d := range job.Errors(p.Diagnostics) {
		got = append(got, strings.TrimPrefix(d.String(), jobPath))
	}
	want := []string{
		":33:3: actions[0].deploy: 1 deployimages: deploy to tmpfs cannot run in Basalt yet (downloading scp:// URLs not written yet, only http, https and file: 1.3.1 scp-download)",
		":46:3: actions[1].boot: 2 boot-image-retry: boot method qemu cannot run in Basalt yet (QEMU in a docker container (boot docker:) not written yet: 2.1.1 execute-qemu)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if n := len(p.Pipeline.Pipeline.Unrunnable()); n != 2 {
		t.Errorf("Unrunnable() = %d actions, want 2", n)
	}
}

// TestPrepareExampleRuns: the example as shipped holds nothing Basalt
// cannot run.
func TestPrepareExampleRuns(t *testing.T) {
	p, err := Prepare(exampleWith(t), filepath.Join("..", "..", "examples", "qemu", "device.jinja2"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if errs := job.Errors(p.Diagnostics); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	if u := p.Pipeline.Pipeline.Unrunnable(); len(u) > 0 {
		t.Errorf("Unrunnable() = %d actions, first %s", len(u), u[0].ActionBase().Name)
	}
}
