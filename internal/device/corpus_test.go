package device

import (
	"github.com/basalt-lava/basalt/internal/lavacorpus"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

// corpusDir returns LAVA's conformance data, or "" when it is absent.
func corpusDir(t testing.TB) string {
	t.Helper()
	c := lavacorpus.Dir()
	if c == "" {
		return ""
	}
	if _, err := os.Stat(filepath.Join(c, "render-cases.yaml")); err != nil {
		return ""
	}
	return c
}

// lavaVerdicts is what current LAVA's own
// lava_common.schemas.device.validate (LAVA 2026, voluptuous; see
// bench/lava/device-verdicts.py --rendered) says of every rendered corpus
// case it rejects: the path of its one complaint, or "" when the rendered
// text is not even YAML. Every other case is valid, including four device
// types whose actions.deploy.methods is null (b-u585i-iot02a,
// cy8ckit-064s0s2-4343w, stm32l562e-dk, stm32wba65i-dk1): LAVA's schema
// accepts them, then its extra check raises a TypeError on the null; the
// schema's verdict is the one kept.
var lavaVerdicts = map[string]string{
	"ctx/bbb-01-badquote":   "",
	"ctx/bbb-01-quoting":    "",
	"dt/base":               "actions",
	"dt/hp-x360-14-G1-sona": "timeouts.connections",
}

// TestCorpusDevices loads every corpus case through LoadDevice, the way
// "basalt device render" and jobs do (dictionary folder first, then the
// device-type folder), and compares both the rendered bytes and the
// schema verdict with LAVA's.
func TestCorpusDevices(t *testing.T) {
	corpus := corpusDir(t)
	if corpus == "" {
		t.Skip("LAVA corpus not found (../shared/lava-corpus next to the module); skipping")
	}
	data, err := os.ReadFile(filepath.Join(corpus, "render-cases.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := value.DecodeYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	cases := doc.(*value.Map).List("cases")
	if len(cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range cases {
		m := c.(*value.Map)
		id := m.String("id")
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			var dirs []string
			for _, p := range m.List("search_path") {
				dirs = append(dirs, filepath.Join(corpus, p.(string)))
			}
			// The template lives in the last folder of its search path
			// that holds it; the others become --device-types folders.
			var path string
			var others []string
			for _, d := range dirs {
				if _, err := os.Stat(filepath.Join(d, m.String("template"))); err == nil && path == "" {
					path = filepath.Join(d, m.String("template"))
					continue
				}
				others = append(others, d)
			}
			want, err := os.ReadFile(filepath.Join(corpus, m.String("expected")))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Render(path, m.Map("context"), others)
			if err != nil {
				t.Fatalf("Render(%q): %v", path, err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Fatalf("Render(%q) mismatch (-want +got):\n%s", path, diff)
			}
			cfg, err := LoadDevice(path, m.Map("context"), others)
			wantPath, invalid := lavaVerdicts[id]
			if invalid && wantPath == "" {
				if err == nil {
					t.Fatalf("LoadDevice(%q) = nil error, want a YAML error as LAVA gets", path)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadDevice(%q): %v", path, err)
			}
			problems := cfg.Check()
			if !invalid {
				if len(problems) > 0 {
					t.Fatalf("Check() = %v, want no problems (LAVA accepts this device)", problems)
				}
				return
			}
			var paths []string
			for _, p := range problems {
				paths = append(paths, p.(*Problem).Path)
			}
			if len(paths) != 1 || paths[0] != wantPath {
				t.Fatalf("Check() problems at %s, want one at %s only (LAVA's complaint)", strings.Join(paths, ", "), wantPath)
			}
		})
	}
}

// BenchmarkRenderQemu renders the corpus's qemu01 dictionary (qemu01 →
// qemu → base) with a typical job context.
func BenchmarkRenderQemu(b *testing.B) {
	corpus := corpusDir(b)
	if corpus == "" {
		b.Skip("LAVA corpus not found")
	}
	path := filepath.Join(corpus, "devices", "qemu01.jinja2")
	dirs := []string{filepath.Join(corpus, "device-types")}
	ctx := value.MapOf("arch", "amd64", "no_kvm", true)
	for b.Loop() {
		if _, err := Render(path, ctx, dirs); err != nil {
			b.Fatal(err)
		}
	}
}
