package lab

import (
	"context"
	"regexp"
	"testing"

	"github.com/basalt-lava/basalt/internal/store/sqlite"
)

// TestRenderDeviceNames: a device's configuration carries its own name and
// type (LAVA's server renders with scheduled_device_name and
// scheduled_device_type), whatever the job's context says of them.
func TestRenderDeviceNames(t *testing.T) {
	st, err := sqlite.Open(context.Background(), t.TempDir()+"/lab.db")
	must(t, err)
	t.Cleanup(func() { st.Close() })
	f := newFixture(t, st, 1)
	l, err := New(Config{Store: f.st, Logs: f.logs, DataDir: t.TempDir()})
	must(t, err)
	for _, jobContext := range []string{"", "arch: amd64", "scheduled_device_name: other\nscheduled_device_type: x86"} {
		got, err := l.RenderDevice(context.Background(), "qemu-01", jobContext)
		if err != nil {
			t.Fatalf("context %q: %v", jobContext, err)
		}
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`(?m)^hostname: ["']qemu-01["']$`),
			regexp.MustCompile(`(?m)^devicetype: ["']qemu["']$`),
		} {
			if !want.MatchString(got) {
				t.Errorf("context %q: no %s in the rendered configuration:\n%s", jobContext, want, got)
			}
		}
	}
}
