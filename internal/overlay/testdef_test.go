package overlay

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/<name>, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
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
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

func mustMap(t *testing.T, src string) *value.Map {
	t.Helper()
	v, err := value.DecodeYAML([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := v.(*value.Map)
	return m
}

// fullDef uses every part of a definition that reaches the scripts.
const fullDef = `
metadata:
  format: Lava-Test Test Definition 1.0
  name: full
  os: [debian]
  devices: [qemu]
params:
  EMPTY:
  FLAG: true
  COUNT: 3
  RATIO: 0.5
  QUOTED: it's "here"
parameters:
  LEGACY: old-style
install:
  keys: ['0x1234ABCD']
  sources: ["deb http://deb.example.org/debian bookworm main"]
  deps: [curl, git]
  deps-debian: [apt-utils]
  deps-oe: [opkg-utils]
  steps:
  - ./configure
  - make
  git-repos:
  - https://git.example.org/tools.git
run:
  steps:
  - echo "$1 stays for run.sh"
  - lava-test-case first --shell "echo a b | awk '{print $1}'"
  - lava-background-process-start bg --cmd "ping -c $2 host"
  - 
  - 42
`

const fullJob = `
name: full
from: git
path: full.yaml
parameters:
  COUNT: 5
  MESSAGE: "hello; rm -rf / 'quoted'"
params:
  OTHER: ~
`

func TestScriptsGolden(t *testing.T) {
	td := mustTestDef(t, fullDef)
	def := mustMap(t, fullJob)
	params, err := ParamBlock(td, def)
	if err != nil {
		t.Fatal(err)
	}
	const runner = "/lava-42/0/tests/0_full"
	tests := []struct {
		golden string
		got    func() string
	}{
		{"run.sh.golden", func() string {
			return RunScript{Params: params, TestRunID: "0_full", RunnerPath: runner, Steps: td.RunSteps()}.Script()
		}},
		{"run-kmsg.sh.golden", func() string {
			return RunScript{Params: params, TestRunID: "0_full", RunnerPath: runner, Steps: td.RunSteps(), KMSG: true, CharacterDelay: "1"}.Script()
		}},
		{"install.sh.golden", func() string {
			s, _ := td.InstallScript(params, nil, "debian", runner)
			return s
		}},
		{"install-skip.sh.golden", func() string {
			s, _ := td.InstallScript(params, []string{"keys", "deps"}, "oe", runner)
			return s
		}},
		{"install-skip-all.sh.golden", func() string {
			s, _ := td.InstallScript(params, []string{"all"}, "debian", runner)
			return s
		}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) { golden(t, tt.golden, tt.got()) })
	}
}

func TestInstallScriptAbsent(t *testing.T) {
	td := mustTestDef(t, "metadata: {name: x, format: Lava-Test Test Definition 1.0}\nrun: {steps: [true]}\n")
	if s, ok := td.InstallScript("", nil, "", "/x"); ok || s != "" {
		t.Errorf("InstallScript without install = %q, %v; want none", s, ok)
	}
}

func TestParamBlockErrors(t *testing.T) {
	tests := []struct {
		name, def, job string
		class          pipeline.Class
	}{
		{"bad testdef name", "metadata: {name: x}\nparams: {'a b': 1}\n", "{}", pipeline.ClassTest},
		{"injection in job name", "metadata: {name: x}\n", "parameters: {'X;reboot': 1}", pipeline.ClassJob},
		{"job parameters not a map", "metadata: {name: x}\n", "parameters: [a]", pipeline.ClassTest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			td := mustTestDef(t, tt.def)
			_, err := ParamBlock(td, mustMap(t, tt.job))
			if err == nil || pipeline.ClassOf(err) != tt.class {
				t.Errorf("ParamBlock = %v (class %s), want a %s error", err, pipeline.ClassOf(err), tt.class)
			}
		})
	}
}

