package connection

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/basalt-lava/basalt/internal/process"
)

// A serial console the way labs reach their boards: a connection command
// of the device dictionary (telnet to ser2net, socat, conmux) run as a
// child process, with the session over its stdio. Unlike QEMU's console,
// the command is not the device: when it exits (the board was power
// cycled and its serial server dropped the client, the terminal server
// restarted, the command was killed) the device is still there, so the
// session runs the command again and the device's output goes on in the
// same session: an Expect in progress keeps waiting. Only when no attempt
// stays connected for Reconnect.Window does the session end, and Expect
// return ErrClosed with the reason: the board or its serial server is
// gone.
//
// An attempt counts as connected once its process has lived for
// Reconnect.Settle; what a failed attempt prints ("Connection refused")
// is logged once per run of failures, as a debug line, rather than as
// device output, so a board that takes a few seconds to come up does not
// fill the log. While no attempt is connected, what is sent is dropped,
// as on a serial line with nothing at the other end.
//
// Every attempt is a process.Start child: its own process group, reaped
// before the next one starts; Close stops the current one and returns
// once it is reaped.

// Reconnect says how a serial session survives its command's exits.
type Reconnect struct {
	// Interval is the pause between two attempts; 200 ms if zero.
	Interval time.Duration
	// Settle is how long an attempt must live to count as connected;
	// 300 ms if zero.
	Settle time.Duration
	// Window is how long the session may stay without a connected
	// attempt before it ends; 30 s if zero.
	Window time.Duration
	// Debugf, when set, receives the session's own notes (reconnecting,
	// a failed attempt's output); the job log's debug level.
	Debugf func(format string, args ...any)
}

func (r *Reconnect) defaults() {
	if r.Interval <= 0 {
		r.Interval = 200 * time.Millisecond
	}
	if r.Settle <= 0 {
		r.Settle = 300 * time.Millisecond
	}
	if r.Window <= 0 {
		r.Window = 30 * time.Second
	}
	if r.Debugf == nil {
		r.Debugf = func(string, ...any) {}
	}
}

// Dial starts a serial session through argv (already split: the
// dictionary's command line, shlex-split by the caller). It fails only
// when argv cannot be started at all (no such program); a command that
// starts and exits is retried as described above.
func Dial(argv []string, opts Options, rc Reconnect) (*Session, error) {
	if len(argv) == 0 {
		return nil, process.ErrEmpty
	}
	rc.defaults()
	lw := &linkWriter{}
	s := newSession(lw, opts)
	l := &link{s: s, argv: argv, rc: rc, w: lw, stop: make(chan struct{}), done: make(chan struct{})}
	s.link = l
	first, err := l.start()
	if err != nil {
		return nil, err
	}
	go l.supervise(first)
	return s, nil
}

// link runs the attempts of a serial session.
type link struct {
	s    *Session
	argv []string
	rc   Reconnect
	w    *linkWriter

	mu       sync.Mutex
	cur      *process.Process
	stopped  bool
	stop     chan struct{}
	done     chan struct{}
	attempts int // attempts started, for Describe
}

// attempt is one running connection command.
type attempt struct {
	proc   *process.Process
	in     *os.File
	chunks chan []byte // closed at EOF
}

