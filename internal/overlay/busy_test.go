package overlay

import (
	"errors"
	"os/exec"
	"syscall"
	"time"
)

// retryBusy makes a fresh command with mk and does do with it (Start,
// Run…), again while the program cannot be executed because it is
// "text file busy". The tests write the helper scripts and run them at
// once, in parallel subtests: a child forked by another subtest in the
// instant a script is open for writing holds that descriptor until its
// own exec, and executing the script before then fails with ETXTBSY
// (golang.org/issue/22315). The condition lasts as long as that other
// child's fork-to-exec window, so a short pause ends it.
func retryBusy(mk func() *exec.Cmd, do func(*exec.Cmd) error) (*exec.Cmd, error) {
	for tries := 1; ; tries++ {
		cmd := mk()
		err := do(cmd)
		if !errors.Is(err, syscall.ETXTBSY) || tries == 100 {
			return cmd, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}
