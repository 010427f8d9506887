package dispatcher

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/lavacorpus"
	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

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
	t.Helper()
	cases, err := lavacorpus.Cases(corpus)
	if err != nil {
		t.Fatal(err)
	}
	var out []pipelineCase
	for _, c := range cases {
		out = append(out, pipelineCase{id: c.ID, job: c.Job, dict: c.Dictionary, config: c.Config,
			expected: c.Expected, context: c.Context})
	}
	return out
}

// validateLaxOptions are the options `basalt validate --lax --device`
// passes to Prepare (internal/cli/validate.go), with the corpus's
// device-type templates as --device-types; `basalt run` uses the same.
func validateLaxOptions(corpus string) Options {
	return Options{
		DeviceTypeDirs: []string{filepath.Join(corpus, "device-types")},
		Job:            job.Options{Lax: true, SubJob: true},
	}
}

// contextSubstitute is where caseJob writes a job whose context the case
// replaces; the golden file names it so.
const contextSubstitute = "context-replaced"

// caseJob returns the job file to give Prepare for the case: the corpus
// file itself, or, where the case replaces the job's context, a copy in
// dir/context-replaced/ whose top-level context block is the case's (the
// rest of the text, comments and all, is the user's: positions before the
// block are unchanged).
func caseJob(t *testing.T, corpus, dir string, c pipelineCase) string {
	t.Helper()
	path := filepath.Join(corpus, c.job)
	if c.context == nil {
		return path
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	skipping := false
	for _, line := range strings.Split(strings.TrimRight(string(src), "\n"), "\n") {
		top := line != "" && line[0] != ' ' && line[0] != '#' && line[0] != '\t'
		switch {
		case top && strings.HasPrefix(line, "context:"):
			skipping = true
			continue
		case top:
			skipping = false
		}
		if !skipping {
			kept = append(kept, line)
		}
	}
	ctx, err := value.EncodeYAML(value.MapOf("context", c.context))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, contextSubstitute, filepath.Base(c.job))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, []byte(strings.Join(kept, "\n")+"\n"+string(ctx)), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPipelineConformance runs every corpus pipeline case through
// Prepare, the entry point of `basalt validate --lax JOB --device DEV`
// and of `basalt run`, twice: with LAVA's rendered device_config and with
// the device dictionary (rendered with the job's context, or the case's
// where it replaces the job's). Each time the description must equal
// LAVA's describe(), and the verdict (valid, or the errors found, which
// the corpus does not give) must equal the one pinned in
// testdata/conformance-verdicts.txt (go test -run TestPipelineConformance
// -update rewrites it). Warnings are not pinned: most say which host
// tools this machine lacks. A case whose pipeline Prepare does not build
// (its device is refused) is pinned as such; every built pipeline is
// compared.
func TestPipelineConformance(t *testing.T) {
	corpus := corpusDir(t)
	cases := pipelineCases(t, corpus)
	tmp := t.TempDir()
	var golden strings.Builder
	equal, built, total := 0, 0, 0
	for _, c := range cases {
		jobPath := caseJob(t, corpus, tmp, c)
		for _, form := range []struct{ name, device string }{
			{"device_config", c.config}, {"device_dictionary", c.dict},
		} {
			total++
			name := c.id + "/" + form.name
			p, err := Prepare(jobPath, filepath.Join(corpus, form.device), validateLaxOptions(corpus))
			if err != nil {
				t.Errorf("%s: Prepare: %v", name, err)
				continue
			}
			fmt.Fprintf(&golden, "== %s\n", name)
			errs := job.Errors(p.Diagnostics)
			if len(errs) == 0 {
				golden.WriteString("valid\n")
			}
			for _, d := range errs {
				s := d.String()
				s = strings.ReplaceAll(s, filepath.Join(tmp, contextSubstitute), contextSubstitute)
				s = strings.ReplaceAll(s, corpus+string(filepath.Separator), "")
				golden.WriteString(s + "\n")
			}
			if p.Pipeline == nil {
				golden.WriteString("(no pipeline built)\n")
				continue
			}
			built++
			want := loadYAML(t, filepath.Join(corpus, c.expected)).([]any)
			if diffs := compareDescription("", p.Pipeline.Describe(), want); len(diffs) > 0 {
				t.Errorf("%s: description: %d differences:\n%s", name, len(diffs), strings.Join(diffs, "\n"))
				continue
			}
			equal++
		}
	}
	checkGolden(t, filepath.Join("testdata", "conformance-verdicts.txt"), golden.String())
	t.Logf("pipeline conformance through Prepare: %d of %d pipelines built, %d equal to LAVA's description", built, total, equal)
}

// checkGolden compares got with the golden file, or rewrites it with
// -update.
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got; go test -update rewrites it after a deliberate change):\n%s", path, diff)
	}
}