func (l *link) start() (*attempt, error) {
	proc, inW, pr, err := startPiped(l.argv, l.s.opts.StopGrace)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.cur = proc
	l.attempts++
	l.mu.Unlock()
	a := &attempt{proc: proc, in: inW, chunks: make(chan []byte, 16)}
	go func() {
		defer close(a.chunks)
		defer pr.Close()
		for {
			buf := make([]byte, 32<<10)
			n, err := pr.Read(buf)
			if n > 0 {
				a.chunks <- buf[:n]
				if n < smallRead {
					time.Sleep(batchPause)
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return a, nil
}

// supervise runs attempts until the session is closed or the window
// passes without a connected one.
func (l *link) supervise(a *attempt) {
	defer close(l.done)
	downSince := time.Now()
	failuresLogged := false
	for {
		connected := l.follow(a, &failuresLogged)
		a.in.Close()
		a.proc.Stop()
		l.w.set(nil)
		l.mu.Lock()
		l.cur = nil
		stopped := l.stopped
		l.mu.Unlock()
		if stopped {
			l.s.end(nil)
			return
		}
		if connected {
			downSince = time.Now()
			failuresLogged = false
			l.rc.Debugf("Connection lost (%s): reconnecting", exitText(a.proc))
		} else if time.Since(downSince) >= l.rc.Window {
			l.s.end(fmt.Errorf("no connection for %s: %s %s", l.rc.Window, l.argv[0], exitText(a.proc)))
			return
		}
		select {
		case <-l.stop:
			l.s.end(nil)
			return
		case <-time.After(l.rc.Interval):
		}
		next, err := l.start()
		for err != nil {
			if time.Since(downSince) >= l.rc.Window {
				l.s.end(fmt.Errorf("no connection for %s: %v", l.rc.Window, err))
				return
			}
			select {
			case <-l.stop:
				l.s.end(nil)
				return
			case <-time.After(l.rc.Interval):
			}
			next, err = l.start()
		}
		a = next
	}
}

// follow feeds an attempt's output to the session until it ends; it
// reports whether the attempt got connected (lived Settle).
func (l *link) follow(a *attempt, failuresLogged *bool) bool {
	settle := time.NewTimer(l.rc.Settle)
	defer settle.Stop()
	var held []byte
	connected := false
	for {
		select {
		case <-l.stop:
			return connected
		case <-settle.C:
			connected = true
			l.w.set(a.in)
			if len(held) > 0 {
				l.s.feed(held)
				held = nil
			}
		case chunk, ok := <-a.chunks:
			if !ok {
				if !connected {
					// Wait for the exit status, for the note.
					<-a.proc.Done()
					if !*failuresLogged {
						*failuresLogged = true
						out := strings.TrimSpace(strings.ReplaceAll(string(held), "\r", ""))
						l.rc.Debugf("Connection attempt failed (%s): %s; retrying every %s for up to %s",
							exitText(a.proc), out, l.rc.Interval, l.rc.Window)
					}
				}
				return connected
			}
			if connected {
				l.s.feed(chunk)
			} else if len(held) < 64<<10 {
				held = append(held, chunk...)
			}
		}
	}
}

// exitText says how an attempt ended.
func exitText(p *process.Process) string {
	select {
	case <-p.Done():
	case <-time.After(time.Second):
		return "still running"
	}
	err := p.Wait()
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// close stops the link: the current attempt is stopped and reaped.
func (l *link) close() {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		<-l.done
		return
	}
	l.stopped = true
	close(l.stop)
	l.mu.Unlock()
	<-l.done
}

// attemptsStarted is how many times the command was started.
func (l *link) attemptsStarted() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.attempts
}

// end marks the session's output as over: Expect returns ErrClosed,
// wrapping err when not nil.
func (s *Session) end(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	if len(s.partial) > 0 {
		s.opts.Log.Target(string(s.partial))
	}
	s.ended = true
	s.endErr = err
	s.notifyLocked()
}

// linkWriter sends to the current attempt, and drops what is sent while
// there is none.
type linkWriter struct {
	mu sync.Mutex
	w  *os.File
}

func (w *linkWriter) set(f *os.File) {
	w.mu.Lock()
	w.w = f
	w.mu.Unlock()
}

func (w *linkWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	f := w.w
	w.mu.Unlock()
	if f == nil {
		return len(p), nil
	}
	n, err := f.Write(p)
	if err != nil && (errors.Is(err, os.ErrClosed) || errors.Is(err, syscall.EPIPE)) {
		// The attempt just ended: as if nothing were at the other end.
		return len(p), nil
	}
	return n, err
}

// Reconnects returns how many times a serial session's command was
// started again after the first; 0 for other sessions.
func (s *Session) Reconnects() int {
	if s.link == nil {
		return 0
	}
	return s.link.attemptsStarted() - 1
}

// Connected reports whether a serial session has a connected attempt
// now; other sessions report whether their output has not ended.
func (s *Session) Connected() bool {
	if s.link != nil {
		s.link.w.mu.Lock()
		defer s.link.w.mu.Unlock()
		return s.link.w.w != nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.ended
}

// feedClean is feed for StripEscapes sessions: each complete line, and
// the unfinished one, without escape sequences and control characters.
// An escape sequence cut by the end of a read stays at the end of the
// partial line until the rest arrives.
func (s *Session) feedClean(data []byte) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			s.partial = cleanConsole(append(s.partial, data...), true)
			break
		}
		line := string(cleanConsole(append(s.partial, data[:i]...), false))
		s.partial = s.partial[:0]
		data = data[i+1:]
		s.opts.Log.Target(line)
		s.lines = append(s.lines, line)
		s.pending += len(line)
		s.tail[s.tailAt%tailLines] = line
		s.tailAt++
	}
	s.boundLocked()
}

// cleanConsole removes, in place, CSI sequences (ESC [ parameters final
// byte), two- and three-byte escapes (ESC ( B, ESC 7…), OSC strings (ESC ]
// … BEL) and control characters other than tab. keepTail keeps an
// unfinished escape at the end, for the next read to complete.
func cleanConsole(b []byte, keepTail bool) []byte {
	out := b[:0]
	for i := 0; i < len(b); {
		c := b[i]
		if c != 0x1b {
			if c >= 0x20 && c != 0x7f || c == '\t' {
				out = append(out, c)
			}
			i++
			continue
		}
		n := escapeLen(b[i:])
		if n == 0 { // unfinished
			if keepTail {
				out = append(out, b[i:]...)
			}
			break
		}
		i += n
	}
	return out
}

// escapeLen is the length of the escape sequence at the start of b
// (b[0] is ESC), 0 when it is not complete yet.
func escapeLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '[':
		for j := 2; j < len(b); j++ {
			if b[j] >= 0x40 && b[j] <= 0x7e {
				return j + 1
			}
			if j > 64 { // not a sequence a terminal would accept
				return j
			}
		}
		return 0
	case ']':
		for j := 2; j < len(b); j++ {
			if b[j] == 0x07 {
				return j + 1
			}
			if b[j] == 0x1b && j+1 < len(b) && b[j+1] == '\\' {
				return j + 2
			}
			if j > 256 {
				return j
			}
		}
		return 0
	case '(', ')', '*', '+', '#', '%':
		if len(b) < 3 {
			return 0
		}
		return 3
	}
	return 2
}

// Ended reports whether the session's output has ended for good (the
// process exited, a serial session gave up reconnecting, or Close).
func (s *Session) Ended() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

// SetLineSeparator changes what ends every SendLine from now on (UEFI's
// shell wants CRLF).
func (s *Session) SetLineSeparator(sep string) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.opts.LineSeparator = sep
}
