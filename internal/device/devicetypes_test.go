package device

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/basalt-lava/basalt/internal/jinja"
	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

// lavaDifferences are the places where Basalt's shipped templates
// deliberately yield other data than LAVA's. Each one rewrites LAVA's
// expected configuration into what Basalt produces, so that everything
// else must still be equal.
//
//  1. qemu boot_options for architectures other than amd64 and the ARM
//     family (and for no arch at all): LAVA prints the console unquoted
//     in a flow mapping, "{root: /dev/sda1, console: ttyS0,115200}",
//     which YAML reads as console "ttyS0" plus a stray key "115200" with
//     a null value. Basalt's qemu.jinja2 gives console "ttyS0,115200".
var lavaDifferences = []struct {
	name     string
	template string                    // the shipped template that differs
	apply    func(cfg *value.Map) bool // reports whether it changed cfg
}{
	{"qemu console split by an unquoted comma", "qemu.jinja2", func(cfg *value.Map) bool {
		changed := false
		for _, method := range []string{"qemu", "qemu-nfs"} {
			v, _ := cfg.Lookup("actions", "boot", "methods", method, "parameters", "boot_options")
			opts, ok := v.(*value.Map)
			if !ok {
				continue
			}
			if baud, ok := opts.Get("115200"); ok && baud == nil && opts.String("console") == "ttyS0" {
				opts.Delete("115200")
				opts.Set("console", "ttyS0,115200")
				changed = true
			}
		}
		return changed
	}},
}

var extendsRe = regexp.MustCompile(`\{%-?\s*extends\s+['"]([^'"]+)['"]`)

// shippedCase is a corpus render case that Basalt's shipped templates
// can render on their own: a device-type template Basalt ships, or a
// device dictionary that extends one.
type shippedCase struct {
	id, template string
	dictDir      string // "" for a device-type case
	ctx          *value.Map
	expected     string
}

func shippedCases(t *testing.T, corpus string) []shippedCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpus, "render-cases.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := value.DecodeYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	shipped := ShippedTemplates()
	ships := func(name string) bool {
		_, err := fs.Stat(shipped, name)
		return err == nil
	}
	var out []shippedCase
	for _, c := range doc.(*value.Map).List("cases") {
		m := c.(*value.Map)
		sc := shippedCase{id: m.String("id"), template: m.String("template"), ctx: m.Map("context"), expected: m.String("expected")}
		dict := filepath.Join(corpus, "devices", sc.template)
		switch b, err := os.ReadFile(dict); {
		case err == nil:
			match := extendsRe.FindSubmatch(b)
			if match == nil || !ships(string(match[1])) {
				continue
			}
			sc.dictDir = filepath.Dir(dict)
		case ships(sc.template):
		default:
			continue
		}
		out = append(out, sc)
	}
	return out
}

// render renders a case with Basalt's shipped templates only: the
// dictionary's folder (never LAVA's device-types folder), then the
// embedded templates. It also returns the shipped templates used.
func (c shippedCase) render() (string, []string, error) {
	var loader jinja.ChainLoader
	if c.dictDir != "" {
		loader = append(loader, jinja.NewDirLoader(c.dictDir))
	}
	rec := &shippedRecorder{}
	loader = append(loader, rec)
	out, err := jinja.NewEnvironment(loader).Render(c.template, value.Clone(c.ctx).(*value.Map))
	return out, rec.used, err
}

// shippedRecorder loads the shipped templates and notes which ones a
// render used, so a difference is only expected where our template
// took part.
type shippedRecorder struct {
	mu   sync.Mutex
	used []string
}

func (r *shippedRecorder) Load(name string) (string, string, error) {
	src, file, err := (&jinja.FSLoader{FS: ShippedTemplates(), Prefix: "(basalt)/"}).Load(name)
	if err == nil {
		r.mu.Lock()
		r.used = append(r.used, name)
		r.mu.Unlock()
	}
	return src, file, err
}

// applyDifferences rewrites LAVA's configuration want by every entry of
// lavaDifferences whose template is among used, and names those that
// changed it.
func applyDifferences(want *value.Map, used []string) []string {
	var applied []string
	for _, d := range lavaDifferences {
		if slices.Contains(used, d.template) && d.apply(want) {
			applied = append(applied, d.name)
		}
	}
	return applied
}

// mapsAsGo lets cmp compare value.Map data regardless of key order.
var mapsAsGo = cmp.Transformer("map", func(m *value.Map) map[string]any {
	out := make(map[string]any, m.Len())
	m.Range(func(k string, v any) bool {
		out[k] = v
		return true
	})
	return out
})

// TestShippedTemplatesMatchLAVA renders every corpus case that needs only
// the device types Basalt ships (qemu dictionaries, the base, qemu and
// qemu-aarch64 types, with and without job context) and compares the
// parsed configuration with LAVA's rendering, after the differences
// listed in lavaDifferences. The rendered text differs (it is our own
// template); the data must not.
func TestShippedTemplatesMatchLAVA(t *testing.T) {
	corpus := corpusDir(t)
	if corpus == "" {
		t.Skip("LAVA corpus not found (../shared/lava-corpus next to the module); skipping")
	}
	cases := shippedCases(t, corpus)
	if len(cases) < 15 {
		t.Fatalf("found %d corpus cases for the shipped templates, want at least 15", len(cases))
	}
	var sum summary
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			t.Parallel()
			text, used, err := c.render()
			if err != nil {
				t.Fatalf("render %s: %v", c.template, err)
			}
			cfg, err := Parse([]byte(text))
			if err != nil {
				t.Fatalf("Parse(render %s): %v\n%s", c.template, err, text)
			}
			raw, err := os.ReadFile(filepath.Join(corpus, c.expected))
			if err != nil {
				t.Fatal(err)
			}
			wantCfg, err := Parse(raw)
			if err != nil {
				t.Fatalf("LAVA's %s: %v", c.expected, err)
			}
			want := wantCfg.Data
			applied := applyDifferences(want, used)
			if diff := cmp.Diff(want, cfg.Data, mapsAsGo); diff != "" {
				t.Fatalf("render %s: data differs from LAVA's %s (-lava +basalt):\n%s", c.template, c.expected, diff)
			}
			// LAVA's schema check must agree too (dt/base is the one case
			// both reject: it has no actions).
			if wantProblems, gotProblems := len(wantCfg.Check()), len(cfg.Check()); (wantProblems == 0) != (gotProblems == 0) {
				t.Errorf("Check() = %v, LAVA's rendering gives %v", cfg.Check(), wantCfg.Check())
			}
			sum.add(c.id, applied)
		})
	}
	t.Cleanup(func() {
		lines := sum.sorted()
		t.Logf("%d of %d corpus cases equal as data to LAVA's rendering:", len(lines), len(cases))
		for _, line := range lines {
			t.Log("  " + line)
		}
	})
}

// summary collects one line per case for the log.
type summary struct {
	mu    sync.Mutex
	lines []string
}

func (s *summary) add(id string, applied []string) {
	line := id
	if len(applied) > 0 {
		line += " (after: " + strings.Join(applied, "; ") + ")"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, line)
}

func (s *summary) sorted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sort.Strings(s.lines)
	return s.lines
}
