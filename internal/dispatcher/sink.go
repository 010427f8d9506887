package dispatcher

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/results"
	"github.com/basalt-lava/basalt/internal/value"
)

// Sink receives what a running job produces: its log records, the files
// it publishes (description.yaml, anything an action hands over) and, at
// the end, how it ended with every result. DirSink writes them into a
// folder (what `basalt run` leaves); a worker streams them to its server.
//
// The contract, which Run relies on:
//   - Log receives every record in order, one call at a time, from
//     whichever goroutine logs (an action, the console reader) while the
//     job log's lock is held. It must never block the job beyond a
//     bounded buffer: a sink that cannot keep up drops records and
//     counts them instead of waiting. It must not log to the job.
//   - File may be called from any goroutine until Results; name is a
//     plain file name (a sink refuses anything else). It returns once the
//     sink holds the data (written or spooled), not once it is delivered.
//   - Results is called once, after the last record: how the job ended,
//     its name, every result (the lava suite included). Outcome.SinkErr
//     is not known yet and is nil.
//   - Close is called once, last, even when the job never ran. It
//     flushes what is buffered and returns an error saying what was lost
//     (records dropped, a write that failed); nil means everything was
//     kept. What comes after Close is dropped.
type Sink interface {
	Log(rec joblog.Record)
	File(name string, data []byte) error
	Results(o Outcome) error
	Close() error
}

// The files of a job's output. A DirSink writes the log and the results
// itself, and its File refuses their names so that nothing an action
// publishes overwrites them; Run publishes the description.
const (
	LogFile         = "logs.yaml"
	ResultsFile     = "results.yaml"
	JUnitFile       = "results.xml"
	DescriptionFile = "description.yaml"
)

// DirSink is the Sink of `basalt run`: a folder holding logs.yaml (LAVA's
// log lines, written every second so that `tail -f` follows the job and a
// killed process loses at most a second of it), description.yaml and
// whatever else the job publishes, and at the end results.yaml and
// results.xml (JUnit). The log is kept in memory between writes, up to
// DirSinkBuffer bytes: past that, records are dropped and Close says how
// many.
type DirSink struct {
	dir   string
	path  string // of logs.yaml
	w     io.WriteCloser
	max   int // bytes held at most between two writes
	chunk int // bytes that start a write before the tick

	mu        sync.Mutex
	pending   []byte // log bytes not yet written
	spare     []byte // the other buffer, while the writer writes one
	lost      int    // records dropped
	lostBytes int
	err       error // the first write error; the log stops there
	closed    bool
	closeErr  error

	wake chan struct{} // a write is due before the tick
	stop chan struct{}
	done chan struct{}
}

var _ Sink = (*DirSink)(nil)

const (
	// DirSinkBuffer bounds the log a DirSink holds between two writes:
	// far more than a console prints in a second, so that only a disk
	// that stopped answering loses records.
	DirSinkBuffer = 16 << 20
	// dirSinkChunk starts a write before the tick, so that a busy
	// console is written in pieces of about this size.
	dirSinkChunk = 64 << 10
	// dirSinkInterval is how often the log is written out.
	dirSinkInterval = time.Second
)

// NewDirSink creates dir when needed and logs.yaml in it (replacing one
// left by an earlier run), and starts writing the log every second.
func NewDirSink(dir string) (*DirSink, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, LogFile)
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return newDirSink(dir, path, f, DirSinkBuffer, dirSinkChunk, dirSinkInterval), nil
}

