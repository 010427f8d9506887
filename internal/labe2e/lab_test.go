package labe2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/store/storetest"
)

// The lab every case sets up: a server, the users and workers
// `basalt manage` adds, QEMU devices with the e2e tests' dictionary, and
// `basalt worker` processes. Its processes run in folders under the
// test's temporary folder and are killed, with whatever they started,
// when the test ends.

// deviceSpec is one device of a lab.
type deviceSpec struct {
	name, worker string
	deviceType   string // "qemu" when empty
	health       string // "Good" when empty
}

// labConfig says what to set up.
type labConfig struct {
	postgres    bool          // the server's database is PostgreSQL (BASALT_POSTGRES_DSN), else SQLite
	dsn         string        // the server's database, when neither
	lease       time.Duration // the server's --lease; zero for its default
	coordinator bool          // run the MultiNode coordinator (on a free port), else --coordinator off
	workers     []string
	devices     []deviceSpec
	// users are added besides "admin" (a superuser), each with a token.
	users []string
	// serverFlags are given to basalt server besides the lab's own.
	serverFlags []string
}

// lab is a running Basalt lab.
type lab struct {
	t          *testing.T
	cfg        labConfig
	dir        string
	db         string // --db
	addr       string // the server's listen address
	coordAddr  string
	tokens     map[string]string // user → API token
	wtokens    map[string]string // worker → worker token
	server     *proc
	workers    map[string]*proc
	mu         sync.Mutex
	serverRuns int
}

