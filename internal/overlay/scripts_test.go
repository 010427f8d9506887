package overlay

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

// shell is one interpreter the helpers must work with.
type shell struct {
	name string
	// path is what goes on the #! line and in $SHELL.
	path string
}

// shells returns the interpreters present on this machine: dash (Debian's
// /bin/sh), busybox ash (what small guests have) and bash. busybox runs
// as "sh" through a symlink, the way a guest's /bin/sh is.
func shells(t *testing.T) []shell {
	t.Helper()
	var out []shell
	if p, err := exec.LookPath("dash"); err == nil {
		out = append(out, shell{"dash", p})
	}
	if p, err := exec.LookPath("busybox"); err == nil {
		dir := t.TempDir()
		link := filepath.Join(dir, "sh")
		if err := os.Symlink(p, link); err != nil {
			t.Fatal(err)
		}
		out = append(out, shell{"busybox", link})
	}
	if p, err := exec.LookPath("bash"); err == nil {
		out = append(out, shell{"bash", p})
	}
	if len(out) == 0 {
		t.Skip("no dash, busybox or bash on this machine")
	}
	return out
}

func mustTestDef(t *testing.T, src string) *TestDef {
	t.Helper()
	v, err := value.DecodeYAML([]byte(src))
	if err != nil {
		t.Fatalf("test definition YAML: %v", err)
	}
	td := &TestDef{Map: v.(*value.Map), Path: "t.yaml"}
	if err := td.check(); err != nil {
		t.Fatalf("check: %v", err)
	}
	return td
}

// stageTest is one test folder of a generated stage.
type stageTest struct {
	name    string
	testdef string
	job     string // the job's definition block (parameters, …)
}

// writeStage writes the helpers and a stage 0 with the given tests under
// dir, as the overlay actions would on the device, with dir standing for
// /lava-<id>.
func writeStage(t *testing.T, dir, shellPath string, tests []stageTest) string {
	t.Helper()
	if _, err := WriteScripts(mkdir(t, dir, "bin"), ScriptConfig{Shell: shellPath}); err != nil {
		t.Fatalf("WriteScripts: %v", err)
	}
	stage := mkdir(t, dir, "0")
	var conf strings.Builder
	for i, st := range tests {
		td := mustTestDef(t, st.testdef)
		def := value.NewMap()
		if st.job != "" {
			v, err := value.DecodeYAML([]byte(st.job))
			if err != nil {
				t.Fatal(err)
			}
			def = v.(*value.Map)
		}
		runner := mkdir(t, stage, "tests", st.name)
		params, err := ParamBlock(td, def)
		if err != nil {
			t.Fatalf("ParamBlock(%s): %v", st.name, err)
		}
		rs := RunScript{Params: params, TestRunID: st.name, RunnerPath: runner, Steps: td.RunSteps()}
		writeTestFile(t, filepath.Join(runner, "run.sh"), rs.Script())
		writeTestFile(t, filepath.Join(runner, "uuid"), "7_1.1."+string(rune('1'+i)))
		if inst, ok := td.InstallScript(params, nil, "", runner); ok {
			writeTestFile(t, filepath.Join(runner, "install.sh"), inst)
		}
		conf.WriteString(runner + "\n")
	}
	writeTestFile(t, filepath.Join(stage, "lava-test-runner.conf"), conf.String())
	return stage
}

func mkdir(t *testing.T, parts ...string) string {
	t.Helper()
	d := filepath.Join(parts...)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func writeTestFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runRunner runs lava-test-runner on a stage as the test shell does and
// returns stdout and the LAVA lines in it.
func runRunner(t *testing.T, sh shell, dir, stage string, env ...string) (string, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	_, err := retryBusy(func() *exec.Cmd {
		stdout.Reset()
		stderr.Reset()
		cmd := exec.CommandContext(ctx, filepath.Join(dir, "bin", "lava-test-runner"), stage)
		cmd.Env = append(os.Environ(), append([]string{"SHELL=" + sh.path}, env...)...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		return cmd
	}, (*exec.Cmd).Run)
	t.Logf("%s: lava-test-runner stderr:\n%s", sh.name, stderr.String())
	if err != nil {
		if _, isExit := err.(*exec.ExitError); !isExit {
			t.Fatalf("running lava-test-runner: %v", err)
		}
	}
	return stdout.String(), signalLines(stdout.String())
}

func signalLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "<LAVA_") {
			lines = append(lines, l)
		}
	}
	return lines
}

