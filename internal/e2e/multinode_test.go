package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/value"
)

// The MultiNode cases run examples/multinode/job.yaml, the group a user
// starts with `make example-multinode`: a server that lava-sends its
// address and then lava-start, a client that starts only then, receives
// the address with lava-wait, and both meeting at a lava-sync.

// mnJob renders the example for one case: images from url, clients
// client instances, and edit applied last.
func mnJob(t *testing.T, url string, clients int, edit func(string) string) string {
	t.Helper()
	b, err := os.ReadFile("../../examples/multinode/job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "http://127.0.0.1:8000", url)
	marker := "        count: 1\n        # The client starts only"
	if !strings.Contains(s, marker) {
		t.Fatal("examples/multinode/job.yaml changed: the client's count is not where this test expects it")
	}
	s = strings.Replace(s, marker, fmt.Sprintf("        count: %d\n        # The client starts only", clients), 1)
	if edit != nil {
		s = edit(s)
	}
	path := filepath.Join(t.TempDir(), "mn.yaml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// groupOutcome is how one `basalt run` of a group ended.
type groupOutcome struct {
	code    int
	stdout  string
	summary *value.Map
	jobs    map[string]*outcome // by ROLE-N
}

// runGroup runs basalt on a MultiNode job and reads every sub-job's
// logs and results; args are added to the command line.
func runGroup(t *testing.T, jobPath string, args ...string) *groupOutcome {
	t.Helper()
	o := basaltRun(t, runSpec{job: jobPath, devices: []string{"testdata/device.jinja2"}, id: "100",
		args: args, limit: 15 * time.Minute, tail: 120})
	out := o.dir
	g := &groupOutcome{stdout: o.stdout, code: o.code, jobs: map[string]*outcome{}}
	b, err := os.ReadFile(filepath.Join(out, "group.yaml"))
	if err != nil {
		t.Fatalf("no group.yaml: %v", err)
	}
	v, err := value.DecodeYAML(b)
	if err != nil {
		t.Fatalf("group.yaml does not parse: %v", err)
	}
	g.summary = v.(*value.Map)
	for _, e := range g.summary.List("jobs") {
		j := e.(*value.Map)
		name := filepath.Base(j.String("output"))
		g.jobs[name] = readOutcome(t, j.String("output"))
	}
	return g
}

// readOutcome reads one sub-job's logs.yaml and checks its results were
// written.
func readOutcome(t *testing.T, out string) *outcome {
	t.Helper()
	o := &outcome{dir: out}
	o.readLog(t)
	for _, f := range []string{"results.yaml", "results.xml", "job.yaml"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	return o
}

// wantPass fails unless the sub-job's result def/name is pass.
func wantPass(t *testing.T, name string, o *outcome, def, c string) {
	t.Helper()
	if r := o.result(def, c); r == nil || r.String("result") != "pass" {
		t.Errorf("%s: %s/%s = %s, want pass", name, def, c, value.GoString(r))
	}
}

// checkGroup checks a group that completed: every sub-job passed its
// MultiNode calls, the client got the server's address, and the client
// started only after the server's lava-start.
func checkGroup(t *testing.T, g *groupOutcome, clients int) {
	t.Helper()
	if g.code != 0 {
		t.Fatalf("exit %d", g.code)
	}
	if len(g.jobs) != 1+clients {
		t.Fatalf("%d sub-jobs, want %d", len(g.jobs), 1+clients)
	}
	server := g.jobs["server-0"]
	if server == nil {
		t.Fatal("no server-0")
	}
	for _, c := range []string{"my-role", "multinode-send-ipv4", "multinode-send-lava_start", "multinode-sync-clients-ready", "group-size"} {
		wantPass(t, "server-0", server, "0_mn-server", c)
	}
	for i := 0; i < clients; i++ {
		name := fmt.Sprintf("client-%d", i)
		c := g.jobs[name]
		if c == nil {
			t.Fatalf("no %s", name)
		}
		for _, k := range []string{"my-role", "multinode-wait-ipv4", "server-address", "multinode-sync-clients-ready"} {
			wantPass(t, name, c, "0_mn-client", k)
		}
		if !c.logHas("", "lava-start received from role server") {
			t.Errorf("%s: no delayed start in its log", name)
		}
	}
}

func TestMultinodeGroupOfTwo(t *testing.T) {
	needFixtures(t)
	url := server(t, nil)
	g := runGroup(t, mnJob(t, url, 1, nil))
	checkGroup(t, g, 1)
	if !strings.Contains(g.stdout, "group complete") {
		t.Errorf("no group summary in the output")
	}
}

// A group of three against Debian's own lava-coordinator: Basalt's
// dispatcher speaks LAVA's protocol to LAVA's coordinator.
func TestMultinodeGroupOfThreeWithLavaCoordinator(t *testing.T) {
	needFixtures(t)
	addr := lavaCoordinator(t)
	url := server(t, nil)
	g := runGroup(t, mnJob(t, url, 2, nil), "--coordinator", addr, "--poll-delay", "1s")
	checkGroup(t, g, 2)
}

// When the essential role fails, the other role ends at once as
// canceled, naming why, and still writes its logs and results.
func TestMultinodeEssentialRoleFails(t *testing.T) {
	needFixtures(t)
	url := server(t, nil)
	// Only the server's deploy fetches a kernel that does not exist; the
	// client is waiting for lava-start by then.
	job := mnJob(t, url, 1, func(s string) string {
		return strings.Replace(s, "- deploy:\n    role: [server, client]", "- deploy:\n    role: [server]\n    to: tmpfs\n    os: oe\n    images:\n      kernel:\n        url: "+url+"/no-such-kernel\n        image_arg: -kernel {kernel}\n- deploy:\n    role: [client]", 1)
	})
	start := time.Now()
	g := runGroup(t, job)
	if g.code == 0 {
		t.Fatal("the group completed although its essential role failed")
	}
	srv, cli := g.jobs["server-0"], g.jobs["client-0"]
	if srv.errorType() != "Job" || !strings.Contains(srv.job.String("error_msg"), "404") {
		t.Errorf("server: %s", value.GoString(srv.job))
	}
	if cli.errorType() != "Canceled" || !strings.Contains(cli.job.String("error_msg"), "essential role server") {
		t.Errorf("client: %s", value.GoString(cli.job))
	}
	// "Promptly": well before the 10 minutes the client would wait for
	// lava-start. Not a timing assertion on basalt's speed, a check that
	// the client was not left to time out.
	if d := time.Since(start); d > 5*time.Minute {
		t.Errorf("the group took %s to end", d)
	}
}

// When the essential role fails in the middle of its test, the other
// role, blocked in a lava-sync on its own running guest, is canceled:
// its QEMU is stopped and reaped, and what it reported so far is kept.
func TestMultinodeEssentialRoleFailsMidTest(t *testing.T) {
	needFixtures(t)
	url := server(t, nil)
	// Both meet at clients-ready; once the client says it is waiting
	// for a lava-sync the server will never join, the server fails.
	job := mnJob(t, url, 1, func(s string) string {
		// Every edit must find its text: an example edited without this
		// test is a failure that says where, not a group that hangs.
		replace := func(old, new string) {
			t.Helper()
			if !strings.Contains(s, old) {
				t.Fatalf("examples/multinode/job.yaml changed: no %q to replace", old)
			}
			s = strings.Replace(s, old, new, 1)
		}
		replace("        request: lava-start\n        host_role: server\n        expect_role: server\n", "")
		replace("          - lava-send lava_start\n", "")
		replace("          - lava-test-case group-size --shell test \"$(lava-group | wc -l)\" -ge 2\n", "          - lava-wait client-waiting\n          - lava-test-raise server-broke\n")
		sync := "          - lava-sync clients-ready\n"
		i := strings.LastIndex(s, sync) + len(sync)
		return s[:i] + "          - lava-send client-waiting\n          - lava-sync never\n" + s[i:]
	})
	g := runGroup(t, job)
	srv, cli := g.jobs["server-0"], g.jobs["client-0"]
	if srv.errorType() != "Test" || !strings.Contains(srv.job.String("error_msg"), "server-broke") {
		t.Errorf("server: %s", value.GoString(srv.job))
	}
	if cli.errorType() != "Canceled" || !strings.Contains(cli.job.String("error_msg"), "essential role server") {
		t.Errorf("client: %s", value.GoString(cli.job))
	}
	wantPass(t, "client-0", cli, "0_mn-client", "multinode-sync-clients-ready")
	if r := cli.result("lava", "power-off"); r == nil {
		t.Errorf("client: its finalize did not run")
	}
}

// lavaCoordinator starts Debian's lava-coordinator on a free port and
// returns its address; it is stopped and reaped when the test ends.
func lavaCoordinator(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("lava-coordinator")
	if err != nil {
		if os.Getenv("BASALT_E2E") == "1" {
			t.Fatal("lava-coordinator is not installed (apt-get install lava-coordinator)")
		}
		t.Skip("lava-coordinator is not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	conf, _ := json.Marshal(map[string]any{"port": port, "blocksize": 4096, "poll_delay": 1, "coordinator_hostname": "127.0.0.1"})
	if err := os.WriteFile(filepath.Join(dir, "coordinator.conf"), conf, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", filepath.Join(dir, "coordinator.conf"), "--logfile", filepath.Join(dir, "coordinator.log"), "--loglevel", "DEBUG")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "coordinator.log"))
			t.Logf("lava-coordinator log:\n%s", lastLines(string(b), 40))
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		if i > 100 {
			t.Fatalf("lava-coordinator does not listen on %s", addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
