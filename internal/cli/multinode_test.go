package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

const mnData = "testdata/multinode/"

func checkMultinodeGolden(t *testing.T, name, got string) {
	t.Helper()
	golden := filepath.Join(mnData, "golden", name)
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
		t.Errorf("%s (-want +got):\n%s", golden, diff)
	}
}

// TestMultinodeSplitCommand runs basalt multinode split and compares exit
// status, stdout and stderr with golden files.
func TestMultinodeSplitCommand(t *testing.T) {
	const tg = "--target-group=6b1f0c4e-2d3a-4b5c-8d7e-9f0a1b2c3d4e"
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"stream", []string{"multinode", "split", mnData + "group.yaml", tg}, exitOK},
		{"stream-job-ids", []string{"multinode", "split", "--job-id", "1234", mnData + "group.yaml", tg}, exitOK},
		{"errors", []string{"multinode", "split", mnData + "errors.yaml", tg}, exitFailed},
		{"bad-yaml", []string{"multinode", "split", mnData + "bad-yaml.yaml"}, exitFailed},
		{"single-node", []string{"multinode", "split", mnData + "single.yaml"}, exitFailed},
		{"strict", []string{"multinode", "split", "--strict", mnData + "unknown-key.yaml"}, exitFailed},
		{"lax-by-default", []string{"multinode", "split", mnData + "unknown-key.yaml", tg}, exitOK},
		{"missing-file", []string{"multinode", "split", mnData + "absent.yaml"}, exitFailed},
		{"bad-job-id", []string{"multinode", "split", mnData + "group.yaml", "--job-id", "12a"}, exitUsage},
		{"no-file", []string{"multinode", "split"}, exitUsage},
		{"no-subcommand", []string{"multinode"}, exitUsage},
		{"unknown-subcommand", []string{"multinode", "join"}, exitUsage},
		{"help", []string{"multinode", "split", "-h"}, exitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
			}
			got := fmt.Sprintf("$ basalt %s\nexit %d\n--- stdout\n%s--- stderr\n%s", strings.Join(tt.args, " "), code, stdout.String(), stderr.String())
			checkMultinodeGolden(t, tt.name+".txt", got)
		})
	}
}

// TestMultinodeSplitOutputDir writes one file per sub-job, named by role
// and count within the role, each a sub-job that reads back as written.
func TestMultinodeSplitOutputDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "subjobs")
	var stdout, stderr bytes.Buffer
	code := Main([]string{"multinode", "split", mnData + "group.yaml", "--output-dir", dir, "--job-id", "77", "--target-group", "g1"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	wantOut := fmt.Sprintf("0 server %[1]s/server-0.yaml\n1 client %[1]s/client-0.yaml\n2 client %[1]s/client-1.yaml\n", dir)
	if diff := cmp.Diff(wantOut, stdout.String()); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if diff := cmp.Diff([]string{"client-0.yaml", "client-1.yaml", "server-0.yaml"}, names); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	for i, name := range []string{"server-0.yaml", "client-0.yaml", "client-1.yaml"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "client-1.yaml" {
			checkMultinodeGolden(t, "client-1.yaml", string(b))
		}
		v, err := value.DecodeYAML(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		mn := v.(*value.Map).Map("protocols").Map("lava-multinode")
		got := fmt.Sprintf("%v %v %v %v", mn.Value("target_group"), mn.Value("sub_id"), mn.Value("group_size"), value.GoString(mn.Value("roles")))
		want := fmt.Sprintf(`g1 %d 3 {"77": "server", "78": "client", "79": "client"}`, i)
		if got != want {
			t.Errorf("%s: protocols.lava-multinode = %s, want %s", name, got, want)
		}
		// The file is a job the checker reads (a sub-job's scalar roles
		// aside, which LAVA's schema does not know either).
		if _, diags := job.Parse(name, b, job.Options{Lax: true}); len(job.Errors(diags)) == 0 {
			t.Errorf("%s: expected the sub-job-form diagnostics from the job checker, got none", name)
		}
	}
}

// TestMultinodeSplitRefusesUnsafeRoleNames: a role name is written into a
// file name only when it is a plain name, so a job cannot write outside
// the output folder.
func TestMultinodeSplitRefusesUnsafeRoleNames(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "out")
	var stdout, stderr bytes.Buffer
	code := Main([]string{"multinode", "split", mnData + "odd-role.yaml", "--output-dir", dir}, &stdout, &stderr)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d", code, exitFailed)
	}
	if want := `basalt: role "../escape" cannot be used in a file name`; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q does not contain %q", stderr.String(), want)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("files were written: %v", entries)
	}
	// Printed as a stream, the role name is harmless.
	stdout.Reset()
	if code := Main([]string{"multinode", "split", mnData + "odd-role.yaml"}, &stdout, &stderr); code != exitOK {
		t.Errorf("stream: exit %d", code)
	}
	if !strings.Contains(stdout.String(), "--- # sub_id 0, role \"../escape\"\n") || !strings.Contains(stdout.String(), "role: ../escape") {
		t.Errorf("stream lacks the role:\n%s", stdout.String())
	}
}

func TestSafeFileName(t *testing.T) {
	for name, want := range map[string]bool{
		"server": true, "client-2": true, "a_b.c+d": true, "сервер": true,
		"": false, ".hidden": false, "..": false, "a/b": false, `a\b`: false, "a b": false, "a\x00": false,
	} {
		if got := safeFileName(name); got != want {
			t.Errorf("safeFileName(%q) = %v, want %v", name, got, want)
		}
	}
}
