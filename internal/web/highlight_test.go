package web

import (
	"html/template"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func hlHTMLLines(ls []hlLine) []string {
	var out []string
	for i, l := range ls {
		if l.N != i+1 {
			out = append(out, "BAD NUMBER")
		}
		out = append(out, string(l.HTML))
	}
	return out
}

// TestHighlightJinja: tags, expressions, comments and the YAML between
// them are coloured, HTML is escaped, and a multi-line tag is closed and
// reopened on each line.
func TestHighlightJinja(t *testing.T) {
	src := "{% extends 'qemu.jinja2' %}\n{# a <comment> #}\n{% set netdevice = \"user\" %}\n{% set extra = [\n  '-smp 2'] %}\nkey: {{ value }} # note\n"
	want := []string{
		`<span class="hl-tag">{% </span><span class="hl-kw">extends</span><span class="hl-tag"> </span><span class="hl-str">&#39;qemu.jinja2&#39;</span><span class="hl-tag"> %}</span>`,
		`<span class="hl-comment">{# a &lt;comment&gt; #}</span>`,
		`<span class="hl-tag">{% </span><span class="hl-kw">set</span><span class="hl-tag"> netdevice = </span><span class="hl-str">&#34;user&#34;</span><span class="hl-tag"> %}</span>`,
		`<span class="hl-tag">{% </span><span class="hl-kw">set</span><span class="hl-tag"> extra = [</span>`,
		`<span class="hl-tag">  </span><span class="hl-str">&#39;-smp 2&#39;</span><span class="hl-tag">] %}</span>`,
		`<span class="hl-key">key</span>: <span class="hl-expr">{{ value }}</span> <span class="hl-comment"># note</span>`,
	}
	if diff := cmp.Diff(hlHTMLLines(highlightJinja(src)), want); diff != "" {
		t.Errorf("highlightJinja (-got +want):\n%s", diff)
	}
}

// TestHighlightYAML: keys, quoted and constant values, comments; list
// items; a '#' inside quotes is not a comment.
func TestHighlightYAML(t *testing.T) {
	src := "# device\ndevice_type: qemu\ntimeouts:\n  connections:\n    seconds: 120\n  - name: 'a # b' # c\nurl: http://x/#frag\n"
	want := []string{
		`<span class="hl-comment"># device</span>`,
		`<span class="hl-key">device_type</span>: qemu`,
		`<span class="hl-key">timeouts</span>:`,
		`  <span class="hl-key">connections</span>:`,
		`    <span class="hl-key">seconds</span>: <span class="hl-num">120</span>`,
		`  - <span class="hl-key">name</span>: <span class="hl-str">&#39;a # b&#39;</span> <span class="hl-comment"># c</span>`,
		`<span class="hl-key">url</span>: http://x/#frag`,
	}
	if diff := cmp.Diff(hlHTMLLines(highlightYAML(src)), want); diff != "" {
		t.Errorf("highlightYAML (-got +want):\n%s", diff)
	}
}

// TestHighlightHostile: markup in the source never reaches the page raw.
func TestHighlightHostile(t *testing.T) {
	for _, src := range []string{"<script>x</script>", "{{ '<b>' }}", "{% set a = '</span><img>' %}", "{# </span> #}", "k: \"<i>\"", "{%", "{{", "{#"} {
		for _, l := range append(highlightJinja(src), highlightYAML(src)...) {
			s := string(l.HTML)
			if strings.Contains(s, "<script") || strings.Contains(s, "<b>") || strings.Contains(s, "<img") || strings.Contains(s, "<i>") {
				t.Errorf("%q: line %q carries markup", src, s)
			}
			if strings.Count(s, "<span") != strings.Count(s, "</span>") {
				t.Errorf("%q: line %q has unbalanced spans", src, s)
			}
		}
	}
	_ = template.HTML("")
}

func TestExtendsOf(t *testing.T) {
	for src, want := range map[string]string{
		"{% extends 'qemu.jinja2' %}\n":  "qemu.jinja2",
		"{%- extends \"bbb.jinja2\" -%}": "bbb.jinja2",
		"{% set a = 1 %}":                "",
	} {
		if got := extendsOf(src); got != want {
			t.Errorf("extendsOf(%q) = %q, want %q", src, got, want)
		}
	}
}
