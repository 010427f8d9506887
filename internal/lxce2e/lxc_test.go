// Package lxce2e runs LXC protocol jobs through the real `basalt run`
// binary on the real LXC of the machine (privileged containers, as
// root, lxc.net.0.type = empty, the busybox template which needs no
// network): create, test inside, results back, tear down; a persistent
// container reused by a second job; the failures (a template that
// fails, a container that never starts, a job canceled mid-test) ending
// with the right class and no container left. foreign_test.go does the
// same for a foreign-architecture container: an arm64 image fetched by
// the download template from an HTTPS image server on 127.0.0.1, run
// under qemu-user through binfmt_misc.
//
// The tests change the machine's LXC state (/var/lib/lxc), so they run
// only with BASALT_E2E=1 (as `make check` sets), as root, with lxc
// installed; with BASALT_E2E=1 and no lxc they fail.
package lxce2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/proctest"
	"github.com/basalt-lava/basalt/internal/value"
)

var basalt string

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Getenv("BASALT_E2E") != "1" || testing.Short() {
		os.Exit(m.Run())
	}
	root, _ := filepath.Abs("../..")
	dir, err := os.MkdirTemp("", "basalt-lxce2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	basalt = filepath.Join(dir, "basalt")
	build := exec.Command("go", "build", "-o", basalt, "./cmd/basalt")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building basalt:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needLXC skips unless BASALT_E2E=1, and fails when it is set but LXC
// cannot be used here.
func needLXC(t *testing.T) {
	t.Helper()
	if testing.Short() || os.Getenv("BASALT_E2E") != "1" {
		t.Skip("creates LXC containers on the machine: set BASALT_E2E=1 (as root, with lxc installed)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("BASALT_E2E=1: the LXC tests need root (privileged containers)")
	}
	for _, tool := range []string{"lxc-create", "lxc-attach", "lxc-ls", "busybox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("BASALT_E2E=1: %s is not installed (apt-get install lxc busybox-static)", tool)
		}
	}
}

// containers returns the machine's containers (lxc-ls -1).
func containers(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("lxc-ls", "-1").Output()
	if err != nil {
		t.Fatalf("lxc-ls: %v", err)
	}
	return strings.Fields(string(out))
}

// unique returns a container name no other run uses at the same time.
func unique(base string) string { return fmt.Sprintf("%s-%d", base, os.Getpid()) }

// noneLeft checks that lxc-ls lists no container of this test (names
// starting with prefix) that was not there before, nor its folder.
// Containers of others (the machine is shared) are not touched.
func noneLeft(t *testing.T, before []string, prefix string) {
	t.Helper()
	for _, c := range containers(t) {
		if strings.HasPrefix(c, prefix) && !slices.Contains(before, c) {
			t.Errorf("container %s left behind", c)
			destroy(c)
		}
	}
	matches, _ := filepath.Glob(filepath.Join("/var/lib/lxc", prefix+"*"))
	for _, m := range matches {
		t.Errorf("folder %s left behind", m)
	}
}

func destroy(name string) {
	exec.Command("lxc-stop", "-n", name, "-k").Run()
	exec.Command("lxc-destroy", "-n", name, "-f").Run()
}

// outcome is how one `basalt run` ended.
type outcome struct {
	code    int
	stdout  string
	log     []*value.Map
	job     *value.Map
	results []*value.Map
	elapsed time.Duration
}

func (o *outcome) result(def, name string) *value.Map {
	for _, r := range o.results {
		if r.String("definition") == def && r.String("case") == name {
			return r
		}
	}
	return nil
}

func (o *outcome) logHas(substr string) bool {
	for _, r := range o.log {
		if strings.Contains(fmt.Sprint(r.Value("msg")), substr) {
			return true
		}
	}
	return false
}

const device = "{% extends 'lxc.jinja2' %}\n"

// job is an LXC job on the busybox template; protocol is extra lines of
// the lava-lxc block, steps the test's run steps.
func job(name, protocol string, steps ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `device_type: lxc
job_name: lxc e2e
timeouts:
  job: {minutes: 4}
  action: {minutes: 2}
priority: medium
visibility: public
protocols:
  lava-lxc:
    name: %s
    template: busybox
    distribution: busybox
    release: "1"
%sactions:
- deploy:
    to: lxc
    os: oe
- boot:
    method: lxc
    prompts: ['/ #']
- test:
    definitions:
    - from: inline
      name: in-lxc
      path: inline/in-lxc.yaml
      repository:
        metadata: {format: Lava-Test Test Definition 1.0, name: in-lxc}
        run:
          steps:
`, name, protocol)
	for _, s := range steps {
		fmt.Fprintf(&b, "          - %s\n", value.GoString(s))
	}
	return b.String()
}

