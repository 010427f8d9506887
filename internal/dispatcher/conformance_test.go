package dispatcher

import (
	"fmt"
	"github.com/basalt-lava/basalt/internal/lavacorpus"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/device"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// corpusDir returns LAVA's conformance data, or skips.
func corpusDir(t testing.TB) string {
	t.Helper()
	return lavacorpus.Require(t, "pipeline-cases.yaml")
}

func loadYAML(t testing.TB, path string) any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := value.DecodeYAML(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// compareDescription checks name, level, timeout, max_retries, url and
// nesting, the fields the corpus says must match, and returns every
// difference found.
func compareDescription(path string, got, want []any) []string {
	var diffs []string
	n := max(len(got), len(want))
	for i := 0; i < n; i++ {
		if i >= len(got) {
			w := want[i].(*value.Map)
			diffs = append(diffs, fmt.Sprintf("%s: missing action %s %s", path, w.String("level"), w.String("name")))
			continue
		}
		g := got[i].(*value.Map)
		if i >= len(want) {
			diffs = append(diffs, fmt.Sprintf("%s: extra action %s %s", path, g.String("level"), g.String("name")))
			continue
		}
		w := want[i].(*value.Map)
		where := fmt.Sprintf("%s[%s %s]", path, w.Value("level"), w.Value("name"))
		for _, k := range []string{"name", "level", "timeout", "max_retries", "url"} {
			if !value.Equal(g.Value(k), w.Value(k)) {
				diffs = append(diffs, fmt.Sprintf("%s: %s = %v, want %v", where, k, value.GoString(g.Value(k)), value.GoString(w.Value(k))))
			}
		}
		gp, _ := g.Value("pipeline").([]any)
		wp, _ := w.Value("pipeline").([]any)
		if g.Value("name") == w.Value("name") {
			diffs = append(diffs, compareDescription(where, gp, wp)...)
		}
	}
	return diffs
}

type pipelineCase struct {
	id, job, dict, config, expected string
	context                         *value.Map
}

func pipelineCases(t *testing.T, corpus string) []pipelineCase {
	doc := loadYAML(t, filepath.Join(corpus, "pipeline-cases.yaml")).(*value.Map)
	var out []pipelineCase
	for _, c := range doc.List("cases") {
		m := c.(*value.Map)
		out = append(out, pipelineCase{
			id: m.String("id"), job: m.String("job"), dict: m.String("device_dictionary"),
			config: m.String("device_config"), expected: m.String("expected"), context: m.Map("context"),
		})
	}
	return out
}

// TestPipelineConformanceFromDeviceConfig builds every corpus job against
// LAVA's own rendered device configuration and compares the description
// with the one LAVA's describe() produced.
func TestPipelineConformanceFromDeviceConfig(t *testing.T) {
	corpus := corpusDir(t)
	cases := pipelineCases(t, corpus)
	passed := 0
	for _, c := range cases {
		ok := t.Run(c.id, func(t *testing.T) {
			jobData := loadYAML(t, filepath.Join(corpus, c.job)).(*value.Map)
			if c.context != nil {
				jobData.Set("context", c.context)
			}
			device := loadYAML(t, filepath.Join(corpus, c.config)).(*value.Map)
			j, err := pipeline.Build(jobData, device)
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			want := loadYAML(t, filepath.Join(corpus, c.expected)).([]any)
			if diffs := compareDescription("", j.Describe(), want); len(diffs) > 0 {
				t.Errorf("%d differences:\n%s", len(diffs), strings.Join(diffs, "\n"))
			}
		})
		if ok {
			passed++
		}
	}
	t.Logf("pipeline conformance (device_config): %d of %d descriptions equal", passed, len(cases))
}

// TestPipelineConformanceFromDictionary renders each case's device
// dictionary with the job context (Basalt's Jinja2 engine, LAVA's
// device-type templates) and builds the same pipelines: the whole chain
// from the user's files to the description.
func TestPipelineConformanceFromDictionary(t *testing.T) {
	corpus := corpusDir(t)
	cases := pipelineCases(t, corpus)
	passed := 0
	for _, c := range cases {
		ok := t.Run(c.id, func(t *testing.T) {
			jobData := loadYAML(t, filepath.Join(corpus, c.job)).(*value.Map)
			if c.context != nil {
				jobData.Set("context", c.context)
			}
			ctx, _ := value.Clone(jobData.Map("context")).(*value.Map)
			cfg, err := device.LoadDevice(filepath.Join(corpus, c.dict), ctx, []string{filepath.Join(corpus, "device-types")})
			if err != nil {
				t.Fatalf("device: %v", err)
			}
			j, err := pipeline.Build(jobData, cfg.Data)
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			want := loadYAML(t, filepath.Join(corpus, c.expected)).([]any)
			if diffs := compareDescription("", j.Describe(), want); len(diffs) > 0 {
				t.Errorf("%d differences:\n%s", len(diffs), strings.Join(diffs, "\n"))
			}
		})
		if ok {
			passed++
		}
	}
	t.Logf("pipeline conformance (device_dictionary + job context): %d of %d descriptions equal", passed, len(cases))
}
