package job

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/basalt-lava/basalt/internal/value"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden checks each testdata/*.yaml job against testdata/*.golden:
// its diagnostics, one per line, from lava_common's schema: Options.Strict,
// or Options.Lax for files named lax-*. Run with -update to rewrite the
// golden files.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test jobs in testdata: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			opts := Options{Strict: true, Lax: strings.HasPrefix(name, "lax-")}
			_, diags, err := Load(file, opts)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, d := range diags {
				b.WriteString(d.String() + "\n")
			}
			got := b.String()
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("Load(%q, %+v) diagnostics differ (-want +got):\n%s", file, opts, diff)
			}
		})
	}
}

func TestValidJobData(t *testing.T) {
	j, diags, err := Load(filepath.Join("testdata", "valid-qemu.yaml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if HasErrors(diags) || len(diags) != 0 {
		t.Fatalf("valid job has diagnostics:\n%s", joinDiags(diags))
	}
	if got := j.Data.String("job_name"); got != "qemu smoke test" {
		t.Errorf("Data job_name = %q", got)
	}
	if got, _ := j.Data.Lookup("context", "no_kvm"); got != true {
		t.Errorf("Data context.no_kvm = %v, want true", got)
	}
	if j.Doc.Root.Get("actions").Items[1].Get("boot").Pos != (value.Pos{Line: 25, Col: 5}) {
		t.Errorf("boot block position = %v", j.Doc.Root.Get("actions").Items[1].Get("boot").Pos)
	}
}

func TestDuplicatesAreErrors(t *testing.T) {
	file := filepath.Join("testdata", "duplicates.yaml")
	_, diags, _ := Load(file, Options{})
	if HasErrors(diags) || len(diags) != 2 {
		t.Fatalf("want 2 warnings and no error, got:\n%s", joinDiags(diags))
	}
	_, diags, _ = Load(file, Options{DuplicatesAreErrors: true})
	if n := len(Errors(diags)); n != 2 {
		t.Fatalf("DuplicatesAreErrors: want 2 errors, got %d:\n%s", n, joinDiags(diags))
	}
}

func TestExtraContext(t *testing.T) {
	file := filepath.Join("testdata", "context.yaml")
	_, plain, _ := Load(file, Options{})
	_, extra, _ := Load(file, Options{ExtraContext: []string{"lab_proxy"}})
	if len(extra) != len(plain)-1 {
		t.Errorf("ExtraContext should allow lab_proxy: %d diagnostics without, %d with:\n%s", len(plain), len(extra), joinDiags(extra))
	}
	for _, d := range extra {
		if d.Path == "context.lab_proxy" {
			t.Errorf("lab_proxy still reported: %s", d)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	j, diags, err := Load(filepath.Join("testdata", "does-not-exist.yaml"), Options{})
	if err == nil || j != nil || diags != nil {
		t.Fatalf("Load(missing) = %v, %v, %v; want an I/O error only", j, diags, err)
	}
}

func TestDiagnosticString(t *testing.T) {
	tests := []struct {
		d    Diagnostic
		want string
	}{
		{Diagnostic{File: "j.yaml", Pos: value.Pos{Line: 3, Col: 5}, Path: "actions[0].deploy.to", Msg: "bad"}, "j.yaml:3:5: actions[0].deploy.to: bad"},
		{Diagnostic{File: "j.yaml", Pos: value.Pos{Line: 1, Col: 1}, Msg: "empty"}, "j.yaml:1:1: empty"},
		{Diagnostic{File: "j.yaml", Pos: value.Pos{Line: 9, Col: 2}, Path: "x", Msg: "dup", Severity: Warning}, "j.yaml:9:2: x: warning: dup"},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestParseOddDocuments(t *testing.T) {
	for _, src := range []string{"", "~", "42", "[]", "{}", "actions: 5", "actions: [1, [], {}, {deploy: 3}, {x: 1}]",
		"timeouts: {job: []}", "protocols: {lava-multinode: {roles: {a: []}}}", "? [a]\n: b\n"} {
		for _, lax := range []bool{false, true} {
			_, diags := Parse("odd.yaml", []byte(src), Options{Lax: lax})
			if !HasErrors(diags) {
				t.Errorf("Parse(%q, lax=%v) reported no error", src, lax)
			}
		}
	}
}

func TestLavaPath(t *testing.T) {
	tests := map[string]string{
		"extra keys not allowed @ data['actions[4]']['boot']['u_boot']['kernel']":   "actions[4].boot.kernel",
		"extra keys not allowed @ data['connection']":                               "connection",
		"required key not provided @ data['protocols']['lava-multinode']['roles']":  "protocols.lava-multinode.roles",
		"Action timeout is larger than job timeout @ data['actions']['2']":          "actions[2]",
		"extra keys not allowed @ data['actions[2]']['test']['definition']['name']": "actions[2].test.name",
		"expected str @ data['actions[1]']['command']['name']":                      "actions[1].command.name",
		"\"device_type\" or multinode should be defined":                            "",
	}
	for in, want := range tests {
		if got := lavaPath(in); got != want {
			t.Errorf("lavaPath(%q) = %q, want %q", in, got, want)
		}
	}
}
