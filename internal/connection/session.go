// Package connection holds live sessions with a device: a console over a
// child process's stdio (QEMU), and the expect engine the boot and test
// actions drive it with. A session logs every line the device prints to
// the job log as it arrives, whether or not anyone is waiting for it, so
// the log is complete and the device never stalls on a full pipe.
//
// Matching works on lines: each pattern is tried against every complete
// line, in order, and against the unfinished last line (a prompt has no
// newline after it). A match consumes the data up to its end; the rest
// of that line stays for the next Expect. Lines nothing matched are
// dropped once searched, so a test printing gigabytes costs no memory.
package connection

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/process"
)

// ErrClosed is returned by Expect when the device's output ended (the
// process exited or the session was closed) before a pattern matched.
var ErrClosed = errors.New("connection closed")

// Options configure a Session.
type Options struct {
	// Log receives device lines (target) and sent lines (input).
	Log *joblog.Logger
	// LineSeparator ends every SendLine; "\n" when empty.
	LineSeparator string
	// CharDelay, when set, is the pause after each sent character, for
	// devices whose UART drops input sent at full speed.
	CharDelay time.Duration
	// MaxPending bounds the unread complete lines kept for a later
	// Expect; older ones are dropped (they were logged). 4 MiB if zero.
	MaxPending int
	// StripEscapes removes terminal escape sequences (ESC [ … and the
	// like) and control characters other than tab from what the device
	// prints, before it is logged and matched: firmware consoles (U-Boot,
	// UEFI, GRUB menus) draw with them, and a prompt split by a colour
	// change would never match. LAVA matches the raw bytes; its device
	// templates' prompts are written for what is left here.
	StripEscapes bool
	// StopGrace is how long Close gives the process between SIGTERM
	// and SIGKILL; process.DefaultGrace if zero.
	StopGrace time.Duration
	// BeforeClose, when set, is called by Close while the process still
	// runs, before its input is closed and it is stopped: for a console
	// whose far end should go first (an LXC container stopped before its
	// lxc-attach, which otherwise takes seconds to exit).
	BeforeClose func()
}

// Match is what Expect found.
type Match struct {
	// Index is the position of the matching pattern in the list.
	Index int
	// Groups are the submatches, Groups[0] the whole match.
	Groups []string
	// Before is the text of the line before the match.
	Before string
}

// Session is a console to a device.
type Session struct {
	opts Options
	w    io.Writer
	wmu  sync.Mutex

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever data arrives
	lines   []string      // complete lines not yet searched
	pending int           // bytes in lines
	partial []byte        // the unfinished last line
	ended   bool
	endErr  error
	// tail keeps the last lines printed, matched or not, for messages
	// about a device that went away.
	tail   [tailLines]string
	tailAt int

	// Prompts are the shell prompts of the device (LAVA's prompt_str),
	// set by the boot actions for the test actions.
	Prompts []string

	proc      *process.Process
	link      *link // a serial session's attempts (serial.go)
	closeOnce sync.Once
	closeErr  error
}

// Start runs argv as a child process (internal/process: no shell, a
// process group of its own, killed with Basalt) and returns a session on
// its stdin and combined stdout and stderr.
func Start(argv []string, opts Options) (*Session, error) {
	if len(argv) == 0 {
		return nil, process.ErrEmpty
	}
	proc, inW, pr, err := startPiped(argv, opts.StopGrace)
	if err != nil {
		return nil, err
	}
	s := newSession(inW, opts)
	s.proc = proc
	go func() {
		s.read(pr)
		pr.Close()
	}()
	return s, nil
}

// startPiped starts argv (internal/process) with its stdin the read end
// of a pipe whose write end is returned, and its stdout and stderr the
// write end of a blockingPipe whose read end is returned: a console's two
// directions.
func startPiped(argv []string, grace time.Duration) (proc *process.Process, in, out *os.File, err error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, nil, nil, err
	}
	pr, pw, err := blockingPipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, nil, nil, err
	}
	proc, err = process.Start(process.Spec{Argv: argv, Stdin: inR, Stdout: pw, Stderr: pw, Grace: grace})
	// The child has its own copies of its ends of the pipes.
	inR.Close()
	pw.Close()
	if err != nil {
		inW.Close()
		pr.Close()
		return nil, nil, nil, err
	}
	return proc, inW, pr, nil
}

// blockingPipe returns a pipe whose read end is read with plain blocking
// system calls rather than through Go's network poller. QEMU writes its
// console a byte at a time; with the poller, every one of those writes
// is an epoll wake-up of the runtime (about 800,000 for 5 MB, most of
// the dispatcher's CPU), whatever the reader does. A blocking read in
// its own goroutine costs nothing while it waits.
func blockingPipe() (r, w *os.File, err error) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return nil, nil, fmt.Errorf("pipe: %w", err)
	}
	return os.NewFile(uintptr(p[0]), "console"), os.NewFile(uintptr(p[1]), "console"), nil
}