// newLab sets up and starts a lab; it is torn down when t ends.
func newLab(t *testing.T, cfg labConfig) *lab {
	t.Helper()
	l := &lab{t: t, cfg: cfg, dir: t.TempDir(), tokens: map[string]string{}, wtokens: map[string]string{}, workers: map[string]*proc{}}
	switch {
	case cfg.dsn != "":
		l.db = cfg.dsn
	case cfg.postgres:
		// A schema of its own, dropped when t ends: after the processes
		// below are stopped (cleanups run last registered first).
		l.db = storetest.PostgresDSN(t, true)
	default:
		l.db = filepath.Join(l.dir, "basalt.db")
	}
	l.addr = freeAddr(t)
	if cfg.coordinator {
		l.coordAddr = freeAddr(t)
	}
	for _, d := range []string{"data", "home"} {
		if err := os.MkdirAll(filepath.Join(l.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l.manage(t, "users", "add", "admin", "--superuser")
	l.tokens["admin"] = l.manage(t, "tokens", "add", "--user", "admin")
	for _, u := range cfg.users {
		l.manage(t, "users", "add", u)
		l.tokens[u] = l.manage(t, "tokens", "add", "--user", u)
	}
	for _, w := range cfg.workers {
		l.wtokens[w] = l.manage(t, "workers", "add", w)
	}
	types := map[string]bool{}
	for _, d := range cfg.devices {
		typ := d.deviceType
		if typ == "" {
			typ = "qemu"
		}
		if !types[typ] {
			l.manage(t, "device-types", "add", typ)
			types[typ] = true
		}
		l.manage(t, "devices", "add", d.name, "--device-type", typ, "--worker", d.worker,
			"--dictionary", filepath.Join(root, "internal", "e2e", "testdata", "device.jinja2"))
		// Good, as a lab's boards are once checked: the cases that want
		// a health check say so.
		health := d.health
		if health == "" {
			health = "Good"
		}
		l.manage(t, "devices", "update", d.name, "--health", health)
	}
	t.Cleanup(l.stopAll)
	l.startServer(t)
	for _, w := range cfg.workers {
		l.startWorker(t, w)
	}
	return l
}

// manage runs `basalt manage --db DB ARGS` and returns its output,
// trimmed; it must succeed.
func (l *lab) manage(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(basalt, append([]string{"manage", "--db", l.db}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("basalt manage %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (l *lab) serverArgs() []string {
	args := []string{"server", "--db", l.db, "--listen", l.addr, "--data-dir", filepath.Join(l.dir, "data")}
	if l.cfg.lease > 0 {
		args = append(args, "--lease", l.cfg.lease.String())
	}
	if l.coordAddr != "" {
		args = append(args, "--coordinator", l.coordAddr)
	} else {
		args = append(args, "--coordinator", "off")
	}
	return append(args, l.cfg.serverFlags...)
}

// startServer starts `basalt server` (again, after a kill: same database,
// data folder and address) and waits until it says it listens.
func (l *lab) startServer(t *testing.T) {
	t.Helper()
	l.serverRuns++
	l.server = startProc(t, fmt.Sprintf("server-%d", l.serverRuns), l.dir, basalt, l.serverArgs()...)
	l.server.waitOutput(t, "basalt server: listening on http://", 60*time.Second)
}

// killServer SIGKILLs the server and reaps it.
func (l *lab) killServer() {
	l.server.kill(syscall.SIGKILL)
}

func (l *lab) url() string { return "http://" + l.addr }

func (l *lab) workDir(name string) string { return filepath.Join(l.dir, "work-"+name) }

// jobsDir holds a worker's jobs' folders (jobs/ID/ under its work
// folder): their processes (QEMU) name it on their command line; the
// worker itself names only its work folder.
func (l *lab) jobsDir(name string) string { return filepath.Join(l.workDir(name), "jobs") + "/" }

// startWorker starts `basalt worker NAME` and waits until its first poll
// succeeded.
func (l *lab) startWorker(t *testing.T, name string) {
	t.Helper()
	tokenFile := filepath.Join(l.dir, "token-"+name)
	if err := os.WriteFile(tokenFile, []byte(l.wtokens[name]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, "worker-"+name, l.dir, basalt, "worker", "--url", l.url(), "--name", name,
		"--token-file", tokenFile, "--work-dir", l.workDir(name))
	l.mu.Lock()
	l.workers[name] = p
	l.mu.Unlock()
	p.waitOutput(t, "basalt worker "+name+": connected to", 60*time.Second)
}

// killWorker SIGKILLs the worker process alone, as a crash would, and
// reaps it. What it started is left as the crash leaves it (the test
// ends it: stopAll).
func (l *lab) killWorker(name string) {
	l.workers[name].killOne(syscall.SIGKILL)
}

// stopAll stops the workers, then the server, then whatever they left
// behind (QEMU below a killed worker), and shows their output when the
// test failed.
func (l *lab) stopAll() {
	for name, p := range l.workers {
		p.kill(syscall.SIGTERM)
		for _, pid := range processesMentioning(l.jobsDir(name)) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if l.server != nil {
		l.server.kill(syscall.SIGTERM)
	}
	if l.t.Failed() {
		entries, _ := os.ReadDir(l.dir)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".out") {
				b, _ := os.ReadFile(filepath.Join(l.dir, e.Name()))
				l.t.Logf("%s:\n%s", e.Name(), lastLines(string(b), 60))
			}
		}
	}
}

// proc is a process of the lab, its output in DIR/NAME.out.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  string
	done chan struct{}
	err  error
}

func startProc(t *testing.T, name, dir, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, out: filepath.Join(dir, name+".out"), done: make(chan struct{})}
	f, err := os.OpenFile(p.out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	// A group of its own, so that what it starts can be ended with it.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p
}

// output is what the process wrote so far.
func (p *proc) output() string {
	b, _ := os.ReadFile(p.out)
	return string(b)
}

// waitOutput waits until the process wrote s; it fails the test when the
// process ends first or after d.
func (p *proc) waitOutput(t *testing.T, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(p.output(), s) {
		select {
		case <-p.done:
			t.Fatalf("%s ended (%v) before writing %q:\n%s", p.name, p.err, s, lastLines(p.output(), 40))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not write %q within %s:\n%s", p.name, s, d, lastLines(p.output(), 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill signals the process's group and reaps the process; a SIGTERM
// that is not obeyed within 30 s becomes a SIGKILL.
func (p *proc) kill(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	syscall.Kill(-p.cmd.Process.Pid, sig)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// killOne signals the process alone and reaps it.
func (p *proc) killOne(sig syscall.Signal) {
	p.cmd.Process.Signal(sig)
	<-p.done
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// run is one lavacli command's outcome.
type run struct {
	args   []string
	stdout string
	stderr string
	code   int
}

func (r run) String() string {
	return fmt.Sprintf("lavacli %s → exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// uri is the lavacli --uri of user (with its token) on this lab.
func (l *lab) uri(user string) string {
	return fmt.Sprintf("http://%s:%s@%s/RPC2", user, l.tokens[user], l.addr)
}

// lavacli runs c as user with args; HOME is the lab's, so no identity
// file of the machine's is read.
func (l *lab) lavacli(t *testing.T, c lavacli, user string, args ...string) run {
	t.Helper()
	return l.lavacliURI(t, c, l.uri(user), args...)
}

func (l *lab) lavacliURI(t *testing.T, c lavacli, uri string, args ...string) run {
	t.Helper()
	r, err := l.exec(c, uri, args...)
	if err != nil {
		t.Fatalf("lavacli %v: %v", args, err)
	}
	transcript(t, c, r)
	return r
}

// exec runs lavacli; the error is one of running it, not its exit status.
func (l *lab) exec(c lavacli, uri string, args ...string) (run, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	argv := append([]string{"--uri", uri}, args...)
	cmd := exec.CommandContext(ctx, c.bin, argv...)
	home := filepath.Join(l.dir, "home")
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "PYTHONDONTWRITEBYTECODE=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := run{args: args, stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
		err = nil
	}
	return r, err
}

// ok fails the test unless the command exited 0.
func ok(t *testing.T, r run) run {
	t.Helper()
	if r.code != 0 {
		t.Errorf("%s", r)
	}
	return r
}

// fields reads lavacli's "key : value" listing (jobs show, devices show).
func fields(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, found := strings.Cut(line, ":")
		if found {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// transcripts keeps every lavacli command and its output, written to
// $BASALT_LABE2E_TRANSCRIPT (when set) as the record of what was checked.
var transcripts struct {
	sync.Mutex
	b strings.Builder
}

func transcript(t *testing.T, c lavacli, r run) {
	transcripts.Lock()
	defer transcripts.Unlock()
	fmt.Fprintf(&transcripts.b, "### %s  %s\n$ lavacli %s   (exit %d)\n%s", t.Name(), c.name, strings.Join(r.args, " "), r.code, clip(r.stdout, 40))
	if r.stderr != "" {
		fmt.Fprintf(&transcripts.b, "[stderr]\n%s", clip(r.stderr, 20))
	}
	transcripts.b.WriteString("\n")
	if path := os.Getenv("BASALT_LABE2E_TRANSCRIPT"); path != "" {
		os.WriteFile(path, []byte(transcripts.b.String()), 0o644)
	}
}

// clip keeps the first n lines of s (and says how many it dropped).
func clip(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) <= n {
		return s
	}
	return strings.Join(lines[:n], "") + fmt.Sprintf("... (%d more lines)\n", len(lines)-n)
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitFor polls cond until it holds; after d it fails the test with what.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(time.Second)
	}
}

func processesMentioning(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(s)) {
			stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			if i := bytes.LastIndexByte(stat, ')'); i > 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
				continue
			}
			pids = append(pids, pid)
		}
	}
	return pids
}

// The fixtures' HTTP server, one for the package: the jobs' images.
var fixtureServer struct {
	once sync.Once
	url  string
}

// fixturesURL serves the fixtures on 127.0.0.1; /hang/NAME answers with
// headers and a few bytes and then nothing until the client goes (a
// download that keeps a job Running without QEMU).
func fixturesURL() string {
	fixtureServer.once.Do(func() {
		mux := http.NewServeMux()
		mux.HandleFunc("/hang/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100000000")
			w.Write(bytes.Repeat([]byte{0}, 4096))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		})
		mux.Handle("/", http.FileServer(http.Dir(fixtures)))
		fixtureServer.url = httptest.NewServer(mux).URL
	})
	return fixtureServer.url
}

// jobSpec fills the placeholders of internal/e2e/testdata/job.yaml, the
// QEMU job of the e2e tests.
type jobSpec struct {
	name        string
	kernelURL   string
	visibility  string // public when empty
	deviceType  string // qemu when empty
	steps       []string
	testTimeout int
}

func (s jobSpec) yaml(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "internal", "e2e", "testdata", "job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	url := fixturesURL()
	if s.kernelURL == "" {
		s.kernelURL = url + "/vmlinuz"
	}
	if s.testTimeout == 0 {
		s.testTimeout = 120
	}
	var steps strings.Builder
	for _, st := range s.steps {
		fmt.Fprintf(&steps, "          - %s\n", st)
	}
	r := strings.NewReplacer("@CASE@", s.name, "@URL@", url, "@KERNEL_URL@", s.kernelURL,
		"@KERNEL_EXTRA@", "", "@CONTEXT@", "", "@BOOT_EXTRA@", "",
		"@PROMPT@", "root@basalt:~# ", "@BOOT_TIMEOUT@", "180",
		"@TEST_TIMEOUT@", fmt.Sprint(s.testTimeout), "@STEPS@", strings.TrimRight(steps.String(), "\n"),
		"@DEFINITIONS@", "")
	y := r.Replace(string(b))
	if s.visibility != "" {
		y = strings.Replace(y, "visibility: public", "visibility: "+s.visibility, 1)
	}
	if s.deviceType != "" {
		y = strings.Replace(y, "device_type: qemu", "device_type: "+s.deviceType, 1)
	}
	return y
}

// file writes s to a new file under t's temporary folder.
func file(t *testing.T, name, s string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var jobIDLine = regexp.MustCompile(`(?m)^(\d+)\s*$`)

// submitted reads the job id lavacli's `jobs submit` printed.
func submitted(t *testing.T, r run) string {
	t.Helper()
	m := jobIDLine.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("no job id from the submission: %s", r)
	}
	return m[1]
}