// newDirSink is NewDirSink over any writer, with the buffer's bound, the
// size that starts a write early and the interval between writes (tests
// use a writer that blocks).
func newDirSink(dir, path string, w io.WriteCloser, max, chunk int, every time.Duration) *DirSink {
	s := &DirSink{dir: dir, path: path, w: w, max: max, chunk: chunk,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go s.writer(every)
	return s
}

// Dir is the folder the sink writes into.
func (s *DirSink) Dir() string { return s.dir }

// Log keeps the record's line for the next write; it never waits for the
// disk.
func (s *DirSink) Log(rec joblog.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.err != nil || len(s.pending)+len(rec.Line) > s.max {
		s.lost++
		s.lostBytes += len(rec.Line)
		return
	}
	s.pending = append(s.pending, rec.Line...)
	if len(s.pending) >= s.chunk {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// writer writes the pending log every interval, or sooner when a chunk
// is ready, and what is left when the sink closes.
func (s *DirSink) writer(every time.Duration) {
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

func (s *DirSink) writePending() {
	s.mu.Lock()
	buf := s.pending
	s.pending, s.spare = s.spare[:0], nil
	if s.err != nil {
		// Kept before the write that failed: lost with the rest.
		s.lost += bytes.Count(buf, []byte("\n"))
		s.lostBytes += len(buf)
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
	defer s.mu.Unlock()
	if err != nil && s.err == nil {
		// What this write held is lost, and so is every later record:
		// a file that failed a write is not trusted with the rest.
		s.err = err
		s.lost += bytes.Count(buf, []byte("\n"))
		s.lostBytes += len(buf)
	}
	if cap(buf) <= 4*s.chunk {
		s.spare = buf[:0] // reuse it, unless a burst made it large
	}
}

// File writes DIR/name. Names that are not plain file names, or that
// name a file the sink writes itself, are refused.
func (s *DirSink) File(name string, data []byte) error {
	if err := checkFileName(name); err != nil {
		return err
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return fmt.Errorf("writing %s: the job's output is closed", name)
	}
	path := filepath.Join(s.dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// checkFileName accepts a plain file name that is none of the sink's
// own files.
func checkFileName(name string) error {
	switch {
	case name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") || filepath.Base(name) != name:
		return fmt.Errorf("published file %q: not a plain file name", name)
	case name == LogFile || name == ResultsFile || name == JUnitFile:
		return fmt.Errorf("published file %q: the name is the job's own %s", name, name)
	}
	return nil
}

// Results writes results.yaml (every result, the lava suite included)
// and results.xml (JUnit).
func (s *DirSink) Results(o Outcome) error {
	return writeResults(s.dir, o.JobName, o.Cases)
}

func writeResults(dir, jobName string, cases []results.Case) error {
	y, err := results.YAML(cases)
	if err != nil {
		return fmt.Errorf("%s: %w", ResultsFile, err)
	}
	if err := os.WriteFile(filepath.Join(dir, ResultsFile), y, 0o644); err != nil {
		return err
	}
	var x bytes.Buffer
	if err := results.WriteJUnit(&x, jobName, cases); err != nil {
		return fmt.Errorf("%s: %w", JUnitFile, err)
	}
	return os.WriteFile(filepath.Join(dir, JUnitFile), x.Bytes(), 0o644)
}

// Close writes out the rest of the log and closes it; the error is a
// *LostError when records were dropped or a write failed. A second call
// returns the first one's answer.
func (s *DirSink) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return s.closeErr
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	cerr := s.w.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil && cerr != nil {
		s.err = cerr
	}
	if s.lost > 0 || s.err != nil {
		s.closeErr = &LostError{File: s.path, Records: s.lost, Bytes: s.lostBytes, Buffer: s.max, Err: s.err}
	}
	return s.closeErr
}

// LostError is what a sink could not keep of a job's log.
type LostError struct {
	File    string // where the log goes
	Records int    // records dropped
	Bytes   int    // their size
	Buffer  int    // the bound of the sink's buffer, in bytes
	Err     error  // the write error that stopped the log, if one did
}

func (e *LostError) Error() string {
	switch {
	case e.Err != nil && e.Records == 0:
		return fmt.Sprintf("writing the job log: %v", e.Err)
	case e.Err != nil:
		return fmt.Sprintf("writing the job log: %v (%d records, %d bytes lost)", e.Err, e.Records, e.Bytes)
	}
	return fmt.Sprintf("the job log lost %d records (%d bytes): %s did not keep up with the job (at most %d bytes are held between writes)",
		e.Records, e.Bytes, e.File, e.Buffer)
}

func (e *LostError) Unwrap() error { return e.Err }

// maskedSink is the sink Run gives the job: the files it publishes and
// the results it ends with go through the job's Masker before they reach
// the front end's sink (the log's records are masked by the Logger).
type maskedSink struct {
	Sink
	m *joblog.Masker
}

func (s maskedSink) File(name string, data []byte) error {
	return s.Sink.File(name, s.m.Bytes(data))
}

func (s maskedSink) Results(o Outcome) error {
	o.Message = s.m.String(o.Message)
	o.JobName = s.m.String(o.JobName)
	cases := make([]results.Case, len(o.Cases))
	for i, k := range o.Cases {
		for _, f := range []*string{&k.Suite, &k.Name, &k.Result, &k.Units, &k.Set, &k.Level, &k.Duration} {
			*f = s.m.String(*f)
		}
		if k.Extra != nil {
			k.Extra = s.m.Value(k.Extra).(*value.Map)
		}
		cases[i] = k
	}
	o.Cases = cases
	return s.Sink.Results(o)
}
