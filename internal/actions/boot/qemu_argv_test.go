package boot

import (
	"slices"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

func TestSubstitute(t *testing.T) {
	values := map[string]string{"kernel": "/tmp/k/vmlinuz", "disk": "/tmp/a,b/disk.img", "sp": "/tmp/a b/x"}
	tests := []struct{ arg, want string }{
		{"{kernel}", "/tmp/k/vmlinuz"},
		// In a QEMU option list a comma would start a new option.
		{"format=raw,file={disk}", "format=raw,file=/tmp/a,,b/disk.img"},
		// A path on its own is taken as it is.
		{"{disk}", "/tmp/a,b/disk.img"},
		{"{sp}", "/tmp/a b/x"},
		{"root=/dev/ram0 {unknown}", "root=/dev/ram0 {unknown}"},
		{"{kernel}:{kernel}", "/tmp/k/vmlinuz:/tmp/k/vmlinuz"},
	}
	for _, tt := range tests {
		if got := substitute(tt.arg, values); got != tt.want {
			t.Errorf("substitute(%q) = %q, want %q", tt.arg, got, tt.want)
		}
	}
}

func TestDeviceArgs(t *testing.T) {
	tests := []struct {
		name  string
		v     any
		want  []string
		class pipeline.Class
	}{
		{"absent", nil, nil, ""},
		{"shipped options", []any{"-nographic", "-net nic,model=virtio -net user", "-m 512"},
			[]string{"-nographic", "-net", "nic,model=virtio", "-net", "user", "-m", "512"}, ""},
		{"quoted", []any{`-append "console=ttyS0 quiet"`}, []string{"-append", "console=ttyS0 quiet"}, ""},
		{"no shell", []any{"$(reboot) ; `id`"}, []string{"$(reboot)", ";", "`id`"}, ""},
		{"numbers and nulls", []any{"-smp", 2, nil}, []string{"-smp", "2"}, ""},
		{"one string", "-m 256", []string{"-m", "256"}, ""},
		{"unterminated quote", []any{`-append "x`}, nil, pipeline.ClassConfiguration},
		{"not a list", map[string]any{}, nil, pipeline.ClassConfiguration},
	}
	for _, tt := range tests {
		got, err := deviceArgs(tt.v, "options")
		if pipeline.ClassOf(err) != tt.class || !slices.Equal(got, tt.want) {
			t.Errorf("%s: deviceArgs = %q, %v; want %q, class %q", tt.name, got, err, tt.want, tt.class)
		}
		if err != nil && !strings.Contains(err.Error(), "options") {
			t.Errorf("%s: error %q does not name the parameter", tt.name, err)
		}
	}
}
