package jinja

import (
	"testing"

	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

// TestRenderPrints: each print and filter block that writes something
// is one span over exactly its bytes, with the names its expression
// reads and those they were computed from (s from x; a filter block's:
// its filters' and its body's prints'); literal text, empty prints, prints inside a child's unused
// top level and text captured by {% set %} blocks are not spans (what
// a capture holds reaches the output through a later print).
func TestRenderPrints(t *testing.T) {
	loader := MapLoader{
		"base": "a: {{ x }}\n{% block b %}b: {{ y | default('d') }}{% endblock %}\n",
		"child": "{% extends 'base' %}{{ ignored }}" +
			"{% block b %}{% set s %}[{{ x }}]{% endset %}c: {{ s }} {{ '' }}{% filter replace('V', q) %}{{ x ~ z }}{% endfilter %}{% endblock %}",
	}
	out, prints, err := NewEnvironment(loader).RenderPrints("child", value.MapOf("x", "V1", "z", "w", "ignored", "zz", "q", "v"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "a: V1\nc: [V1] v1w"; out != want {
		t.Fatalf("output %q, want %q", out, want)
	}
	var got []string
	for _, p := range prints {
		got = append(got, out[p.Start:p.End])
	}
	want := []Span{{3, 5, []string{"x"}, nil}, {9, 13, []string{"s"}, []string{"x"}}, {14, 17, []string{"q", "x", "z"}, nil}}
	if diff := cmp.Diff(want, prints); diff != "" {
		t.Errorf("prints (-want +got):\n%s\nprinted: %q", diff, got)
	}
	plain, err := NewEnvironment(loader).Render("child", value.MapOf("x", "V1", "z", "w", "q", "v"))
	if err != nil || plain != out {
		t.Errorf("Render = %q, %v; want RenderPrints' output %q", plain, err, out)
	}
}
