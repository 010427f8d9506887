package test_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/actions/test"
	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/overlay"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// lockedBuffer collects the job log: the console reader writes to it
// while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// shellJob is a job with one test block, run against a real shell.
type shellJob struct {
	job     *pipeline.Job
	log     *joblog.Logger
	human   *lockedBuffer
	mu      sync.Mutex
	results []*value.Map
	dir     string // the overlay's results directory, lava-42
}

// step is one test definition of the overlay: its name and run steps.
type testDef struct {
	name  string
	steps []string
	// install, when set, is install.sh.
	install string
}

const shellDevice = `
constants:
  default-shell-prompt: 'lava-test: # '
  posix: {lava_test_sh_cmd: /bin/sh, lava_test_results_dir: /lava-%s}
`

// newShellJob builds the job from jobYAML and an overlay holding defs,
// written with the overlay package's real helper scripts.
func newShellJob(t *testing.T, jobYAML string, defs ...testDef) *shellJob {
	t.Helper()
	j, err := pipeline.Build(decode(t, jobYAML), decode(t, shellDevice))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	j.ID = "42"
	// Only the test block: finalize powers the device off, and the
	// device here is the test's own shell.
	j.Pipeline.Actions = j.Pipeline.Actions[:len(j.Pipeline.Actions)-1]
	sj := &shellJob{job: j, human: &lockedBuffer{}}
	sj.log = joblog.New(nil, joblog.Options{Human: sj.human, OnResult: func(m *value.Map) {
		sj.mu.Lock()
		defer sj.mu.Unlock()
		sj.results = append(sj.results, m)
	}})
	j.Runtime.Log = sj.log
	j.Runtime.TmpDir = t.TempDir()
	t.Cleanup(func() {
		// BASALT_TEST_LOG=1 shows the job log of passing tests too.
		if t.Failed() || os.Getenv("BASALT_TEST_LOG") != "" {
			sj.log.Flush()
			t.Logf("job log:\n%s", sj.human.String())
		}
	})

	sj.dir = filepath.Join(t.TempDir(), "lava-42")
	stage := filepath.Join(sj.dir, "0")
	for _, d := range []string{filepath.Join(sj.dir, "bin"), stage} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := overlay.WriteScripts(filepath.Join(sj.dir, "bin"), overlay.ScriptConfig{Shell: "/bin/sh"}); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(sj.dir, "environment"), "export LAVA_JOB_ID=42\n")
	var conf strings.Builder
	for i, d := range defs {
		name := fmt.Sprintf("%d_%s", i, d.name)
		runner := filepath.Join(stage, "tests", name)
		if err := os.MkdirAll(runner, 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(runner, "uuid"), "42_1.1\n")
		write(t, filepath.Join(runner, "run.sh"), overlay.RunScript{TestRunID: name, RunnerPath: runner, Steps: d.steps}.Script())
		if d.install != "" {
			write(t, filepath.Join(runner, "install.sh"), d.install)
		}
		conf.WriteString(runner + "\n")
		j.Runtime.SetData("common", pipeline.DataTestDefinition(name), value.MapOf(
			"name", d.name, "from", "inline", "repository", "inline", "path", "inline/"+d.name+".yaml", "revision", "unspecified"))
	}
	write(t, filepath.Join(stage, "lava-test-runner.conf"), conf.String())
	j.Runtime.SetData("common", "lava-overlay/results-dir", sj.dir)
	return sj
}