const smokeDef = `
metadata:
  format: Lava-Test Test Definition 1.0
  name: smoke
params:
  GREETING: hello world
install:
  deps: [needed-tool]
  steps:
  - echo installed > installed.txt
run:
  steps:
  - lava-test-case pass-case --shell true
  - lava-test-case fail-case --shell false
  - lava-test-case positional --shell "echo a b | awk '{print $2}' | grep -qx b"
  - lava-test-case installed --shell test -f installed.txt
  - test "$GREETING" = "hello world" && test "$FROM_JOB" = "it's \"quoted\" \$HOME" && lava-test-case params --result pass
  - lava-test-case measured --result pass --measurement 42.5 --units ms
  - lava-test-case unit-only --result pass --units s
  - lava-test-case skipped --result skip
  - printf 'line one\nline two\n' > out.txt
  - lava-test-case with-output --result pass --output out.txt
  - lava-test-set start set-one
  - lava-test-case in-set --result pass
  - lava-test-set stop
  - lava-test-reference ref-case --result fail --reference https://example.com/bug/1
  - lava-test-event "something happened"
  - lava-test-feedback --namespace other
  - lava-test-case 'back\slash' --result pass
`

const installFailDef = `
metadata:
  format: Lava-Test Test Definition 1.0
  name: installfail
install:
  steps:
  - exit 3
run:
  steps:
  - lava-test-case never --result pass
`

const raiseDef = `
metadata:
  format: Lava-Test Test Definition 1.0
  name: raise
run:
  steps:
  - lava-test-case before --result pass
  - lava-test-raise "device on fire"
  - lava-test-case after --result pass
`

// TestRunnerSignals runs a generated stage through lava-test-runner under
// every shell and checks the exact signal lines: every form of
// lava-test-case and the other helpers, install.sh success and failure,
// and run.sh stopping at lava-test-raise.
func TestRunnerSignals(t *testing.T) {
	for _, sh := range shells(t) {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "lava-7")
			stage := writeStage(t, dir, sh.path, []stageTest{
				{name: "0_smoke", testdef: smokeDef, job: `parameters: {FROM_JOB: "it's \"quoted\" $HOME"}`},
				{name: "1_installfail", testdef: installFailDef},
				{name: "2_raise", testdef: raiseDef},
			})
			_, got := runRunner(t, sh, dir, stage)
			want := []string{
				"<LAVA_SIGNAL_STARTRUN 0_smoke 7_1.1.1>",
				"<LAVA_SIGNAL_STARTTC pass-case>",
				"<LAVA_SIGNAL_ENDTC pass-case>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=pass-case RESULT=pass>",
				"<LAVA_SIGNAL_STARTTC fail-case>",
				"<LAVA_SIGNAL_ENDTC fail-case>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=fail-case RESULT=fail>",
				"<LAVA_SIGNAL_STARTTC positional>",
				"<LAVA_SIGNAL_ENDTC positional>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=positional RESULT=pass>",
				"<LAVA_SIGNAL_STARTTC installed>",
				"<LAVA_SIGNAL_ENDTC installed>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=installed RESULT=pass>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=params RESULT=pass>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=measured RESULT=pass UNITS=ms MEASUREMENT=42.5>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=unit-only RESULT=pass UNITS=s>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=skipped RESULT=skip>",
				"<LAVA_SIGNAL_STARTTC with-output>",
				"<LAVA_SIGNAL_ENDTC with-output>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=with-output RESULT=pass>",
				"<LAVA_SIGNAL_TESTSET START set-one>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=in-set RESULT=pass>",
				"<LAVA_SIGNAL_TESTSET STOP>",
				"<LAVA_SIGNAL_TESTREFERENCE ref-case fail https://example.com/bug/1>",
				"<LAVA_SIGNAL_TESTEVENT something happened>",
				"<LAVA_SIGNAL_TESTFEEDBACK other>",
				`<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=back\slash RESULT=pass>`,
				"<LAVA_SIGNAL_ENDRUN 0_smoke 7_1.1.1>",
				"<LAVA_TEST_RUNNER INSTALL_FAIL>",
				"<LAVA_SIGNAL_STARTRUN 2_raise 7_1.1.3>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=before RESULT=pass>",
				"<LAVA_SIGNAL_TESTRAISE device on fire>",
				"<LAVA_TEST_RUNNER EXIT>",
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("signals of lava-test-runner under %s (-want +got):\n%s", sh.name, diff)
			}

			// What the runner and the helpers leave on the device.
			res := filepath.Join(stage, "results")
			checkFile(t, globOne(t, res, "0_smoke-*", "results", "measured", "result"), "pass\n")
			checkFile(t, globOne(t, res, "0_smoke-*", "results", "measured", "measurement"), "42.5\n")
			checkFile(t, globOne(t, res, "0_smoke-*", "results", "measured", "units"), "ms\n")
			checkFile(t, globOne(t, res, "0_smoke-*", "results", "fail-case", "result"), "fail\n")
			checkFile(t, globOne(t, res, "0_smoke-*", "return_code"), "0\n")
			checkFile(t, globOne(t, res, "0_smoke-*", "install_return_code"), "0\n")
			checkFile(t, globOne(t, res, "1_installfail-*", "install_return_code"), "3\n")
			checkFile(t, globOne(t, res, "2_raise-*", "return_code"), "1\n")
			if _, err := os.Stat(filepath.Join(stage, "lava-test-runner.conf")); !os.IsNotExist(err) {
				t.Errorf("lava-test-runner.conf still there after the run (err %v): a reboot would run the tests again", err)
			}
			globOne(t, stage, "lava-test-runner.conf-*")

			// After a reboot the runner finds nothing left to run, and
			// still says it is done.
			_, again := runRunner(t, sh, dir, stage)
			if diff := cmp.Diff([]string{"<LAVA_TEST_RUNNER EXIT>"}, again); diff != "" {
				t.Errorf("second run (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRunnerTerminated checks that a runner stopped by TERM stops after
// the current test and prints its end marker once.
func TestRunnerTerminated(t *testing.T) {
	const killer = `
metadata: {format: Lava-Test Test Definition 1.0, name: killer}
run:
  steps:
  # run.sh's parent is lava-test-shell, whose parent is the runner.
  - kill -TERM "$(cut -d' ' -f4 /proc/$PPID/stat)"
  - lava-test-case still-running --result pass
`
	const next = `
metadata: {format: Lava-Test Test Definition 1.0, name: next}
run: {steps: [lava-test-case next --result pass]}
`
	for _, sh := range shells(t) {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "lava-8")
			stage := writeStage(t, dir, sh.path, []stageTest{{name: "0_killer", testdef: killer}, {name: "1_next", testdef: next}})
			_, got := runRunner(t, sh, dir, stage)
			want := []string{
				"<LAVA_SIGNAL_STARTRUN 0_killer 7_1.1.1>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=still-running RESULT=pass>",
				"<LAVA_SIGNAL_ENDRUN 0_killer 7_1.1.1>",
				"<LAVA_TEST_RUNNER EXIT>",
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("signals (-want +got):\n%s", diff)
			}
		})
	}
}

