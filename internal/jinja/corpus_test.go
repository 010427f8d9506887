package jinja

import (
	"github.com/basalt-lava/basalt/internal/lavacorpus"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

type renderCase struct {
	id, template, expected string
	searchPath             []string
	context                *value.Map
}

func loadRenderCases(t testing.TB, corpus string) []renderCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpus, "render-cases.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := value.DecodeYAML(data)
	if err != nil {
		t.Fatalf("render-cases.yaml: %v", err)
	}
	var cases []renderCase
	for _, c := range doc.(*value.Map).List("cases") {
		m := c.(*value.Map)
		rc := renderCase{id: m.String("id"), template: m.String("template"), expected: m.String("expected"), context: m.Map("context")}
		for _, p := range m.List("search_path") {
			rc.searchPath = append(rc.searchPath, filepath.Join(corpus, p.(string)))
		}
		cases = append(cases, rc)
	}
	return cases
}

// TestCorpusRender renders every case of LAVA's corpus and compares the
// bytes with what Python Jinja2 produced.
func TestCorpusRender(t *testing.T) {
	corpus := corpusDir(t)
	if corpus == "" {
		t.Skip("LAVA corpus not found (../shared/lava-corpus next to the module); skipping conformance")
	}
	cases := loadRenderCases(t, corpus)
	if len(cases) == 0 {
		t.Fatal("no cases in render-cases.yaml")
	}
	var mu sync.Mutex
	envs := map[string]*Environment{}
	envFor := func(paths []string) *Environment {
		mu.Lock()
		defer mu.Unlock()
		key := strings.Join(paths, "\x00")
		if e, ok := envs[key]; ok {
			return e
		}
		e := NewEnvironment(NewDirLoader(paths...))
		envs[key] = e
		return e
	}
	var passed int
	t.Run("cases", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.id, func(t *testing.T) {
				t.Parallel()
				want, err := os.ReadFile(filepath.Join(corpus, c.expected))
				if err != nil {
					t.Fatal(err)
				}
				got, err := envFor(c.searchPath).Render(c.template, c.context)
				if err != nil {
					t.Fatalf("Render(%q): %v", c.template, err)
				}
				if diff := cmp.Diff(string(want), got); diff != "" {
					t.Fatalf("Render(%q) mismatch (-want +got):\n%s", c.template, diff)
				}
				mu.Lock()
				passed++
				mu.Unlock()
			})
		}
	})
	t.Logf("corpus conformance: %d of %d cases byte-identical", passed, len(cases))
}
