// Package board is the power switch of an emulated board: what a device
// dictionary's power_on_command, power_off_command and hard_reset_command
// run (as `basalt board power-on|power-off|reset`) for a board that is a
// QEMU process rather than hardware behind a PDU.
//
// A board has a state folder the dictionary names. Powering on starts the
// board's command line (QEMU, with its serial port on a TCP socket the
// dictionary's connection_command reaches) detached from the caller, as
// a PDU leaves a real board powered after the power command returns,
// with its output appended to STATE/board.log, and records it in
// STATE/board.pid as "PID START" where START is the process's start time
// in clock ticks since boot (/proc/PID/stat field 22): a pid the kernel
// has recycled for another process never matches, so power-off never
// signals a stranger. Powering off sends SIGTERM, waits a grace period,
// then SIGKILL, and removes the pid file. Power-on of a board already on
// does nothing (a PDU outlet already on stays on); power-off of a board
// already off does nothing.
//
// The commands are the lab admin's (the device dictionary), never a job's.
package board

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/basalt-lava/basalt/internal/process"
)

// Files in the state folder.
const (
	PidFile = "board.pid"
	LogFile = "board.log"
)

// Board is one emulated board's state folder.
type Board struct {
	Dir string
	// Settle is how long PowerOn watches the new process before it says
	// the board is on: a command that exits at once (a missing firmware
	// file, a port already taken) is a board that did not power on.
	Settle time.Duration
	// Grace is how long PowerOff gives the board between SIGTERM and
	// SIGKILL.
	Grace time.Duration
}

// ErrNotPowered says the board's process exited while powering on.
var ErrNotPowered = errors.New("the board did not power on")

// running returns the pid of the board's process when the pid file names
// a live process that is still the one it recorded.
func (b *Board) running() (int, bool) {
	data, err := os.ReadFile(filepath.Join(b.Dir, PidFile))
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(data))
	if len(f) != 2 {
		return 0, false
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 1 {
		return 0, false
	}
	start, ok := startTime(pid)
	if !ok || start != f[1] {
		return 0, false
	}
	if zombie(pid) {
		return 0, false
	}
	return pid, true
}

// startTime reads field 22 of /proc/PID/stat. The second field (the
// command name) may hold spaces and parentheses: fields are counted after
// its last ')'.
func startTime(pid int) (string, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", false
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return "", false
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 {
		return "", false
	}
	return f[19], true
}

func zombie(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(data, ')')
	f := strings.Fields(string(data[i+1:]))
	return len(f) == 0 || f[0] == "Z" || f[0] == "X"
}

// On reports whether the board is powered.
func (b *Board) On() bool {
	_, ok := b.running()
	return ok
}

// PowerOn starts argv as the board unless it is on already; on reports
// whether it was.
func (b *Board) PowerOn(argv []string) (alreadyOn bool, err error) {
	if len(argv) == 0 {
		return false, errors.New("power-on: no board command given")
	}
	if err := os.MkdirAll(b.Dir, 0o755); err != nil {
		return false, err
	}
	if b.On() {
		return true, nil
	}
	logPath := filepath.Join(b.Dir, LogFile)
	appendLog(logPath, "--- power on %s: %s\n", time.Now().UTC().Format(time.RFC3339), strings.Join(argv, " "))
	pid, err := process.Detach(argv, b.Dir, logPath)
	if err != nil {
		return false, fmt.Errorf("power-on: %w", err)
	}
	start, ok := startTime(pid)
	if !ok {
		reapIfExited(pid)
		return false, fmt.Errorf("%w: %s exited at once%s", ErrNotPowered, argv[0], logTail(logPath))
	}
	tmp := filepath.Join(b.Dir, PidFile+".new")
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d %s\n", pid, start)), 0o644); err != nil {
		syscall.Kill(pid, syscall.SIGKILL)
		reapIfExited(pid)
		return false, err
	}
	if err := os.Rename(tmp, filepath.Join(b.Dir, PidFile)); err != nil {
		syscall.Kill(pid, syscall.SIGKILL)
		return false, err
	}
	settle := b.Settle
	if settle <= 0 {
		settle = 500 * time.Millisecond
	}
	deadline := time.Now().Add(settle)
	for time.Now().Before(deadline) {
		if reapIfExited(pid) || zombie(pid) {
			reapIfExited(pid)
			os.Remove(filepath.Join(b.Dir, PidFile))
			return false, fmt.Errorf("%w: %s exited%s", ErrNotPowered, argv[0], logTail(logPath))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false, nil
}

// PowerOff stops the board if it is on; wasOn reports whether it was.
func (b *Board) PowerOff() (wasOn bool, err error) {
	pid, ok := b.running()
	if !ok {
		os.Remove(filepath.Join(b.Dir, PidFile))
		return false, nil
	}
	grace := b.Grace
	if grace <= 0 {
		grace = 3 * time.Second
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if !b.waitGone(pid, grace) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		if !b.waitGone(pid, 5*time.Second) {
			return true, fmt.Errorf("power-off: process %d did not end after SIGKILL", pid)
		}
	}
	if err := os.Remove(filepath.Join(b.Dir, PidFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return true, err
	}
	appendLog(filepath.Join(b.Dir, LogFile), "--- power off %s\n", time.Now().UTC().Format(time.RFC3339))
	return true, nil
}

// waitGone waits up to d for pid to end (a zombie counts as ended: its
// parent, init, reaps it).
func (b *Board) waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if _, ok := b.running(); !ok {
			return true
		}
		reapIfExited(pid)
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reapIfExited collects pid when it is our child and has exited (power
// on watches its fresh child for Settle); true when it was collected.
func reapIfExited(pid int) bool {
	var ws syscall.WaitStatus
	got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	return err == nil && got == pid
}

// appendLog adds a line of Basalt's own to the board log.
func appendLog(path, format string, args ...any) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	fmt.Fprintf(f, format, args...)
	f.Close()
}

// logTail returns the last lines of the board log, for an error message.
func logTail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil || len(data) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return ":\n" + strings.Join(lines, "\n")
}
