package coordinator

// Interoperability with LAVA itself (Debian's lava-coordinator and
// lava-dispatcher packages): our client against LAVA's coordinator, and
// LAVA's client against our server. Both skip when the packages are
// missing, unless BASALT_E2E=1 (CI), where that is a failure.
//
// BASALT_LAVA_COORDINATOR names the lava-coordinator program (default:
// lava-coordinator on PATH, else /usr/bin/lava-coordinator);
// BASALT_LAVA_PYTHON the interpreter with lava_dispatcher importable
// (default /usr/bin/python3, not whatever python3 comes first on PATH).
// BASALT_LAVA_PYTHONPATH is put first on PYTHONPATH for those programs
// only, so the packages may be unpacked with dpkg -x rather than installed
// (lava-dispatcher's own dependencies, python3-guestfs among them, are
// heavy; the protocol module needs only python3-pexpect, python3-requests
// and python3-yaml).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// needLAVA skips, or under BASALT_E2E=1 fails, for a missing LAVA part.
func needLAVA(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("BASALT_E2E") == "1" {
		t.Fatalf("%s (BASALT_E2E=1: LAVA's packages must be installed)", msg)
	}
	t.Skipf("%s; install Debian's lava-coordinator and lava-dispatcher to run this test", msg)
}

func lavaCoordinatorProgram(t *testing.T) string {
	if p := os.Getenv("BASALT_LAVA_COORDINATOR"); p != "" {
		if _, err := os.Stat(p); err != nil {
			needLAVA(t, "BASALT_LAVA_COORDINATOR: %v", err)
		}
		return p
	}
	if p, err := exec.LookPath("lava-coordinator"); err == nil {
		return p
	}
	const p = "/usr/bin/lava-coordinator"
	if _, err := os.Stat(p); err != nil {
		needLAVA(t, "LAVA's coordinator is not installed (no lava-coordinator on PATH, no %s)", p)
	}
	return p
}

// lavaPython returns an interpreter that can import LAVA's MultiNode
// protocol.
func lavaPython(t *testing.T) string {
	py := os.Getenv("BASALT_LAVA_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	if _, err := os.Stat(py); err != nil {
		needLAVA(t, "no %s", py)
	}
	cmd := exec.Command(py, "-c", "import lava_dispatcher.protocols.multinode")
	cmd.Env = lavaEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		needLAVA(t, "%s cannot import lava_dispatcher.protocols.multinode: %v\n%s", py, err, out)
	}
	return py
}