// TestKMSG checks that a run.sh marked "# USE_KMSG" sends the helpers'
// signals to the kernel log (a file standing in for /dev/kmsg here).
func TestKMSG(t *testing.T) {
	for _, sh := range shells(t) {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "lava-9")
			stage := writeStage(t, dir, sh.path, []stageTest{{name: "0_k", testdef: `
metadata: {format: Lava-Test Test Definition 1.0, name: k}
run: {steps: [lava-test-case via-kmsg --result pass]}
`}})
			// The run.sh of a lava-signal: kmsg definition, without its
			// own STARTRUN and ENDRUN (they write to /dev/kmsg itself).
			run := filepath.Join(stage, "tests", "0_k", "run.sh")
			writeTestFile(t, run, "# USE_KMSG\ncd "+filepath.Dir(run)+"\nlava-test-case via-kmsg --result pass\n")
			kmsg := filepath.Join(t.TempDir(), "kmsg")
			_, got := runRunner(t, sh, dir, stage, "LAVA_KMSG_DEVICE="+kmsg)
			if len(got) != 0 {
				t.Errorf("console signals %q, want none", got)
			}
			// The runner's own end marker follows the last test's choice,
			// as LAVA's does: the console may carry only the kernel log.
			checkFile(t, kmsg, "<0><LAVA_SIGNAL_TESTCASE TEST_CASE_ID=via-kmsg RESULT=pass>\n<0><LAVA_TEST_RUNNER EXIT>\n")
		})
	}
}