// run runs basalt on the job text with job id id; during, when set, is
// called with the process and the output folder while the job runs.
func run(t *testing.T, jobText, id string, during func(p *os.Process, out string)) *outcome {
	t.Helper()
	devPath := filepath.Join(t.TempDir(), "lxc-01.jinja2")
	if err := os.WriteFile(devPath, []byte(device), 0o644); err != nil {
		t.Fatal(err)
	}
	return runOn(t, jobText, devPath, id, during)
}

// runWithDevice is run on another device.
func runWithDevice(t *testing.T, jobText, devPath, id string) *outcome {
	t.Helper()
	return runOn(t, jobText, devPath, id, nil)
}

func runOn(t *testing.T, jobText, devPath, id string, during func(p *os.Process, out string)) *outcome {
	t.Helper()
	return runWith(t, jobText, devPath, id, during, nil, nil)
}

// runWith is runOn with extra arguments to basalt run and, when wrapper
// is not empty, basalt run as the last argument of the wrapper command
// (a private mount namespace, say).
func runWith(t *testing.T, jobText, devPath, id string, during func(p *os.Process, out string), wrapper, extra []string) *outcome {
	t.Helper()
	dir := t.TempDir()
	jobPath, out := filepath.Join(dir, "job.yaml"), filepath.Join(dir, "out")
	if err := os.WriteFile(jobPath, []byte(jobText), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	argv := append([]string{basalt, "run", jobPath, "--device", devPath, "--output-dir", out, "--job-id", id}, extra...)
	argv = append(append([]string(nil), wrapper...), argv...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if during != nil {
		during(cmd.Process, out)
	}
	err := cmd.Wait()
	o := &outcome{stdout: stdout.String(), elapsed: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		o.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("basalt output:\n%s", o.stdout)
		}
	})
	b, err := os.ReadFile(filepath.Join(out, "logs.yaml"))
	if err != nil {
		t.Fatalf("no logs.yaml: %v", err)
	}
	v, err := value.DecodeYAML(b)
	if err != nil {
		t.Fatalf("logs.yaml does not parse: %v", err)
	}
	for _, e := range v.([]any) {
		r := e.(*value.Map)
		o.log = append(o.log, r)
		if r.String("lvl") == "results" {
			m := r.Map("msg")
			o.results = append(o.results, m)
			if m.String("definition") == "lava" && m.String("case") == "job" {
				o.job = m
			}
		}
	}
	if o.job == nil {
		t.Fatal("no lava/job result in logs.yaml")
	}
	// Basalt has exited: what it killed may still be dying (lxc-attach's
	// pty child runs in its own session), so give it a moment. Only this
	// test's containers count (their names hold its pid): the machine may
	// run other LXC jobs meanwhile.
	if n := proctest.Linger(fmt.Sprintf("-%d", os.Getpid()), 5*time.Second); len(n) > 0 {
		for _, pid := range n {
			if cmd := proctest.Cmdline(pid); strings.HasPrefix(cmd, "lxc-attach") {
				t.Errorf("lxc-attach process left: %d %s", pid, cmd)
				proctest.Kill([]int{pid})
			}
		}
	}
	return o
}

func wantResult(t *testing.T, o *outcome, def, name, result string) {
	t.Helper()
	r := o.result(def, name)
	if r == nil {
		t.Errorf("no result %s/%s", def, name)
		return
	}
	if got := r.String("result"); got != result {
		t.Errorf("%s/%s = %s, want %s", def, name, got, result)
	}
}

// TestJob: the container is created with the job id appended to its
// name, the test runs inside it (its host name is the container's, it
// sees its own root), the results come back, and the container is gone.
func TestJob(t *testing.T) {
	needLXC(t)
	before := containers(t)
	name := unique("basalt-e2e")
	o := run(t, job(name, "",
		`lava-test-case hostname --shell test "$(hostname)" = `+name+`-31`,
		`lava-test-case own-root --shell test ! -e /var/lib/lxc`,
		`lava-test-case no-network --shell test "$(ls /sys/class/net | tr -d '\n')" = lo`,
		"lava-test-case expected-fail --shell false",
	), "31", nil)
	if o.code != 0 {
		t.Fatalf("exit %d, job %s", o.code, value.GoString(o.job))
	}
	wantResult(t, o, "0_in-lxc", "hostname", "pass")
	wantResult(t, o, "0_in-lxc", "own-root", "pass")
	wantResult(t, o, "0_in-lxc", "no-network", "pass")
	wantResult(t, o, "0_in-lxc", "expected-fail", "fail")
	wantResult(t, o, "lava", "lxc-create-action", "pass")
	if !o.logHas("issue destroy") {
		t.Errorf("the protocol did not destroy the container")
	}
	t.Logf("job took %s", o.elapsed.Round(time.Millisecond))
	noneLeft(t, before, name)
}

