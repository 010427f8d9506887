package deploy_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/hostfiles"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// kindsJob is a one-test job; DEFS is replaced by its definitions and
// EXTRA by more top-level keys.
const kindsJob = `
device_type: qemu
job_name: kinds
timeouts: {job: {minutes: 15}, action: {minutes: 5}}
context: {arch: amd64}
EXTRA
actions:
- deploy:
    to: tmpfs
    os: debian
    images:
      kernel: {url: 'http://127.0.0.1:8000/vmlinuz', image_arg: '-kernel {kernel}'}
- boot: {method: qemu, media: tmpfs, prompts: ['# ']}
- test:
    definitions:
DEFS
`

func kindsFixture(t *testing.T, defs, extra string) *overlayFixture {
	t.Helper()
	src := strings.ReplaceAll(strings.ReplaceAll(kindsJob, "DEFS", defs), "EXTRA", extra)
	v, err := value.DecodeYAML([]byte(src))
	if err != nil {
		t.Fatalf("job: %v\n%s", err, src)
	}
	dev, err := value.DecodeYAML([]byte(overlayDevice))
	if err != nil {
		t.Fatal(err)
	}
	j, err := pipeline.Build(v.(*value.Map), dev.(*value.Map))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	j.ID = "7"
	j.Runtime.TmpDir = t.TempDir()
	j.Runtime.Log = joblog.New(nil, joblog.Options{Human: tlog{t}})
	return &overlayFixture{job: j}
}

// runErr runs an action and returns its error.
func (f *overlayFixture) runErr(t *testing.T, name string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := f.action(t, name).Run(ctx, nil)
	return err
}

func (f *overlayFixture) testDir(t *testing.T, testName string) string {
	t.Helper()
	location, _ := f.data("lava-overlay/location").(string)
	results, _ := f.data("lava-overlay/results-dir").(string)
	return filepath.Join(location, filepath.Base(results), "0", "tests", testName)
}

// testTarball is a gzipped tar of a test repository.
func testTarball(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const tinyDef = "metadata: {format: Lava-Test Test Definition 1.0, name: tiny}\nrun: {steps: [lava-test-case tiny --result pass]}\n"

// TestOverlayURLAndTar fetches definitions as tarballs: downloaded over
// HTTP by url-repo-action's download-retry (gzipped, or decompressed on
// the way with compression: gz), or given in the job as base64 (tar).
func TestOverlayURLAndTar(t *testing.T) {
	tarball := testTarball(t, map[string]string{"defs/tiny.yaml": tinyDef, "helper.sh": "echo helper\n"})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/tests.tar.gz" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(tarball)
	}))
	defer srv.Close()
	defs := `
    - {from: url, repository: '` + srv.URL + `/tests.tar.gz', path: defs/tiny.yaml, name: gzipped}
    - {from: url, repository: '` + srv.URL + `/tests.tar.gz', path: defs/tiny.yaml, name: plain, compression: gz}
    - {from: tar, repository: '` + base64.StdEncoding.EncodeToString(tarball) + `', path: defs/tiny.yaml, name: embedded}
`
	f := kindsFixture(t, defs, "")
	f.run(t, "lava-overlay")
	for _, name := range []string{"0_gzipped", "1_plain", "2_embedded"} {
		dir := f.testDir(t, name)
		for _, file := range []string{"defs/tiny.yaml", "helper.sh", "run.sh", "uuid", "testdef.yaml"} {
			if _, err := os.Stat(filepath.Join(dir, file)); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		info, _ := f.data(pipeline.DataTestDefinition(name)).(*value.Map)
		if info.String("path") != "defs/tiny.yaml" || info.Has("commit_id") {
			t.Errorf("test-definition/%s = %s", name, value.GoString(info))
		}
	}
}

