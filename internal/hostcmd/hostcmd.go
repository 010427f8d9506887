// Package hostcmd runs a command on the dispatcher host the one way every
// action should: in a process group of its own, its output handed over a
// line at a time, and, when the context ends first, the whole group sent
// SIGTERM, then SIGKILL after a grace period, and reaped. No shell is
// involved unless argv asks for one.
package hostcmd

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Grace is how long a command has to exit after SIGTERM.
var Grace = 3 * time.Second

// maxLine bounds one output line (LAVA's log limit).
const maxLine = 100000

// Run runs argv, calling onLine (may be nil) for each line of its
// combined output. It returns the command's Wait error (an *exec.ExitError
// for a non-zero status), or, when ctx ended first, ctx's error once the
// group is gone.
//
// A process the command leaves running in the background may keep the
// output open: what it printed by the time the command exits, plus a
// second's grace, is passed on; the rest is not waited for.
func Run(ctx context.Context, argv []string, onLine func(string)) error {
	if len(argv) == 0 {
		return errors.New("empty command")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	// Pdeathsig: should basalt itself be killed outright (no cleanup),
	// the child goes too instead of running on unattended.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return err
	}
	pw.Close()
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), maxLine)
		for sc.Scan() {
			if onLine != nil {
				onLine(sc.Text())
			}
		}
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	pgid := cmd.Process.Pid
	select {
	case werr := <-waited:
		stopReading(pr, read)
		return werr
	case <-ctx.Done():
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-waited:
		case <-time.After(Grace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-waited
		}
		// Whatever the command started dies with it.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		stopReading(pr, read)
		return ctx.Err()
	}
}

// stopReading gives the output reader a moment to reach the end of the
// output, then closes the pipe under it, which ends it.
func stopReading(pr *os.File, read <-chan struct{}) {
	select {
	case <-read:
	case <-time.After(time.Second):
	}
	pr.Close()
	<-read
}
