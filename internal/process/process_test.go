package process

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// helperEnv makes the test binary act as a parent that starts a child
// and waits to be killed (TestParentKilledLeavesNoChild).
const helperEnv = "BASALT_PROCESS_TEST_PARENT"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "1":
		p, err := Start(Spec{Argv: []string{"sleep", "300"}})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(p.Pid())
		select {}
	case "contain":
		// A child that starts a grandchild in a group of its own
		// (setsid), out of reach of every group signal; it prints its
		// pid once the grandchild runs.
		p, err := Start(Spec{Argv: []string{"sh", "-c", "setsid sleep 300 & while [ -z \"$(cat /proc/$!/stat 2>/dev/null)\" ]; do :; done; echo ready; wait"},
			Stdout: os.Stdout, Contain: true})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		if !p.Contained() {
			fmt.Println("error: not contained")
			os.Exit(1)
		}
		fmt.Println(p.Pid())
		select {}
	}
	os.Exit(m.Run())
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		out  string
		code int // -1: killed by a signal
	}{
		{"ok", []string{"sh", "-c", "echo one"}, "one\n", 0},
		{"fails", []string{"sh", "-c", "echo bad; exit 3"}, "bad\n", 3},
		{"signal", []string{"sh", "-c", "kill -KILL $$"}, "", -1},
		// No shell: what looks like shell syntax reaches the program as it is.
		{"no shell", []string{"echo", "$HOME; rm -rf / `id` $(id)"}, "$HOME; rm -rf / `id` $(id)\n", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Output(context.Background(), Spec{Argv: tc.argv})
			code, isExit := IsExit(err)
			if err != nil && !isExit {
				t.Fatalf("Output(%q): %v", tc.argv, err)
			}
			if code != tc.code || string(out) != tc.out {
				t.Fatalf("Output(%q) = %q, exit %d; want %q, exit %d", tc.argv, out, code, tc.out, tc.code)
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	if _, err := Start(Spec{}); !errors.Is(err, ErrEmpty) {
		t.Errorf("Start(empty) = %v, want ErrEmpty", err)
	}
	err := Run(context.Background(), Spec{Argv: []string{"basalt-no-such-program"}})
	var se *StartError
	if !errors.As(err, &se) || !IsNotFound(err) || se.Program != "basalt-no-such-program" {
		t.Errorf("Run(missing program) = %v, want a StartError that IsNotFound", err)
	}
	if _, ok := IsExit(err); ok {
		t.Errorf("IsExit(%v) is true for a program that never ran", err)
	}
}

func TestEnvAndDir(t *testing.T) {
	dir := t.TempDir()
	out, err := Output(context.Background(), Spec{
		Argv: []string{"sh", "-c", `echo "$BASALT_X"; pwd`},
		Env:  []string{"BASALT_X=y", "PATH=" + os.Getenv("PATH")},
		Dir:  dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "y\n" + dir + "\n"; string(out) != want {
		t.Fatalf("got %q, want %q", out, want)
	}
}

// startReporting starts script under sh with stdout on a pipe and
// returns the process and the pids the script prints, one a line, until
// it has printed n of them.
func startReporting(t *testing.T, s Spec, script string, n int) (*Process, []int) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s.Argv = []string{"sh", "-c", script}
	s.Stdout = w
	p, err := Start(s)
	w.Close()
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(); r.Close() })
	var pids []int
	sc := bufio.NewScanner(r)
	for len(pids) < n && sc.Scan() {
		pid, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
		if err != nil {
			t.Fatalf("script printed %q, not a pid", sc.Text())
		}
		pids = append(pids, pid)
	}
	if len(pids) < n {
		t.Fatalf("script printed %d pids, want %d (%v)", len(pids), n, sc.Err())
	}
	return p, pids
}

// alive reports whether pid is a running process (not gone, not a
// zombie waiting for init to collect it).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) S ...: the state follows the last parenthesis.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !strings.HasPrefix(s[i+1:], " Z")
}

// waitGone waits for pid to be gone; a killed process's exit is
// asynchronous, and one reparented to init is collected by init. The
// bound is generous: it only decides when to give up.
func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) is still running", what, pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func killedBy(err error) syscall.Signal {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return ws.Signal()
		}
	}
	return 0
}

// A child that ignores SIGTERM, and the grandchild it started (which
// inherits the ignored signal), both end with SIGKILL after the grace.
func TestStopKillsWhatIgnoresTerm(t *testing.T) {
	p, pids := startReporting(t, Spec{Grace: 100 * time.Millisecond},
		`trap '' TERM; sleep 300 & echo $!; echo $$; wait`, 2)
	err := p.Stop()
	if sig := killedBy(err); sig != syscall.SIGKILL {
		t.Fatalf("Stop() = %v, want death by SIGKILL", err)
	}
	waitGone(t, pids[0], "grandchild ignoring SIGTERM")
}

