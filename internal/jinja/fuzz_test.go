package jinja

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/value"
)

// fuzzTemplates are the other templates a fuzzed template may extend or
// include.
var fuzzTemplates = map[string]string{
	"base.jinja2": "{% set b = x | default(1) %}{% block body %}[{{ b }}]{% endblock %}{% block other %}{% endblock %}",
	"part.jinja2": "part {{ x }}",
}

// FuzzRender feeds arbitrary template text to the engine: it must return
// output or an error, never panic, hang or recurse without bound.
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"{% extends 'base.jinja2' %}{% set x = [1, 'a', {'k': none}] %}{% block body %}{{ super() }}{{ x | tojson }}{% endblock %}",
		"{% for k, v in {'a': 1}.items() if v %}{{ loop.index }}{{ k ~ v }}{% else %}-{% endfor %}",
		"{% filter indent(width=2) %}\na\n{% endfilter %}{{ 'x' | yaml_quote }}{{ 'a b' | shlex_quote }}",
		"{{ '%s %d' % ('a', 1) }}{{ '{:>4}'.format(3) }}{{ [3,1] | sort | join(',') }}{{ 1 if x else 2 }}",
		"{% include 'part.jinja2' %}{{ self.body() }}{% block body %}b{% endblock %}",
		"{%- if a -%} {{- b -}} {%- elif c %}{# c #}{% raw %}{{{% endraw %}{% endif %}",
	} {
		f.Add(s)
	}
	// Seed with real device templates when the corpus is present; they
	// are read here, never copied into the repository.
	if corpus := corpusDir(f); corpus != "" {
		for _, name := range []string{"device-types/base.jinja2", "device-types/qemu.jinja2", "device-types/base-uboot.jinja2", "devices/qemu01.jinja2", "devices/bbb-01.jinja2"} {
			if b, err := os.ReadFile(filepath.Join(corpus, name)); err == nil {
				f.Add(string(b))
			}
		}
	}
	f.Fuzz(func(t *testing.T, src string) {
		loader := MapLoader{"t.jinja2": src}
		for k, v := range fuzzTemplates {
			loader[k] = v
		}
		env := NewEnvironment(loader)
		env.Limits = Limits{MaxDepth: 20, MaxOutput: 1 << 20, MaxSteps: 20000}
		out, err := env.Render("t.jinja2", value.MapOf("x", 1, "l", []any{"a", nil}))
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("Render(%q) panicked: %v", src, err)
			}
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Render(%q) error %T is not a *jinja.Error: %v", src, err, err)
			}
			return
		}
		if len(out) > 1<<20 {
			t.Fatalf("Render(%q) output %d bytes beyond the limit", src, len(out))
		}
	})
}
