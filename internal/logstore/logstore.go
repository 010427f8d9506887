// Package logstore keeps the jobs' logs of a Basalt server as files, one
// folder per job under <dir>/jobs/<id>/:
//
//   - logs.yaml: the log in LAVA's form, one record per line
//     (`- {"dt": "…", "lvl": "…", "msg": …}` and "\n"), appended only;
//   - logs.idx: the index, one little-endian uint64 per line, the byte
//     offset in logs.yaml of the end of that line (just past its "\n").
//     Line i is bytes [idx[i-1], idx[i]) (idx[-1] = 0), so reading lines
//     [start,end) is two 8-byte reads and one seek, whatever the log's
//     size, and the line count is the index's size / 8.
//
// (LAVA's output.idx holds line starts; ours holds line ends so that the
// index alone says how long the valid log is, which is what crash repair
// needs. The names differ from LAVA's output.yaml/output.idx so that
// neither is mistaken for the other.)
//
// It owns those two files and nothing else in the job's folder. It does
// not know what a job is: who may read a log, whether a job has finished
// and what a worker's retry means belong to its callers.
//
// # Durability
//
// Append writes the new lines to logs.yaml, then their ends to logs.idx,
// with write(2), before it returns. By default it does not fsync: once
// Append has returned (and the server has acknowledged the lines to the
// worker) the lines are in the operating system's page cache, so a crash
// or kill of the server process loses nothing acknowledged. A crash of the
// host (power loss, kernel panic) can lose the lines of the last few
// seconds (the file system's commit interval, 5 s on ext4), and since the
// kernel may write the index's pages before the log's, can leave index
// entries past the log's end; repair (below) cuts them, so the log is
// again a prefix of what was sent, and the worker, which still holds its
// lines, sends the rest again from the count the server then reports.
// Options.Sync fsyncs logs.yaml before writing the index and the index
// after, for a host where that is not enough; it costs two fsyncs per
// batch.
//
// # Repair
//
// The index is the truth. The first use of a job's log after Open (or
// after its files were closed by the cache) checks the last entries of
// the index against the log and cuts, in this order: a torn entry (an
// index whose size is not a multiple of 8), entries that point past the
// log's end, that do not grow, or whose line does not end in "\n", and
// finally bytes of logs.yaml past the last indexed line (written before a
// crash stopped the index's write). An index that is missing while
// logs.yaml exists is rebuilt from logs.yaml, reading it in blocks, its
// unterminated last line cut.
//
// # Limits and memory
//
// A line is at most Options.MaxLineBytes, a job's log at most
// Options.MaxLogBytes; errors past them are *limits.Error. Nothing reads a
// whole log: Read copies the byte range through a fixed buffer, Append
// holds one batch. At most Options.MaxOpen jobs keep their two files open
// between calls (least recently used closed first); the per-job state
// kept for a job whose files are closed is nothing.
package logstore

import (
	"container/list"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/basalt-lava/basalt/internal/limits"
)

// File names inside a job's folder.
const (
	LogFile   = "logs.yaml"
	IndexFile = "logs.idx"
)

// Defaults of Options.
const (
	DefaultMaxLineBytes = 1 << 20
	DefaultMaxLogBytes  = 1 << 30
	DefaultMaxOpen      = 256
)

// Options configure a Logs. The zero value gives the defaults.
type Options struct {
	// MaxLineBytes bounds one record, its "\n" not counted; 0 means
	// DefaultMaxLineBytes. (LAVA's dispatcher already replaces a record
	// of 100,000 bytes or more by a notice; this is the server's guard.)
	MaxLineBytes int
	// MaxLogBytes bounds the size of one job's logs.yaml; 0 means
	// DefaultMaxLogBytes. A batch that would go past it is refused whole.
	MaxLogBytes int64
	// MaxOpen bounds the jobs whose files stay open between calls (two
	// file descriptors each); 0 means DefaultMaxOpen, a negative value
	// closes them after every call. Jobs in use at the moment are open
	// whatever the bound.
	MaxOpen int
	// Sync makes Append fsync the log before writing the index and the
	// index afterwards (see Durability in the package comment).
	Sync bool
	// LimitFlag names the command-line flag that sets the limits, for
	// their errors ("" when they are fixed).
	LimitFlag string
}

// Logs is the store of the jobs' logs under one folder. It is safe for
// concurrent use: calls on one job are serialised (but Read copies
// without holding the job's lock, so a long read does not stop Append),
// calls on different jobs run in parallel.
type Logs struct {
	dir  string
	opts Options

	mu   sync.Mutex
	jobs map[int64]*jobLog
	idle *list.List // of *jobLog with refs == 0 and open files, least recently used first

	waits waiters // Wait's channels (wait.go)
}

