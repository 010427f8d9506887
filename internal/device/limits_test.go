package device

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

func loadWithin(t *testing.T, path string, lim limits.Limits) error {
	t.Helper()
	var err error
	done := make(chan struct{})
	go func() { defer close(done); _, err = LoadDeviceLimited(path, nil, nil, lim) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("LoadDeviceLimited(%s) still running after 10s", path)
	}
	return err
}

// A device file, dictionary or configuration, must be a regular file
// within the device size limit, and each template it uses one within
// the template limit; the YAML it renders to is bounded too. Each error
// names the limit's flag.
func TestLoadDeviceLimits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, name := range []string{"fifo.jinja2", "fifo.yaml"} {
		if err := syscall.Mkfifo(filepath.Join(dir, name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	big := strings.Repeat("# padding\n", 300) // 3000 bytes
	write("big-type.jinja2", big+"device_type: big\n")
	dict := write("dev.jinja2", "{% extends 'big-type.jinja2' %}\n")
	bigDict := write("big-dev.jinja2", big+"{% extends 'big-type.jinja2' %}\n")
	bigYAML := write("big.yaml", big+"device_type: x\n")
	nodes := write("nodes.yaml", "device_type: x\nparameters: {a: 1, b: 2, c: 3}\n")
	small := limits.Limits{DeviceSize: 2000, TemplateSize: 2000, YAMLNodes: 6}
	for _, tt := range []struct {
		path string
		lim  limits.Limits
		want string
	}{
		{filepath.Join(dir, "fifo.jinja2"), limits.Limits{}, "fifo.jinja2: the device file is a named pipe, not a regular file"},
		{filepath.Join(dir, "fifo.yaml"), limits.Limits{}, "fifo.yaml: the device file is a named pipe, not a regular file"},
		{"/dev/zero", limits.Limits{}, "/dev/zero: the device file is a character device, not a regular file"},
		{bigDict, small, "big-dev.jinja2: the device file is over the limit of 2000 bytes (--max-device-size changes it)"},
		{bigYAML, small, "big.yaml: the device file is over the limit of 2000 bytes (--max-device-size changes it)"},
		{dict, small, "big-type.jinja2: the device-type template is over the limit of 2000 bytes (--max-template-size changes it)"},
		{nodes, small, "nodes.yaml:2:17: the YAML document (aliases expanded) is over the limit of 6 nodes (--max-yaml-nodes changes it)"},
		{dict, limits.Limits{}, ""},
		{nodes, limits.Limits{}, ""},
	} {
		err := loadWithin(t, tt.path, tt.lim)
		if tt.want == "" {
			if err != nil {
				t.Errorf("LoadDeviceLimited(%s, %+v) = %v", tt.path, tt.lim, err)
			}
			continue
		}
		var le *limits.Error
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, &le) && !limits.IsNotRegular(err) {
			t.Errorf("LoadDeviceLimited(%s, %+v) = %v, want a limit's error with %q", tt.path, tt.lim, err, tt.want)
		}
	}
}
