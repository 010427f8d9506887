package deploy_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/hostfiles"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

var updateOverlay = flag.Bool("update-overlay", false, "rewrite testdata/overlay/*.golden")

// overlayDevice is a qemu device configuration with what the overlay
// reads from a device: the target's addresses, its environment, device
// and storage information, the guest disk size.
const overlayDevice = `
available_architectures: [amd64]
parameters:
  interfaces:
    target: {ip: 10.0.2.15, mac: '52:54:00:12:34:59'}
environment: {DEVICE_VAR: from device}
device_info: [{board_id: '0042'}]
storage_info: [{SATA: /dev/disk/by-id/ata-QEMU_HARDDISK}]
actions:
  deploy:
    methods:
      image:
        parameters:
          guest: {size: 64}
  boot:
    methods:
      qemu:
        parameters: {command: qemu-system-x86_64}
constants:
  posix: {lava_test_results_dir: /lava-%s, lava_test_sh_cmd: /bin/bash, lava_test_shell_file: ~/.bashrc}
`

// anchorJob is the anchor job (/work/shared/anchor/job.yaml) with a git
// definition and a second test block added. GITREPO and TOOLSREPO are
// replaced by real repositories.
const anchorJob = `
device_type: qemu
job_name: overlay
timeouts: {job: {minutes: 15}, action: {minutes: 5}, connection: {minutes: 2}}
context: {arch: amd64}
environment: {JOB_VAR: "it's the job"}
secrets: {API_TOKEN: s3cr3t}
actions:
- deploy:
    timeout: {minutes: 5}
    to: tmpfs
    os: oe
    images:
      kernel: {url: 'http://127.0.0.1:8000/vmlinuz', image_arg: '-kernel {kernel}'}
      ramdisk: {url: 'http://127.0.0.1:8000/initramfs.cpio.gz', image_arg: '-initrd {ramdisk}'}
- boot:
    method: qemu
    media: tmpfs
    timeout: {minutes: 3}
    prompts: ['root@lava:~# ']
- test:
    timeout: {minutes: 5}
    definitions:
    - repository:
        metadata:
          format: Lava-Test Test Definition 1.0
          name: anchor-smoke
          description: "pass / fail / measurement cases for the LAVA anchor"
        run:
          steps:
          - lava-test-case always-pass --shell true
          - lava-test-case always-fail --shell false
          - lava-test-case uname --shell uname -a
          - lava-test-case measurement-example --result pass --measurement 42.5 --units ms
          - lava-test-case skipped-example --result skip
      from: inline
      name: anchor-smoke
      path: inline/anchor-smoke.yaml
    - repository: GITREPO
      from: git
      name: from-git
      path: defs/tools.yaml
      parameters: {WHO: "the job's"}
- test:
    timeout: {minutes: 5}
    definitions:
    - repository:
        metadata: {format: Lava-Test Test Definition 1.0, name: second-stage}
        run: {steps: [lava-test-case stage-one --result pass]}
      from: inline
      name: second
      path: inline/second.yaml
`

// toolsDef is the git definition: default parameters, install steps and
// a git-repos clone, and run steps that use all three.
const toolsDef = `metadata:
  format: Lava-Test Test Definition 1.0
  name: tools
params:
  WHO: nobody
  TOOLS_URL: TOOLSREPO
install:
  git-repos:
  - {url: TOOLS_URL, destination: tools}
  steps:
  - echo "installed for $WHO" > installed.txt
run:
  steps:
  - grep -q "installed for the job's" installed.txt && lava-test-case installed --result pass
  - lava-test-case tools-cloned --shell test -x tools/check.sh
  - lava-test-case tool-ran --shell ./tools/check.sh
  - test "$JOB_VAR" = "it's the job" && lava-test-case env --result pass
parse:
  pattern: '(?P<test_case_id>\S+): (?P<result>PASS|FAIL)'
expected: [installed, tools-cloned]
`

