package overlay

import (
	"errors"
	"os/exec"
	"syscall"
	"testing"
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

func TestRetryBusy(t *testing.T) {
	busy := &exec.Error{Name: "lava-send", Err: syscall.ETXTBSY}
	other := errors.New("no such file")
	tests := []struct {
		name      string
		errs      []error // what each try returns; nil after the list
		wantTries int
		wantErr   error
	}{
		{"busy twice, then started", []error{busy, busy}, 3, nil},
		{"another error is not retried", []error{other, busy}, 1, other},
		{"started at once", nil, 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tries, made := 0, 0
			_, err := retryBusy(func() *exec.Cmd { made++; return exec.Command("true") }, func(*exec.Cmd) error {
				tries++
				if tries <= len(tc.errs) {
					return tc.errs[tries-1]
				}
				return nil
			})
			if tries != tc.wantTries || made != tries || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Errorf("tries %d (commands made %d), err %v; want %d tries, err %v", tries, made, err, tc.wantTries, tc.wantErr)
			}
		})
	}
}