// TestPersist: a first job leaves its container (persist: true, the name
// without the job id); a second job of another id finds it, with what
// the first wrote, and leaves it too. The test destroys it at the end.
func TestPersist(t *testing.T) {
	needLXC(t)
	before := containers(t)
	name := unique("basalt-persist")
	t.Cleanup(func() {
		destroy(name)
		noneLeft(t, before, name)
	})
	first := run(t, job(name, "    persist: true\n",
		"echo first > /root/marker",
		"lava-test-case write-marker --shell grep -q first /root/marker",
	), "41", nil)
	if first.code != 0 {
		t.Fatalf("first job: exit %d, job %s", first.code, value.GoString(first.job))
	}
	wantResult(t, first, "0_in-lxc", "write-marker", "pass")
	if !slices.Contains(containers(t), name) {
		t.Fatalf("persistent container %s not kept after the first job", name)
	}
	if st, _ := exec.Command("lxc-info", "-sH", "-n", name).Output(); strings.TrimSpace(string(st)) != "STOPPED" {
		t.Errorf("persistent container state %q after the job, want STOPPED", st)
	}
	second := run(t, job(name, "    persist: true\n",
		"lava-test-case marker-kept --shell grep -q first /root/marker",
		`lava-test-case hostname --shell test "$(hostname)" = `+name,
	), "42", nil)
	if second.code != 0 {
		t.Fatalf("second job: exit %d, job %s", second.code, value.GoString(second.job))
	}
	if !second.logHas("Persistent container exists") {
		t.Errorf("the second job did not reuse the container")
	}
	wantResult(t, second, "0_in-lxc", "marker-kept", "pass")
	wantResult(t, second, "0_in-lxc", "hostname", "pass")
	if !slices.Contains(containers(t), name) {
		t.Errorf("persistent container %s not kept after the second job", name)
	}
}

