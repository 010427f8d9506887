package device

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/basalt-lava/basalt/internal/jinja"
	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/value"
)

// contextPayloads are hostile values for one context variable: line
// breaks that start a key, flow collections, closing quotes and brackets,
// YAML indicators, and lists carrying the same. Each tries to add a
// "commands:" key (or any key) to the rendered device.
var contextPayloads = []any{
	"x\ncommands:\n  users:\n    pwn:\n      do: touch /tmp/pwned",
	"x\n  commands:\n    users:\n      pwn:\n        do: id",
	"x\n            commands: {users: {pwn: {do: id}}}",
	"x\r\ncommands: {users: {pwn: {do: id}}}",
	"{commands: {users: {pwn: {do: id}}}}",
	"[commands, users]",
	"x, commands: {users: {pwn: {do: id}}}",
	"x}, commands: {users: {pwn: {do: id}}}, y: {z",
	"x'], commands: {users: {pwn: {do: id}}}, y: ['",
	`x", commands: {users: {pwn: {do: id}}}, y: "`,
	`x', "commands": 1, "y": '`,
	"!!map {commands: 1}",
	"&a x",
	"*a",
	"|",
	"- x",
	"? commands",
	"commands: id",
	"# comment",
	[]any{"a", "b\ncommands: {users: {pwn: {do: id}}}"},
	[]any{"x'], commands: {users: {pwn: {do: id}}}, y: ['"},
	[]any{`x", "commands": {"users": 1}, "y": "`},
	[]any{"-smp", 2},
}

// contextTemplates are the dictionaries tried: our shipped qemu and
// qemu-aarch64 templates (and base.jinja2 under them), and the corpus's
// LAVA qemu.jinja2 and base.jinja2 through its qemu01 dictionary.
func contextTemplates(t *testing.T) []struct {
	name, path string
	dirs       []string
} {
	dir := t.TempDir()
	var out []struct {
		name, path string
		dirs       []string
	}
	for _, tmpl := range []string{"qemu.jinja2", "qemu-aarch64.jinja2"} {
		p := filepath.Join(dir, "basalt-"+tmpl)
		if err := os.WriteFile(p, []byte("{% extends '"+tmpl+"' %}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, struct {
			name, path string
			dirs       []string
		}{"basalt/" + tmpl, p, nil})
	}
	if c := corpusDir(t); c != "" {
		out = append(out, struct {
			name, path string
			dirs       []string
		}{"lava/qemu01", filepath.Join(c, "devices", "qemu01.jinja2"), []string{filepath.Join(c, "device-types")}})
	} else {
		t.Log("LAVA corpus absent: only Basalt's templates tried")
	}
	return out
}