// A child that obeys SIGTERM ends with it, its grandchild with it.
func TestStopTerminatesGroup(t *testing.T) {
	p, pids := startReporting(t, Spec{Grace: time.Minute}, `sleep 300 & echo $!; wait`, 1)
	err := p.Stop()
	if sig := killedBy(err); sig != syscall.SIGTERM {
		t.Fatalf("Stop() = %v, want death by SIGTERM", err)
	}
	waitGone(t, pids[0], "grandchild")
}

func TestRunCancelStopsGroup(t *testing.T) {
	ctx, cancel := context.WithCancel(WithGrace(context.Background(), 100*time.Millisecond))
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Spec{Argv: []string{"sh", "-c", `trap '' TERM; sleep 300 & echo $!; wait`}, Stdout: w})
		w.Close()
	}()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	grandchild, _ := strconv.Atoi(strings.TrimSpace(line))
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run() = %v, want context.Canceled", err)
	}
	waitGone(t, grandchild, "grandchild")
}

// A background process the child leaves behind dies with the group when
// the child exits, unless KeepGroup says to leave it.
func TestGroupAfterExit(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("KeepGroup=%v", keep), func(t *testing.T) {
			p, pids := startReporting(t, Spec{KeepGroup: keep}, `sleep 300 & echo $!`, 1)
			if err := p.Wait(); err != nil {
				t.Fatalf("Wait() = %v", err)
			}
			if keep {
				if !alive(pids[0]) {
					t.Fatal("the background process was killed although KeepGroup is set")
				}
				syscall.Kill(pids[0], syscall.SIGKILL)
				return
			}
			waitGone(t, pids[0], "background process")
		})
	}
}

func TestStopTwiceAndConcurrently(t *testing.T) {
	p, err := Start(Spec{Argv: []string{"sleep", "300"}, Grace: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = p.Stop() }()
	}
	wg.Wait()
	again := p.Stop()
	for i, err := range append(errs, again, p.Wait()) {
		if killedBy(err) != syscall.SIGTERM {
			t.Errorf("call %d: %v, want death by SIGTERM", i, err)
		}
	}
	if exited, _ := p.Exited(); !exited {
		t.Error("Exited() is false after Stop")
	}
}