// lavaEnv is the environment for LAVA's programs. Python must not write
// __pycache__ next to testdata/lava_node.py.
func lavaEnv() []string {
	env := append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	extra := os.Getenv("BASALT_LAVA_PYTHONPATH")
	if extra == "" {
		return env
	}
	if pp := os.Getenv("PYTHONPATH"); pp != "" {
		extra += string(os.PathListSeparator) + pp
	}
	return append(env, "PYTHONPATH="+extra)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startLAVACoordinator runs Debian's lava-coordinator on a free port
// until the test ends, and returns its address.
func startLAVACoordinator(t *testing.T) string {
	prog := lavaCoordinatorProgram(t)
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "lava-coordinator.conf")
	logfile := filepath.Join(dir, "lava-coordinator.log")
	writeJSON(t, conf, map[string]any{"port": port, "blocksize": 4096, "poll_delay": 1, "coordinator_hostname": "127.0.0.1"})
	cmd := exec.Command(prog, "--config", conf, "--logfile", logfile, "--loglevel", "DEBUG")
	cmd.Env = lavaEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, killed with the test binary if need be.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", prog, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		if t.Failed() {
			log, _ := os.ReadFile(logfile)
			t.Logf("lava-coordinator output:\n%s\nlog:\n%s", out.String(), log)
		}
	})
	// It logs this line just before each accept().
	deadline := time.Now().Add(30 * time.Second)
	for {
		log, _ := os.ReadFile(logfile)
		if bytes.Contains(log, []byte("Ready to accept new connections")) {
			return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("lava-coordinator exited: %v\n%s\n%s", err, out.String(), log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("lava-coordinator not ready after 30 s; log:\n%s", log)
		}
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// interopRoles: job 1 is the server, 2 and 3 clients.
var interopRoles = map[string]string{"1": "server", "2": "client", "3": "client"}

// goScenario is three jobs' traffic through our Client; it returns what
// each job got, one line per call: "response message-or-roles".
func goScenario(t *testing.T, addr, group string) map[string][]string {
	nodes := make([]*Client, 0, 3)
	for _, id := range []string{"1", "2", "3"} {
		c := node(addr, group, id, interopRoles[id], 3)
		c.PollDelay = 50 * time.Millisecond
		nodes = append(nodes, c)
	}
	var mu sync.Mutex
	got := map[string][]string{}
	parallel(t, nodes, func(c *Client) error {
		id := c.Base["client_name"].(string)
		other := map[string]string{"server": "client", "client": "server"}[interopRoles[id]]
		steps := []map[string]any{{"request": "group_data"}}
		if id == "1" {
			steps = append(steps, map[string]any{"request": "lava_send", "messageID": "ip", "message": map[string]any{"ipaddr": "10.0.0.1"}})
		} else {
			steps = append(steps, map[string]any{"request": "lava_wait", "messageID": "ip", "nodeID": id})
		}
		steps = append(steps,
			map[string]any{"request": "lava_send", "messageID": "ready", "message": map[string]any{"n": id}},
			map[string]any{"request": "lava_wait_all", "messageID": "ready"},
			map[string]any{"request": "lava_wait_all", "messageID": "ready", "waitrole": other},
			map[string]any{"request": "lava_sync", "messageID": "done", "message": nil},
			map[string]any{"request": "clear_group", "group_size": 3},
		)
		var lines []string
		for _, s := range steps {
			r, err := c.Poll(testCtx(t), s, time.Minute)
			if err != nil {
				return err
			}
			data := r.Message
			if r.Roles != nil {
				data = r.Roles
			}
			b, _ := json.Marshal(data)
			lines = append(lines, r.Response+" "+string(b))
		}
		mu.Lock()
		got[id] = lines
		mu.Unlock()
		return nil
	})
	return got
}

func goScenarioWant() map[string][]string {
	roles := `group_data {"1":"server","2":"client","3":"client"}`
	ready := `ack {"1":{"n":"1"},"2":{"n":"2"},"3":{"n":"3"}}`
	ip := `ack {"1":{"ipaddr":"10.0.0.1"}}`
	rest := []string{`ack null`, ready, ready, `ack "done"`, `ack null`}
	return map[string][]string{
		"1": append([]string{roles, `ack null`}, rest...),
		"2": append([]string{roles, ip}, rest...),
		"3": append([]string{roles, ip}, rest...),
	}
}

// TestInteropClientWithLAVACoordinator runs the same three-job scenario
// through our Client against LAVA's coordinator and against ours: both
// must give every job the same answers.
func TestInteropClientWithLAVACoordinator(t *testing.T) {
	lava := startLAVACoordinator(t)
	_, ours := startServer(t, Options{})
	want := goScenarioWant()
	for _, tt := range []struct{ name, addr string }{{"lava-coordinator", lava}, {"basalt", ours}} {
		got := goScenario(t, tt.addr, "interop-"+tt.name)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s coordinator (-want +got):\n%s", tt.name, diff)
		}
	}
}

// pyStep is one line of testdata/lava_node.py's output.
type pyStep struct {
	Step  any `json:"step"`
	Reply any `json:"reply"`
}

// pyScenario runs three LAVA MultinodeProtocol instances, one process
// each, against addr, and returns their replies per job.
func pyScenario(t *testing.T, py, addr, group string, withNack bool) map[string][]string {
	host, port, _ := net.SplitHostPort(addr)
	portN, _ := strconv.Atoi(port)
	conf := filepath.Join(t.TempDir(), "lava-coordinator.conf")
	writeJSON(t, conf, map[string]any{"port": portN, "blocksize": 4096, "poll_delay": 0.2, "coordinator_hostname": host})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string][]string{}
	errs := make(chan error, 3)
	for _, id := range []string{"1", "2", "3"} {
		role := interopRoles[id]
		other := map[string]string{"server": "client", "client": "server"}[role]
		steps := []any{"group_data"}
		if id == "1" {
			steps = append(steps, map[string]any{"request": "lava-send", "messageID": "ip", "message": map[string]any{"ipaddr": "10.0.0.1"}})
		} else {
			steps = append(steps, map[string]any{"request": "lava-wait", "messageID": "ip"})
		}
		steps = append(steps,
			map[string]any{"request": "lava-send", "messageID": "ready", "message": map[string]any{"n": id}},
			map[string]any{"request": "lava-wait-all", "messageID": "ready"},
			map[string]any{"request": "lava-wait-all", "messageID": "ready", "role": other},
			map[string]any{"request": "lava-sync", "messageID": "done"},
		)
		if withNack {
			// LAVA's client returns "nack" only when the reply has
			// no "message" key.
			steps = append(steps, map[string]any{"request": "lava-wait-all", "messageID": "ready", "role": "nosuchrole"})
		}
		steps = append(steps, "finalise")
		spec, _ := json.Marshal(map[string]any{"config": conf, "group": group, "size": 3, "job_id": id, "role": role, "steps": steps})
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, py, "testdata/lava_node.py", string(spec))
			cmd.Env = lavaEnv()
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				errs <- fmt.Errorf("job %s: %v\nstdout:\n%s\nstderr:\n%s", id, err, out, stderr.String())
				return
			}
			var lines []string
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				var s pyStep
				if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
					errs <- fmt.Errorf("job %s: output line %q: %v", id, sc.Text(), err)
					return
				}
				b, _ := json.Marshal(s.Reply)
				lines = append(lines, string(b))
			}
			mu.Lock()
			got[id] = lines
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return got
}