func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// gitRepoWith makes a repository holding files (path → content; a
// content starting with #! is made executable) and returns its path and
// commit.
func gitRepoWith(t *testing.T, files map[string]string) (string, string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	runGit(t, dir, "init", "-q", "-b", "main")
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(content, "#!") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	runGit(t, dir, "add", ".")
	runGit(t, dir, "commit", "-q", "-m", "tests")
	return dir, runGit(t, dir, "rev-parse", "HEAD")
}

// tlog sends the job log to the test's log.
type tlog struct{ t *testing.T }

func (w tlog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// buildJob builds job (YAML) on device (YAML) as job 42, with its own
// scratch folder and its log to t, and validates it.
func buildJob(t *testing.T, job, device string) *pipeline.Job {
	t.Helper()
	v, err := value.DecodeYAML([]byte(job))
	if err != nil {
		t.Fatal(err)
	}
	dev, err := value.DecodeYAML([]byte(device))
	if err != nil {
		t.Fatal(err)
	}
	j, err := pipeline.Build(v.(*value.Map), dev.(*value.Map))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	j.ID = "42"
	j.Runtime.TmpDir = t.TempDir()
	j.Runtime.Log = joblog.New(nil, joblog.Options{Human: tlog{t}})
	if errs := j.Validate(); len(errs) > 0 {
		t.Fatalf("Validate: %v", errs)
	}
	return j
}

// overlayFixture is the anchor job built on overlayDevice, with real git
// repositories, ready to run its deploy actions.
type overlayFixture struct {
	job    *pipeline.Job
	commit string
	repo   string
	tools  string // the repository install.git-repos clones
}

func newOverlayFixture(t *testing.T, resultsDir string) *overlayFixture {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	tools, _ := gitRepoWith(t, map[string]string{"check.sh": "#!/bin/sh\necho tool ok\n"})
	def := strings.ReplaceAll(toolsDef, "TOOLSREPO", tools)
	repo, commit := gitRepoWith(t, map[string]string{"defs/tools.yaml": def})
	j := buildJob(t, strings.ReplaceAll(anchorJob, "GITREPO", repo), overlayDevice)
	if resultsDir != "" {
		// Where the overlay goes on the "device": a folder of the host,
		// so that its scripts can run here.
		deploy := j.Pipeline.Actions[0].ActionBase().Params
		deploy.Map("deployment_data").Set("lava_test_results_dir", resultsDir)
	}
	return &overlayFixture{job: j, commit: commit, repo: repo, tools: tools}
}

// action returns the first action with that name.
func (f *overlayFixture) action(t *testing.T, name string) pipeline.Action {
	t.Helper()
	var found pipeline.Action
	f.job.Pipeline.Walk(func(a pipeline.Action) {
		if found == nil && a.ActionBase().Name == name {
			found = a
		}
	})
	if found == nil {
		t.Fatalf("no %s in the pipeline", name)
	}
	return found
}

// run runs one action (and its children) as the run loop would.
func (f *overlayFixture) run(t *testing.T, name string) {
	t.Helper()
	a := f.action(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := a.Run(ctx, nil); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func (f *overlayFixture) data(key pipeline.DataKey) any { return f.job.Runtime.Data("common", key) }

func overlayGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "overlay", name)
	if *updateOverlay {
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
		t.Fatalf("%v (go test -update-overlay writes it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOverlay runs lava-overlay on the anchor job and checks the tree it
// leaves: the helpers, the environment and secrets, each test's files in
// LAVA's layout, the runner lists per stage, the namespace data the test
// shell and the boot read, and the tarball.
func TestOverlay(t *testing.T) {
	f := newOverlayFixture(t, "")
	f.run(t, "lava-overlay")

	location, _ := f.data("lava-overlay/location").(string)
	if got := f.data("lava-overlay/results-dir"); got != "/lava-42" {
		t.Errorf("lava-overlay/results-dir = %v, want /lava-42", got)
	}
	tree := filepath.Join(location, "lava-42")
	runner := readFile(t, filepath.Join(tree, "bin", "lava-test-runner"))
	if !strings.HasPrefix(runner, "#!/bin/sh\n\n") {
		t.Errorf("lava-test-runner starts %q: want the #! of os: oe (/bin/sh)", runner[:20])
	}
	// os: oe brings opkg's lava-install-packages.
	if !strings.Contains(readFile(t, filepath.Join(tree, "bin", "lava-install-packages")), "opkg") {
		t.Errorf("lava-install-packages is not the oe one")
	}
	if got := readFile(t, filepath.Join(tree, "bin", "lava-target-ip")); !strings.Contains(got, "TARGET_DEVICE_IP='10.0.2.15'\n") {
		t.Errorf("lava-target-ip lacks the device's address:\n%s", got)
	}
	overlayGolden(t, "environment.golden", strings.ReplaceAll(readFile(t, filepath.Join(tree, "environment")),
		"LAVA_DISPATCHER_IP="+dispatcherIPOf(t, tree), "LAVA_DISPATCHER_IP=<ip>"))
	if got := readFile(t, filepath.Join(tree, "secrets")); got != "API_TOKEN=s3cr3t\n" {
		t.Errorf("secrets = %q", got)
	}

	smoke := filepath.Join(tree, "0", "tests", "0_anchor-smoke")
	git := filepath.Join(tree, "0", "tests", "1_from-git")
	second := filepath.Join(tree, "1", "tests", "2_second")
	for name, path := range map[string]string{
		"0_anchor-smoke.run.sh":           filepath.Join(smoke, "run.sh"),
		"0_anchor-smoke.testdef_metadata": filepath.Join(smoke, "testdef_metadata"),
		"0_anchor-smoke.inline.yaml":      filepath.Join(smoke, "inline", "anchor-smoke.yaml"),
		"1_from-git.run.sh":               filepath.Join(git, "run.sh"),
		"1_from-git.install.sh":           filepath.Join(git, "install.sh"),
		"2_second.run.sh":                 filepath.Join(second, "run.sh"),
		"0.lava-test-runner.conf":         filepath.Join(tree, "0", "lava-test-runner.conf"),
		"1.lava-test-runner.conf":         filepath.Join(tree, "1", "lava-test-runner.conf"),
	} {
		t.Run(name, func(t *testing.T) {
			overlayGolden(t, name, strings.ReplaceAll(readFile(t, path), f.tools, "<tools repository>"))
		})
	}
	// The uuid is <jobid>_<level of the repository action>.
	for path, want := range map[string]string{
		filepath.Join(smoke, "uuid"):  "42_1.1.2.1",
		filepath.Join(git, "uuid"):    "42_1.1.2.5",
		filepath.Join(second, "uuid"): "42_1.1.2.9",
	} {
		if got := readFile(t, path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(smoke, "install.sh")); !os.IsNotExist(err) {
		t.Errorf("install.sh written for a definition without install (err %v)", err)
	}
	if _, err := os.Stat(filepath.Join(git, "tools", "check.sh")); err != nil {
		t.Errorf("git-repos not cloned into the test folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(git, ".git")); err != nil {
		t.Errorf("history kept by default, but .git is missing: %v", err)
	}
	if !strings.Contains(readFile(t, filepath.Join(git, "testdef_metadata")), "commit_id: "+f.commit) {
		t.Errorf("testdef_metadata of the git definition lacks commit %s", f.commit)
	}

	// What the test shell reads about each definition.
	smokeInfo, _ := f.data("test-definition/0_anchor-smoke").(*value.Map)
	gitInfo, _ := f.data("test-definition/1_from-git").(*value.Map)
	if smokeInfo == nil || gitInfo == nil {
		t.Fatalf("test-definition data missing: %v %v", smokeInfo, gitInfo)
	}
	want := map[string]any{
		"smoke name": "anchor-smoke", "smoke from": "inline", "smoke path": "inline/anchor-smoke.yaml",
		"smoke revision": "unspecified", "smoke uuid": "42_1.1.2.1", "smoke has commit": false,
		"git name": "from-git", "git from": "git", "git repository": f.repo, "git path": "defs/tools.yaml",
		"git commit_id": f.commit, "git has parse": true, "git expected": value.GoString([]any{"installed", "tools-cloned"}),
	}
	got := map[string]any{
		"smoke name": smokeInfo.Value("name"), "smoke from": smokeInfo.Value("from"), "smoke path": smokeInfo.Value("path"),
		"smoke revision": smokeInfo.Value("revision"), "smoke uuid": smokeInfo.Value("uuid"), "smoke has commit": smokeInfo.Has("commit_id"),
		"git name": gitInfo.Value("name"), "git from": gitInfo.Value("from"), "git repository": gitInfo.Value("repository"), "git path": gitInfo.Value("path"),
		"git commit_id": gitInfo.Value("commit_id"), "git has parse": gitInfo.Map("parse").Has("pattern"),
		"git expected": value.GoString(gitInfo.Value("expected")),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("test-definition data (-want +got):\n%s", diff)
	}
	if _, ok := smokeInfo.Value("repository").(*value.Map); !ok {
		t.Errorf("inline repository recorded as %T, want the definition itself", smokeInfo.Value("repository"))
	}

	// compress-overlay: overlay-<level>.tar.gz holding lava-42/.
	tarball, _ := f.data("compress-overlay/file").(string)
	if filepath.Base(tarball) != "overlay-1.1.3.tar.gz" {
		t.Errorf("compress-overlay/file = %q, want .../overlay-1.1.3.tar.gz", tarball)
	}
	out, err := exec.Command("tar", "-tzf", tarball).Output()
	if err != nil {
		t.Fatalf("tar -tzf: %v", err)
	}
	for _, member := range []string{"lava-42/bin/lava-test-runner", "lava-42/0/tests/1_from-git/run.sh", "lava-42/1/lava-test-runner.conf"} {
		if !strings.Contains(string(out), member+"\n") {
			t.Errorf("tarball lacks %s", member)
		}
	}
}

// dispatcherIPOf reads the address the environment file got.
func dispatcherIPOf(t *testing.T, tree string) string {
	t.Helper()
	for _, l := range strings.Split(readFile(t, filepath.Join(tree, "environment")), "\n") {
		if v, ok := strings.CutPrefix(l, "export LAVA_DISPATCHER_IP="); ok {
			return v
		}
	}
	t.Fatal("no LAVA_DISPATCHER_IP in the environment file")
	return ""
}

// TestOverlayGuestRuns is the whole deploy side on the host: lava-overlay
// and apply-overlay-guest build the disk, its contents are copied out
// with debugfs into the folder the job says is the results folder, and
// lava-test-runner runs them under dash and busybox sh, as the test shell
// would on the device. Every test case of the anchor job and of the git
// definition reports as it should.
func TestOverlayGuestRuns(t *testing.T) {
	for _, tool := range []string{"mkfs.ext2", "debugfs", "dumpe2fs"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	type sh struct{ name, path string }
	var shells []sh
	for _, s := range []sh{{"dash", "dash"}, {"busybox", "busybox"}} {
		if p, err := exec.LookPath(s.path); err == nil {
			shells = append(shells, sh{s.name, p})
		}
	}
	if len(shells) == 0 {
		t.Skip("neither dash nor busybox")
	}
	for _, s := range shells {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			results := filepath.Join(base, "lava-42")
			f := newOverlayFixture(t, filepath.Join(base, "lava-%s"))
			f.run(t, "lava-overlay")
			f.run(t, "apply-overlay-guest")

			image, _ := f.data("apply-overlay-guest/file").(string)
			uuid, _ := f.data("apply-overlay-guest/uuid").(string)
			if f.data("apply-overlay-guest/format") != "raw" {
				t.Errorf("apply-overlay-guest/format = %v, want raw", f.data("apply-overlay-guest/format"))
			}
			super, err := exec.Command("dumpe2fs", "-h", image).Output()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(super), "Filesystem UUID:          "+uuid+"\n") ||
				!strings.Contains(string(super), "Filesystem volume name:   LAVA\n") {
				t.Errorf("dumpe2fs -h %s: want UUID %s and label LAVA:\n%s", image, uuid, super)
			}
			if fi, err := os.Stat(image); err != nil || fi.Size() != 64<<20 {
				t.Errorf("image %s: %v, want the device's guest size, 64 MB", image, err)
			}

			// The device mounts the disk on the results folder.
			if err := os.Mkdir(results, 0o755); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("debugfs", "-R", "rdump / "+results, image).CombinedOutput(); err != nil {
				t.Fatalf("debugfs rdump: %v\n%s", err, out)
			}
			var shell string
			switch s.name {
			case "busybox":
				// A guest's /bin/sh is busybox by the name sh.
				shell = filepath.Join(t.TempDir(), "sh")
				if err := os.Symlink(s.path, shell); err != nil {
					t.Fatal(err)
				}
			default:
				shell = s.path
			}
			// As the test shell does: SHELL, the environment, the runner.
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(shell, "-c", `. "$1/environment" && "$1/bin/lava-test-runner" "$1/0"`, "sh", results)
			cmd.Env = append(os.Environ(), "SHELL="+shell)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err = cmd.Run()
			t.Logf("stderr:\n%s", stderr.String())
			if err != nil {
				t.Fatalf("lava-test-runner: %v\n%s", err, stdout.String())
			}
			var got []string
			for _, l := range strings.Split(stdout.String(), "\n") {
				if strings.Contains(l, "<LAVA_") {
					got = append(got, l)
				}
			}
			want := []string{
				"<LAVA_SIGNAL_STARTRUN 0_anchor-smoke 42_1.1.2.1>",
				"<LAVA_SIGNAL_STARTTC always-pass>",
				"<LAVA_SIGNAL_ENDTC always-pass>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=always-pass RESULT=pass>",
				"<LAVA_SIGNAL_STARTTC always-fail>",
				"<LAVA_SIGNAL_ENDTC always-fail>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=always-fail RESULT=fail>",
				"<LAVA_SIGNAL_STARTTC uname>",
				"<LAVA_SIGNAL_ENDTC uname>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=uname RESULT=pass>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=measurement-example RESULT=pass UNITS=ms MEASUREMENT=42.5>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=skipped-example RESULT=skip>",
				"<LAVA_SIGNAL_ENDRUN 0_anchor-smoke 42_1.1.2.1>",
				"<LAVA_SIGNAL_STARTRUN 1_from-git 42_1.1.2.5>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=installed RESULT=pass>",
				"<LAVA_SIGNAL_STARTTC tools-cloned>",
				"<LAVA_SIGNAL_ENDTC tools-cloned>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=tools-cloned RESULT=pass>",
				"<LAVA_SIGNAL_STARTTC tool-ran>",
				"<LAVA_SIGNAL_ENDTC tool-ran>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=tool-ran RESULT=pass>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=env RESULT=pass>",
				"<LAVA_SIGNAL_ENDRUN 1_from-git 42_1.1.2.5>",
				"<LAVA_TEST_RUNNER EXIT>",
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("signals (-want +got):\n%s\nstdout:\n%s", diff, stdout.String())
			}
		})
	}
}

// TestOverlayGitReposPolicy: a definition's install git-repos are known
// only once its repository is fetched; under a host-access policy a
// git-repos URL that is a local path outside the allowed folders is
// refused when the overlay is built, with a Job error naming it and the
// policy, though the definition's own repository was allowed.
func TestOverlayGitReposPolicy(t *testing.T) {
	f := newOverlayFixture(t, "")
	policy, err := hostfiles.New(hostfiles.Options{Dirs: []string{f.repo}, Host: "worker", Flag: "the worker's --allow-local-files"})
	if err != nil {
		t.Fatal(err)
	}
	f.job.LocalFiles = policy
	err = f.runErr(t, "lava-overlay")
	want := `git repository URL "` + f.tools + `" refused: this local file is outside the folders allowed on this worker`
	if c := pipeline.ClassOf(err); c != pipeline.ClassJob || !strings.Contains(err.Error(), want) {
		t.Fatalf("lava-overlay: %v (class %s), want a Job error saying %q", err, c, want)
	}
}
