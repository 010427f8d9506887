package dispatcher

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/device"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

var extendsRe = regexp.MustCompile(`\{%-?\s*extends\s+['"]([^'"]+)['"]`)

// TestPipelineConformanceShippedTemplates takes the corpus pipeline cases
// whose device dictionary extends a device type Basalt ships (the kvm and
// qemu jobs), renders the dictionary with the shipped templates alone
// (LAVA's device-types folder is not searched), and checks that both the
// device configuration and the pipeline description equal LAVA's.
func TestPipelineConformanceShippedTemplates(t *testing.T) {
	corpus := corpusDir(t)
	n := 0
	for _, c := range pipelineCases(t, corpus) {
		dictPath := filepath.Join(corpus, c.dict)
		src, err := os.ReadFile(dictPath)
		if err != nil {
			continue
		}
		m := extendsRe.FindSubmatch(src)
		if m == nil {
			continue
		}
		if _, err := fs.Stat(device.ShippedTemplates(), string(m[1])); err != nil {
			continue
		}
		n++
		t.Run(c.id, func(t *testing.T) {
			jobData := loadYAML(t, filepath.Join(corpus, c.job)).(*value.Map)
			if c.context != nil {
				jobData.Set("context", c.context)
			}
			ctx, _ := value.Clone(jobData.Map("context")).(*value.Map)
			cfg, err := device.LoadDevice(dictPath, ctx, nil)
			if err != nil {
				t.Fatalf("LoadDevice(%q): %v", dictPath, err)
			}
			if problems := cfg.Check(); len(problems) > 0 {
				t.Fatalf("Check() = %v", problems)
			}
			lavaDevice := loadYAML(t, filepath.Join(corpus, c.config))
			if !value.Equal(cfg.Data, lavaDevice) {
				t.Errorf("device configuration differs from LAVA's %s:\nbasalt %s\nlava   %s", c.config, value.GoString(cfg.Data), value.GoString(lavaDevice))
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
	}
	if n == 0 {
		t.Fatal("no corpus pipeline case uses a shipped device type")
	}
	t.Logf("%d pipeline cases built on the shipped device types", n)
}
