package cli

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// TestCommands runs basalt's subcommands on the files under testdata and
// compares exit status, stdout and stderr with golden files.
func TestCommands(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"validate-job-only", []string{"validate", "testdata/jobs/valid.yaml"}},
		{"validate-errors", []string{"validate", "testdata/jobs/errors.yaml", "--device", "testdata/devices/qemu-tcg.yaml"}},
		{"validate-pipeline", []string{"validate", "testdata/jobs/valid.yaml", "--device", "testdata/devices/qemu-tcg.yaml"}},
		{"validate-missing-file", []string{"validate", "testdata/jobs/absent.yaml"}},
		{"validate-usage", []string{"validate"}},
		// One job, three checks: a server's (default), lava_common's strict
		// schema, the dispatcher's.
		{"validate-mode-default", []string{"validate", "testdata/jobs/errors.yaml"}},
		{"validate-mode-strict", []string{"validate", "--strict", "testdata/jobs/errors.yaml"}},
		{"validate-mode-lax", []string{"validate", "--lax", "testdata/jobs/errors.yaml"}},
		{"validate-strict-and-lax", []string{"validate", "--strict", "--lax", "testdata/jobs/errors.yaml"}},
		{"render", []string{"device", "render", "testdata/templates/board-01.jinja2", "--context", "arch=x86_64", "--context", "memory=99"}},
		{"render-check", []string{"device", "render", "--check", "testdata/templates/board-01.jinja2", "--context", "arch=x86_64"}},
		{"render-syntax-error", []string{"device", "render", "testdata/templates/broken-01.jinja2"}},
		{"render-missing-parent", []string{"device", "render", "testdata/templates/orphan-01.jinja2"}},
		{"render-check-fails", []string{"device", "render", "--check", "testdata/templates/incomplete-01.jinja2"}},
		{"validate-missing-image", []string{"validate", "testdata/jobs/missing-image.yaml", "--device", "testdata/devices/qemu-tcg.yaml", "--quiet"}},
		{"validate-no-local-files", []string{"validate", "testdata/jobs/missing-image.yaml", "--device", "testdata/devices/qemu-tcg.yaml", "--quiet", "--no-local-files"}},
		{"validate-local-files-exclusive", []string{"validate", "testdata/jobs/missing-image.yaml", "--no-local-files", "--allow-local-files", "testdata"}},
		// The image server of the lava-lxc download template is the
		// host's setting: checked before anything runs.
		{"run-lxc-image-server-http", []string{"run", "testdata/jobs/valid.yaml", "--device", "testdata/devices/qemu-tcg.yaml", "--lxc-image-server", "http://images.example.org"}},
		{"run-lxc-image-ca-missing", []string{"run", "testdata/jobs/valid.yaml", "--device", "testdata/devices/qemu-tcg.yaml", "--lxc-image-server", "127.0.0.1:8443", "--lxc-image-ca", "testdata/absent.pem"}},
		{"worker-lxc-image-server-bad", []string{"worker", "--lxc-image-server", "host;reboot"}},
		// A MultiNode submission is checked as `multinode split` checks it.
		{"validate-multinode-roles", []string{"validate", "--quiet", "testdata/multinode/errors.yaml"}},
		{"validate-multinode-valid", []string{"validate", "--quiet", "testdata/multinode/group.yaml"}},
		{"unknown-command", []string{"frobnicate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(tt.args, &stdout, &stderr)
			got := fmt.Sprintf("$ basalt %s\nexit %d\n--- stdout\n%s--- stderr\n%s", strings.Join(tt.args, " "), code, stdout.String(), stderr.String())
			golden := filepath.Join("testdata", "golden", tt.name+".txt")
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
				t.Errorf("basalt %s (-want +got):\n%s", strings.Join(tt.args, " "), diff)
			}
		})
	}
}

// TestValidateWritesDescription checks description.yaml: LAVA's describe
// form, levels as strings, timeouts in seconds, children nested.
func TestValidateWritesDescription(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := Main([]string{"validate", "testdata/jobs/valid.yaml", "--device", "testdata/devices/qemu-tcg.yaml", "--output-dir", dir, "--quiet"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "description.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := value.DecodeYAML(b)
	if err != nil {
		t.Fatal(err)
	}
	top := v.(*value.Map).List("pipeline")
	var got []string
	for _, a := range top {
		m := a.(*value.Map)
		got = append(got, fmt.Sprintf("%v %v %v %v", m.Value("level"), m.Value("name"), m.Value("timeout"), m.Value("max_retries")))
	}
	want := []string{"1 deployimages 120 1", "2 boot-image-retry 120 2", "3 lava-test-retry 360 3", "4 finalize 60 1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("top-level actions (-want +got):\n%s", diff)
	}
	// A nested action: the test shell gets a third of its retry parent.
	shell := top[2].(*value.Map).List("pipeline")[0].(*value.Map)
	if shell.Value("level") != "3.1" || shell.Value("timeout") != 120 {
		t.Errorf("3.1 = %s, want level \"3.1\" with timeout 120", value.GoString(shell))
	}
	// A download action carries its URL.
	var urls []string
	var walk func([]any)
	walk = func(l []any) {
		for _, a := range l {
			m := a.(*value.Map)
			if u := m.String("url"); u != "" {
				urls = append(urls, u)
			}
			walk(m.List("pipeline"))
		}
	}
	walk(top)
	if diff := cmp.Diff([]string{"http://127.0.0.1:8000/vmlinuz", "http://127.0.0.1:8000/rootfs.cpio.gz"}, urls); diff != "" {
		t.Errorf("urls (-want +got):\n%s", diff)
	}
}

func TestParseInterspersed(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	a := fs.String("a", "", "")
	var l listFlag
	fs.Var(&l, "l", "")
	pos, err := parseInterspersed(fs, []string{"one", "-a", "x", "two", "-l", "1", "-l=2", "--", "-three"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"one", "two", "-three"}, pos); diff != "" {
		t.Errorf("positional (-want +got):\n%s", diff)
	}
	if *a != "x" || l.String() != "1,2" {
		t.Errorf("a = %q, l = %q; want x and 1,2", *a, l.String())
	}
}

// TestValidateNoStrategy checks the error when no strategy accepts a
// block: it points at the block and gives each strategy's reason (the
// list grows with every method Basalt learns, so it is not golden).
func TestValidateNoStrategy(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Main([]string{"validate", "--device", "testdata/devices/qemu-tcg.yaml", "testdata/jobs/wrong-method.yaml"}, &stdout, &stderr)
	if code != exitFailed {
		t.Errorf("exit %d, want %d", code, exitFailed)
	}
	for _, want := range []string{
		"testdata/jobs/wrong-method.yaml:7:3: actions[0].boot: none of the boot strategies accepted your boot parameters, reasons given:",
		"UBoot: \"u-boot\" was not in the device configuration boot methods",
		"BootQEMU: \"method\" was not \"qemu\" or \"qemu-nfs\"",
		"testdata/jobs/wrong-method.yaml: invalid: 1 error",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}