// TestHelpers runs the small helpers on their own, in every shell.
func TestHelpers(t *testing.T) {
	cfg := ScriptConfig{
		TargetIP: "10.0.0.2", TargetMAC: "52:54:00:12:34:56",
		Storage: []Storage{{"SATA", "/dev/disk/by-id/ata-1"}, {"UMS", "/dev/disk/by-id/usb 2"}, {"SATA", "/dev/sdb"}},
	}
	tests := []struct {
		args     []string
		wantOut  string
		wantCode int
	}{
		{[]string{"lava-target-ip"}, "10.0.0.2\n", 0},
		{[]string{"lava-target-mac"}, "52:54:00:12:34:56\n", 0},
		{[]string{"lava-target-storage"}, "SATA\t/dev/disk/by-id/ata-1\nUMS\t/dev/disk/by-id/usb 2\nSATA\t/dev/sdb\n", 0},
		{[]string{"lava-target-storage", "SATA"}, "/dev/disk/by-id/ata-1\n/dev/sdb\n", 0},
		{[]string{"lava-target-storage", "UMS"}, "/dev/disk/by-id/usb 2\n", 0},
		{[]string{"lava-target-storage", "NVME"}, "", 1},
		{[]string{"lava-echo-ipv4", "lo"}, "127.0.0.1\n", 0},
		{[]string{"lava-test-case"}, "Usage: lava-test-case ID --shell COMMAND...\n   or: lava-test-case ID --result RESULT [--measurement M] [--units U] [--output FILE]\n", 1},
		{[]string{"lava-test-case", "x", "--units", "ms"}, "lava-test-case: --result must be given\n", 1},
		{[]string{"lava-test-case", "x", "--result"}, "Usage: lava-test-case ID --shell COMMAND...\n   or: lava-test-case ID --result RESULT [--measurement M] [--units U] [--output FILE]\n", 1},
		{[]string{"lava-test-case", "x", "--shell", "exit", "3"}, "<LAVA_SIGNAL_STARTTC x>\n", 3},
		{[]string{"lava-test-set", "start"}, "Usage: lava-test-set start NAME\n   or: lava-test-set stop\n", 1},
		{[]string{"lava-test-event", "a", "b"}, "Usage: lava-test-event MESSAGE\n", 1},
		{[]string{"lava-test-raise", "it", "broke"}, "<LAVA_SIGNAL_TESTRAISE it broke>\n", 1},
	}
	for _, sh := range shells(t) {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			bin := t.TempDir()
			c := cfg
			c.Shell = sh.path
			if _, err := WriteScripts(bin, c); err != nil {
				t.Fatal(err)
			}
			for _, tt := range tests {
				var out []byte
				_, err := retryBusy(func() *exec.Cmd {
					cmd := exec.Command(filepath.Join(bin, tt.args[0]), tt.args[1:]...)
					cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "LAVA_RESULT_DIR=")
					return cmd
				}, func(cmd *exec.Cmd) (err error) {
					out, err = cmd.Output()
					return err
				})
				code := 0
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				} else if err != nil {
					t.Fatalf("%v: %v", tt.args, err)
				}
				if tt.args[0] == "lava-test-case" && len(tt.args) > 2 && tt.args[2] == "--shell" {
					// "exit 3" ends the eval, and lava-test-case with it:
					// what LAVA's helper does too. Only the start marker.
					out = []byte(strings.SplitAfter(string(out), "\n")[0])
				}
				if string(out) != tt.wantOut || code != tt.wantCode {
					t.Errorf("%s %q: got %q exit %d, want %q exit %d", sh.name, tt.args, out, code, tt.wantOut, tt.wantCode)
				}
			}
		})
	}
}

// TestBackgroundProcess starts a background command, sees it run, stops
// it and checks that the loop and everything it started are gone.
func TestBackgroundProcess(t *testing.T) {
	for _, sh := range shells(t) {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			bin, res := t.TempDir(), t.TempDir()
			if _, err := WriteScripts(bin, ScriptConfig{Shell: sh.path}); err != nil {
				t.Fatal(err)
			}
			marker := filepath.Join(res, "ticks")
			env := append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "LAVA_RESULT_DIR="+res)
			// A file, not a pipe, for the output: the background loop keeps
			// it open, and a pipe would keep the command from finishing.
			out, err := os.Create(filepath.Join(res, "out"))
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			if _, err := retryBusy(func() *exec.Cmd {
				start := exec.Command(filepath.Join(bin, "lava-background-process-start"), "ticker", "--cmd", "echo tick >> "+marker+"; sleep 60")
				start.Env, start.Stdout, start.Stderr = env, out, out
				return start
			}, (*exec.Cmd).Run); err != nil {
				t.Fatalf("lava-background-process-start: %v", err)
			}
			pidData, err := os.ReadFile(filepath.Join(res, "results", "ticker", "pid"))
			if err != nil {
				t.Fatal(err)
			}
			pid := strings.TrimSpace(string(pidData))
			t.Cleanup(func() {
				// Whatever the outcome, nothing of the test keeps running;
				// the loop is checked to be ours, its pid may be reused.
				cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
				if !bytes.Contains(cmdline, []byte(res)) {
					return
				}
				for _, p := range descendants(pid) {
					if n, err := strconv.Atoi(p); err == nil {
						_ = syscall.Kill(n, syscall.SIGKILL)
					}
				}
			})
			waitFor(t, func() bool { _, err := os.Stat(marker); return err == nil })
			var procs []string
			waitFor(t, func() bool {
				// The loop and the command (its subshell may exec the sleep).
				procs = descendants(pid)
				return len(procs) >= 2
			})
			stop := exec.Command(filepath.Join(bin, "lava-background-process-stop"), "ticker")
			stop.Env, stop.Stdout, stop.Stderr = env, out, out
			if err := stop.Run(); err != nil {
				t.Fatalf("lava-background-process-stop: %v", err)
			}
			for _, p := range procs {
				waitFor(t, func() bool { return !processRuns(p) })
			}
		})
	}
}

