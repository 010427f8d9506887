package connection

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// serialServer is a board's serial port on 127.0.0.1: each accepted
// client gets the next script, written line by line, then the
// connection is closed unless the script is the last one.
func serialServer(t *testing.T, scripts ...string) (addr string, received func() string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	var got bytes.Buffer
	go func() {
		for i := 0; ; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if i >= len(scripts) {
				c.Close()
				continue
			}
			go func(c net.Conn) {
				buf := make([]byte, 1024)
				for {
					n, err := c.Read(buf)
					mu.Lock()
					got.Write(buf[:n])
					mu.Unlock()
					if err != nil {
						return
					}
				}
			}(c)
			fmt.Fprint(c, scripts[i])
			if i < len(scripts)-1 {
				time.Sleep(500 * time.Millisecond) // past Settle: a connected attempt
				c.Close()
			}
		}
	}()
	return ln.Addr().String(), func() string {
		mu.Lock()
		defer mu.Unlock()
		return got.String()
	}
}

func needTelnet(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("telnet")
	if err != nil {
		t.Skip("telnet not installed (apt-get install telnet): the serial tests connect with it")
	}
	return p
}

// The board's serial server drops the client (a power cycle): the session
// runs the connection command again and the output goes on, an Expect in
// progress included.
func TestDialReconnects(t *testing.T) {
	t.Parallel()
	telnet := needTelnet(t)
	addr, received := serialServer(t, "U-Boot first boot\r\n", "\x1b[0mU-Boot \x1b[1msecond\x1b[0m boot\r\n=> ")
	host, port, _ := net.SplitHostPort(addr)
	var notes []string
	var mu sync.Mutex
	s, err := Dial([]string{telnet, host, port}, Options{StripEscapes: true}, Reconnect{Interval: 50 * time.Millisecond,
		Debugf: func(f string, a ...any) { mu.Lock(); notes = append(notes, fmt.Sprintf(f, a...)); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := s.Expect(ctx, regexp.MustCompile(`first boot`)); err != nil {
		t.Fatalf("first: %v", err)
	}
	// Matched on the second connection, without escape sequences.
	if _, err := s.Expect(ctx, regexp.MustCompile(`U-Boot second boot`)); err != nil {
		t.Fatalf("second: %v (tail %q)", err, s.Tail(5))
	}
	if _, err := s.Expect(ctx, regexp.MustCompile(`=> $`)); err != nil {
		t.Fatalf("prompt: %v", err)
	}
	if err := s.SendLine("version"); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(received(), "version") {
		if ctx.Err() != nil {
			t.Fatalf("the board never received the command: %q", received())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := s.Reconnects(); n < 1 {
		t.Errorf("Reconnects() = %d, want at least 1", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if !anyContains(notes, "Connection lost") {
		t.Errorf("no 'Connection lost' note in %q", notes)
	}
}

func anyContains(ss []string, sub string) bool {
	for _, s := range ss {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// A board that never answers: the session ends after the window, and
// Expect says why; the failed attempts are one note, not device output.
func TestDialGivesUp(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var notes []string
	s, err := Dial([]string{"sh", "-c", "echo 'Unable to connect to remote host: Connection refused'; exit 1"}, Options{},
		Reconnect{Interval: 20 * time.Millisecond, Window: 500 * time.Millisecond,
			Debugf: func(f string, a ...any) { mu.Lock(); notes = append(notes, fmt.Sprintf(f, a...)); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = s.Expect(ctx, regexp.MustCompile(`never`))
	if !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "no connection for 500ms") {
		t.Fatalf("Expect = %v, want ErrClosed naming the window", err)
	}
	if tail := s.Tail(5); len(tail) > 0 {
		t.Errorf("failed attempts' output reached the device lines: %q", tail)
	}
	mu.Lock()
	defer mu.Unlock()
	n := 0
	for _, note := range notes {
		if strings.Contains(note, "Connection refused") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d notes with the attempt's output, want 1: %q", n, notes)
	}
	if s.Reconnects() < 2 {
		t.Errorf("Reconnects() = %d, want several attempts", s.Reconnects())
	}
}

// Close stops the current attempt and returns once it is reaped.
func TestDialCloseReaps(t *testing.T) {
	t.Parallel()
	s, err := Dial([]string{"sleep", "60"}, Options{}, Reconnect{})
	if err != nil {
		t.Fatal(err)
	}
	s.link.mu.Lock()
	p := s.link.cur
	s.link.mu.Unlock()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("the connection command is still running after Close")
	}
	if !s.Ended() {
		t.Error("Ended() = false after Close")
	}
	// Sending to a closed session does not block or panic.
	_ = s.SendLine("x")
	if _, err := Dial([]string{"/nonexistent/telnet"}, Options{}, Reconnect{}); err == nil {
		t.Error("Dial of a missing program succeeded")
	}
}

func TestCleanConsole(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want, wantKeep string }{
		{"plain", "plain", "plain"},
		{"\x1b[2J\x1b[1;1HShell> ", "Shell> ", "Shell> "},
		{"Hit any key:  2 \b\b\b 1 ", "Hit any key:  2  1 ", "Hit any key:  2  1 "},
		{"a\x1b(Bb\x1b7c", "abc", "abc"},
		{"title\x1b]0;x\x07end", "titleend", "titleend"},
		{"cut\x1b[1", "cut", "cut\x1b[1"},
		{"cut\x1b", "cut", "cut\x1b"},
		{"tab\there\x00\x07", "tab\there", "tab\there"},
	} {
		if got := string(cleanConsole([]byte(tt.in), false)); got != tt.want {
			t.Errorf("cleanConsole(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := string(cleanConsole([]byte(tt.in), true)); got != tt.wantKeep {
			t.Errorf("cleanConsole(%q, keepTail) = %q, want %q", tt.in, got, tt.wantKeep)
		}
	}
}

// An escape sequence cut between two reads is removed once complete.
func TestStripEscapesAcrossReads(t *testing.T) {
	t.Parallel()
	s := newSession(&bytes.Buffer{}, Options{StripEscapes: true})
	s.feed([]byte("=> \x1b["))
	s.feed([]byte("0mready"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.Expect(ctx, regexp.MustCompile(`=> ready`)); err != nil {
		t.Fatalf("Expect: %v (partial %q)", err, s.Tail(1))
	}
}