// New returns a session over an existing reader and writer (a socket, a
// serial port); closing the session closes both when they are Closers.
func New(r io.Reader, w io.Writer, opts Options) *Session {
	s := newSession(w, opts)
	go s.read(r)
	return s
}

func newSession(w io.Writer, opts Options) *Session {
	if opts.LineSeparator == "" {
		opts.LineSeparator = "\n"
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 4 << 20
	}
	if opts.Log == nil {
		opts.Log = joblog.Discard()
	}
	return &Session{opts: opts, w: w, changed: make(chan struct{})}
}

// tailLines is how many of the last lines Tail can return.
const tailLines = 20

// smallRead is the size below which the reader pauses before reading
// again: QEMU writes its serial console nearly a byte at a time, and
// reading each byte as it comes would cost a system call and a wake-up
// per byte. A pause of a few milliseconds lets a kilobyte or two
// gather in the pipe at console speeds, while no one waiting for a
// prompt can notice it.
const (
	smallRead  = 512
	batchPause = 5 * time.Millisecond
)

// read splits the device output into lines, logs each and queues it for
// Expect. Carriage returns are dropped: consoles end lines with \r\n.
func (s *Session) read(r io.Reader) {
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			s.feed(buf[:n])
			if n < smallRead {
				time.Sleep(batchPause)
			}
		}
		if err != nil {
			s.mu.Lock()
			if len(s.partial) > 0 {
				line := string(s.partial)
				s.opts.Log.Target(line)
			}
			s.ended = true
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
				s.endErr = err
			}
			s.notifyLocked()
			s.mu.Unlock()
			return
		}
	}
}

func (s *Session) feed(data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.StripEscapes {
		s.feedClean(data)
		return
	}
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			s.partial = appendNoCR(s.partial, data)
			break
		}
		var line string
		if len(s.partial) > 0 {
			s.partial = appendNoCR(s.partial, data[:i])
			line = string(s.partial)
			s.partial = s.partial[:0]
		} else {
			line = string(dropCR(data[:i]))
		}
		data = data[i+1:]
		s.opts.Log.Target(line)
		s.lines = append(s.lines, line)
		s.pending += len(line)
		s.tail[s.tailAt%tailLines] = line
		s.tailAt++
	}
	s.boundLocked()
}

// boundLocked keeps the partial line and the pending lines in bounds,
// and wakes up the waiters.
func (s *Session) boundLocked() {
	// A device that never prints a newline must not grow the partial
	// line without bound: log and queue it as a line of its own.
	if len(s.partial) > 64<<10 {
		line := string(s.partial)
		s.opts.Log.Target(line)
		s.lines = append(s.lines, line)
		s.pending += len(line)
		s.partial = s.partial[:0]
	}
	for s.pending > s.opts.MaxPending && len(s.lines) > 1 {
		s.pending -= len(s.lines[0])
		s.lines[0] = ""
		s.lines = s.lines[1:]
	}
	s.notifyLocked()
}

func (s *Session) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func appendNoCR(dst, src []byte) []byte {
	for {
		i := bytes.IndexByte(src, '\r')
		if i < 0 {
			return append(dst, src...)
		}
		dst = append(dst, src[:i]...)
		src = src[i+1:]
	}
}

func dropCR(b []byte) []byte {
	if bytes.IndexByte(b, '\r') < 0 {
		return b
	}
	return appendNoCR(nil, b)
}

// Expect waits until one of patterns matches the device output, ctx ends
// (its error is returned, wrapped) or the output ends (ErrClosed).
func (s *Session) Expect(ctx context.Context, patterns ...*regexp.Regexp) (*Match, error) {
	for {
		s.mu.Lock()
		if m := s.searchLocked(patterns); m != nil {
			s.mu.Unlock()
			return m, nil
		}
		if s.ended {
			err := s.endErr
			s.mu.Unlock()
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrClosed, err)
			}
			return nil, ErrClosed
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
	}
}

