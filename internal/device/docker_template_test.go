package device

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

// The shipped docker.jinja2 with every docker variable set gives the
// device configuration LAVA's template gives (checked once against
// Python Jinja2 rendering LAVA's docker.jinja2: the corpus's docker
// cases leave the lists empty).
func TestShippedDockerTemplate(t *testing.T) {
	dict := filepath.Join(t.TempDir(), "docker-01.jinja2")
	src := `{% extends 'docker.jinja2' %}
{% set docker_remote = 'unix:///run/x.sock' %}
{% set docker_cpus = 1.5 %}
{% set docker_memory = '512m' %}
{% set docker_privileged = True %}
{% set docker_capabilities = ['NET_ADMIN', 'SYS_PTRACE'] %}
{% set docker_devices = ['/dev/kvm'] %}
{% set docker_networks = ['lab'] %}
{% set docker_volumes = ['/srv:/srv:ro'] %}
{% set docker_extra_arguments = ['--pids-limit 100'] %}
`
	if err := os.WriteFile(dict, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadDevice(dict, value.NewMap(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := value.GoString(cfg.Data.Map("actions").Map("boot").Map("methods").Map("docker"))
	want := value.GoString(value.MapOf("options", value.MapOf(
		"remote", "unix:///run/x.sock", "cpus", 1.5, "memory", "512m", "privileged", true,
		"capabilities", []any{"NET_ADMIN", "SYS_PTRACE"}, "devices", []any{"/dev/kvm"},
		"networks", []any{"lab"}, "volumes", []any{"/srv:/srv:ro"}, "extra_arguments", []any{"--pids-limit 100"})))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("boot methods docker (-want +got):\n%s", diff)
	}
	if r := cfg.Data.Map("actions").Map("deploy").Map("methods").Map("docker").Map("options").Value("remote"); r != "unix:///run/x.sock" {
		t.Errorf("deploy remote %v", r)
	}
}