// descendants returns pid and the pids below it, from /proc.
func descendants(pid string) []string {
	out := []string{pid}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, s := range stats {
		data, err := os.ReadFile(s)
		if err != nil {
			continue
		}
		f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
		if len(f) > 1 && f[1] == pid {
			out = append(out, descendants(filepath.Base(filepath.Dir(s)))...)
		}
	}
	return out
}

func processRuns(pid string) bool {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	// A zombie waiting for its parent has stopped running.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not reached in 5 s")
}

func globOne(t *testing.T, parts ...string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(parts...))
	if err != nil || len(m) != 1 {
		t.Fatalf("glob %s: %v (err %v), want one match", filepath.Join(parts...), m, err)
	}
	return m[0]
}

func checkFile(t *testing.T, name, want string) {
	t.Helper()
	got, err := os.ReadFile(name)
	if err != nil {
		t.Errorf("reading %s: %v", name, err)
		return
	}
	if string(got) != want {
		t.Errorf("%s = %q, want %q", name, got, want)
	}
}

// TestWriteScripts checks the files: the #! line of the device's shell,
// 0755, the injected values quoted, and the distribution's own helpers.
func TestWriteScripts(t *testing.T) {
	tests := []struct {
		distro      string
		installFrom string // which lava-install-packages is written
	}{
		{"", "scripts/lava-install-packages"},
		{"debian", "scripts/distro/debian/lava-install-packages"},
		{"ubuntu", "scripts/distro/debian/lava-install-packages"},
		{"oe", "scripts/distro/oe/lava-install-packages"},
		{"centos", "scripts/distro/fedora/lava-install-packages"},
		{"fedora", "scripts/distro/fedora/lava-install-packages"},
		{"android", "scripts/lava-install-packages"},
	}
	for _, tt := range tests {
		t.Run("distro="+tt.distro, func(t *testing.T) {
			bin := t.TempDir()
			names, err := WriteScripts(bin, ScriptConfig{Shell: "/bin/bash", Distro: tt.distro, TargetIP: "it's"})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(ScriptNames(""), names); diff != "" {
				t.Errorf("helpers written (-want +got): each once, the same names for every distribution:\n%s", diff)
			}
			for _, n := range names {
				fi, err := os.Stat(filepath.Join(bin, n))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != 0o755 {
					t.Errorf("%s mode %v, want 0755", n, fi.Mode().Perm())
				}
				data, _ := os.ReadFile(filepath.Join(bin, n))
				if !strings.HasPrefix(string(data), "#!/bin/bash\n\n") {
					t.Errorf("%s starts %q, want #!/bin/bash and a blank line", n, data[:min(len(data), 20)])
				}
			}
			want, _ := scripts.ReadFile(tt.installFrom)
			got, _ := os.ReadFile(filepath.Join(bin, "lava-install-packages"))
			if !strings.HasSuffix(string(got), string(want)) {
				t.Errorf("lava-install-packages is not %s", tt.installFrom)
			}
			ip, _ := os.ReadFile(filepath.Join(bin, "lava-target-ip"))
			if !strings.HasPrefix(string(ip), "#!/bin/bash\n\nTARGET_DEVICE_IP='it'\\''s'\n") {
				t.Errorf("lava-target-ip starts %q", ip)
			}
		})
	}
	for _, bad := range []string{"", "sh", "/bin/sh\nrm -rf /"} {
		if _, err := WriteScripts(t.TempDir(), ScriptConfig{Shell: bad}); err == nil {
			t.Errorf("WriteScripts(Shell %q) = nil error, want a configuration error", bad)
		}
	}
}
