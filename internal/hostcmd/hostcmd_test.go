package hostcmd

import (
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestOutputAndStatus(t *testing.T) {
	tests := []struct {
		name  string
		argv  []string
		lines []string
		code  int
	}{
		{"ok", []string{"sh", "-c", "echo one; echo two >&2"}, []string{"one", "two"}, 0},
		{"fails", []string{"sh", "-c", "echo bad; exit 3"}, []string{"bad"}, 3},
		{"no shell", []string{"echo", "$HOME; rm -rf /"}, []string{"$HOME; rm -rf /"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var lines []string
			err := Run(context.Background(), tc.argv, func(l string) { lines = append(lines, l) })
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || strings.Join(lines, "|") != strings.Join(tc.lines, "|") {
				t.Fatalf("got %d %q, want %d %q", code, lines, tc.code, tc.lines)
			}
		})
	}
}

// On timeout the whole group goes, a child ignoring SIGTERM included.
func TestTimeoutKillsGroup(t *testing.T) {
	old := Grace
	Grace = 200 * time.Millisecond
	defer func() { Grace = old }()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var child int
	err := Run(ctx, []string{"sh", "-c", `trap '' TERM; sleep 300 & echo $!; wait`}, func(l string) {
		child, _ = strconv.Atoi(l)
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	if child == 0 {
		t.Fatal("child pid not seen")
	}
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(child, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("child %d survived", child)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestEmpty(t *testing.T) {
	if err := Run(context.Background(), nil, nil); err == nil {
		t.Fatal("empty argv accepted")
	}
}