// TestOverlayErrors checks that what a job gets wrong ends the deploy
// with the right class and a message that says what.
func TestOverlayErrors(t *testing.T) {
	repo, _ := gitRepoWith(t, map[string]string{"defs/tiny.yaml": tinyDef})
	evil := testTarball(t, map[string]string{"../evil.yaml": tinyDef})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(evil) }))
	defer srv.Close()
	missing := filepath.Join(t.TempDir(), "gone")
	tests := []struct {
		name, defs, extra string
		class             pipeline.Class
		want              string
	}{
		{"git repository missing", `    - {from: git, repository: '` + missing + `', path: defs/tiny.yaml, name: g}`, "",
			pipeline.ClassInfrastructure, "unable to fetch git repository '" + missing + "'"},
		{"git revision missing", `    - {from: git, repository: '` + repo + `', revision: deadbeef, path: defs/tiny.yaml, name: g}`, "",
			pipeline.ClassInfrastructure, "at revision 'deadbeef'"},
		{"definition missing from repository", `    - {from: git, repository: '` + repo + `', path: defs/other.yaml, name: g}`, "",
			pipeline.ClassJob, "unable to open test definition 'defs/other.yaml'"},
		{"definition path leaves the repository", `    - {from: git, repository: '` + repo + `', path: ../../etc/passwd, name: g}`, "",
			pipeline.ClassJob, "leaves the repository"},
		{"inline path leaves the test folder", `    - {from: inline, repository: {metadata: {name: x}}, path: ../../x.yaml, name: i}`, "",
			pipeline.ClassJob, "leaves the repository"},
		{"tarball escapes", `    - {from: url, repository: '` + srv.URL + `/evil.tar.gz', path: evil.yaml, name: u}`, "",
			pipeline.ClassJob, "path traversal"},
		{"tar not base64", `    - {from: tar, repository: '%%%', path: a.yaml, name: t}`, "",
			pipeline.ClassJob, "not base64"},
		{"environment name", `    - {from: inline, repository: {metadata: {name: x}}, path: a.yaml, name: i}`, "environment: {'A;reboot': 1}",
			pipeline.ClassJob, `"A;reboot" is not a usable shell variable name`},
		{"secret name", `    - {from: inline, repository: {metadata: {name: x}}, path: a.yaml, name: i}`, "secrets: {'$(x)': 1}",
			pipeline.ClassJob, "secrets"},
		{"parameter name", `    - {from: inline, repository: {metadata: {name: x}}, path: a.yaml, name: i, parameters: {'a b': 1}}`, "",
			pipeline.ClassJob, `job parameter "a b"`},
		{"reserved name", `    - {from: inline, repository: {metadata: {name: x}}, path: a.yaml, name: lava}`, "",
			pipeline.ClassTest, "reserved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kindsFixture(t, tt.defs, tt.extra)
			err := f.runErr(t, "lava-overlay")
			if err == nil {
				t.Fatal("lava-overlay succeeded")
			}
			if c := pipeline.ClassOf(err); c != tt.class || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q (class %s), want class %s saying %q", err, c, tt.class, tt.want)
			}
		})
	}
}

// TestDeviceEnvironment checks env_dut: what deploy-device-env records
// for export-device-env, and the secrets file it adds to.
func TestDeviceEnvironment(t *testing.T) {
	const def = `    - {from: inline, repository: {metadata: {name: x}}, path: a.yaml, name: i}`
	f := kindsFixture(t, def, `env_dut: "{purge: true, overrides: {ANSWER: 42, SPACED: 'a b'}}"`)
	f.run(t, "lava-overlay")
	f.run(t, "deploy-device-env")
	env, _ := f.data("deploy-device-env/environment/env_dict").(*value.Map)
	if got := value.GoString(env); got != value.GoString(value.MapOf("ANSWER", "42", "SPACED", "a b")) {
		t.Errorf("env_dict = %s", got)
	}
	if got := f.data("deploy-device-env/environment/shell_file"); got != "~/.bashrc" {
		t.Errorf("shell_file = %v, want debian's ~/.bashrc", got)
	}
	location, _ := f.data("lava-overlay/location").(string)
	if got := readFile(t, filepath.Join(location, "lava-7", "secrets")); got != "ANSWER=42\nSPACED='a b'\n" {
		t.Errorf("secrets = %q", got)
	}

	// Without purge the dispatcher's environment comes along, less removes.
	t.Setenv("BASALT_OVERLAY_TEST", "kept")
	t.Setenv("BASALT_OVERLAY_GONE", "removed")
	f = kindsFixture(t, def, `env_dut: "{removes: [BASALT_OVERLAY_GONE]}"`)
	f.run(t, "deploy-device-env")
	env, _ = f.data("deploy-device-env/environment/env_dict").(*value.Map)
	if env.String("BASALT_OVERLAY_TEST") != "kept" || env.Has("BASALT_OVERLAY_GONE") {
		t.Errorf("env_dict without purge: %s", value.GoString(env))
	}

	// Under a host-access policy (a worker's) the job cannot have the
	// host's environment copied to the device.
	none, err := hostfiles.New(hostfiles.Options{Host: "worker"})
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"deploy-device-env", "lava-overlay"} {
		f = kindsFixture(t, def, `env_dut: "{removes: [BASALT_OVERLAY_GONE]}"`)
		f.job.LocalFiles = none
		err := f.runErr(t, action)
		if c := pipeline.ClassOf(err); c != pipeline.ClassJob || !strings.Contains(err.Error(), "env_dut: copies this worker's environment") {
			t.Errorf("%s under a policy: %v (class %s), want a Job error refusing env_dut", action, err, c)
		}
	}
}