func pyScenarioWant(withNack bool) map[string][]string {
	roles := `{"response":"group_data","roles":{"1":"server","2":"client","3":"client"}}`
	ready := `{"1":{"n":"1"},"2":{"n":"2"},"3":{"n":"3"}}`
	ip := `{"1":{"ipaddr":"10.0.0.1"}}`
	rest := []string{`"ack"`, ready, ready, `"done"`}
	if withNack {
		rest = append(rest, `"nack"`)
	}
	rest = append(rest, `"finalised"`)
	return map[string][]string{
		"1": append([]string{roles, `"ack"`}, rest...),
		"2": append([]string{roles, ip}, rest...),
		"3": append([]string{roles, ip}, rest...),
	}
}

// TestInteropLAVAClientWithServer runs LAVA's own client (three
// MultinodeProtocol instances in their own processes) against our server
// and against LAVA's coordinator: same answers, and our nack reaches
// LAVA's client as "nack". (LAVA's coordinator crashes on an unknown
// waitrole, so that step is ours only.)
func TestInteropLAVAClientWithServer(t *testing.T) {
	py := lavaPython(t)
	_, ours := startServer(t, Options{})
	got := pyScenario(t, py, ours, "py-basalt", true)
	if diff := cmp.Diff(pyScenarioWant(true), got); diff != "" {
		t.Errorf("LAVA's client with our server (-want +got):\n%s", diff)
	}
	lava := startLAVACoordinator(t)
	got = pyScenario(t, py, lava, "py-lava", false)
	if diff := cmp.Diff(pyScenarioWant(false), got); diff != "" {
		t.Errorf("LAVA's client with LAVA's coordinator (-want +got):\n%s", diff)
	}
}
