// Package e2e runs `basalt run` as a user does: the real binary, real
// QEMU under TCG on the fixtures from `make fixtures`, images over a real
// HTTP server on 127.0.0.1, test definitions from a real git repository.
// Each case checks how the job ended (exit status, error class, message),
// that logs.yaml and the results were written, and that no process the
// job started is left behind.
package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/proctest"
	"github.com/basalt-lava/basalt/internal/value"
)

var (
	basalt   string // the binary under test
	fixtures string // build/fixtures/x86_64
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// Every test here boots QEMU and skips under -short (make
		// test-fast): no binary to build for them.
		os.Exit(m.Run())
	}
	root, _ := filepath.Abs("../..")
	fixtures = filepath.Join(root, "build", "fixtures", "x86_64")
	dir, err := os.MkdirTemp("", "basalt-e2e-bin-")
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

// needFixtures skips under -short (the inner loop's `make test-fast`:
// every test here boots QEMU), and without the fixtures, unless
// BASALT_E2E=1 (make check sets it after building them), when their
// absence is a failure.
func needFixtures(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("boots QEMU: skipped under -short")
	}
	for _, f := range []string{"vmlinuz", "rootfs.cpio.gz"} {
		if _, err := os.Stat(filepath.Join(fixtures, f)); err != nil {
			if os.Getenv("BASALT_E2E") == "1" {
				t.Fatalf("fixture missing (run `make fixtures`): %v", err)
			}
			t.Skipf("fixture missing, run `make fixtures`: %v", err)
		}
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		if os.Getenv("BASALT_E2E") == "1" {
			t.Fatal("qemu-system-x86_64 is not installed")
		}
		t.Skip("qemu-system-x86_64 is not installed")
	}
}