// jobLog is one job's open files and what the index says of them.
type jobLog struct {
	id   int64
	refs int           // calls using it; guarded by Logs.mu
	elem *list.Element // in Logs.idle while refs == 0 and open; guarded by Logs.mu
	dead bool          // removed: close when the last call ends; set with both locks held

	mu     sync.Mutex // guards what follows
	loaded bool       // the files were looked for (and repaired)
	log    *os.File   // nil when the job has no log
	idx    *os.File
	lines  int64 // lines in the index
	size   int64 // end of the last line, the valid size of logs.yaml
}

// GapError is a batch of lines that starts past the end of the log: Got
// is the batch's index, Held the lines the log holds (where the sender
// must resume).
type GapError struct {
	Job  int64
	Held int64
	Got  int64
}

func (e *GapError) Error() string {
	return fmt.Sprintf("job %d: log lines from %d sent, but the log holds %d lines: resend from %d", e.Job, e.Got, e.Held, e.Held)
}

// LineError is a line refused by Append: not a LAVA log record, or over
// the line limit (then Err is a *limits.Error).
type LineError struct {
	Job   int64
	Index int64 // the line's index in the job's log
	Err   error
}

func (e *LineError) Error() string {
	return fmt.Sprintf("job %d, log line %d: %v", e.Job, e.Index, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// ErrBadJob is returned for a job id that cannot name a log (not
// positive).
var ErrBadJob = errors.New("a job id must be positive")

// Open returns the store of the logs under dir, creating dir/jobs if
// needed. Jobs' logs are repaired on first use, not here, so Open does
// not read every job.
func Open(dir string, opts Options) (*Logs, error) {
	if opts.MaxLineBytes == 0 {
		opts.MaxLineBytes = DefaultMaxLineBytes
	}
	if opts.MaxLogBytes == 0 {
		opts.MaxLogBytes = DefaultMaxLogBytes
	}
	if opts.MaxOpen == 0 {
		opts.MaxOpen = DefaultMaxOpen
	}
	if opts.MaxLineBytes < 0 || opts.MaxLogBytes < 0 {
		return nil, fmt.Errorf("logstore: negative limits (line %d bytes, log %d bytes)", opts.MaxLineBytes, opts.MaxLogBytes)
	}
	if err := os.MkdirAll(filepath.Join(dir, "jobs"), 0o755); err != nil {
		return nil, fmt.Errorf("logstore: %w", err)
	}
	return &Logs{dir: dir, opts: opts, jobs: map[int64]*jobLog{}, idle: list.New()}, nil
}

// Close closes every open file. Calls running at the moment keep theirs
// until they end; later calls open files again.
func (l *Logs) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first error
	for e := l.idle.Front(); e != nil; {
		next := e.Next()
		j := e.Value.(*jobLog)
		if err := l.evictLocked(j); err != nil && first == nil {
			first = err
		}
		e = next
	}
	return first
}

// Path is the file of job's log, <dir>/jobs/<id>/logs.yaml, whether it
// exists or not.
func (l *Logs) Path(job int64) string {
	return filepath.Join(l.jobDir(job), LogFile)
}

func (l *Logs) jobDir(job int64) string {
	return filepath.Join(l.dir, "jobs", strconv.FormatInt(job, 10))
}

// Exists reports whether job has a log (an empty one counts: Append of no
// lines creates it).
func (l *Logs) Exists(job int64) bool {
	if job <= 0 {
		return false
	}
	_, err := os.Stat(l.Path(job))
	return err == nil
}

// Len returns the lines in job's log; 0 when it has none.
func (l *Logs) Len(job int64) (int64, error) {
	if job <= 0 {
		return 0, ErrBadJob
	}
	j, err := l.acquire(job, false)
	if err != nil {
		return 0, err
	}
	defer l.release(j)
	n := j.lines
	j.mu.Unlock()
	return n, nil
}

// Append adds lines to job's log, lines[0] being line index of the log.
// Lines the log holds already (index below its length) are skipped, so a
// sender that retries a batch whose acknowledgement it lost does no harm;
// a batch starting past the end returns a *GapError and writes nothing.
// Each new line must be one LAVA log record (see normalise): a line that
// is not, or is over MaxLineBytes, is refused with a *LineError naming it,
// and nothing of the batch is written. A batch that would take the log
// past MaxLogBytes is refused whole with a *limits.Error (not wrapped in
// a *LineError): the log is full, every later batch is refused the same
// way, so the caller should end the job rather than have its sender
// retry. Append of no lines creates an empty log.
//
// held is the lines the log holds when Append returns, whatever the
// error: what the sender may drop.
func (l *Logs) Append(job int64, index int64, lines []string) (held int64, err error) {
	j, err := l.acquireAt(job, index, true)
	if err != nil {
		return 0, err
	}
	defer l.release(j)
	defer j.mu.Unlock()
	if index > j.lines {
		return j.lines, &GapError{Job: job, Held: j.lines, Got: index}
	}
	skip := j.lines - index
	if skip >= int64(len(lines)) {
		return j.lines, nil
	}
	lines = lines[skip:]

	size := 0
	for _, s := range lines {
		size += len(s) + 1
	}
	buf := make([]byte, 0, size)
	ends := make([]byte, 8*len(lines))
	for i, s := range lines {
		if len(s) > l.opts.MaxLineBytes {
			return j.lines, &LineError{Job: job, Index: j.lines + int64(i), Err: &limits.Error{
				What: fmt.Sprintf("log line (%d bytes)", len(s)), Limit: fmt.Sprintf("%d bytes", l.opts.MaxLineBytes), Flag: l.opts.LimitFlag}}
		}
		rec, err := normalise(s)
		if err != nil {
			return j.lines, &LineError{Job: job, Index: j.lines + int64(i), Err: err}
		}
		buf = append(buf, rec...)
		buf = append(buf, '\n')
		binary.LittleEndian.PutUint64(ends[8*i:], uint64(j.size+int64(len(buf))))
	}
	if j.size+int64(len(buf)) > l.opts.MaxLogBytes {
		return j.lines, &limits.Error{Path: l.Path(job),
			What:  fmt.Sprintf("log of job %d (%d bytes held, %d more sent)", job, j.size, len(buf)),
			Limit: fmt.Sprintf("%d bytes", l.opts.MaxLogBytes), Flag: l.opts.LimitFlag}
	}
	if err := j.write(buf, ends, l.opts.Sync); err != nil {
		return j.lines, fmt.Errorf("job %d: writing its log: %w", job, err)
	}
	j.lines += int64(len(lines))
	j.size += int64(len(buf))
	l.wake(job)
	return j.lines, nil
}

// write appends buf to the log and ends to the index; on failure it cuts
// both back to what they held, so the files stay what the counts say.
func (j *jobLog) write(buf, ends []byte, sync bool) error {
	undo := func(err error) error {
		_ = j.log.Truncate(j.size)
		_ = j.idx.Truncate(8 * j.lines)
		return err
	}
	if _, err := j.log.WriteAt(buf, j.size); err != nil {
		return undo(err)
	}
	if sync {
		if err := j.log.Sync(); err != nil {
			return undo(err)
		}
	}
	if _, err := j.idx.WriteAt(ends, 8*j.lines); err != nil {
		return undo(err)
	}
	if sync {
		if err := j.idx.Sync(); err != nil {
			return undo(err)
		}
	}
	return nil
}

// Read writes lines [start,end) of job's log to w, each with its "\n";
// end < 0 or past the log's end means to the end, and a start at or past
// the end writes nothing. n is the number of lines written (when err is
// nil). A job with no log reads as an empty one (Exists tells them
// apart). The bytes are copied from the file through a fixed buffer (or
// w's ReadFrom), never held whole.
func (l *Logs) Read(job, start, end int64, w io.Writer) (n int64, err error) {
	j, err := l.acquireAt(job, start, false)
	if err != nil {
		return 0, err
	}
	defer l.release(j)
	if end < 0 || end > j.lines {
		end = j.lines
	}
	if start >= end {
		j.mu.Unlock()
		return 0, nil
	}
	from, err := j.end(start - 1)
	if err == nil {
		var to int64
		to, err = j.end(end - 1)
		if err == nil && (to < from || to > j.size) {
			err = fmt.Errorf("index entries %d..%d (%d, %d) are not a range of the log (%d bytes)", start-1, end-1, from, to, j.size)
		}
		if err == nil {
			// The lines below j.size never change while the log exists,
			// and release keeps the file open while we hold j, so the
			// copy runs without the lock.
			f := j.log
			j.mu.Unlock()
			c, err := io.Copy(w, io.NewSectionReader(f, from, to-from))
			if err != nil {
				return 0, fmt.Errorf("job %d: reading log lines %d..%d: %w", job, start, end, err)
			}
			if c != to-from {
				return 0, fmt.Errorf("job %d: reading log lines %d..%d: %d bytes of %d: the log was cut", job, start, end, c, to-from)
			}
			return end - start, nil
		}
	}
	j.mu.Unlock()
	return 0, fmt.Errorf("job %d: reading log lines %d..%d: %w", job, start, end, err)
}

// end returns the end offset of line i (0 for i = -1).
func (j *jobLog) end(i int64) (int64, error) {
	if i < 0 {
		return 0, nil
	}
	var b [8]byte
	if _, err := j.idx.ReadAt(b[:], 8*i); err != nil {
		return 0, fmt.Errorf("index entry %d: %w", i, err)
	}
	return int64(binary.LittleEndian.Uint64(b[:])), nil
}

// Remove deletes job's log and index, and the job's folder if nothing
// else is left in it. Removing a log that does not exist is not an error.
// Reads running at the moment finish on the removed files.
func (l *Logs) Remove(job int64) error {
	if job <= 0 {
		return ErrBadJob
	}
	j, err := l.acquire(job, false)
	if err != nil && !isCorrupt(err) {
		return err
	}
	if j != nil {
		defer l.release(j)
		defer j.mu.Unlock()
		l.mu.Lock()
		j.dead = true
		if l.jobs[job] == j {
			delete(l.jobs, job)
		}
		l.mu.Unlock()
		j.lines, j.size = 0, 0
	}
	defer l.wake(job)
	var first error
	for _, name := range []string{IndexFile, LogFile} {
		if err := os.Remove(filepath.Join(l.jobDir(job), name)); err != nil && !errors.Is(err, fs.ErrNotExist) && first == nil {
			first = err
		}
	}
	// The folder may hold the caller's files too: leave it then.
	_ = os.Remove(l.jobDir(job))
	if first != nil {
		return fmt.Errorf("job %d: removing its log: %w", job, first)
	}
	return nil
}

// acquireAt is acquire for an operation on job's lines from index from
// (Append, Read, Bytes): a job id below 1 (ErrBadJob) or a negative index
// is refused before any file is opened.
func (l *Logs) acquireAt(job, from int64, create bool) (*jobLog, error) {
	if job <= 0 {
		return nil, ErrBadJob
	}
	if from < 0 {
		return nil, fmt.Errorf("job %d: log lines from %d: a line index is not negative", job, from)
	}
	return l.acquire(job, create)
}

// acquire returns job's state with its lock held and its files loaded (and
// created when create is set), counted in use until release.
func (l *Logs) acquire(job int64, create bool) (*jobLog, error) {
	var j *jobLog
	for {
		l.mu.Lock()
		j = l.jobs[job]
		if j == nil {
			j = &jobLog{id: job}
			l.jobs[job] = j
		}
		j.refs++
		if j.elem != nil {
			l.idle.Remove(j.elem)
			j.elem = nil
		}
		l.mu.Unlock()
		j.mu.Lock()
		if !j.dead {
			break
		}
		// Removed while we waited: its files are gone, look again.
		j.mu.Unlock()
		l.release(j)
	}
	if !j.loaded || (create && j.log == nil) {
		if err := j.load(l.jobDir(job), create); err != nil {
			j.mu.Unlock()
			l.release(j)
			return nil, fmt.Errorf("job %d: opening its log: %w", job, err)
		}
	}
	return j, nil
}

// release ends a use of j (its lock already released by the caller) and
// closes the files of the least recently used jobs past the bound.
func (l *Logs) release(j *jobLog) {
	l.mu.Lock()
	defer l.mu.Unlock()
	j.refs--
	if j.refs > 0 {
		return
	}
	if j.dead || j.log == nil {
		// Nothing open worth keeping (or removed): forget it.
		if l.jobs[j.id] == j {
			delete(l.jobs, j.id)
		}
		_ = j.close()
		return
	}
	j.elem = l.idle.PushBack(j)
	limit := l.opts.MaxOpen
	if limit < 0 {
		limit = 0
	}
	for l.idle.Len() > limit {
		_ = l.evictLocked(l.idle.Front().Value.(*jobLog))
	}
}

// evictLocked closes an idle job's files and forgets it; l.mu is held and
// j.refs is 0, so nobody holds or waits for j.mu.
func (l *Logs) evictLocked(j *jobLog) error {
	if j.elem != nil {
		l.idle.Remove(j.elem)
		j.elem = nil
	}
	if l.jobs[j.id] == j {
		delete(l.jobs, j.id)
	}
	return j.close()
}

func (j *jobLog) close() error {
	var first error
	for _, f := range []*os.File{j.log, j.idx} {
		if f != nil {
			if err := f.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	j.log, j.idx, j.loaded = nil, nil, false
	return first
}

// corruptError is a log that repair could not make consistent.
type corruptError struct{ err error }

func (e *corruptError) Error() string { return "damaged log: " + e.err.Error() }
func (e *corruptError) Unwrap() error { return e.err }

func isCorrupt(err error) bool {
	var c *corruptError
	return errors.As(err, &c)
}
