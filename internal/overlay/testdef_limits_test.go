package overlay

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

// A test definition is read only from a regular file of bounded size: a
// named pipe in a repository (an archive can hold one) is refused at
// once instead of blocking the job, a huge file is not read whole, and
// both are the job's errors.
func TestLoadTestDefRefusesPipesAndHugeFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.yaml"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(dir, "huge.yaml"), "metadata: {name: huge}\n"+strings.Repeat("# padding\n", 110_000))
	for name, want := range map[string]string{
		"fifo.yaml": "the test definition is a named pipe, not a regular file",
		"huge.yaml": "the test definition is over the limit of 1M bytes (a fixed limit)",
	} {
		var err error
		done := make(chan struct{})
		go func() { defer close(done); _, err = LoadTestDef(dir, name) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("LoadTestDef(%s) still running after 10s", name)
		}
		if err == nil || pipeline.ClassOf(err) != pipeline.ClassJob || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadTestDef(%s) = %v, want a job error saying %q", name, err, want)
		}
	}
	if err := os.Truncate(filepath.Join(dir, "huge.yaml"), 1<<20); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTestDef(dir, "huge.yaml"); err != nil {
		t.Errorf("LoadTestDef of 1 MiB: %v", err)
	}
}