func TestLoadTestDef(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "good.yaml"), "metadata: {name: good, format: Lava-Test Test Definition 1.0}\nrun: {steps: [true]}\nparse: {pattern: '(?P<test_case_id>\\S+): (?P<result>\\S+)'}\nexpected: [a, b]\n")
	writeTestFile(t, filepath.Join(dir, "list.yaml"), "- a\n")
	writeTestFile(t, filepath.Join(dir, "nometa.yaml"), "run: {steps: [true]}\n")
	writeTestFile(t, filepath.Join(dir, "badyaml.yaml"), "a: [\n")
	writeTestFile(t, filepath.Join(dir, "badsteps.yaml"), "metadata: {name: x}\nrun: {steps: true}\n")
	secret := filepath.Join(t.TempDir(), "secret.yaml")
	writeTestFile(t, secret, "metadata: {name: secret}\n")
	if err := os.Symlink(secret, filepath.Join(dir, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTestDef(dir, "good.yaml"); err != nil {
		t.Errorf("LoadTestDef(good.yaml): %v", err)
	}
	for _, bad := range []string{"missing.yaml", "list.yaml", "nometa.yaml", "badyaml.yaml", "badsteps.yaml", "../x.yaml", "/etc/passwd", "link.yaml"} {
		_, err := LoadTestDef(dir, bad)
		if pipeline.ClassOf(err) != pipeline.ClassJob {
			t.Errorf("LoadTestDef(%s) = %v (class %s), want a job error", bad, err, pipeline.ClassOf(err))
		}
	}
	_, err := LoadTestDef(dir, "missing.yaml")
	if err == nil || !strings.Contains(err.Error(), "unable to open test definition 'missing.yaml'") {
		t.Errorf("missing definition: %v", err)
	}
}

func TestGitRepos(t *testing.T) {
	td := mustTestDef(t, `
metadata: {name: x}
params: {REPO_URL: https://git.example.org/default.git, BR: main}
install:
  git-repos:
  - https://git.example.org/one.git
  - url: REPO_URL
    branch: BR
  - {url: https://git.example.org/three, destination: DEST}
`)
	got, err := td.GitRepos(mustMap(t, "parameters: {DEST: elsewhere, REPO_URL: https://git.example.org/job.git}"))
	if err != nil {
		t.Fatal(err)
	}
	want := []GitRepo{
		{URL: "https://git.example.org/one.git", Dest: "one"},
		{URL: "https://git.example.org/job.git", Branch: "main", Dest: "job"},
		{URL: "https://git.example.org/three", Dest: "elsewhere"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GitRepos (-want +got):\n%s", diff)
	}
	for _, bad := range []string{
		"install: {git-repos: [{url: https://x/a.git, destination: ../up}]}",
		"install: {git-repos: [{url: https://x/a.git, destination: a/b}]}",
		"install: {git-repos: [{branch: main}]}",
		"install: {git-repos: [https://x/a.git, https://y/a.git]}",
		"install: {git-repos: [3]}",
	} {
		td := mustTestDef(t, "metadata: {name: x}\n"+bad+"\n")
		if _, err := td.GitRepos(value.NewMap()); err == nil {
			t.Errorf("GitRepos(%s) = nil error", bad)
		}
	}
}

func TestRunStepsEscape(t *testing.T) {
	td := mustTestDef(t, `
metadata: {name: x}
run:
  steps:
  - echo $1 $10
  - lava-test-case c --shell "test $1 = $12x"
  - lava-background-process-start p --cmd "x $3"
  - lava-test-case d --shell "echo $HOME $1a"
`)
	want := []string{
		"echo $1 $10",
		`lava-test-case c --shell "test \$1 = $12x"`,
		`lava-background-process-start p --cmd "x \$3"`,
		`lava-test-case d --shell "echo $HOME $1a"`,
	}
	if diff := cmp.Diff(want, td.RunSteps()); diff != "" {
		t.Errorf("RunSteps (-want +got):\n%s", diff)
	}
}

func TestEnvironmentGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "environment")
	err := WriteEnvironment(path, []EnvSource{
		{What: "device environment", Data: mustMap(t, "FOO: bar\nSPACED: a b\nEMPTY: ''\nNONE: ~\n")},
		{What: "device_info", Prefix: "LAVA_DEVICE_INFO", Data: mustMap(t, "x: [{board_id: '0123', usb_vendor_id: 0x0525, ok: true, enabled: false}]\n").Value("x")},
		{What: "static_info", Prefix: "LAVA_STATIC_INFO", Data: mustMap(t, "x: [{probe_ip: 10.0.0.9, probe_channel: 2}]\n").Value("x")},
		{What: "job environment", FromJob: true, Data: mustMap(t, "NESTED: {a: {b: 1.5, c: [x, 'y z']}}\nQUOTE: \"it's $(reboot)\"\nDOLLAR: $HOME\n")},
		{What: "job id", Prefix: "LAVA_JOB_ID", Data: "42", FromJob: true},
		{What: "dispatcher ip", Prefix: "LAVA_DISPATCHER_IP", Data: "192.168.0.2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	golden(t, "environment.golden", string(data))
}

func TestEnvironmentBadNames(t *testing.T) {
	tests := []struct {
		src   EnvSource
		class pipeline.Class
	}{
		{EnvSource{What: "job environment", FromJob: true, Data: value.MapOf("A;reboot", "x")}, pipeline.ClassJob},
		{EnvSource{What: "job environment", FromJob: true, Data: value.MapOf("1A", "x")}, pipeline.ClassJob},
		{EnvSource{What: "device environment", Data: value.MapOf("A-B", "x")}, pipeline.ClassConfiguration},
		{EnvSource{What: "job environment", FromJob: true, Data: value.MapOf("A", value.MapOf("b c", 1))}, pipeline.ClassJob},
	}
	for _, tt := range tests {
		err := WriteEnvironment(filepath.Join(t.TempDir(), "env"), []EnvSource{tt.src})
		if pipeline.ClassOf(err) != tt.class {
			t.Errorf("WriteEnvironment(%v) = %v (class %s), want class %s", value.GoString(tt.src.Data), err, pipeline.ClassOf(err), tt.class)
		}
	}
}

func TestSecrets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets")
	if err := WriteSecrets(path, []Secret{{"TOKEN", "abc123"}, {"PASS", "p@ss word'$x"}}); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, "TOKEN=abc123\nPASS='p@ss word'\"'\"'$x'\n")
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("secrets mode %v, want 0600", fi.Mode().Perm())
	}
	if err := WriteSecrets(path, []Secret{{"A B", "x"}}); pipeline.ClassOf(err) != pipeline.ClassJob {
		t.Errorf("bad secret name: %v", err)
	}
	none := filepath.Join(t.TempDir(), "none")
	if err := WriteSecrets(none, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(none); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("secrets file written without secrets")
	}
}

