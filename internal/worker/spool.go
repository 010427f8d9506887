package worker

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// spool is one job's log on the worker's disk, between the job that
// writes it and the sender that delivers it: the job's records go to a
// file as they come, and the sender reads them back by line index from
// there, so that a server away for hours costs disk, not memory, and a
// line the server lost can be sent again.
//
// The job's side (add) never waits for the disk: lines are kept in a
// bounded buffer that a writer goroutine appends to the file every
// spoolInterval, or sooner when a chunk is ready. Only lines whole on disk
// are visible to the sender (lines, read). A write that fails stops the
// spool: what it held and every later line is lost, counted, and err
// says why; the worker then ends the job with an infrastructure error.
type spool struct {
	path  string
	w     io.WriteCloser
	r     io.ReaderAt // the same file, for the sender
	rc    io.Closer
	max   int // bytes held at most between two writes
	chunk int // bytes that start a write before the tick

	mu        sync.Mutex
	pending   []byte // whole lines not yet written
	spare     []byte
	lost      int   // lines dropped
	err       error // the first write error
	closed    bool
	onDisk    int64   // lines whole on disk
	size      int64   // their bytes
	marks     []int64 // marks[k]: offset of line k*spoolMark
	onFailure func(error)

	// The sender's cursor: the line it reads next and its offset, so that
	// reading on from where the last read ended does not seek.
	curLine, curOff int64

	wake    chan struct{} // a write is due before the tick
	changed chan struct{} // lines reached the disk, or the spool closed
	stop    chan struct{}
	done    chan struct{}
}

const (
	// spoolBuffer bounds the log held in memory between two writes.
	spoolBuffer = 16 << 20
	// spoolChunk starts a write before the tick.
	spoolChunk = 64 << 10
	// spoolInterval is how often the log is written out, which is also
	// the longest a line waits before it can be sent.
	spoolInterval = 100 * time.Millisecond
	// spoolMark: one offset is remembered every spoolMark lines, so that
	// resending from any index reads at most that many lines to get
	// there, for 8 bytes of memory per spoolMark lines.
	spoolMark = 1024
)

// SpoolFile is the name of a job's log spool in its folder.
const SpoolFile = "logs.yaml"

// createSpool creates the spool file at path (which must not exist).
// onFailure, if set, is told once of the first write error.
func createSpool(path string, onFailure func(error)) (*spool, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating the job's log spool: %w", err)
	}
	r, err := os.Open(path)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("opening the job's log spool: %w", err)
	}
	return newSpool(path, f, r, r, onFailure, spoolBuffer, spoolChunk, spoolInterval), nil
}

// openSpool reopens the spool an earlier worker process left at path,
// closed: its whole lines are there to read again, a last line cut short
// is not.
func openSpool(path string) (*spool, error) {
	r, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reopening the job's log spool: %w", err)
	}
	s := &spool{path: path, r: r, rc: r, closed: true, marks: []int64{0},
		changed: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	close(s.done)
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		n, err := skipLine(br)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("reading the job's log spool %s: %w", path, err)
		}
		s.onDisk++
		s.size += n
		if s.onDisk%spoolMark == 0 {
			s.marks = append(s.marks, s.size)
		}
	}
	return s, nil
}

