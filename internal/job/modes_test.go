package job

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestModes checks the jobs of testdata/modes (TuxLAVA's shapes that
// lava_common's strict schema refuses and a LAVA server accepts, and what
// a server refuses on submission) in each mode: the verdict must be
// current LAVA's (testdata/verdicts/modes.yaml: the default against the
// server's, Strict and Lax against lava_common's), and the diagnostics
// are pinned in testdata/modes/*.golden (-update rewrites them).
func TestModes(t *testing.T) {
	verdicts := map[string]verdict{}
	for _, v := range readVerdicts(t, filepath.Join("testdata", "verdicts", "modes.yaml")) {
		verdicts[v.job] = v
	}
	files, err := filepath.Glob(filepath.Join("testdata", "modes", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no jobs in testdata/modes: %v", err)
	}
	if len(files) != len(verdicts) {
		t.Errorf("%d jobs in testdata/modes, %d in testdata/verdicts/modes.yaml", len(files), len(verdicts))
	}
	modes := []struct {
		name string
		opts Options
		lava func(verdict) string
	}{
		{"default", Options{}, func(v verdict) string { return v.server }},
		{"default with Dispatch", Options{Dispatch: true}, nil},
		{"strict", Options{Strict: true}, func(v verdict) string { return v.strict }},
		{"lax", Options{Lax: true}, func(v verdict) string { return v.lax }},
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			t.Parallel()
			v, ok := verdicts[name]
			if !ok {
				t.Fatalf("no LAVA verdict for %s in testdata/verdicts/modes.yaml", name)
			}
			var b strings.Builder
			for _, m := range modes {
				_, diags, err := Load(file, m.opts)
				if err != nil {
					t.Fatal(err)
				}
				got := "valid"
				if HasErrors(diags) {
					got = "invalid"
				}
				if m.lava != nil && got != m.lava(v) {
					t.Errorf("Load(%q, %+v): %s, LAVA says %s:\n%s", file, m.opts, got, m.lava(v), joinDiags(diags))
				}
				b.WriteString("== " + m.name + ": " + got + "\n")
				for _, d := range diags {
					b.WriteString(d.String() + "\n")
				}
			}
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), b.String()); diff != "" {
				t.Errorf("%s: diagnostics per mode differ (-want +got):\n%s", file, diff)
			}
		})
	}
}