// TestFailures: each failure ends the job with LAVA's class and leaves
// no container.
func TestFailures(t *testing.T) {
	needLXC(t)
	t.Run("template-fails", func(t *testing.T) {
		// The download template needs images.linuxcontainers.org,
		// which this machine cannot reach.
		before := containers(t)
		name := unique("basalt-dl")
		text := strings.Replace(job(name, "", "lava-test-case never --shell true"),
			"template: busybox\n    distribution: busybox\n    release: \"1\"",
			"template: download\n    distribution: debian\n    release: bookworm\n    arch: amd64", 1)
		o := run(t, text, "51", nil)
		if o.code == 0 {
			t.Fatal("exit 0 for a template that cannot download")
		}
		if got := o.job.String("error_type"); got != "Infrastructure" {
			t.Errorf("error_type %q, want Infrastructure (%s)", got, o.job.String("error_msg"))
		}
		if msg := o.job.String("error_msg"); !strings.Contains(msg, "Unable to create lxc container") {
			t.Errorf("error_msg %q", msg)
		}
		noneLeft(t, before, name)
	})
	t.Run("never-starts", func(t *testing.T) {
		// A persistent container whose init does not exist: lxc-start
		// cannot run it. The job reuses it, fails to start it, and
		// leaves it (it persists) stopped.
		before := containers(t)
		name := unique("basalt-nostart")
		conf := filepath.Join(t.TempDir(), "lxc.conf")
		os.WriteFile(conf, []byte("lxc.net.0.type = empty\n"), 0o644)
		if out, err := exec.Command("lxc-create", "-q", "-t", "busybox", "-n", name, "-f", conf).CombinedOutput(); err != nil {
			t.Fatalf("lxc-create: %v: %s", err, out)
		}
		t.Cleanup(func() {
			destroy(name)
			noneLeft(t, before, name)
		})
		f, err := os.OpenFile(filepath.Join("/var/lib/lxc", name, "config"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("lxc.init.cmd = /does/not/exist\n")
		f.Close()
		o := run(t, job(name, "    persist: true\n", "lava-test-case never --shell true"), "61", nil)
		if o.code == 0 {
			t.Fatal("exit 0 for a container that cannot start")
		}
		if got := o.job.String("error_type"); got != "Job" {
			t.Errorf("error_type %q, want Job (%s)", got, o.job.String("error_msg"))
		}
		if msg := o.job.String("error_msg"); !strings.Contains(msg, "Unable to start lxc container") {
			t.Errorf("error_msg %q", msg)
		}
		if st, _ := exec.Command("lxc-info", "-sH", "-n", name).Output(); strings.TrimSpace(string(st)) != "STOPPED" {
			t.Errorf("state %q after the job, want STOPPED", st)
		}
	})
	t.Run("already-exists", func(t *testing.T) {
		// A container of the job's name that this job did not make: an
		// InfrastructureError, as in LAVA, and (unlike LAVA) left alone.
		before := containers(t)
		name := unique("basalt-taken")
		full := name + "-71"
		conf := filepath.Join(t.TempDir(), "lxc.conf")
		os.WriteFile(conf, []byte("lxc.net.0.type = empty\n"), 0o644)
		if out, err := exec.Command("lxc-create", "-q", "-t", "busybox", "-n", full, "-f", conf).CombinedOutput(); err != nil {
			t.Fatalf("lxc-create: %v: %s", err, out)
		}
		t.Cleanup(func() {
			destroy(full)
			noneLeft(t, before, name)
		})
		o := run(t, job(name, "", "lava-test-case never --shell true"), "71", nil)
		if got := o.job.String("error_type"); got != "Infrastructure" {
			t.Errorf("error_type %q, want Infrastructure (%s)", got, o.job.String("error_msg"))
		}
		if msg := o.job.String("error_msg"); !strings.Contains(msg, "already exists") {
			t.Errorf("error_msg %q", msg)
		}
		if !slices.Contains(containers(t), full) {
			t.Errorf("the job destroyed a container it did not create")
		}
	})
	t.Run("canceled", func(t *testing.T) {
		before := containers(t)
		name := unique("basalt-cancel")
		o := run(t, job(name, "", "lava-test-case started --shell true", "sleep 600"), "81",
			func(p *os.Process, out string) {
				deadline := time.Now().Add(2 * time.Minute)
				for time.Now().Before(deadline) {
					b, _ := os.ReadFile(filepath.Join(out, "logs.yaml"))
					if bytes.Contains(b, []byte("started")) {
						p.Signal(syscall.SIGTERM)
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
				t.Errorf("the test never started")
				p.Signal(syscall.SIGTERM)
			})
		if got := o.job.String("error_type"); got != "Canceled" {
			t.Errorf("error_type %q, want Canceled (%s)", got, o.job.String("error_msg"))
		}
		noneLeft(t, before, name)
	})
	t.Run("test-fails-job", func(t *testing.T) {
		// A test action that times out inside the container: TestError,
		// and the container is still destroyed.
		before := containers(t)
		name := unique("basalt-timeout")
		text := strings.Replace(job(name, "", "sleep 600"), "- test:\n", "- test:\n    timeout: {seconds: 5}\n", 1)
		o := run(t, text, "91", nil)
		if got := o.job.String("error_type"); got != "Test" {
			t.Errorf("error_type %q, want Test (%s)", got, o.job.String("error_msg"))
		}
		noneLeft(t, before, name)
	})
}

// TestSIGKILL: a Basalt killed outright while its test runs in the
// container leaves no container: its janitor (internal/janitor), which
// outlives it, destroys the one it had listed.
func TestSIGKILL(t *testing.T) {
	needLXC(t)
	before := containers(t)
	name := unique("basalt-killed")
	t.Cleanup(func() { destroy(name + "-61") })
	dir := t.TempDir()
	devPath, jobPath, out := filepath.Join(dir, "lxc-01.jinja2"), filepath.Join(dir, "job.yaml"), filepath.Join(dir, "out")
	os.WriteFile(devPath, []byte(device), 0o644)
	os.WriteFile(jobPath, []byte(job(name, "", "lava-test-case started --result pass", "sleep 600")), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, basalt, "run", jobPath, "--device", devPath, "--output-dir", out, "--job-id", "61")
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(4 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if b, _ := os.ReadFile(filepath.Join(out, "logs.yaml")); bytes.Contains(b, []byte("TEST_CASE_ID=started RESULT=pass")) {
			break
		}
	}
	if !slices.Contains(containers(t), name+"-61") {
		t.Errorf("container %s-61 not there while the test runs: %v", name, containers(t))
	}
	cmd.Process.Kill()
	cmd.Wait() // until the janitor, which shares basalt's output, is done
	if !strings.Contains(stdout.String(), "basalt-janitor: Basalt ended without undoing LXC container "+name+"-61") {
		t.Errorf("the janitor did not say what it destroyed:\n%s", stdout.String())
	}
	noneLeft(t, before, name)
}
