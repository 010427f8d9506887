package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/lavacorpus"
	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

// deviceVerdict is one entry of a device-verdicts golden file: what a
// device-schema check says of one dictionary.
type deviceVerdict struct {
	Device  string   // the dictionary, relative to the golden file's base
	Verdict string   // valid, invalid, invalid-yaml or template-error
	Paths   []string // for invalid: every key at fault, sorted ("" is the document)
}

// renderCheckVerdict runs "basalt device render --check" on a dictionary
// exactly as a user would, and turns its exit status and messages into a
// verdict.
func renderCheckVerdict(t *testing.T, dict string, dtDirs ...string) deviceVerdict {
	t.Helper()
	args := []string{"device", "render", "--check"}
	for _, d := range dtDirs {
		args = append(args, "--device-types", d)
	}
	args = append(args, dict)
	var stdout, stderr bytes.Buffer
	code := Main(args, &stdout, &stderr)
	if code == exitOK {
		if stderr.Len() > 0 {
			t.Errorf("basalt %s: exit 0 with messages:\n%s", strings.Join(args, " "), stderr.String())
		}
		return deviceVerdict{Verdict: "valid"}
	}
	if code != exitFailed {
		t.Fatalf("basalt %s: exit %d, want 0 or 1\n%s", strings.Join(args, " "), code, stderr.String())
	}
	v := deviceVerdict{Verdict: "invalid"}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n") {
		rest, ok := strings.CutPrefix(line, dict+": ")
		if !ok {
			// Not a schema problem: the template itself failed.
			return deviceVerdict{Verdict: "template-error"}
		}
		if strings.HasPrefix(rest, "rendered YAML: ") {
			return deviceVerdict{Verdict: "invalid-yaml"}
		}
		// "PATH: message", or only the message for the document itself;
		// a key path never holds a space, a message always does.
		path := ""
		if p, _, ok := strings.Cut(rest, ": "); ok && !strings.Contains(p, " ") {
			path = p
		}
		if !seen[path] {
			seen[path] = true
			v.Paths = append(v.Paths, path)
		}
	}
	sort.Strings(v.Paths)
	return v
}

// readVerdicts reads a golden file, returning its leading comment (kept
// by -update) and its entries.
func readVerdicts(t *testing.T, path string) (string, []deviceVerdict) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (produce it with bench/lava/device-verdicts.py, see its header)", err)
	}
	var header strings.Builder
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if !strings.HasPrefix(line, "#") {
			break
		}
		header.WriteString(line)
	}
	doc, err := value.DecodeYAML(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []deviceVerdict
	for _, e := range doc.(*value.Map).List("devices") {
		m := e.(*value.Map)
		v := deviceVerdict{Device: m.String("device"), Verdict: m.String("verdict")}
		for _, p := range m.List("paths") {
			v.Paths = append(v.Paths, p.(string))
		}
		out = append(out, v)
	}
	return header.String(), out
}

