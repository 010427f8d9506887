package device

import (
	"errors"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/jinja"
	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/value"
)

// TestRenderWithServerValues: the server's variables are rendered and win
// over the job context's of the same names; they are not checked as the
// job's values are, while the job's still are.
func TestRenderWithServerValues(t *testing.T) {
	tmpl := jinja.MapLoader{"t.jinja2": "hostname: {{ scheduled_device_name }}\nkernel: {{ kernel }}\n"}
	r := NewRenderer(tmpl, limits.Limits{})
	dict := "{% extends 't.jinja2' %}"
	server := value.MapOf("scheduled_device_name", "qemu-01")

	out, err := r.RenderWith("d1", dict, value.MapOf("kernel", "k", "scheduled_device_name", "from-the-job"), server)
	if err != nil || !strings.Contains(out, "hostname: qemu-01\n") || !strings.HasSuffix(out, "kernel: k") {
		t.Errorf("RenderWith = %q, %v; want the server's hostname and the job's kernel", out, err)
	}
	// A server value that is YAML structure is the server's business.
	out, err = r.RenderWith("d2", dict, value.MapOf("kernel", "k"), value.MapOf("scheduled_device_name", "{a: b}"))
	if err != nil || !strings.Contains(out, "hostname: {a: b}") {
		t.Errorf("RenderWith with a server value of YAML = %q, %v; want it rendered", out, err)
	}
	// The same from the job is refused.
	_, err = r.RenderWith("d3", dict, value.MapOf("kernel", "{a: b}"), server)
	var ce *ContextError
	if !errors.As(err, &ce) {
		t.Errorf("RenderWith with a job value of YAML: %v, want a ContextError", err)
	}
}
