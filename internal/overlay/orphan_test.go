package overlay

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cloneHelperEnv makes the test binary act as a Basalt that clones the
// URL the variable holds and is killed while git runs
// (TestKilledDuringCloneLeavesNoProcess).
const cloneHelperEnv = "BASALT_OVERLAY_TEST_CLONE_URL"

func TestMain(m *testing.M) {
	if url := os.Getenv(cloneHelperEnv); url != "" {
		dir, err := os.MkdirTemp("", "basalt-clone-helper-")
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		_, err = Clone(context.Background(), GitClone{URL: url, Dest: filepath.Join(dir, "dest")})
		fmt.Println("clone returned:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// TestKilledDuringCloneLeavesNoProcess: a Basalt (this test binary
// re-executed) clones from an HTTP server that accepts and never answers,
// so git and its remote helper (git-remote-http) are running, and is
// killed with SIGKILL, which it cannot handle. Every process it had
// started must end, and the server must see the connection closed.
func TestKilledDuringCloneLeavesNoProcess(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conns := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	helper := exec.Command(exe, "-test.run=^$")
	helper.Env = append(os.Environ(), cloneHelperEnv+"=http://"+ln.Addr().String()+"/stalled.git")
	var out strings.Builder
	helper.Stdout, helper.Stderr = &out, &out
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			helper.Process.Kill()
			helper.Wait()
		}
	}()
	var conn net.Conn
	select {
	case conn = <-conns:
	case <-time.After(30 * time.Second):
		t.Fatalf("git never connected; helper said %q", out.String())
	}
	defer conn.Close()
	// The request is read whole, so that git-remote-http is waiting for
	// an answer, not still writing, when the helper is killed.
	if _, err := bufio.NewReader(conn).ReadString('\n'); err != nil {
		t.Fatalf("reading git's request: %v", err)
	}
	tree := processTree(helper.Process.Pid)
	names := map[int]string{}
	for _, pid := range tree {
		names[pid] = comm(pid)
	}
	t.Logf("processes under the helper: %v", names)
	sawGit := false
	for _, n := range names {
		sawGit = sawGit || strings.HasPrefix(n, "git")
	}
	if !sawGit {
		t.Fatalf("no git process under the helper (%v)", names)
	}
	helper.Process.Kill()
	helper.Wait()
	killed = true
	for _, pid := range tree {
		waitGone(t, pid, names[pid]+" started by a killed Basalt")
	}
	// Every holder of the connection is gone: the server reads EOF.
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := io.Copy(io.Discard, conn); err != nil {
		t.Errorf("the connection is still open after the clone's processes ended (%d more bytes, %v)", n, err)
	}
}

// processTree returns every process under pid (children, theirs, ...).
func processTree(pid int) []int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+1:]) // state, ppid, ...
		if len(f) > 1 {
			parent[p], _ = strconv.Atoi(f[1])
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for c, pp := range parent {
			if pp == p {
				out = append(out, c)
				walk(c)
			}
		}
	}
	walk(pid)
	return out
}

func comm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// alive reports whether pid is a running process (not gone, nor a zombie
// left for init to collect).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !strings.HasPrefix(s[i+1:], " Z")
}

// waitGone waits for pid to be gone; a killed process's exit is
// asynchronous. The bound only decides when to give up.
func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Errorf("%s (pid %d) is still running", what, pid)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