func write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startShell starts the stand-in for the device: an interactive shell
// whose prompt is the device's default-shell-prompt. It is closed, its
// process group killed and reaped, when the test ends.
func (sj *shellJob) startShell(t *testing.T) *connection.Session {
	t.Helper()
	s, err := connection.Start([]string{"env", "PS1=lava-test: # ", "/bin/sh", "-i"}, connection.Options{Log: sj.log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func (sj *shellJob) run(t *testing.T, conn pipeline.Connection) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := sj.job.Pipeline.Run(ctx, conn)
	return err
}

// cases returns "definition/case=result" for each result, in order.
func (sj *shellJob) cases() []string {
	sj.mu.Lock()
	defer sj.mu.Unlock()
	var out []string
	for _, r := range sj.results {
		s := r.String("definition") + "/" + r.String("case") + "=" + r.String("result")
		if v, ok := r.Get("measurement"); ok {
			s += fmt.Sprintf(" %v%s", v, r.String("units"))
		}
		if r.Has("set") {
			s += " set=" + r.String("set")
		}
		out = append(out, s)
	}
	return out
}

func (sj *shellJob) result(definition, name string) *value.Map {
	sj.mu.Lock()
	defer sj.mu.Unlock()
	for _, r := range sj.results {
		if r.String("definition") == definition && r.String("case") == name {
			return r
		}
	}
	return nil
}

const shellJobYAML = `
job_name: test shell
timeouts: {job: {minutes: 5}, action: {minutes: 1}}
actions:
- test:
    timeout: {seconds: %d}
    definitions:
    - {from: inline, name: smoke, path: inline/smoke.yaml, repository: {metadata: {name: smoke}}}
%s`

func jobYAML(timeout int, extra string) string { return fmt.Sprintf(shellJobYAML, timeout, extra) }

// TestTestShellRun runs lava-test-runner from a real overlay in a real
// shell and checks how the test shell ends and what it reported.
func TestTestShellRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		timeout int
		extra   string // more of the test block
		defs    []testDef
		class   pipeline.Class // "" for success
		msg     string         // in the error
		want    []string       // among cases(), in this order
		logged  string         // in the job log
	}{
		{name: "results", timeout: 30, defs: []testDef{{name: "smoke", steps: []string{
			"lava-test-case pass-case --result pass",
			"lava-test-case fail-case --result fail",
			"lava-test-case skip-case --result skip",
			"lava-test-case shell-case --shell test -n \"$LAVA_JOB_ID\"",
			"lava-test-case speed --result pass --measurement 12.5 --units MB/s",
			"lava-test-set start network",
			"lava-test-case ping --result pass",
			"lava-test-set stop",
		}}, {name: "second", steps: []string{"lava-test-case other --result pass"}}},
			want: []string{"0_smoke/pass-case=pass", "0_smoke/fail-case=fail", "0_smoke/skip-case=skip",
				"0_smoke/shell-case=pass", "0_smoke/speed=pass 12.5MB/s", "0_smoke/ping=pass set=network",
				"lava/0_smoke=pass", "1_second/other=pass", "lava/1_second=pass", "lava/lava-test-shell=pass"}},
		{name: "testraise", timeout: 30, defs: []testDef{{name: "raise", steps: []string{
			"lava-test-case before --result pass",
			"lava-test-raise the device is on fire",
			"lava-test-case after --result pass",
		}}}, class: pipeline.ClassTest, msg: "the device is on fire",
			want: []string{"0_raise/before=pass", "lava/0_raise=fail", "lava/lava-test-shell=fail"}},
		{name: "hung test times out", timeout: 2, defs: []testDef{{name: "hang", steps: []string{
			"lava-test-case before --result pass",
			"sleep 1000",
		}}}, class: pipeline.ClassTest, msg: "lava-test-shell timed out after",
			want:   []string{"0_hang/before=pass", "lava/0_hang=fail", "lava/lava-test-shell=fail"},
			logged: "lava-test-shell timed out during 0_hang"},
		{name: "hung test skipped", timeout: 2, extra: "    timeout: {seconds: 2, skip: true}\n",
			defs: []testDef{{name: "hang", steps: []string{"sleep 1000"}}},
			want: []string{"lava/0_hang=fail", "lava/lava-test-shell=fail"}, logged: "skip_timeout"},
		{name: "install fails", timeout: 30, defs: []testDef{
			{name: "broken", install: "echo installing; exit 3\n", steps: []string{"lava-test-case never --result pass"}},
			{name: "fine", steps: []string{"lava-test-case fine --result pass"}}},
			class: pipeline.ClassTest, msg: "Unable to start test stage 0",
			want: []string{"1_fine/fine=pass", "lava/1_fine=pass", "lava/lava-test-shell=fail"}},
		{name: "console dies", timeout: 30, defs: []testDef{{name: "killer", steps: []string{
			"lava-test-case before --result pass",
			"kill -KILL 0",
		}}}, class: pipeline.ClassInfrastructure, msg: "console closed",
			want: []string{"0_killer/before=pass", "lava/0_killer=fail", "lava/lava-test-shell=fail"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := jobYAML(tt.timeout, "")
			if tt.extra != "" {
				src = strings.Replace(src, fmt.Sprintf("    timeout: {seconds: %d}\n", tt.timeout), tt.extra, 1)
			}
			sj := newShellJob(t, src, tt.defs...)
			sess := sj.startShell(t)
			err := sj.run(t, sess)
			if got := pipeline.ClassOf(err); got != tt.class {
				t.Fatalf("Run() = %v (class %q), want class %q", err, got, tt.class)
			}
			if err != nil && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Run() = %q, want it to say %q", err, tt.msg)
			}
			if got := sj.cases(); !inOrder(got, tt.want) {
				t.Errorf("results %q\ndo not hold, in order, %q", got, tt.want)
			}
			if tt.logged != "" {
				sj.log.Flush()
				said := sj.human.String() + strings.Join(sj.job.Warnings, "\n")
				if !strings.Contains(said, tt.logged) {
					t.Errorf("neither the job log nor its warnings say %q", tt.logged)
				}
			}
			if r := sj.result("lava", "0_"+tt.defs[0].name); r != nil && r.String("result") == "pass" {
				for _, k := range []string{"uuid", "repository", "path", "duration", "revision", "namespace"} {
					if !r.Has(k) {
						t.Errorf("ENDRUN result %s lacks %s", value.GoString(r), k)
					}
				}
			}
			// The stand-in for the device dies with the session: nothing
			// of the test (a sleep 1000) outlives it.
			pgid := sess.Pid()
			sess.Close()
			if left := waitGroupGone(pgid); len(left) > 0 {
				t.Errorf("processes %v of group %d still running after Close", left, pgid)
			}
		})
	}
}

