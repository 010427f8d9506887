package process

import (
	"os"
	"os/exec"
	"syscall"
)

// Detach starts argv as a process that outlives Basalt: an emulated
// board's QEMU, which a device's power_on command leaves running the way
// a PDU leaves a real board powered. It is the one exception to the
// package contract, on purpose and nowhere else: the child leads a new
// session (no group or terminal signal of the caller reaches it), has no
// parent-death signal, its stdin is /dev/null and its stdout and stderr
// go to logFile (appended to), so a caller waiting for the power command's
// output to end is not held by it. Detach does not wait for it: once the
// caller exits, init (or the nearest child subreaper) reaps it. Stopping
// it is the power_off command's job, by the pid returned (see
// internal/board, which records the pid with the process's start time so
// that a recycled pid is never signalled).
func Detach(argv []string, dir, logFile string) (pid int, err error) {
	if len(argv) == 0 || argv[0] == "" {
		return 0, ErrEmpty
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	if cmd.Err != nil {
		return 0, cmd.Err
	}
	out, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	pid = cmd.Process.Pid
	// Release, not Wait: the board runs on after the caller returns.
	_ = cmd.Process.Release()
	return pid, nil
}
