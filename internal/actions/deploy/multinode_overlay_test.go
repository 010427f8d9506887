package deploy_test

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

const mnDef = `    - {from: inline, repository: {metadata: {name: x}, run: {steps: ['lava-sync go']}}, path: a.yaml, name: i}`

// overlayTreeOf is the overlay folder lava-overlay left.
func overlayTreeOf(t *testing.T, f *overlayFixture) string {
	t.Helper()
	location, _ := f.data("lava-overlay/location").(string)
	results, _ := f.data("lava-overlay/results-dir").(string)
	if location == "" || results == "" {
		t.Fatal("lava-overlay left no overlay")
	}
	return filepath.Join(location, filepath.Base(results))
}

// TestMultinodeOverlayWrites runs lava-overlay for job 7, a client in a
// three-job group, and checks the MultiNode helpers in bin/ (executable,
// with the job's header) and in the tarball.
func TestMultinodeOverlayWrites(t *testing.T) {
	f := kindsFixture(t, mnDef, "protocols: {lava-multinode: {target_group: 0d8c-grp, role: client, roles: {'5': server, '7': client, '9': client}}}")
	if err := f.runErr(t, "lava-overlay"); err != nil {
		t.Fatalf("lava-overlay: %v", err)
	}
	bin := filepath.Join(overlayTreeOf(t, f), "bin")
	const header = "#!/bin/bash\n\n" +
		"LAVA_GROUP='5 server\n7 client\n9 client\n'\n" +
		"TARGET_ROLE='client'\n" +
		"LAVA_HOSTNAME='7'\n" +
		"LAVA_TEST_BIN='/lava-7/bin'\n" +
		"LAVA_MULTI_NODE_CACHE='/tmp/lava_multi_node_cache.txt'\n" +
		"LAVA_MULTI_NODE_NETWORK_CACHE='/tmp/lava_multi_node_network_cache.txt'\n" +
		"LAVA_MULTI_NODE_DEBUG='yes'\n"
	helpers := []string{"lava-echo-config", "lava-group", "lava-multi-node.lib", "lava-network", "lava-role", "lava-self",
		"lava-send", "lava-start-vms", "lava-sync", "lava-wait", "lava-wait-all", "lava-wait-for-vms"}
	for _, name := range helpers {
		p := filepath.Join(bin, name)
		st, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if st.Mode().Perm() != 0o755 {
			t.Errorf("%s: mode %v, want 0755", name, st.Mode().Perm())
		}
		if got := readFile(t, p); !strings.HasPrefix(got, header) {
			t.Errorf("%s does not start with the job's header:\n%s", name, got[:min(len(got), 400)])
		}
	}
	// The other helpers are still there: the MultiNode ones need
	// lava-common-functions.
	if _, err := os.Stat(filepath.Join(bin, "lava-common-functions")); err != nil {
		t.Error(err)
	}

	tarball, _ := f.data("compress-overlay/file").(string)
	inTar := tarNames(t, tarball)
	for _, name := range helpers {
		if !inTar["lava-7/bin/"+name] {
			t.Errorf("%s is not in the overlay tarball", name)
		}
	}
}

func tarNames(t *testing.T, path string) map[string]bool {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names[strings.TrimPrefix(h.Name, "./")] = true
	}
}

// TestMultinodeOverlayRoleNotRun: a role made of quotes, backquotes and
// $(…) reaches the helpers as text, never as commands.
func TestMultinodeOverlayRoleNotRun(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash (the device's lava_test_sh_cmd) is not installed")
	}
	role := `it's"$(touch${IFS}PWNED1)` + "`touch${IFS}PWNED2`" + `$HOME`
	extra := "protocols:\n  lava-multinode:\n    target_group: grp\n    role: '" + strings.ReplaceAll(role, "'", "''") + "'\n" +
		"    roles: {'5': server, '7': '" + strings.ReplaceAll(role, "'", "''") + "'}"
	f := kindsFixture(t, mnDef, extra)
	if err := f.runErr(t, "lava-overlay"); err != nil {
		t.Fatalf("lava-overlay: %v", err)
	}
	bin := filepath.Join(overlayTreeOf(t, f), "bin")
	work := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"lava-role"}, role + "\n"},
		{[]string{"lava-group"}, "\t5\tserver\n\t7\t" + role + "\n"},
		{[]string{"lava-group", role}, "7\n"},
	} {
		cmd := exec.Command(bash, append([]string{filepath.Join(bin, c.args[0])}, c.args[1:]...)...)
		cmd.Dir = work
		out, err := cmd.Output()
		if err != nil || string(out) != c.want {
			t.Errorf("%v: %q, %v; want %q", c.args, out, err, c.want)
		}
	}
	for _, p := range []string{"PWNED1", "PWNED2"} {
		if _, err := os.Stat(filepath.Join(work, p)); err == nil {
			t.Errorf("%s exists: the role ran as a command", p)
		}
	}
}

// TestMultinodeOverlaySkipAndErrors: a job outside MultiNode gets no
// MultiNode helpers; a MultiNode job without its role or its group's
// roles stops with a job error saying so.
func TestMultinodeOverlaySkipAndErrors(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		want  string // "" for no error
	}{
		{"single node job", "", ""},
		{"other protocol only", "protocols: {lava-lxc: {name: c}}", ""},
		{"no target group", "protocols: {lava-multinode: {role: client, roles: {'7': client}}}", ""},
		{"no role", "protocols: {lava-multinode: {target_group: grp, roles: {'7': server}}}", "multinode job without a specified role"},
		{"no roles", "protocols: {lava-multinode: {target_group: grp, role: client}}", "multinode definition without complete list of roles after assignment"},
		{"empty roles", "protocols: {lava-multinode: {target_group: grp, role: client, roles: {}}}", "multinode definition without complete list of roles after assignment"},
		{"roles of a submission", "protocols: {lava-multinode: {target_group: grp, role: client, roles: {client: {device_type: qemu, count: 2}}}}",
			`the role of "client" is`},
		{"role with a blank", "protocols: {lava-multinode: {target_group: grp, role: my client, roles: {'7': my client}}}", `"my client"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := kindsFixture(t, mnDef, tc.extra)
			err := f.runErr(t, "lava-overlay")
			if tc.want == "" {
				if err != nil {
					t.Fatalf("lava-overlay: %v", err)
				}
				if _, err := os.Stat(filepath.Join(overlayTreeOf(t, f), "bin", "lava-send")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("bin/lava-send in a job outside MultiNode: %v", err)
				}
				return
			}
			if pipeline.ClassOf(err) != pipeline.ClassJob || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("lava-overlay: %v (class %q), want a job error containing %q", err, pipeline.ClassOf(err), tc.want)
			}
		})
	}
}
