package job

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/limits"
)

// Load reads only a regular file, within the job size limit: a named
// pipe is refused at once rather than blocking until a writer comes, a
// device is not read, and a larger file gets an error naming the limit.
func TestLoadRefusesWhatIsNotAJobFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, bigJob("metadata", 80_000), 0o644); err != nil { // 1.3 MB
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path, want string
		notRegular bool
	}{
		{fifo, "fifo.yaml: the job definition is a named pipe, not a regular file", true},
		{"/dev/null", "/dev/null: the job definition is a character device, not a regular file", true},
		{dir, ": the job definition is a folder, not a regular file", true},
		{big, "big.yaml: the job definition is over the limit of 1M bytes (--max-job-size changes it)", false},
	} {
		var err error
		finishes(t, 10*time.Second, func() { _, _, err = Load(tt.path, Options{}) })
		var le *limits.Error
		if err == nil || !strings.HasSuffix(err.Error(), tt.want) || limits.IsNotRegular(err) != tt.notRegular || !tt.notRegular && !errors.As(err, &le) {
			t.Errorf("Load(%s) = %v, want an error ending %q", tt.path, err, tt.want)
		}
	}
	j, diags, err := Load(big, Options{Limits: limits.Limits{JobSize: 2 << 20}})
	if err != nil || j == nil || HasErrors(diags) {
		t.Errorf("Load(big) with a 2 MiB limit = %v, %v", err, Errors(diags))
	}
}

// The YAML node limit is a diagnostic at the node that goes past it.
func TestParseYAMLNodeLimit(t *testing.T) {
	t.Parallel()
	src := bigJob("metadata", 1000)
	_, diags := Parse("job.yaml", src, Options{Limits: limits.Limits{YAMLNodes: 1500}})
	want := "job.yaml:749:9: invalid YAML: the YAML document (aliases expanded) is over the limit of 1500 nodes (--max-yaml-nodes changes it)"
	if len(diags) != 1 || diags[0].String() != want {
		t.Errorf("diagnostics = %v, want [%s]", diags, want)
	}
	if _, diags := Parse("job.yaml", src, Options{}); HasErrors(diags) {
		t.Errorf("with the default limit: %v", Errors(diags))
	}
}
