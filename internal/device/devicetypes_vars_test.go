package device

import (
	"testing"

	"github.com/basalt-lava/basalt/internal/jinja"
	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

// renderShipped renders a dictionary given as text against the shipped
// templates, with the job context ctx, and checks the schema.
func renderShipped(t *testing.T, dict string, ctx *value.Map) *Config {
	t.Helper()
	loader := jinja.ChainLoader{
		jinja.MapLoader{"dict.jinja2": dict},
		&jinja.FSLoader{FS: ShippedTemplates(), Prefix: "(basalt)/"},
	}
	if ctx == nil {
		ctx = value.NewMap()
	}
	text, err := jinja.NewEnvironment(loader).Render("dict.jinja2", ctx)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	cfg, err := Parse([]byte(text))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, text)
	}
	if problems := cfg.Check(); len(problems) > 0 {
		t.Fatalf("Check() = %v\n%s", problems, text)
	}
	return cfg
}

// TestShippedTemplateVariables renders small dictionaries that set the
// variables LAVA users set, and checks where each one lands.
func TestShippedTemplateVariables(t *testing.T) {
	qemu := []string{"actions", "boot", "methods", "qemu", "parameters"}
	at := func(p ...string) []string { return append(append([]string(nil), qemu...), p...) }
	tests := []struct {
		name string
		dict string
		ctx  *value.Map
		want map[string]any // path joined with "/" → value
	}{
		{
			name: "arch from the job context, TCG",
			dict: "{% extends 'qemu.jinja2' %}",
			ctx:  value.MapOf("arch", "amd64", "no_kvm", true),
			want: map[string]any{
				"command": "qemu-system-x86_64",
				"options": []any{"-nographic", "-net nic,model=virtio,macaddr=52:54:00:12:34:58 -net user", "-m 512", "-monitor none"},
			},
		},
		{
			name: "dictionary wins over the job context",
			dict: "{% extends 'qemu.jinja2' %}{% set arch = 'arm64' %}{% set memory = 2048 %}",
			ctx:  value.MapOf("arch", "amd64", "memory", 256),
			want: map[string]any{
				"command":      "qemu-system-aarch64",
				"boot_options": value.MapOf("root", "/dev/vda2 rw rootwait", "console", "ttyAMA0 115200", "ip", "dhcp", "mem", "1024M"),
				"options":      []any{"-cpu cortex-a57", "-machine virt", "-nographic", "-net nic,model=virtio,macaddr=52:54:00:12:34:58 -net user", "-m 2048", "-monitor none"},
			},
		},
		{
			name: "arm with cpu, machine, vga and serial",
			dict: "{% extends 'qemu.jinja2' %}{% set arch = 'arm' %}{% set cpu = 'cortex-a15' %}{% set machine = 'vexpress-a15' %}{% set vga = '-vga none' %}{% set serial = '-serial stdio' %}",
			want: map[string]any{
				"command":      "qemu-system-arm",
				"boot_options": nil,
				"options":      []any{"-cpu cortex-a15", "-machine vexpress-a15", "-vga none", "-serial stdio", "-nographic", "-net nic,model=virtio,macaddr=52:54:00:12:34:58 -net user", "-m 512", "-monitor none"},
			},
		},
		{
			name: "riscv64 under KVM, no network, extra options",
			dict: "{% extends 'qemu.jinja2' %}{% set arch = 'riscv64' %}{% set no_network = True %}{% set extra_options = ['-smp', 2] %}",
			want: map[string]any{
				"command":      "qemu-system-riscv64",
				"boot_options": value.MapOf("root", "/dev/sda1", "console", "ttyS0,115200"),
				"options":      []any{"-machine virt", "-cpu rv64", "-cpu host", "-enable-kvm", "-nographic", "-net none", "-m 512", "-monitor none"},
				"extra":        []any{"-smp", 2},
			},
		},
		{
			name: "network model, tap device, monitor",
			dict: "{% extends 'qemu.jinja2' %}{% set arch = 'x86_64' %}{% set no_kvm = True %}{% set model = 'model=e1000' %}{% set mac_addr = '52:54:00:00:00:01' %}{% set netdevice = 'tap' %}{% set monitor = 'stdio' %}",
			want: map[string]any{
				"command": "qemu-system-x86_64",
				"options": []any{"-nographic", "-net nic,model=e1000,macaddr=52:54:00:00:00:01 -net tap", "-m 512", "-monitor stdio"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := renderShipped(t, tt.dict, tt.ctx)
			for key, want := range tt.want {
				got, ok := cfg.Lookup(at(key)...)
				if !ok {
					t.Errorf("%s: missing", key)
					continue
				}
				if diff := cmp.Diff(want, got, mapsAsGo); diff != "" {
					t.Errorf("%s (-want +got):\n%s", key, diff)
				}
			}
		})
	}
}

// TestShippedBaseVariables covers base.jinja2's overrides, and free text
// that would break LAVA's quoting.
func TestShippedBaseVariables(t *testing.T) {
	dict := `{% extends 'qemu.jinja2' %}
{% set arch = 'amd64' %}
{% set uboot_autoboot_prompt = "Press 'x': stop" %}
{% set connection_command = 'telnet localhost 7001 # ser2net' %}
{% set hard_reset_command = ['pduclient --port 1 --command off', 'pduclient --port 1 --command on'] %}
{% set power_off_command = 'pduclient --port 1 --command off' %}
{% set action_timeout_auto_login = 7 %}
{% set connection_timeout_feedback = 99 %}
{% set action_timeout_boot_image_retry = 9 %}
{% set failure_retry = 3 %}
{% set boot_retry = 2 %}
{% set boot_character_delay = 5 %}
{% set uboot_extra_error_message = 'Oops' %}
{% set device_ip = '10.0.0.2' %}
{% set device_mac = '00:11:22:33:44:55' %}
{% set environment = {'FOO': 'bar'} %}
`
	cfg := renderShipped(t, dict, nil)
	checks := []struct {
		path []string
		want any
	}{
		{[]string{"constants", "u-boot", "interrupt-prompt"}, "Press 'x': stop"},
		{[]string{"commands", "connect"}, "telnet localhost 7001 # ser2net"},
		{[]string{"commands", "hard_reset"}, []any{"pduclient --port 1 --command off", "pduclient --port 1 --command on"}},
		{[]string{"commands", "power_off"}, "pduclient --port 1 --command off"},
		{[]string{"timeouts", "actions", "auto-login-action"}, value.MapOf("minutes", 7)},
		{[]string{"timeouts", "connections", "lava-test-shell"}, value.MapOf("seconds", 99)},
		{[]string{"timeouts", "connections", "lava-docker-test-shell"}, value.MapOf("seconds", 99)},
		{[]string{"timeouts", "actions", "boot-image-retry"}, value.MapOf("minutes", 9)},
		{[]string{"constants", "failure_retry"}, 3},
		{[]string{"constants", "boot_retry"}, 2},
		{[]string{"character_delays"}, value.MapOf("boot", 5)},
		{[]string{"parameters", "interfaces", "target"}, value.MapOf("ip", "10.0.0.2", "mac", "00:11:22:33:44:55")},
		{[]string{"environment"}, value.MapOf("FOO", "bar")},
	}
	for _, c := range checks {
		got, ok := cfg.Lookup(c.path...)
		if !ok {
			t.Errorf("%v: missing", c.path)
			continue
		}
		if diff := cmp.Diff(c.want, got, mapsAsGo); diff != "" {
			t.Errorf("%v (-want +got):\n%s", c.path, diff)
		}
	}
	errs := cfg.List("constants", "u-boot", "error-messages")
	if len(errs) == 0 || errs[len(errs)-1] != "Oops" {
		t.Errorf("u-boot error-messages end %v, want the extra message last", errs[len(errs)-3:])
	}
}