func writeVerdicts(t *testing.T, path, header string, vs []deviceVerdict) {
	t.Helper()
	var b strings.Builder
	b.WriteString(header)
	b.WriteString("devices:\n")
	for _, v := range vs {
		fmt.Fprintf(&b, "- device: %s\n  verdict: %s\n", v.Device, v.Verdict)
		if len(v.Paths) > 0 {
			b.WriteString("  paths:\n")
			for _, p := range v.Paths {
				fmt.Fprintf(&b, "  - %q\n", p)
			}
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDeviceRenderCheckVerdicts runs "basalt device render --check", the
// user's entry point, on every device dictionary of LAVA's corpus and on
// this package's own schema cases, and compares each verdict (valid, or
// invalid and the keys at fault) with current LAVA's, pinned in
// testdata/*-verdicts.yaml by bench/lava/device-verdicts.py running LAVA's
// own lava_common.schemas.device.validate. -update rewrites the entries
// from Basalt's verdicts.
func TestDeviceRenderCheckVerdicts(t *testing.T) {
	tests := []struct {
		name, golden string
		base         func(t *testing.T) string // folder the golden's names are relative to
		dtDir        string                    // --device-types, relative to base
		dicts        string                    // glob of the dictionaries, relative to base
		want         int                       // how many dictionaries there must be
	}{
		{"corpus", "device-verdicts.yaml", func(t *testing.T) string {
			return lavacorpus.Require(t, "devices")
		}, "device-types", "devices/*.jinja2", 95},
		{"schema-cases", "schema-verdicts.yaml", func(*testing.T) string {
			return "testdata"
		}, "schema", "schema/*.jinja2", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := tt.base(t)
			golden := filepath.Join("testdata", tt.golden)
			header, want := readVerdicts(t, golden)
			dicts, err := filepath.Glob(filepath.Join(base, tt.dicts))
			if err != nil {
				t.Fatal(err)
			}
			if len(dicts) == 0 || tt.want > 0 && len(dicts) != tt.want {
				t.Fatalf("%d dictionaries match %s in %s, want %d", len(dicts), tt.dicts, base, tt.want)
			}
			var got []deviceVerdict
			for _, d := range dicts {
				v := renderCheckVerdict(t, d, filepath.Join(base, tt.dtDir))
				v.Device, _ = filepath.Rel(base, d)
				got = append(got, v)
			}
			if *update {
				writeVerdicts(t, golden, header, got)
				return
			}
			agree := 0
			wantBy := map[string]deviceVerdict{}
			for _, w := range want {
				wantBy[w.Device] = w
			}
			for _, g := range got {
				w, ok := wantBy[g.Device]
				if !ok {
					t.Errorf("%s: no verdict in %s (run bench/lava/device-verdicts.py)", g.Device, golden)
					continue
				}
				delete(wantBy, g.Device)
				if diff := cmp.Diff(w, g); diff != "" {
					t.Errorf("%s: Basalt's verdict differs from LAVA's (-lava +basalt):\n%s", g.Device, diff)
					continue
				}
				agree++
			}
			for d := range wantBy {
				t.Errorf("%s: in %s but not found under %s", d, golden, base)
			}
			valid := 0
			for _, w := range want {
				if w.Verdict == "valid" {
					valid++
				}
			}
			t.Logf("%s: LAVA accepts %d of %d dictionaries; basalt device render --check agrees on %d", tt.name, valid, len(want), agree)
		})
	}
}

// TestDeviceSchemaWhereItApplies gives one device configuration without
// parameters: (as TuxRun's are) to both commands: "device render --check"
// refuses it, "validate --device" warns and goes on, as LAVA's
// dispatcher does not check the device schema.
func TestDeviceSchemaWhereItApplies(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "devices", "qemu-tcg.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := value.DecodeYAML(b)
	if err != nil {
		t.Fatal(err)
	}
	dev := v.(*value.Map)
	dev.Delete("parameters")
	out, err := value.EncodeYAML(dev)
	if err != nil {
		t.Fatal(err)
	}
	devPath := filepath.Join(t.TempDir(), "tuxrun-style.yaml")
	if err := os.WriteFile(devPath, out, 0o644); err != nil {
		t.Fatal(err)
	}
	problem := devPath + ": parameters: "
	tests := []struct {
		args     []string
		code     int
		stderr   string // a line that must be there
		stdoutIn string
	}{
		{[]string{"device", "render", "--check", devPath}, exitFailed,
			problem + "required key not provided", ""},
		{[]string{"validate", "testdata/jobs/valid.yaml", "--device", devPath, "--quiet"}, exitOK,
			problem + "warning: device schema: required key not provided", "valid job for"},
	}
	for _, tt := range tests {
		t.Run(tt.args[0], func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("basalt %s: exit %d, want %d\n%s", strings.Join(tt.args, " "), code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.stderr+"\n") {
				t.Errorf("basalt %s: stderr lacks %q:\n%s", strings.Join(tt.args, " "), tt.stderr, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.stdoutIn) {
				t.Errorf("basalt %s: stdout lacks %q:\n%s", strings.Join(tt.args, " "), tt.stdoutIn, stdout.String())
			}
		})
	}
}
