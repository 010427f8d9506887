package results

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// records are what a job logs: the dispatcher's own results, test cases
// of two suites (a set, a measurement, a skip) and the job's end.
func records() []*value.Map {
	return []*value.Map{
		value.MapOf("definition", "lava", "case", "validate", "result", "pass"),
		value.MapOf("definition", "lava", "namespace", "common", "case", "http-download", "level", "1.2.1",
			"duration", "0.42", "result", "pass", "extra", value.MapOf("label", "kernel", "size", 1234)),
		value.MapOf("definition", "0_smoke", "case", "always-pass", "result", "pass"),
		value.MapOf("definition", "0_smoke", "case", "always-fail", "result", "fail"),
		value.MapOf("definition", "0_smoke", "case", "boot-time", "result", "pass", "measurement", 42.5, "units", "ms"),
		value.MapOf("definition", "0_smoke", "case", "later", "result", "skip", "set", "phase2"),
		value.MapOf("definition", "1_other", "case", "odd", "result", "unknown"),
		value.MapOf("definition", "", "case", "dropped", "result", "pass"),
		value.MapOf("definition", "lava", "case", "job", "result", "fail", "error_msg", "lava-test-shell timed out", "error_type", "Test"),
	}
}

func collect() []Case {
	var c Collector
	for _, r := range records() {
		c.Add(r)
	}
	return c.Cases()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s (-want +got):\n%s", name, d)
	}
}

func TestSuitesCounts(t *testing.T) {
	got := map[string][4]int{}
	for _, s := range Suites(collect()) {
		got[s.Name] = [4]int{s.Pass, s.Fail, s.Skip, s.Unknown}
	}
	want := map[string][4]int{"lava": {2, 1, 0, 0}, "0_smoke": {2, 1, 1, 0}, "1_other": {0, 0, 0, 1}}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("counts (-want +got):\n%s", d)
	}
}

func TestYAML(t *testing.T) {
	b, err := YAML(collect())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "results.yaml", b)
	// It must read back as YAML with every case.
	v, err := value.DecodeYAML(b)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(v.([]any)); n != 3 {
		t.Fatalf("%d suites", n)
	}
}

func TestJUnit(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, "smoke job", collect()); err != nil {
		t.Fatal(err)
	}
	golden(t, "results.xml", b.Bytes())
}
