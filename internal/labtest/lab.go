package labtest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/proctest"
	"github.com/basalt-lava/basalt/internal/store/storetest"
)

// The lab a case sets up: a server, the users and workers `basalt
// manage` adds, QEMU devices with the e2e tests' dictionary, and
// `basalt worker` processes. Its processes run in folders under the
// test's temporary folder and are killed, with whatever they started,
// when the test ends.

// Device is one device of a lab.
type Device struct {
	Name, Worker string
	DeviceType   string // "qemu" when empty
	Health       string // "Good" when empty
	Dictionary   string // the dictionary's file; DeviceDictionary when empty
}

// Config says what to set up.
type Config struct {
	Postgres    bool          // the server's database is PostgreSQL (BASALT_POSTGRES_DSN), else SQLite
	DSN         string        // the server's database, when neither
	Lease       time.Duration // the server's --lease; zero for its default
	Coordinator bool          // run the MultiNode coordinator (on a free port), else --coordinator off
	Workers     []string
	Devices     []Device
	// Users are added besides "admin" (a superuser), each with a token.
	Users []string
	// Passwords are users' passwords (admin's too), for a login page;
	// a user without one authenticates with its token only.
	Passwords map[string]string
	// ServerArgs are more arguments of `basalt server`; WorkerArgs of
	// every `basalt worker`.
	ServerArgs []string
	WorkerArgs []string
}

// Lab is a running Basalt lab.
type Lab struct {
	T         testing.TB
	Cfg       Config
	Dir       string
	DB        string // --db
	Addr      string // the server's listen address
	CoordAddr string
	Tokens    map[string]string // user → API token
	WTokens   map[string]string // worker → worker token
	Server    *Proc

	mu         sync.Mutex
	workers    map[string]*Proc
	serverRuns int
}