// server serves the fixtures and whatever extra files a case needs.
func server(t *testing.T, extra map[string][]byte) string {
	t.Helper()
	mux := http.NewServeMux()
	for name, body := range extra {
		mux.HandleFunc("/extra/"+name, func(w http.ResponseWriter, _ *http.Request) { w.Write(body) })
	}
	mux.Handle("/", http.FileServer(http.Dir(fixtures)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// jobSpec fills the placeholders of testdata/job.yaml.
type jobSpec struct {
	kernelURL, kernelExtra string
	context, bootExtra     string
	prompt                 string
	bootTimeout            int
	testTimeout            int
	steps                  []string
	definitions            string
}

func (s jobSpec) render(t *testing.T, name, url string) string {
	t.Helper()
	tmpl, err := os.ReadFile("testdata/job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.kernelURL == "" {
		s.kernelURL = url + "/vmlinuz"
	}
	if s.prompt == "" {
		s.prompt = "root@basalt:~# "
	}
	if s.bootTimeout == 0 {
		s.bootTimeout = 180
	}
	if s.testTimeout == 0 {
		s.testTimeout = 120
	}
	var steps strings.Builder
	for _, st := range s.steps {
		fmt.Fprintf(&steps, "          - %s\n", st)
	}
	r := strings.NewReplacer("@CASE@", name, "@URL@", url, "@KERNEL_URL@", s.kernelURL,
		"@KERNEL_EXTRA@", s.kernelExtra, "@CONTEXT@", s.context, "@BOOT_EXTRA@", s.bootExtra,
		"@PROMPT@", s.prompt, "@BOOT_TIMEOUT@", fmt.Sprint(s.bootTimeout),
		"@TEST_TIMEOUT@", fmt.Sprint(s.testTimeout), "@STEPS@", strings.TrimRight(steps.String(), "\n"),
		"@DEFINITIONS@", s.definitions)
	path := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(path, []byte(r.Replace(string(tmpl))), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// outcome is how one `basalt run` ended.
type outcome struct {
	code    int
	stdout  string
	dir     string
	log     []*value.Map
	job     *value.Map // the lava/job result
	results []*value.Map
}

func (o *outcome) errorType() string { return o.job.String("error_type") }

func (o *outcome) result(def, name string) *value.Map {
	for _, r := range o.results {
		if r.String("definition") == def && r.String("case") == name {
			return r
		}
	}
	return nil
}

func (o *outcome) logHas(lvl, substr string) bool {
	for _, r := range o.log {
		if (lvl == "" || r.String("lvl") == lvl) && strings.Contains(fmt.Sprint(r.Value("msg")), substr) {
			return true
		}
	}
	return false
}

// runJob runs basalt on the job; during, if not nil, gets the process
// and the output folder while the job runs (to signal it).
func runJob(t *testing.T, jobPath string, during func(p *os.Process, dir string)) *outcome {
	t.Helper()
	o := basaltRun(t, runSpec{job: jobPath, devices: []string{"testdata/device.jinja2"}, id: "4242",
		limit: 10 * time.Minute, during: during, tail: 60})
	o.readLog(t)
	for _, f := range []string{"results.yaml", "results.xml", "description.yaml"} {
		if _, err := os.Stat(filepath.Join(o.dir, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	return o
}

// runSpec is one run of basalt by a test: `basalt run job --device D...
// --job-id id`, its output and scratch folders in a new temporary folder.
type runSpec struct {
	job     string
	devices []string // each a --device argument (PATH or ROLE=PATH)
	id      string   // --job-id
	args    []string // added to the command line last
	limit   time.Duration
	env     []string // added to basalt's environment
	// during, when set, gets the process and its output folder while
	// the job runs (to signal it).
	during func(p *os.Process, dir string)
	tail   int // lines of basalt's output logged when the test fails
}

// basaltRun runs basalt as r says, waits for it, and checks no process
// of the job is left (assertNoLeftovers); the outcome has basalt's exit
// code, output and output folder, its log not read yet.
func basaltRun(t *testing.T, r runSpec) *outcome {
	t.Helper()
	dir := t.TempDir()
	out, tmp := filepath.Join(dir, "out"), filepath.Join(dir, "tmp")
	ctx, cancel := context.WithTimeout(context.Background(), r.limit)
	defer cancel()
	argv := []string{"run", r.job}
	for _, d := range r.devices {
		argv = append(argv, "--device", d)
	}
	argv = append(argv, "--output-dir", out, "--tmp-dir", tmp, "--job-id", r.id)
	argv = append(argv, r.args...)
	cmd := exec.CommandContext(ctx, basalt, argv...)
	if r.env != nil {
		cmd.Env = append(os.Environ(), r.env...)
	}
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if r.during != nil {
		r.during(cmd.Process, out)
	}
	err := cmd.Wait()
	o := &outcome{stdout: stdout.String(), dir: out}
	if ee, ok := err.(*exec.ExitError); ok {
		o.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("basalt output:\n%s", lastLines(o.stdout, r.tail))
		}
	})
	assertNoLeftovers(t, tmp)
	return o
}

// readLog reads the job's logs.yaml into o: every line, the results,
// and the lava/job result, which must be there.
func (o *outcome) readLog(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(o.dir, "logs.yaml"))
	if err != nil {
		t.Fatalf("no logs.yaml: %v", err)
	}
	v, err := value.DecodeYAML(b)
	if err != nil {
		t.Fatalf("%s/logs.yaml does not parse: %v", o.dir, err)
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
		t.Fatalf("%s: no lava/job result in logs.yaml", o.dir)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// assertNoLeftovers fails when a process still mentions the job's
// scratch folder on its command line (QEMU does: its kernel is there).
func assertNoLeftovers(t *testing.T, tmp string) {
	t.Helper()
	if left := proctest.Linger(tmp, 5*time.Second); len(left) > 0 {
		proctest.Kill(left)
		t.Fatalf("processes left behind: %v", left)
	}
}

func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// The job a user runs: it completes, every kind of result is recorded,
// a failing test case does not make the job incomplete.
func TestCompleteJob(t *testing.T) {
	needFixtures(t)
	url := server(t, nil)
	// The guest also prints a case name that is not UTF-8 and holds a
	// control character: the results keep it, escaped.
	o := runJob(t, jobSpec{steps: []string{"lava-test-case uname --shell uname -a",
		`lava-test-case "$(printf 'bad\377\001name')" --result pass`}}.render(t, "complete", url), nil)
	if o.code != 0 {
		t.Fatalf("exit %d, job %v", o.code, value.GoString(o.job))
	}
	for name, want := range map[string]string{"always-pass": "pass", "always-fail": "fail", "measured": "pass", "skipped": "skip", "uname": "pass"} {
		r := o.result("0_e2e-smoke", name)
		if r == nil || r.String("result") != want {
			t.Errorf("%s: got %v, want %s", name, value.GoString(r), want)
		}
	}
	if m := o.result("0_e2e-smoke", "measured"); m != nil && fmt.Sprint(m.Value("measurement")) != "42.5" {
		t.Errorf("measurement %v", m.Value("measurement"))
	}
	if r := o.result("lava", "0_e2e-smoke"); r == nil || r.String("result") != "pass" {
		t.Errorf("lava/0_e2e-smoke: %v", value.GoString(r))
	}
	for _, a := range []string{"http-download", "apply-overlay-guest", "execute-qemu", "login-action", "lava-test-shell", "power-off"} {
		if r := o.result("lava", a); r == nil || r.String("result") != "pass" {
			t.Errorf("lava/%s: %v", a, value.GoString(r))
		}
	}
	xml, _ := os.ReadFile(filepath.Join(o.dir, "results.xml"))
	if !bytes.Contains(xml, []byte(`name="always-fail"`)) || !bytes.Contains(xml, []byte(`name="bad\xFF\x01name"`)) {
		t.Errorf("results.xml lacks always-fail or bad\\xFF\\x01name:\n%s", xml)
	}
	if r := o.result("0_e2e-smoke", `bad\xFF\x01name`); r == nil || r.String("result") != "pass" {
		t.Errorf(`bad\xFF\x01name: got %v, want pass`, value.GoString(r))
	}
	y, err := os.ReadFile(filepath.Join(o.dir, "results.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := value.DecodeYAML(y); err != nil || !bytes.Contains(y, []byte(`bad\xFF\x01name`)) {
		t.Errorf("results.yaml (%v) lacks bad\\xFF\\x01name:\n%s", err, y)
	}
}

// failureCase is one way a job ends incomplete.
type failureCase struct {
	name      string
	spec      func(t *testing.T, url string) jobSpec
	extra     map[string][]byte
	qemu      bool
	errorType string
	message   string // in the job's error_msg
	during    func(t *testing.T) func(p *os.Process, dir string)
	check     func(t *testing.T, o *outcome)
}

func TestFailures(t *testing.T) {
	needFixtures(t)
	cases := []failureCase{
		{
			name:      "http-404",
			spec:      func(_ *testing.T, url string) jobSpec { return jobSpec{kernelURL: url + "/no-such-kernel"} },
			errorType: "Job", message: "404",
		},
		{
			name: "connection-refused",
			spec: func(t *testing.T, _ string) jobSpec {
				return jobSpec{kernelURL: "http://" + closedPort(t) + "/vmlinuz"}
			},
			errorType: "Infrastructure", message: "refused",
		},
		{
			name: "checksum-mismatch",
			spec: func(_ *testing.T, _ string) jobSpec {
				// Letters, so that YAML does not read the sum as a number.
				return jobSpec{kernelExtra: "        sha256sum: " + strings.Repeat("deadbeef", 8)}
			},
			errorType: "Job", message: "does not match",
		},
		{
			name:  "corrupt-archive",
			extra: map[string][]byte{"vmlinuz.xz": bytes.Repeat([]byte("not xz at all "), 1000)},
			spec: func(_ *testing.T, url string) jobSpec {
				return jobSpec{kernelURL: url + "/extra/vmlinuz.xz", kernelExtra: "        compression: xz"}
			},
			errorType: "Job", message: "xz",
		},
		{
			name: "git-repo-missing",
			spec: func(t *testing.T, _ string) jobSpec {
				return jobSpec{definitions: gitDefinition(filepath.Join(t.TempDir(), "no-such-repo"), "")}
			},
			errorType: "Infrastructure", message: "no-such-repo",
		},
		{
			name: "git-revision-missing",
			spec: func(t *testing.T, _ string) jobSpec {
				return jobSpec{definitions: gitDefinition(gitRepo(t), strings.Repeat("d", 40))}
			},
			// LAVA classes every git failure as infrastructure.
			errorType: "Infrastructure", message: "dddddddd",
		},
		{
			name: "qemu-exits-early",
			qemu: true,
			spec: func(_ *testing.T, _ string) jobSpec {
				return jobSpec{context: "  extra_options:\n  - -no-such-qemu-option"}
			},
			errorType: "Infrastructure", message: "QEMU",
		},
		{
			name: "no-prompt",
			qemu: true,
			spec: func(_ *testing.T, _ string) jobSpec {
				return jobSpec{prompt: "this-prompt-never-comes# ", bootTimeout: 40, bootExtra: "    failure_retry: 2"}
			},
			// LAVA's login-action times out with a JobError.
			errorType: "Job", message: "timed out",
			check: func(t *testing.T, o *outcome) {
				if !o.logHas("", "2 of 2 attempts") && !o.logHas("", "retries out of 2") {
					t.Errorf("no second boot attempt in the log")
				}
			},
		},
		{
			name: "hung-test",
			qemu: true,
			spec: func(_ *testing.T, _ string) jobSpec {
				return jobSpec{testTimeout: 30, steps: []string{"sleep 1000"}}
			},
			errorType: "Test", message: "timed out",
			check: func(t *testing.T, o *outcome) {
				// Results that came before the hang are kept.
				if r := o.result("0_e2e-smoke", "always-pass"); r == nil {
					t.Errorf("partial result always-pass lost")
				}
			},
		},
		{
			name: "sigterm-during-test",
			qemu: true,
			spec: func(_ *testing.T, _ string) jobSpec {
				return jobSpec{steps: []string{"sleep 1000"}}
			},
			during:    signalWhenLogged("always-fail", syscall.SIGTERM),
			errorType: "Canceled", message: "canceled",
			check: func(t *testing.T, o *outcome) {
				if r := o.result("0_e2e-smoke", "always-fail"); r == nil {
					t.Errorf("partial result always-fail lost")
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !c.qemu {
				// Only QEMU needs the machine's two cores to itself.
				t.Parallel()
			}
			url := server(t, c.extra)
			var during func(*os.Process, string)
			if c.during != nil {
				during = c.during(t)
			}
			o := runJob(t, c.spec(t, url).render(t, c.name, url), during)
			if o.code == 0 {
				t.Fatalf("exit 0 for a job that should fail")
			}
			if got := o.errorType(); got != c.errorType {
				t.Errorf("error_type %q, want %q (%s)", got, c.errorType, o.job.String("error_msg"))
			}
			if msg := o.job.String("error_msg"); !strings.Contains(msg, c.message) {
				t.Errorf("error_msg %q lacks %q", msg, c.message)
			}
			if !strings.Contains(lastLines(o.stdout, 3), "job incomplete: "+c.errorType) {
				t.Errorf("last lines do not say how the job ended:\n%s", lastLines(o.stdout, 3))
			}
			if c.check != nil {
				c.check(t, o)
			}
		})
	}
}

// signalWhenLogged sends sig once logs.yaml contains marker.
func signalWhenLogged(marker string, sig syscall.Signal) func(t *testing.T) func(*os.Process, string) {
	return func(t *testing.T) func(*os.Process, string) {
		return func(p *os.Process, dir string) {
			deadline := time.Now().Add(5 * time.Minute)
			for time.Now().Before(deadline) {
				b, _ := os.ReadFile(filepath.Join(dir, "logs.yaml"))
				if bytes.Contains(b, []byte(marker)) {
					p.Signal(sig)
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
			t.Errorf("%q never logged", marker)
			p.Signal(sig)
		}
	}
}

// gitDefinition is a test definition from a git repository.
func gitDefinition(repo, revision string) string {
	s := "    - from: git\n      repository: " + repo + "\n      path: smoke.yaml\n      name: from-git\n"
	if revision != "" {
		s += "      revision: " + revision + "\n"
	}
	return s
}

// gitRepo makes a real git repository holding smoke.yaml.
func gitRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	def := "metadata:\n  format: Lava-Test Test Definition 1.0\n  name: from-git\n  description: git\nrun:\n  steps:\n  - lava-test-case git-case --result pass\n"
	if err := os.WriteFile(filepath.Join(dir, "smoke.yaml"), []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "smoke.yaml"},
		{"-c", "user.name=e2e", "-c", "user.email=e2e@example.org", "commit", "-q", "-m", "smoke"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}
