package jinja

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

// Outputs below were checked against Python Jinja2 3.1.2 with LAVA's
// environment.

func TestInheritance(t *testing.T) {
	t.Parallel()
	templates := MapLoader{
		"base.jinja2": "{% set b = x | default('bx') %}base {{ b }}\n" +
			"{% block body %}base body {{ x }}{% endblock %}\n" +
			"{% block tail %}tail{% endblock %}\n" +
			"[{{ self.body() }}]",
		"mid.jinja2": "{% extends 'base.jinja2' %}\nignored text\n{% block body %}mid {{ super() }} {{ y }}{% endblock %}",
		"child.jinja2": "{# leading comment #}\n{% extends 'mid.jinja2' %}\n{% set x = 'cx' %}\nchild text is discarded\n" +
			"{% block tail %}child tail {{ x }}{% endblock %}",
		"inc.jinja2":   "{% include 'part.jinja2' %}|{% set v = 2 %}{% include 'part.jinja2' %}",
		"part.jinja2":  "v={{ v }}",
		"self.jinja2":  "{% include 'self.jinja2' %}",
		"loopa.jinja2": "{% extends 'loopb.jinja2' %}",
		"loopb.jinja2": "{% extends 'loopa.jinja2' %}",
	}
	env := NewEnvironment(templates)
	tests := []struct {
		name string
		vars *value.Map
		want string
	}{
		{"child.jinja2", nil, "base cx\nmid base body cx child tail cx[mid base body cx ]"},
		// A set in the child wins over the render variable of that name.
		{"child.jinja2", value.MapOf("x", "ctx", "y", "Y"), "base cx\nmid base body cx Ychild tail cx[mid base body cx Y]"},
		{"mid.jinja2", value.MapOf("x", "ctx"), "base ctx\nmid base body ctx tail[mid base body ctx ]"},
		{"inc.jinja2", value.MapOf("v", 1), "v=1|v=2"},
	}
	for _, tc := range tests {
		got, err := env.Render(tc.name, tc.vars)
		if err != nil {
			t.Fatalf("Render(%q): %v", tc.name, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Render(%q, %v) mismatch (-want +got):\n%s", tc.name, value.GoString(tc.vars), diff)
		}
	}
	for _, name := range []string{"self.jinja2", "loopa.jinja2"} {
		_, err := env.Render(name, nil)
		if err == nil || !strings.Contains(err.Error(), "nested too deeply") {
			t.Errorf("Render(%q) error = %v, want a nesting error", name, err)
		}
	}
}

func TestRenderDoesNotChangeCallerValues(t *testing.T) {
	t.Parallel()
	d := value.MapOf("a", 1)
	vars := value.MapOf("d", d)
	if _, err := render(t, "{% set _ = d.update({'b': 2}) %}{{ d }}", vars); err != nil {
		t.Fatal(err)
	}
	if d.Len() != 1 {
		t.Errorf("caller's map changed to %s", value.GoString(d))
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		line      int
		msg       string
	}{
		{"unclosed if", "a\n{% if x %}\nb", 3, "looking for the following tags: 'elif' or 'else' or 'endif'"},
		{"unknown tag", "{% frobnicate %}", 1, "unknown tag 'frobnicate'"},
		{"unknown filter", "a\n\n{{ x | nosuch }}", 3, "No filter named 'nosuch'"},
		{"unknown test", "{{ x is nosuch }}", 1, "No test named 'nosuch'"},
		{"unknown filter in a branch not taken is fine until run", "{% if x %}{{ x | nosuch }}{% endif %}\n{{ 1 + 'a' }}", 2, "unsupported operand"},
		{"bad expression", "{{ 1 + }}", 1, "unexpected"},
		{"unclosed string", "{{ 'abc }}", 1, "unexpected char"},
		{"unclosed comment", "{# abc", 1, "Missing end of comment"},
		{"unbalanced", "{{ (1 }}", 1, "unexpected '}'"},
		{"attribute of undefined", "x\n{{ nope.attr }}", 2, "'nope' is undefined"},
		{"undefined arithmetic", "{{ nope + 1 }}", 1, "'nope' is undefined"},
		{"type error", "{% set a = [1] %}\n\n{{ a + 'x' }}", 3, "can only concatenate list"},
		{"division by zero", "{{ 1 // 0 }}", 1, "division or modulo by zero"},
		{"missing template", "{% extends 'nope.jinja2' %}", 1, "template not found: nope.jinja2"},
		{"extends twice", "{% extends 'p.jinja2' %}{% extends 'p.jinja2' %}", 1, "extended multiple times"},
		{"not iterable", "{% for x in 3 %}{% endfor %}", 1, "'int' object is not iterable"},
		{"unpack", "{% for a, b in [1] %}{% endfor %}", 1, "cannot unpack"},
		{"huge range", "{{ range(10000000) }}", 1, "range too big"},
		{"duplicate block", "{% block a %}{% endblock %}{% block a %}{% endblock %}", 1, "block 'a' defined twice"},
		{"indent of a number", "{{ 3 | indent }}", 1, "unsupported operand"},
		{"call of non-callable", "{{ 'a'() }}", 1, "not callable"},
		{"macro", "{% macro m() %}{% endmacro %}", 1, "not supported"},
		{"list append", "{% set l = [] %}{{ l.append(1) }}", 1, "not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := NewEnvironment(MapLoader{"t.jinja2": tc.src, "p.jinja2": "p"})
			_, err := env.Render("t.jinja2", nil)
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("Render(%q) error = %v, want a *jinja.Error", tc.src, err)
			}
			if te.File != "t.jinja2" || te.Line != tc.line || !strings.Contains(te.Msg, tc.msg) {
				t.Errorf("Render(%q) error = %q (file %q line %d), want t.jinja2 line %d containing %q", tc.src, err, te.File, te.Line, tc.line, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), "t.jinja2:") {
				t.Errorf("error %q does not start with the file name", err)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	env := NewEnvironment(MapLoader{
		"steps.jinja2":   "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
		"big.jinja2":     "{% set s = 'x' * 1000 %}{% for i in range(100000) %}{{ s }}{% endfor %}",
		"shared.jinja2":  "{% set a = [[1] * 1000] * 1000 %}{% set b = [a] * 1000 %}{{ b }}",
		"replace.jinja2": "{% set s = 'a' * 10000 %}{{ s.replace('a', s) }}",
		"unique.jinja2":  "{{ ([1] * 1000000) | unique | list }}",
	})
	env.Limits = Limits{MaxDepth: 10, MaxOutput: 1 << 20, MaxSteps: 100000}
	for _, name := range []string{"steps.jinja2", "big.jinja2", "shared.jinja2", "replace.jinja2"} {
		if _, err := env.Render(name, nil); err == nil {
			t.Errorf("Render(%q) succeeded, want a limit error", name)
		}
	}
	// unique hashes rather than comparing every pair.
	if got, err := env.Render("unique.jinja2", nil); err != nil || got != "[1]" {
		t.Errorf("Render(unique) = %q, %v; want [1]", got, err)
	}
}

func TestDirLoaderSandbox(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	inside := filepath.Join(root, "templates")
	second := filepath.Join(root, "second")
	for _, d := range []string{inside, second, filepath.Join(inside, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "secret.jinja2"), "secret")
	write(filepath.Join(inside, "a.jinja2"), "first")
	write(filepath.Join(second, "a.jinja2"), "second")
	write(filepath.Join(second, "b.jinja2"), "only in second")
	write(filepath.Join(inside, "sub", "c.jinja2"), "nested")
	if err := os.Symlink(filepath.Join(root, "secret.jinja2"), filepath.Join(inside, "link.jinja2")); err != nil {
		t.Fatal(err)
	}
	l := NewDirLoader(inside, second)
	tests := []struct {
		name, want string
		found      bool
	}{
		{"a.jinja2", "first", true},
		{"b.jinja2", "only in second", true},
		{"sub/c.jinja2", "nested", true},
		{"./sub//c.jinja2", "nested", true},
		{"../secret.jinja2", "", false},
		{"sub/../../secret.jinja2", "", false},
		{filepath.Join(root, "secret.jinja2"), "", false},
		{"link.jinja2", "", false},
		{"sub", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		src, _, err := l.Load(tc.name)
		if tc.found {
			if err != nil || src != tc.want {
				t.Errorf("Load(%q) = %q, %v; want %q", tc.name, src, err, tc.want)
			}
			continue
		}
		var nf *NotFoundError
		if !errors.As(err, &nf) {
			t.Errorf("Load(%q) = %q, %v; want not found", tc.name, src, err)
		}
	}
}

func TestFSAndChainLoaders(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{"base.jinja2": {Data: []byte("base {% block b %}{% endblock %}")}}
	env := NewEnvironment(ChainLoader{MapLoader{"dev.jinja2": "{% extends 'base.jinja2' %}{% block b %}dev{% endblock %}"}, &FSLoader{FS: fsys}})
	got, err := env.Render("dev.jinja2", nil)
	if err != nil || got != "base dev" {
		t.Errorf("Render = %q, %v; want %q", got, err, "base dev")
	}
	empty := NewEnvironment(&FSLoader{FS: fstest.MapFS{}})
	_, err = empty.Render("x.jinja2", nil)
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Errorf("Render from an empty FS: %v, want a NotFoundError", err)
	}
}