// newSpool is createSpool over any writer and reader of the same bytes
// (tests give a writer that fails).
func newSpool(path string, w io.WriteCloser, r io.ReaderAt, rc io.Closer, onFailure func(error), max, chunk int, every time.Duration) *spool {
	s := &spool{path: path, w: w, r: r, rc: rc, max: max, chunk: chunk, onFailure: onFailure,
		marks: []int64{0}, wake: make(chan struct{}, 1), changed: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	go s.writer(every)
	return s
}

// add keeps one record's line (with its newline) for the next write. It
// never waits for the disk; past the buffer's bound the line is dropped
// and counted.
func (s *spool) add(line []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.err != nil || len(s.pending)+len(line)+1 > s.max {
		s.lost++
		return
	}
	s.pending = append(s.pending, line...)
	if len(line) == 0 || line[len(line)-1] != '\n' {
		s.pending = append(s.pending, '\n')
	}
	if len(s.pending) >= s.chunk {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

func (s *spool) writer(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.wake:
		case <-s.stop:
			s.writePending()
			return
		}
		s.writePending()
	}
}

func (s *spool) writePending() {
	s.mu.Lock()
	buf := s.pending
	s.pending, s.spare = s.spare[:0], nil
	if s.err != nil {
		s.lost += bytes.Count(buf, []byte("\n"))
		buf = buf[:0]
	}
	s.mu.Unlock()
	if len(buf) == 0 {
		s.mu.Lock()
		s.spare = buf
		s.mu.Unlock()
		return
	}
	_, err := s.w.Write(buf)
	s.mu.Lock()
	var failed error
	if err != nil {
		if s.err == nil {
			s.err = err
			failed = err
		}
		s.lost += bytes.Count(buf, []byte("\n"))
	} else {
		// Remember where the lines crossing a mark start.
		off := s.size
		rest := buf
		for len(rest) > 0 {
			i := bytes.IndexByte(rest, '\n')
			s.onDisk++
			off += int64(i + 1)
			rest = rest[i+1:]
			if s.onDisk%spoolMark == 0 {
				s.marks = append(s.marks, off)
			}
		}
		s.size = off
	}
	if cap(buf) <= 4*s.chunk {
		s.spare = buf[:0]
	}
	s.mu.Unlock()
	if failed != nil && s.onFailure != nil {
		s.onFailure(s.failure())
	}
	s.notify()
}

func (s *spool) notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// lines returns how many lines are on disk, whether the spool is closed
// (no more will come) and, once closed, what it lost.
func (s *spool) lines() (n int64, closed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.onDisk, s.closed && s.writerDone()
}

func (s *spool) writerDone() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// read returns lines [from, from+n) of the spool with n as large as
// maxLines and maxBytes allow (at least one line when one is there), each
// without its newline; nothing when from is at or past the lines on
// disk. Only the sender calls it.
func (s *spool) read(from int64, maxLines, maxBytes int) ([]string, error) {
	s.mu.Lock()
	end, size := s.onDisk, s.size
	var at, off int64
	if from == s.curLine {
		at, off = s.curLine, s.curOff
	} else if from >= 0 && from < end {
		k := from / spoolMark
		at, off = k*spoolMark, s.marks[k]
	}
	s.mu.Unlock()
	if from < 0 || from >= end {
		return nil, nil
	}
	br := bufio.NewReaderSize(io.NewSectionReader(s.r, off, size-off), 64<<10)
	for at < from {
		n, err := skipLine(br)
		if err != nil {
			return nil, fmt.Errorf("reading the job's log spool %s: %w", s.path, err)
		}
		at++
		off += n
	}
	var out []string
	bytes := 0
	for at < end && len(out) < maxLines {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("reading the job's log spool %s at line %d: %w", s.path, at, err)
		}
		if len(out) > 0 && bytes+len(line) > maxBytes {
			break
		}
		bytes += len(line)
		out = append(out, line[:len(line)-1])
		at++
		off += int64(len(line))
	}
	s.mu.Lock()
	s.curLine, s.curOff = at, off
	s.mu.Unlock()
	return out, nil
}

// skipLine reads past one line, returning its length.
func skipLine(br *bufio.Reader) (int64, error) {
	var n int64
	for {
		b, err := br.ReadSlice('\n')
		n += int64(len(b))
		if err == nil {
			return n, nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return n, err
		}
	}
}

// close writes out what is held and closes the file for writing; the
// error says what was lost. Later adds are dropped and counted.
func (s *spool) close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return s.failure()
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	cerr := s.w.Close()
	s.mu.Lock()
	if s.err == nil && cerr != nil {
		s.err = cerr
	}
	s.mu.Unlock()
	s.notify()
	return s.failure()
}

// failure is what the spool lost, nil when it kept everything.
func (s *spool) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.err != nil && s.lost > 0:
		return fmt.Errorf("writing the job's log spool %s: %w (%d log lines lost)", s.path, s.err, s.lost)
	case s.err != nil:
		return fmt.Errorf("writing the job's log spool %s: %w", s.path, s.err)
	case s.lost > 0:
		return fmt.Errorf("the job's log spool %s did not keep up: %d log lines lost (at most %d bytes are held between writes)", s.path, s.lost, s.max)
	}
	return nil
}

// release closes the reader; the file itself goes with the job's folder.
func (s *spool) release() {
	if s.rc != nil {
		s.rc.Close()
	}
}