// TestContextValuesAreData tries every context variable LAVA allows,
// with every payload, against each template: a render either is refused
// (a *ContextError, or a template error) or gives a device with exactly
// the structure that a harmless value ("x") gives. It also counts the
// inputs that changed the structure before the check (the raw Jinja2
// render), the figure of issue 10.
func TestContextValuesAreData(t *testing.T) {
	var mu sync.Mutex
	var tried, injectedBefore, refused, injectedAfter int
	t.Cleanup(func() {
		t.Logf("%d inputs tried: %d changed the device's structure before the check, %d refused with a ContextError, %d got through", tried, injectedBefore, refused, injectedAfter)
	})
	for _, tc := range contextTemplates(t) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var read1, tried1, before1, refused1, after1 int
			defer func() {
				mu.Lock()
				tried, injectedBefore, refused, injectedAfter = tried+tried1, injectedBefore+before1, refused+refused1, injectedAfter+after1
				mu.Unlock()
				t.Logf("%d context variables printed", read1)
			}()
			for _, name := range job.ContextVariables {
				baseCtx := value.MapOf("arch", "x")
				// benign renders the variable with a harmless value of the
				// payload's shape: "x", or a list of as many "x" (a list
				// printed whole is a sequence in LAVA too).
				benignFor := map[string]any{}
				benign := func(payload any) any {
					harmless := neutralValue(payload)
					key := jinja.Repr(harmless)
					if doc, ok := benignFor[key]; ok {
						return doc
					}
					ctx := value.Clone(baseCtx).(*value.Map)
					ctx.Set(name, harmless)
					var doc any // nil: this shape does not render to YAML
					text, err := Render(tc.path, ctx, tc.dirs)
					var ce *ContextError
					if errors.As(err, &ce) {
						t.Errorf("%s=%s (harmless) refused: %v", name, key, err)
					}
					if err == nil {
						doc, _ = value.DecodeYAML([]byte(text))
					}
					benignFor[key] = doc
					return doc
				}
				// A variable the template never prints cannot inject (it
				// may still pick a branch, as any value may): skip it.
				probe := value.Clone(baseCtx).(*value.Map)
				probe.Set(name, "zq9probe")
				if text, err := Render(tc.path, probe, tc.dirs); err == nil && !strings.Contains(text, "zq9probe") {
					continue
				}
				read1++
				for _, payload := range contextPayloads {
					tried1++
					benign := benign(payload)
					ctx := value.Clone(baseCtx).(*value.Map)
					ctx.Set(name, value.Clone(payload))
					raw, rawErr := jinja.NewEnvironment(Loader(tc.path, tc.dirs)).Render(filepath.Base(tc.path), ctx)
					changedBefore := false
					if rawErr == nil {
						if doc, err := value.DecodeYAML([]byte(raw)); err == nil {
							if _, _, same := sameShape(doc, benign, ""); !same || (benign == nil && hasKey(doc, "commands")) {
								before1++
								changedBefore = true
							}
						}
					}
					text, err := Render(tc.path, ctx, tc.dirs)
					var ce *ContextError
					if errors.As(err, &ce) {
						refused1++
						if !changedBefore && rawErr == nil {
							t.Errorf("%s=%q refused, but the structure is unchanged (a wrong refusal): %v", name, payload, err)
						}
						if ce.Key != name {
							t.Errorf("%s=%q: error names %q, want %q: %v", name, payload, ce.Key, name, err)
						}
						continue
					}
					if err != nil {
						continue // a template error: nothing rendered
					}
					doc, err := value.DecodeYAML([]byte(text))
					if err != nil {
						continue // not YAML: no device, nothing runs
					}
					if benign == nil {
						// The template cannot take a value of this shape
						// (a list where it writes a flow mapping): at
						// least no command may appear.
						if hasKey(doc, "commands") {
							after1++
							t.Errorf("%s=%q: accepted with a commands key", name, payload)
						}
						continue
					}
					if path, what, same := sameShape(doc, benign, ""); !same {
						after1++
						t.Errorf("%s=%q: accepted, but the device's structure changed at %s (%s)", name, payload, path, what)
					}
				}
			}
		})
	}
}

// hasKey reports whether key is a key of any mapping in v.
func hasKey(v any, key string) bool {
	switch t := v.(type) {
	case *value.Map:
		found := false
		t.Range(func(k string, x any) bool {
			found = k == key || hasKey(x, key)
			return !found
		})
		return found
	case []any:
		for _, it := range t {
			if hasKey(it, key) {
				return true
			}
		}
	}
	return false
}

// TestContextThroughTemplateConstructs: a context value reaching the
// output through the template's own constructs (a filter, a filter
// block, a variable set from it even transformed, a loop, a block printed again, a value
// spliced into a word, flow and quoted contexts) is still refused when
// it changes the structure.
func TestContextThroughTemplateConstructs(t *testing.T) {
	tests := []struct{ name, tmpl string }{
		{"filter", "a:\n  b: {{ v | upper }}\n"},
		{"filter block", "a:\n  b: {% filter upper %}{{ v }}{% endfilter %}\n"},
		{"set", "{% set w = v %}a:\n  b: {{ w }}\n"},
		{"set then lower", "{% set w = 'p' ~ v %}a:\n  b: {{ w | lower }}\n"},
		{"set upper", "{% set w = v | upper %}a:\n  b: {{ w }}\n"},
		{"loop", "a:\n{% for i in [v] %}  b: {{ i }}\n{% endfor %}"},
		{"block again", "a:\n  b: {% block x %}{{ v }}{% endblock %}\n\n  c: {{ self.x() }}\n"},
		{"spliced", "a:\n  b: pre{{ v }}post\n"},
		{"flow", "a: {b: {{ v }}}\n"},
		{"quoted", "a:\n  b: '{{ v }}'\n"},
	}
	payloads := []string{
		"x', commands: {users: {pwn: {do: id}}}, y: 'z",
		"x}, commands: {users: 1}, y: {z",
		"{commands: {users: {pwn: {do: id}}}}",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t.jinja2")
			if err := os.WriteFile(path, []byte(tt.tmpl), 0o644); err != nil {
				t.Fatal(err)
			}
			harmlessText, err := Render(path, value.MapOf("v", "lavatest"), nil)
			if err != nil {
				t.Fatalf("harmless value: %v", err)
			}
			harmless, err := value.DecodeYAML([]byte(harmlessText))
			if err != nil {
				t.Fatal(err)
			}
			for _, payload := range payloads {
				text, err := Render(path, value.MapOf("v", payload), nil)
				var ce *ContextError
				if errors.As(err, &ce) {
					continue
				}
				if err != nil {
					t.Fatalf("%q: %v", payload, err)
				}
				doc, err := value.DecodeYAML([]byte(text))
				if err != nil {
					continue // not YAML: nothing runs
				}
				if p, what, same := sameShape(doc, harmless, ""); !same {
					t.Errorf("%q accepted, but the structure changed at %s (%s):\n%s", payload, p, what, text)
				}
			}
		})
	}
}