func TestQuote(t *testing.T) {
	// Python's shlex.quote gives the same.
	tests := map[string]string{
		"":              "''",
		"plain":         "plain",
		"a/b.c-d_e:f@g": "a/b.c-d_e:f@g",
		"%+=,":          "%+=,",
		"a b":           "'a b'",
		"it's":          `'it'"'"'s'`,
		"$(reboot)":     "'$(reboot)'",
		"new\nline":     "'new\nline'",
		"é":             "'é'",
	}
	for in, want := range tests {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPyStr(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{"s", "s"}, {true, "True"}, {false, "False"}, {nil, "None"}, {3, "3"},
		{0.5, "0.5"}, {1.0, "1.0"}, {1e16, "1e+16"}, {1e15, "1000000000000000.0"},
		{0.0001, "0.0001"}, {0.00001, "1e-05"}, {-2.5e-7, "-2.5e-07"},
		{[]any{"a", 1, true}, "['a', 1, True]"},
		{value.MapOf("k", "it's"), `{'k': "it's"}`},
	}
	for _, tt := range tests {
		if got := pyStr(tt.in); got != tt.want {
			t.Errorf("pyStr(%#v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRelPath(t *testing.T) {
	for in, ok := range map[string]bool{
		"a.yaml": true, "dir/a.yaml": true, "./a.yaml": true, "a/../b.yaml": true,
		"": false, "/abs.yaml": false, "..": false, "../a.yaml": false, "a/../../b": false,
	} {
		if _, err := RelPath(in); (err == nil) != ok {
			t.Errorf("RelPath(%q) error %v, want ok=%v", in, err, ok)
		}
	}
}
