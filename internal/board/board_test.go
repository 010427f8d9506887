package board

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil && !zombie(pid)
}

func pidOf(t *testing.T, b *Board) int {
	t.Helper()
	pid, ok := b.running()
	if !ok {
		t.Fatal("the board is not running")
	}
	return pid
}

func TestPowerCycle(t *testing.T) {
	t.Parallel()
	b := &Board{Dir: t.TempDir(), Settle: 100 * time.Millisecond, Grace: time.Second}
	t.Cleanup(func() { b.PowerOff() })
	already, err := b.PowerOn([]string{"sh", "-c", "echo board up; exec sleep 60"})
	if err != nil || already {
		t.Fatalf("PowerOn = %v, %v", already, err)
	}
	pid := pidOf(t, b)
	// A second power-on leaves the board as it is.
	if already, err := b.PowerOn([]string{"sleep", "60"}); err != nil || !already {
		t.Fatalf("second PowerOn = %v, %v; want already on", already, err)
	}
	if got := pidOf(t, b); got != pid {
		t.Fatalf("second power-on replaced the board: pid %d, was %d", got, pid)
	}
	// The board is not in the caller's process group or session.
	if pgid, _ := syscall.Getpgid(pid); pgid == syscall.Getpgrp() {
		t.Error("the board shares the caller's process group")
	}
	wasOn, err := b.PowerOff()
	if err != nil || !wasOn {
		t.Fatalf("PowerOff = %v, %v", wasOn, err)
	}
	if alive(pid) {
		t.Errorf("process %d still alive after power-off", pid)
	}
	if _, err := os.Stat(filepath.Join(b.Dir, PidFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file left: %v", err)
	}
	if wasOn, err := b.PowerOff(); err != nil || wasOn {
		t.Errorf("PowerOff of an off board = %v, %v", wasOn, err)
	}
	log, _ := os.ReadFile(filepath.Join(b.Dir, LogFile))
	for _, want := range []string{"--- power on", "board up", "--- power off"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("board log lacks %q:\n%s", want, log)
		}
	}
}

// A board command that exits at once is a board that did not power on,
// with the end of its output in the error.
func TestPowerOnFails(t *testing.T) {
	t.Parallel()
	b := &Board{Dir: t.TempDir(), Settle: 300 * time.Millisecond}
	_, err := b.PowerOn([]string{"sh", "-c", "echo 'qemu: could not load firmware'; exit 1"})
	if !errors.Is(err, ErrNotPowered) || !strings.Contains(err.Error(), "could not load firmware") {
		t.Fatalf("PowerOn = %v, want ErrNotPowered with the board's output", err)
	}
	if b.On() {
		t.Error("On() after a failed power-on")
	}
	if _, err := b.PowerOn([]string{"/nonexistent/qemu"}); err == nil {
		t.Error("PowerOn of a missing program succeeded")
	}
}

// A pid file whose process is not the one recorded (the pid recycled, a
// stale file) is never signalled.
func TestStalePidFile(t *testing.T) {
	t.Parallel()
	b := &Board{Dir: t.TempDir()}
	// This test process, with a start time it does not have.
	stale := fmt.Sprintf("%d 1\n", os.Getpid())
	if err := os.WriteFile(filepath.Join(b.Dir, PidFile), []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	if b.On() {
		t.Fatal("a stale pid file counts as on")
	}
	if wasOn, err := b.PowerOff(); err != nil || wasOn {
		t.Fatalf("PowerOff = %v, %v", wasOn, err)
	}
	for _, bad := range []string{"", "x y", "1 2", "-5 3", "12"} {
		os.WriteFile(filepath.Join(b.Dir, PidFile), []byte(bad), 0o644)
		if b.On() {
			t.Errorf("pid file %q counts as on", bad)
		}
	}
}
