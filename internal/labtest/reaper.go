package labtest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// The reaper ends the process groups a test started when the test binary
// dies without running its cleanups (killed by `go test -timeout`, by
// SIGKILL, by a crash). It is the test binary itself run again with
// reaperEnv set (Main runs it instead of the tests), in a process group
// of its own so that a signal to the test's group does not end it first.
// The test writes "add PGID" and "del PGID" lines to its standard input;
// at end of file (the test binary is gone, or Main closed it) it sends
// SIGKILL to every group still added.
const reaperEnv = "BASALT_LABTEST_REAPER"

// inMain is set by Main: the test binary knows the reaper's mode.
var inMain bool

var reaper struct {
	sync.Mutex
	w       io.WriteCloser
	cmd     *exec.Cmd
	started bool
}

// Reap registers the process group pgid with the reaper (started on first
// use); Unreap says it was ended. A failure to start the reaper is
// reported once on standard error: the tests still run, their cleanups
// still end their processes.
func Reap(pgid int) { reaperLine("add", pgid) }

// Unreap withdraws pgid, once its leader was reaped.
func Unreap(pgid int) { reaperLine("del", pgid) }

func reaperLine(op string, pgid int) {
	reaper.Lock()
	defer reaper.Unlock()
	if !reaper.started {
		reaper.started = true
		startReaper()
	}
	if reaper.w != nil {
		fmt.Fprintf(reaper.w, "%s %d\n", op, pgid)
	}
}

func startReaper() {
	// The reaper is this test binary run again: only Main knows to reap
	// then rather than run the tests again.
	if !inMain {
		fmt.Fprintln(os.Stderr, "labtest: no reaper: the test package's TestMain does not call labtest.Main")
		return
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "labtest: no reaper:", err)
		return
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), reaperEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	w, err := cmd.StdinPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "labtest: no reaper:", err)
		return
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "labtest: no reaper:", err)
		return
	}
	reaper.w, reaper.cmd = w, cmd
}

// stopReaper closes the reaper's input (it ends what is left, nothing
// when every cleanup ran) and waits for it.
func stopReaper() {
	reaper.Lock()
	defer reaper.Unlock()
	if reaper.cmd != nil {
		reaper.w.Close()
		reaper.cmd.Wait()
		reaper.cmd = nil
	}
}

// runReaper is the reaper's whole life: read lines until end of file,
// then kill the groups left.
func runReaper(in io.Reader) {
	groups := map[int]bool{}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		op, n, _ := strings.Cut(sc.Text(), " ")
		pgid, err := strconv.Atoi(n)
		if err != nil || pgid <= 1 {
			continue
		}
		switch op {
		case "add":
			groups[pgid] = true
		case "del":
			delete(groups, pgid)
		}
	}
	for pgid := range groups {
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
}