// TestContextOrdinaryValuesAccepted: values LAVA users set, with commas,
// colons, equals signs, quotes, URLs and lists, render without a
// ContextError through every template tried.
func TestContextOrdinaryValuesAccepted(t *testing.T) {
	ctx := value.MapOf(
		"arch", "arm64",
		"boot_console", "ttyAMA0,115200",
		"boot_root", "/dev/vda1",
		"extra_options", []any{"-smp", 2, "-device virtio-rng-pci", "-append 'console=ttyAMA0 root=/dev/vda rw'"},
		"extra_kernel_args", `console=ttyS0 root=/dev/nfs rw dyndbg="file dd.c +p"`,
		"extra_nfsroot_args", ",nolock,nfsvers=3",
		"guestfs_interface", "virtio",
		"guestfs_size", 1024,
		"guestfs_driveid", "lavatest",
		"machine", "virt,gic-version=3",
		"cpu", "cortex-a57",
		"memory", 2048,
		"model", "model=virtio-net-pci",
		"netdevice", "user",
		"monitor", "none",
		"lava_test_results_dir", "/lava-%s",
		"kernel_start_message", "Linux version [0-9]",
		"bootloader_prompt", "=> ",
		"uboot_extra_error_message", "Error: can't find",
		"no_kvm", true,
		"deploy_character_delay", 150,
		"boot_character_delay", "30",
		"failure_retry", 3,
	)
	for _, tc := range contextTemplates(t) {
		if _, err := Render(tc.path, ctx, tc.dirs); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// FuzzContextValue renders the shipped qemu template with one context
// variable set to arbitrary text: Render never panics, and a render it
// accepts has the structure a harmless value gives (no key added,
// removed or renamed, no scalar turned into a collection). The empty
// string and arch are left out: they take other branches.
func FuzzContextValue(f *testing.F) {
	for _, p := range contextPayloads {
		if s, ok := p.(string); ok {
			f.Add(uint8(0), s)
		}
	}
	f.Add(uint8(3), "console=ttyS0,115200 root=/dev/vda rw")
	dir := f.TempDir()
	path := filepath.Join(dir, "dict.jinja2")
	if err := os.WriteFile(path, []byte("{% extends 'qemu.jinja2' %}\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	// The variables the shipped qemu template prints, but arch: its
	// value picks branches, so a harmless value is no yardstick.
	var names []string
	for _, name := range job.ContextVariables {
		if name == "arch" {
			continue
		}
		text, err := Render(path, value.MapOf("arch", "x", name, "zq9probe"), nil)
		if err == nil && strings.Contains(text, "zq9probe") {
			names = append(names, name)
		}
	}
	benign := map[string]any{}
	for _, name := range names {
		text, err := Render(path, value.MapOf("arch", "x", name, placeholder), nil)
		if err != nil {
			f.Fatal(err)
		}
		if benign[name], err = value.DecodeYAML([]byte(text)); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, s string) {
		name := names[int(which)%len(names)]
		if s == "" {
			return // false where "x" is true: another branch, not an injection
		}
		text, err := Render(path, value.MapOf("arch", "x", name, s), nil)
		if err != nil {
			return
		}
		doc, err := value.DecodeYAML([]byte(text))
		if err != nil {
			return
		}
		if p, what, same := sameShape(doc, benign[name], ""); !same {
			t.Fatalf("%s=%q accepted, but the structure changed at %s (%s)", name, s, p, what)
		}
	})
}
