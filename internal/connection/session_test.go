package connection

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/joblog"
)

func start(t *testing.T, script string) (*Session, *bytes.Buffer) {
	t.Helper()
	var log bytes.Buffer
	s, err := Start([]string{"/bin/sh", "-c", script}, Options{Log: joblog.New(&log, joblog.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, &log
}

func re(s string) *regexp.Regexp { return regexp.MustCompile(s) }

func within(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestExpectLinesAndPrompt(t *testing.T) {
	s, _ := start(t, `printf 'boot\r\nLinux version 6.1\r\nlogin: '; read u; printf 'hello %s\r\nroot@basalt:~# ' "$u"; read x`)
	ctx := within(t)
	m, err := s.Expect(ctx, re(`Linux version [0-9]`))
	if err != nil || m.Index != 0 || m.Before != "" {
		t.Fatalf("kernel start: %+v %v", m, err)
	}
	m, err = s.Expect(ctx, re(`Login incorrect`), re(`login:`))
	if err != nil || m.Index != 1 {
		t.Fatalf("login prompt: %+v %v", m, err)
	}
	if err := s.SendLine("root"); err != nil {
		t.Fatal(err)
	}
	m, err = s.Expect(ctx, re(`hello (\w+)`))
	if err != nil || m.Groups[1] != "root" {
		t.Fatalf("echo: %+v %v", m, err)
	}
	if _, err := s.Expect(ctx, re(`root@basalt:~# `)); err != nil {
		t.Fatalf("prompt: %v", err)
	}
}

func TestEarliestMatchWins(t *testing.T) {
	s, _ := start(t, `echo 'a <LAVA_SIGNAL_STARTTC x> <LAVA_SIGNAL_ENDTC x>'; sleep 5`)
	ctx := within(t)
	sig := re(`<LAVA_SIGNAL_(\S+) ([^>]+)>`)
	var got []string
	for range 2 {
		m, err := s.Expect(ctx, re(`<LAVA_SIGNAL_ENDTC`), sig)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.Groups[0])
	}
	// STARTTC comes first in the line; at ENDTC both patterns match at
	// the same place and the first pattern wins.
	want := []string{"<LAVA_SIGNAL_STARTTC x>", "<LAVA_SIGNAL_ENDTC"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestExitEndsExpect(t *testing.T) {
	s, log := start(t, `echo partial-line-no-newline | tr -d '\n'; exit 3`)
	_, err := s.Expect(within(t), re(`never`))
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v, want ErrClosed", err)
	}
	<-s.Done()
	if ok, perr := s.Exited(); !ok || perr == nil {
		t.Fatalf("exited %v %v", ok, perr)
	}
	if !strings.Contains(log.String(), "partial-line-no-newline") {
		t.Log(log.String())
	}
}

func TestTimeout(t *testing.T) {
	s, _ := start(t, `sleep 30`)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := s.Expect(ctx, re(`x`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

// Close must take the whole process group down, a child that ignores
// SIGTERM included, and reap the process.
func TestCloseKillsGroup(t *testing.T) {
	s, _ := start(t, `trap '' TERM; sleep 300 & echo child $!; wait`)
	m, err := s.Expect(within(t), re(`child (\d+)`))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if ok, _ := s.Exited(); !ok {
		t.Fatal("process not reaped after Close")
	}
	var pid int
	for _, c := range m.Groups[1] {
		pid = pid*10 + int(c-'0')
	}
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("child %d still alive", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Lines nobody waits for are logged and then dropped: a chatty device
// costs no memory.
func TestPendingBounded(t *testing.T) {
	var log bytes.Buffer
	s, err := Start([]string{"/bin/sh", "-c", `i=0; while [ $i -lt 20000 ]; do echo "line $i padding padding padding"; i=$((i+1)); done; echo END`},
		Options{Log: joblog.New(&log, joblog.Options{}), MaxPending: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	<-s.Done()
	time.Sleep(50 * time.Millisecond)
	s.mu.Lock()
	pending := s.pending
	s.mu.Unlock()
	if pending > 4096+64 {
		t.Fatalf("pending %d bytes", pending)
	}
	if _, err := s.Expect(within(t), re(`^END$`)); err != nil {
		t.Fatal(err)
	}
}

func TestLogLines(t *testing.T) {
	s, log := start(t, `printf 'one\r\ntwo\n'; read x`)
	if _, err := s.Expect(within(t), re(`two`)); err != nil {
		t.Fatal(err)
	}
	s.SendLine("secret-free input")
	s.opts.Log.Flush()
	out := log.String()
	for _, want := range []string{`"lvl": "target", "msg": "one"}`, `"lvl": "target", "msg": "two"}`, `"lvl": "input", "msg": "secret-free input"}`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}

// Tail keeps the last lines whether or not Expect consumed them.
func TestTail(t *testing.T) {
	s, _ := start(t, `i=0; while [ $i -lt 30 ]; do echo "line $i"; i=$((i+1)); done; printf 'no newline'; exit 1`)
	if _, err := s.Expect(within(t), re(`never`)); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	got := s.Tail(3)
	want := []string{"line 27", "line 28", "line 29", "no newline"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Tail(3) = %q, want %q", got, want)
	}
	if n := len(s.Tail(100)); n != tailLines+1 {
		t.Fatalf("Tail(100) gave %d lines", n)
	}
}

// TestBeforeClose: the hook runs once, while the process still runs and
// before its input is closed (the process sees no EOF first); not for a
// process that has already exited.
func TestBeforeClose(t *testing.T) {
	var calls int
	var sawEOF bool
	var s *Session
	s, err := Start([]string{"/bin/sh", "-c", "cat; echo eof"}, Options{Log: joblog.Discard(), BeforeClose: func() {
		calls++
		exited, _ := s.Exited()
		sawEOF = exited || strings.Contains(strings.Join(s.Tail(10), "\n"), "eof")
	}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close()
	if calls != 1 || sawEOF {
		t.Errorf("BeforeClose called %d times (want 1), the process had ended or seen EOF: %v", calls, sawEOF)
	}

	called := false
	done, err := Start([]string{"/bin/true"}, Options{Log: joblog.Discard(), BeforeClose: func() { called = true }})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if exited, _ := done.Exited(); exited {
			break
		}
	}
	done.Close()
	if called {
		t.Error("BeforeClose called for a process that had exited")
	}
}