// waitGroupGone returns the processes of group pgid that are still
// running (zombies waiting for init do not count) once they had ten
// seconds to die.
func waitGroupGone(pgid int) []string {
	deadline := time.Now().Add(10 * time.Second)
	for {
		var left []string
		stats, _ := filepath.Glob("/proc/[0-9]*/stat")
		for _, f := range stats {
			data, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			// pid (comm) state ppid pgrp ...: comm may hold spaces.
			i := bytes.LastIndexByte(data, ')')
			if i < 0 {
				continue
			}
			fields := strings.Fields(string(data[i+1:]))
			if len(fields) >= 3 && fields[2] == strconv.Itoa(pgid) && fields[0] != "Z" {
				left = append(left, string(data[:i+1]))
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// inOrder reports whether want appears in got in the same order.
func inOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// TestTestShellSetup checks what must be right before the runner starts.
func TestTestShellSetup(t *testing.T) {
	t.Parallel()
	smoke := testDef{name: "smoke", steps: []string{"lava-test-case ok --result pass"}}
	tests := []struct {
		name  string
		extra string
		setup func(t *testing.T, sj *shellJob, sess *connection.Session) pipeline.Connection
		class pipeline.Class
		msg   string
	}{
		{name: "no connection", setup: func(*testing.T, *shellJob, *connection.Session) pipeline.Connection { return nil },
			class: pipeline.ClassJob, msg: "No connection to the DUT"},
		{name: "no overlay", setup: func(t *testing.T, sj *shellJob, sess *connection.Session) pipeline.Connection {
			sj.job.Runtime.SetData("common", "lava-overlay/results-dir", "")
			return sess
		}, class: pipeline.ClassJob, msg: "Nothing to run"},
		{name: "failed mount", setup: func(t *testing.T, sj *shellJob, sess *connection.Session) pipeline.Connection {
			sj.job.Runtime.SetData("common", "execute-qemu/pre-commands", []string{
				"mkdir -p " + sj.dir + "/mnt",
				"mount /dev/disk/by-uuid/00000000-0000-4000-8000-000000000000 -t ext2 " + sj.dir + "/mnt",
			})
			return sess
		}, class: pipeline.ClassJob, msg: "failed on the device with exit status"},
		{name: "missing environment", setup: func(t *testing.T, sj *shellJob, sess *connection.Session) pipeline.Connection {
			if err := os.Remove(filepath.Join(sj.dir, "environment")); err != nil {
				t.Fatal(err)
			}
			return sess
		}, class: pipeline.ClassJob, msg: "environment\" failed on the device"},
		{name: "wrong prompt", extra: "    connection_timeout: {seconds: 1}\n",
			setup: func(t *testing.T, sj *shellJob, sess *connection.Session) pipeline.Connection {
				sess.Prompts = []string{"root@nowhere:~# "}
				return sess
			}, class: pipeline.ClassJob, msg: "wait for prompt timed out"},
		{name: "invalid prompt", setup: func(t *testing.T, sj *shellJob, sess *connection.Session) pipeline.Connection {
			sess.Prompts = []string{"(unclosed"}
			return sess
		}, class: pipeline.ClassJob, msg: "invalid shell prompt"},
		{name: "pre-commands pass", setup: func(t *testing.T, sj *shellJob, sess *connection.Session) pipeline.Connection {
			sj.job.Runtime.SetData("common", "execute-qemu/pre-commands", []string{"mkdir -p " + sj.dir + "/mnt", "ls " + sj.dir + "/bin/lava-test-runner"})
			return sess
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sj := newShellJob(t, jobYAML(30, tt.extra), smoke)
			conn := tt.setup(t, sj, sj.startShell(t))
			err := sj.run(t, conn)
			if got := pipeline.ClassOf(err); got != tt.class {
				t.Fatalf("Run() = %v (class %q), want class %q", err, got, tt.class)
			}
			if err != nil && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Run() = %q, want it to say %q", err, tt.msg)
			}
			ran := sj.result("0_smoke", "ok") != nil
			if ran != (tt.class == "") {
				t.Errorf("the test ran: %v, want %v", ran, tt.class == "")
			}
		})
	}
}

// TestTestShellRetry checks LAVA's retry of a test shell: the runner
// renamed lava-test-runner.conf on the first attempt, so the second runs
// nothing and passes; the pre-commands (the overlay mount) are not run
// again on the same console.
func TestTestShellRetry(t *testing.T) {
	t.Parallel()
	sj := newShellJob(t, jobYAML(30, "    failure_retry: 2\n    failure_retry_interval: 0\n"),
		testDef{name: "flaky", steps: []string{"lava-test-case once --result pass", "lava-test-raise flaky"}})
	count := filepath.Join(sj.dir, "pre-commands-ran")
	sj.job.Runtime.SetData("common", "execute-qemu/pre-commands", []string{"echo x >> " + count})
	retry := sj.job.Pipeline.Actions[0].ActionBase()
	retry.RetryInterval = -1
	if retry.MaxRetries != 2 {
		t.Fatalf("lava-test-retry has %d retries, want 2", retry.MaxRetries)
	}
	if err := sj.run(t, sj.startShell(t)); err != nil {
		t.Fatalf("Run() = %v, want the second attempt to pass", err)
	}
	want := []string{"0_flaky/once=pass", "lava/0_flaky=fail", "lava/lava-test-shell=fail", "lava/lava-test-shell=pass"}
	if got := sj.cases(); !inOrder(got, want) {
		t.Errorf("results %q\ndo not hold, in order, %q", got, want)
	}
	data, err := os.ReadFile(count)
	if err != nil || string(data) != "x\n" {
		t.Errorf("pre-commands ran %q times (%v), want once", data, err)
	}
}

// TestTestShellParsePattern checks a definition's parse pattern and
// fixupdict, recorded by the overlay, on a live console.
func TestTestShellParsePattern(t *testing.T) {
	t.Parallel()
	sj := newShellJob(t, jobYAML(30, ""), testDef{name: "parse", steps: []string{
		`printf '%s\n' 'case-a: OK' 'case-b: BAD' 'case-c: 3.5 s OK'`,
		"lava-test-case by-signal --result OK",
	}})
	sj.job.Runtime.SetData("common", "test-definition/0_parse", value.MapOf(
		"name", "parse", "repository", "https://example.com/t.git", "path", "parse.yaml", "revision", "unspecified",
		"commit_id", "0123abc",
		"parse", value.MapOf(
			"pattern", `^(?P<test_case_id>[a-z-]+): (?:(?P<measurement>[0-9.]+) (?P<units>\w+) )?(?P<result>OK|BAD)$`,
			"fixupdict", value.MapOf("OK", "pass", "BAD", "fail"))))
	sess := sj.startShell(t)
	if err := sj.run(t, sess); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if len(sess.Prompts) != 1 || sess.Prompts[0] != test.DefaultShellPrompt {
		t.Errorf("session prompts = %q, want the device's default shell prompt", sess.Prompts)
	}
	want := []string{"0_parse/case-a=pass", "0_parse/case-b=fail", "0_parse/case-c=pass 3.5s", "0_parse/by-signal=pass", "lava/0_parse=pass"}
	if got := sj.cases(); !inOrder(got, want) {
		t.Errorf("results %q\ndo not hold, in order, %q", got, want)
	}
	if r := sj.result("lava", "0_parse"); r == nil || r.String("commit_id") != "0123abc" || r.String("repository") != "https://example.com/t.git" {
		t.Errorf("ENDRUN result = %s, want the commit and repository recorded", value.GoString(r))
	}
}
