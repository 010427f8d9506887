package logstore

import (
	"context"
	"errors"
	"testing"
	"time"
)

func waitRecord(i int) string {
	return `- {"dt": "2026-01-01T00:00:00.000000", "lvl": "info", "msg": "line ` + string(rune('a'+i%26)) + `"}`
}

// Wait returns at once for lines already held, wakes on the Append that
// adds a line (and not before), and ends with its context; nothing is
// left behind for a job nobody waits for.
func TestWait(t *testing.T) {
	t.Parallel()
	l, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := l.Wait(ctx, 0, 0); !errors.Is(err, ErrBadJob) {
		t.Errorf("Wait(job 0) = %v, want ErrBadJob", err)
	}
	if _, err := l.Append(7, 0, []string{waitRecord(0)}); err != nil {
		t.Fatal(err)
	}
	if err := l.Wait(ctx, 7, 0); err != nil {
		t.Fatalf("Wait with a line held = %v", err)
	}

	done := make(chan error, 1)
	go func() { done <- l.Wait(ctx, 7, 1) }()
	// An append to another job does not wake it.
	if _, err := l.Append(8, 0, []string{waitRecord(1)}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("Wait returned %v before job 7 got a line", err)
	case <-time.After(50 * time.Millisecond):
	}
	if _, err := l.Append(7, 1, []string{waitRecord(2)}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Wait after the append = %v", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	go func() { done <- l.Wait(cctx, 7, 2) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait on a canceled context = %v", err)
	}
	l.waits.mu.Lock()
	left := len(l.waits.m)
	l.waits.mu.Unlock()
	if left != 0 {
		t.Errorf("%d jobs still have waiters after every Wait returned", left)
	}
}

// Many waiters on one job all wake on one append.
func TestWaitMany(t *testing.T) {
	t.Parallel()
	l, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	done := make(chan error, n)
	for range n {
		go func() { done <- l.Wait(context.Background(), 3, 0) }()
	}
	if _, err := l.Append(3, 0, []string{waitRecord(0)}); err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// Bytes is the size of a range of lines, from the index.
func TestBytes(t *testing.T) {
	t.Parallel()
	l, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{waitRecord(0), waitRecord(1) + "  ", waitRecord(2)}
	if _, err := l.Append(4, 0, lines); err != nil {
		t.Fatal(err)
	}
	size := func(ls ...string) int64 {
		n := 0
		for _, s := range ls {
			n += len(s) + 1
		}
		return int64(n)
	}
	for _, c := range []struct {
		start, end, want int64
	}{{0, 3, size(lines...)}, {1, 2, size(lines[1])}, {1, -1, size(lines[1:]...)}, {2, 99, size(lines[2])}, {3, 5, 0}, {2, 1, 0}} {
		got, err := l.Bytes(4, c.start, c.end)
		if err != nil || got != c.want {
			t.Errorf("Bytes(%d, %d) = %d, %v; want %d", c.start, c.end, got, err, c.want)
		}
	}
	if n, err := l.Bytes(5, 0, -1); n != 0 || err != nil {
		t.Errorf("Bytes of a job without a log = %d, %v", n, err)
	}
	if _, err := l.Bytes(4, -1, 2); err == nil {
		t.Error("Bytes from -1: no error")
	}
}