// Start sets up and starts a lab; it is torn down when t ends.
func Start(t *testing.T, cfg Config) *Lab {
	t.Helper()
	l := &Lab{T: t, Cfg: cfg, Dir: t.TempDir(), Tokens: map[string]string{}, WTokens: map[string]string{}, workers: map[string]*Proc{}}
	switch {
	case cfg.DSN != "":
		l.DB = cfg.DSN
	case cfg.Postgres:
		// A schema of its own, dropped when t ends: after the processes
		// below are stopped (cleanups run last registered first).
		l.DB = storetest.PostgresDSN(t, true)
	default:
		l.DB = filepath.Join(l.Dir, "basalt.db")
	}
	l.Addr = FreeAddr(t)
	if cfg.Coordinator {
		l.CoordAddr = FreeAddr(t)
	}
	for _, d := range []string{"data", "home"} {
		if err := os.MkdirAll(filepath.Join(l.Dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l.Manage(t, append([]string{"users", "add", "admin", "--superuser"}, passwd(cfg, "admin")...)...)
	l.Tokens["admin"] = l.Manage(t, "tokens", "add", "--user", "admin")
	for _, u := range cfg.Users {
		l.Manage(t, append([]string{"users", "add", u}, passwd(cfg, u)...)...)
		l.Tokens[u] = l.Manage(t, "tokens", "add", "--user", u)
	}
	for _, w := range cfg.Workers {
		l.WTokens[w] = l.Manage(t, "workers", "add", w)
	}
	types := map[string]bool{}
	for _, d := range cfg.Devices {
		typ := d.DeviceType
		if typ == "" {
			typ = "qemu"
		}
		if !types[typ] {
			l.Manage(t, "device-types", "add", typ)
			types[typ] = true
		}
		dict := d.Dictionary
		if dict == "" {
			dict = DeviceDictionary()
		}
		l.Manage(t, "devices", "add", d.Name, "--device-type", typ, "--worker", d.Worker,
			"--dictionary", dict)
		// Good, as a lab's boards are once checked: the cases that want
		// a health check say so.
		health := d.Health
		if health == "" {
			health = "Good"
		}
		l.Manage(t, "devices", "update", d.Name, "--health", health)
	}
	t.Cleanup(l.stopAll)
	l.StartServer(t)
	for _, w := range cfg.Workers {
		l.StartWorker(t, w)
	}
	return l
}

// passwd is the arguments of `manage users add` giving user its password.
func passwd(cfg Config, user string) []string {
	if pw, ok := cfg.Passwords[user]; ok {
		return []string{"--passwd", pw}
	}
	return nil
}

// DeviceDictionary is the e2e tests' QEMU device dictionary.
func DeviceDictionary() string {
	return filepath.Join(Root, "internal", "e2e", "testdata", "device.jinja2")
}

// Manage runs `basalt manage --db DB ARGS` and returns its output,
// trimmed; it must succeed.
func (l *Lab) Manage(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(Basalt, append([]string{"manage", "--db", l.DB}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("basalt manage %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (l *Lab) serverArgs() []string {
	args := []string{"server", "--db", l.DB, "--listen", l.Addr, "--data-dir", filepath.Join(l.Dir, "data")}
	if l.Cfg.Lease > 0 {
		args = append(args, "--lease", l.Cfg.Lease.String())
	}
	if l.CoordAddr != "" {
		args = append(args, "--coordinator", l.CoordAddr)
	} else {
		args = append(args, "--coordinator", "off")
	}
	return append(args, l.Cfg.ServerArgs...)
}

// StartServer starts `basalt server` (again, after a kill: same database,
// data folder and address) and waits until it says it listens.
func (l *Lab) StartServer(t testing.TB) {
	t.Helper()
	l.serverRuns++
	l.Server = StartProc(t, fmt.Sprintf("server-%d", l.serverRuns), l.Dir, Basalt, l.serverArgs()...)
	l.Server.WaitOutput(t, "basalt server: listening on http://", 60*time.Second)
}

// KillServer SIGKILLs the server and reaps it.
func (l *Lab) KillServer() {
	l.Server.Kill(syscall.SIGKILL)
}

// URL is the server's base URL, without a final slash.
func (l *Lab) URL() string { return "http://" + l.Addr }

// WorkDir is a worker's --work-dir.
func (l *Lab) WorkDir(name string) string { return filepath.Join(l.Dir, "work-"+name) }

// JobsDir holds a worker's jobs' folders (jobs/ID/ under its work
// folder): their processes (QEMU) name it on their command line; the
// worker itself names only its work folder.
func (l *Lab) JobsDir(name string) string { return filepath.Join(l.WorkDir(name), "jobs") + "/" }

// Worker is the process of a worker.
func (l *Lab) Worker(name string) *Proc {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.workers[name]
}

// StartWorker starts `basalt worker NAME` and waits until its first poll
// succeeded.
func (l *Lab) StartWorker(t testing.TB, name string) {
	t.Helper()
	tokenFile := filepath.Join(l.Dir, "token-"+name)
	if err := os.WriteFile(tokenFile, []byte(l.WTokens[name]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"worker", "--url", l.URL(), "--name", name,
		"--token-file", tokenFile, "--work-dir", l.WorkDir(name)}, l.Cfg.WorkerArgs...)
	p := StartProc(t, "worker-"+name, l.Dir, Basalt, args...)
	l.mu.Lock()
	l.workers[name] = p
	l.mu.Unlock()
	p.WaitOutput(t, "basalt worker "+name+": connected to", 60*time.Second)
}

// KillWorker SIGKILLs the worker process alone, as a crash would, and
// reaps it. What it started is left as the crash leaves it (the test
// ends it: stopAll).
func (l *Lab) KillWorker(name string) {
	l.Worker(name).KillOne(syscall.SIGKILL)
}

// stopAll stops the workers, then the server, then whatever they left
// behind (QEMU below a killed worker), and shows their output when the
// test failed.
func (l *Lab) stopAll() {
	l.mu.Lock()
	workers := l.workers
	l.mu.Unlock()
	for name, p := range workers {
		p.Kill(syscall.SIGTERM)
		for _, pid := range ProcessesMentioning(l.JobsDir(name)) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if l.Server != nil {
		l.Server.Kill(syscall.SIGTERM)
	}
	if l.T.Failed() {
		entries, _ := os.ReadDir(l.Dir)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".out") {
				b, _ := os.ReadFile(filepath.Join(l.Dir, e.Name()))
				l.T.Logf("%s:\n%s", e.Name(), LastLines(string(b), 60))
			}
		}
	}
}

// Proc is a process of a test, its output in DIR/NAME.out.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	Out  string // the file of its standard output and error
	done chan struct{}
	err  error
}

// StartProc starts bin in a process group of its own (registered with
// the reaper), its output appended to DIR/NAME.out. The test ends it
// (Kill); the reaper does when the test binary dies first.
func StartProc(t testing.TB, name, dir, bin string, args ...string) *Proc {
	t.Helper()
	return StartProcEnv(t, name, dir, nil, bin, args...)
}

// StartProcEnv is StartProc with env added to the test's environment.
func StartProcEnv(t testing.TB, name, dir string, env []string, bin string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Name: name, Out: filepath.Join(dir, name+".out"), done: make(chan struct{})}
	f, err := os.OpenFile(p.Out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p.Cmd = exec.Command(bin, args...)
	if len(env) > 0 {
		p.Cmd.Env = append(os.Environ(), env...)
	}
	p.Cmd.Stdout, p.Cmd.Stderr = f, f
	// A group of its own, so that what it starts can be ended with it.
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.Cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	pgid := p.Cmd.Process.Pid
	Reap(pgid)
	go func() {
		p.err = p.Cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p
}

// Err is how the process ended (nil for exit status 0); read it after
// Done is closed.
func (p *Proc) Err() error { return p.err }

// Done is closed once the process ended and was reaped.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Output is what the process wrote so far.
func (p *Proc) Output() string {
	b, _ := os.ReadFile(p.Out)
	return string(b)
}

// WaitOutput waits until the process wrote s; it fails the test when the
// process ends first or after d.
func (p *Proc) WaitOutput(t testing.TB, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(p.Output(), s) {
		select {
		case <-p.done:
			t.Fatalf("%s ended (%v) before writing %q:\n%s", p.Name, p.err, s, LastLines(p.Output(), 40))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not write %q within %s:\n%s", p.Name, s, d, LastLines(p.Output(), 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Kill signals the process's group and reaps the process; a SIGTERM
// that is not obeyed within 30 s becomes a SIGKILL. What is left of the
// group then gets a SIGKILL too.
func (p *Proc) Kill(sig syscall.Signal) {
	pgid := p.Cmd.Process.Pid
	select {
	case <-p.done:
	default:
		syscall.Kill(-pgid, sig)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
	}
	syscall.Kill(-pgid, syscall.SIGKILL)
	Unreap(pgid)
}

// KillOne signals the process alone and reaps it.
func (p *Proc) KillOne(sig syscall.Signal) {
	p.Cmd.Process.Signal(sig)
	<-p.done
}

// FreeAddr is a 127.0.0.1 address no one listens on (yet).
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// LastLines is the last n lines of s.
func LastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WaitFor polls cond every second until it holds; after d it fails the
// test with what.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(time.Second)
	}
}

// ProcessesMentioning lists the live processes whose command line holds
// s (proctest.Mentioning, kept here for the lab tests that call it).
func ProcessesMentioning(s string) []int { return proctest.Mentioning(s) }

// The fixtures' HTTP server, one for the test binary: the jobs' images.
var fixtureServer struct {
	once sync.Once
	url  string
}

// FixturesURL serves the fixtures on 127.0.0.1; /hang/NAME answers with
// headers and a few bytes and then nothing until the client goes (a
// download that keeps a job Running without QEMU).
func FixturesURL() string {
	fixtureServer.once.Do(func() {
		mux := http.NewServeMux()
		mux.HandleFunc("/hang/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100000000")
			w.Write(bytes.Repeat([]byte{0}, 4096))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		})
		mux.Handle("/", http.FileServer(http.Dir(Fixtures)))
		fixtureServer.url = httptest.NewServer(mux).URL
	})
	return fixtureServer.url
}

// JobSpec fills the placeholders of internal/e2e/testdata/job.yaml, the
// QEMU job of the e2e tests.
type JobSpec struct {
	Name        string
	KernelURL   string
	Visibility  string // public when empty
	DeviceType  string // qemu when empty
	Steps       []string
	TestTimeout int
	// Extra is appended to the job's top level (e.g. a notify: block),
	// YAML at column 0.
	Extra string
}

// YAML is the job definition.
func (s JobSpec) YAML(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Root, "internal", "e2e", "testdata", "job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	url := FixturesURL()
	if s.KernelURL == "" {
		s.KernelURL = url + "/vmlinuz"
	}
	if s.TestTimeout == 0 {
		s.TestTimeout = 120
	}
	var steps strings.Builder
	for _, st := range s.Steps {
		fmt.Fprintf(&steps, "          - %s\n", st)
	}
	r := strings.NewReplacer("@CASE@", s.Name, "@URL@", url, "@KERNEL_URL@", s.KernelURL,
		"@KERNEL_EXTRA@", "", "@CONTEXT@", "", "@BOOT_EXTRA@", "",
		"@PROMPT@", "root@basalt:~# ", "@BOOT_TIMEOUT@", "180",
		"@TEST_TIMEOUT@", fmt.Sprint(s.TestTimeout), "@STEPS@", strings.TrimRight(steps.String(), "\n"),
		"@DEFINITIONS@", "")
	y := r.Replace(string(b))
	if s.Visibility != "" {
		y = strings.Replace(y, "visibility: public", "visibility: "+s.Visibility, 1)
	}
	if s.DeviceType != "" {
		y = strings.Replace(y, "device_type: qemu", "device_type: "+s.DeviceType, 1)
	}
	if s.Extra != "" {
		y = strings.TrimRight(y, "\n") + "\n" + strings.TrimRight(s.Extra, "\n") + "\n"
	}
	return y
}

// File writes s to a new file under t's temporary folder.
func File(t testing.TB, name, s string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