// searchLocked tries the queued lines in order, then the partial line.
func (s *Session) searchLocked(patterns []*regexp.Regexp) *Match {
	for len(s.lines) > 0 {
		line := s.lines[0]
		if m := matchLine(line, patterns); m != nil {
			rest := line[len(m.Before)+len(m.Groups[0]):]
			s.pending -= len(line) - len(rest)
			if rest == "" {
				s.lines[0] = ""
				s.lines = s.lines[1:]
			} else {
				s.lines[0] = rest
			}
			return m
		}
		s.pending -= len(line)
		s.lines[0] = ""
		s.lines = s.lines[1:]
	}
	if len(s.partial) == 0 {
		return nil
	}
	line := string(s.partial)
	m := matchLine(line, patterns)
	if m == nil {
		return nil
	}
	s.partial = append(s.partial[:0], line[len(m.Before)+len(m.Groups[0]):]...)
	return m
}

// matchLine returns the earliest match in line; on a tie the first
// pattern wins, as with pexpect.
func matchLine(line string, patterns []*regexp.Regexp) *Match {
	best, bestAt := -1, -1
	var bestLoc []int
	for i, p := range patterns {
		if p == nil {
			continue
		}
		// Most patterns start with literal text (<LAVA_SIGNAL_, login:):
		// a line without it cannot match, and looking for a substring is
		// many times cheaper than running the regexp on every line of a
		// chatty console.
		if prefix, _ := p.LiteralPrefix(); prefix != "" && !strings.Contains(line, prefix) {
			continue
		}
		loc := p.FindStringSubmatchIndex(line)
		if loc == nil {
			continue
		}
		if best < 0 || loc[0] < bestAt {
			best, bestAt, bestLoc = i, loc[0], loc
		}
	}
	if best < 0 {
		return nil
	}
	groups := make([]string, len(bestLoc)/2)
	for g := range groups {
		if bestLoc[2*g] >= 0 {
			groups[g] = line[bestLoc[2*g]:bestLoc[2*g+1]]
		}
	}
	return &Match{Index: best, Groups: groups, Before: line[:bestAt]}
}

// Tail returns up to n of the last complete lines the device printed,
// oldest first, whether or not an Expect consumed them, and the
// unfinished last line if there is one.
func (s *Session) Tail(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > tailLines {
		n = tailLines
	}
	if n > s.tailAt {
		n = s.tailAt
	}
	out := make([]string, 0, n+1)
	for i := s.tailAt - n; i < s.tailAt; i++ {
		out = append(out, s.tail[i%tailLines])
	}
	if len(s.partial) > 0 {
		out = append(out, string(s.partial))
	}
	return out
}

// Flush forgets the output received so far, so that the next Expect
// only sees what comes after (LAVA clears the buffer before sending a
// command whose answer it then waits for).
func (s *Session) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.lines {
		s.lines[i] = ""
	}
	s.lines, s.pending, s.partial = s.lines[:0], 0, s.partial[:0]
}

// Send writes data to the device as it is.
func (s *Session) Send(data string) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.opts.CharDelay <= 0 {
		_, err := io.WriteString(s.w, data)
		return err
	}
	for i := 0; i < len(data); i++ {
		if _, err := s.w.Write([]byte{data[i]}); err != nil {
			return err
		}
		time.Sleep(s.opts.CharDelay)
	}
	return nil
}

// SendLine writes line and the line separator, and logs it as input.
func (s *Session) SendLine(line string) error {
	s.opts.Log.Input(line)
	return s.Send(line + s.opts.LineSeparator)
}

// Done is closed when the device's process has exited (never, for a
// session without a process).
func (s *Session) Done() <-chan struct{} {
	if s.proc == nil {
		return nil
	}
	return s.proc.Done()
}

// Exited reports whether the process has ended, and how.
func (s *Session) Exited() (bool, error) {
	if s.proc == nil {
		return false, nil
	}
	return s.proc.Exited()
}

// Pid returns the process id, 0 for a session without a process.
func (s *Session) Pid() int {
	if s.proc == nil {
		return 0
	}
	return s.proc.Pid()
}

// Close ends the session: the process is stopped (process.Stop: its group
// gets SIGTERM, then SIGKILL after Options.StopGrace) and reaped. Safe to
// call more than once and from several goroutines.
func (s *Session) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Session) close() error {
	if s.opts.BeforeClose != nil && s.proc != nil {
		if exited, _ := s.proc.Exited(); !exited {
			s.opts.BeforeClose()
		}
	}
	if c, ok := s.w.(io.Closer); ok {
		c.Close()
	}
	if s.proc != nil {
		s.proc.Stop()
	}
	if s.link != nil {
		s.link.close()
	}
	return nil
}

// Describe names the process for messages: its program and pid.
func (s *Session) Describe() string {
	if s.link != nil {
		return fmt.Sprintf("connection command %s", strings.Join(s.link.argv, " "))
	}
	if s.proc == nil {
		return "console"
	}
	return fmt.Sprintf("%s (pid %d)", strings.TrimSpace(s.proc.Path()), s.Pid())
}