func TestStopAfterExit(t *testing.T) {
	p, err := Start(Spec{Argv: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("Stop() after a clean exit = %v", err)
	}
}

// With Contain, the child is the init of its own PID namespace: when the
// parent is killed outright, the grandchild goes too, even in a session
// of its own.
func TestContainedTreeDiesWithParent(t *testing.T) {
	if os.Geteuid() != 0 {
		probe, err := Start(Spec{Argv: []string{"true"}, Contain: true})
		if err != nil {
			t.Fatal(err)
		}
		probe.Wait()
		if !probe.Contained() {
			t.Skip("no PID namespace for this user here")
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	parent := exec.Command(exe, "-test.run=^$")
	parent.Env = append(os.Environ(), helperEnv+"=contain")
	parent.Stdout = w
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	br := bufio.NewReader(r)
	// The pid, and "ready" from the child, in either order.
	line, err := br.ReadString('\n')
	ready, _ := br.ReadString('\n')
	if line == "ready\n" {
		line, ready = ready, line
	}
	child, cerr := strconv.Atoi(strings.TrimSpace(line))
	if ready != "ready\n" || err != nil || cerr != nil {
		parent.Process.Kill()
		parent.Wait()
		t.Fatalf("helper printed %q %q (%v)", ready, line, err)
	}
	var grandchild int
	for _, pid := range allPids() {
		if ppidOf(pid) == child {
			grandchild = pid
		}
	}
	if grandchild == 0 || !alive(grandchild) {
		parent.Process.Kill()
		parent.Wait()
		t.Fatalf("no grandchild under the child %d", child)
	}
	parent.Process.Kill()
	parent.Wait()
	waitGone(t, child, "child of a killed parent")
	waitGone(t, grandchild, "grandchild, in a session of its own, of a killed parent")
}

func allPids() []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

func ppidOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// The test binary, started as a helper, starts a child and is killed
// outright: the child must not outlive it.
func TestParentKilledLeavesNoChild(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	parent := exec.Command(exe, "-test.run=^$")
	parent.Env = append(os.Environ(), helperEnv+"=1")
	parent.Stdout = w
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	line, err := bufio.NewReader(r).ReadString('\n')
	child, cerr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || cerr != nil {
		parent.Process.Kill()
		parent.Wait()
		t.Fatalf("helper printed %q (%v)", line, err)
	}
	if !alive(child) {
		t.Fatalf("child %d not running before its parent is killed", child)
	}
	parent.Process.Kill()
	parent.Wait()
	waitGone(t, child, "child of a killed parent")
}

func TestUserNS(t *testing.T) {
	out, err := Output(context.Background(), Spec{
		Argv:   []string{"id", "-u"},
		UserNS: &UserNS{UID: os.Geteuid(), GID: os.Getegid()},
	})
	var se *StartError
	if errors.As(err, &se) {
		t.Skipf("user namespaces refused here: %v", err)
	}
	if err != nil || strings.TrimSpace(string(out)) != "0" {
		t.Fatalf("id -u in a user namespace = %q, %v; want 0", out, err)
	}
}

func TestGraceFrom(t *testing.T) {
	bg := context.Background()
	tests := []struct {
		name string
		ctx  context.Context
		want time.Duration
	}{
		{"default", bg, DefaultGrace},
		{"set", WithGrace(bg, 7*time.Second), 7 * time.Second},
		{"zero keeps the default", WithGrace(bg, 0), DefaultGrace},
		{"inner wins", WithGrace(WithGrace(bg, time.Second), 2*time.Second), 2 * time.Second},
	}
	for _, tc := range tests {
		if got := GraceFrom(tc.ctx); got != tc.want {
			t.Errorf("%s: GraceFrom = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestLineWriter(t *testing.T) {
	long := strings.Repeat("x", MaxLine+5)
	tests := []struct {
		name   string
		writes []string
		want   []string
	}{
		{"lines", []string{"one\ntwo\n"}, []string{"one", "two"}},
		{"split across writes", []string{"o", "ne\ntw", "o\n"}, []string{"one", "two"}},
		{"unfinished last line", []string{"one\ntwo"}, []string{"one", "two"}},
		{"crlf", []string{"one\r\ntwo\r\n"}, []string{"one", "two"}},
		{"empty lines", []string{"\n\n"}, []string{"", ""}},
		{"long line in pieces", []string{long + "\n"}, []string{long[:MaxLine], long[MaxLine:]}},
		{"long unfinished line", []string{long[:MaxLine-1], long[MaxLine-1:]}, []string{long[:MaxLine], long[MaxLine:]}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			w := NewLineWriter(func(l string) { got = append(got, l) })
			for _, s := range tc.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			w.Flush()
			if d := cmp.Diff(got, tc.want); d != "" {
				t.Errorf("lines (-got +want):\n%s", d)
			}
		})
	}
}

// A child's output reaches the LineWriter in order, stdout and stderr
// interleaved as written.
func TestLineWriterWithChild(t *testing.T) {
	var got []string
	w := NewLineWriter(func(l string) { got = append(got, l) })
	err := Run(context.Background(), Spec{Argv: []string{"sh", "-c", "echo one; echo two >&2; printf three"}, Stdout: w, Stderr: w})
	w.Flush()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(got, []string{"one", "two", "three"}); d != "" {
		t.Errorf("lines (-got +want):\n%s", d)
	}
}

// The parent-death signal follows the thread that forked: a child must
// survive the end of the thread of the goroutine that asked for it
// (here one that exits locked to its thread, which ends the thread).
func TestChildOutlivesStartingThread(t *testing.T) {
	type started struct {
		p   *Process
		tid int
		err error
	}
	// Holding this thread makes the goroutines below run on others.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var s started
	for range 100 {
		ch := make(chan started, 1)
		go func() {
			runtime.LockOSThread()
			if syscall.Gettid() == os.Getpid() {
				// The main thread is parked, not ended, when its
				// goroutine exits locked: try another.
				runtime.UnlockOSThread()
				ch <- started{}
				return
			}
			// Never unlocked: the thread ends with the goroutine.
			p, err := Start(Spec{Argv: []string{"sleep", "300"}})
			ch <- started{p, syscall.Gettid(), err}
		}()
		if s = <-ch; s.p != nil || s.err != nil {
			break
		}
	}
	if s.err != nil {
		t.Fatal(s.err)
	}
	if s.p == nil {
		t.Skip("no goroutine ran off the main thread")
	}
	defer s.p.Stop()
	task := fmt.Sprintf("/proc/self/task/%d", s.tid)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(task); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Skip("the locked thread did not end")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The signal, had it been sent, is delivered as the thread ends;
	// give a killed child the time to be seen exiting.
	select {
	case <-s.p.Done():
		t.Fatalf("the child died with the thread that started it: %v", s.p.Wait())
	case <-time.After(200 * time.Millisecond):
	}
}
