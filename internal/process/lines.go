package process

import (
	"bytes"
	"sync"
)

// MaxLine bounds one line handed to a LineWriter's callback (LAVA's log
// limit); a longer line is handed over in pieces of this size.
const MaxLine = 100000

// LineWriter hands what is written to it to a callback one line at a
// time, without the newline: give it as a child's Stdout and Stderr (the
// same value for both, so that os/exec writes to it from one goroutine,
// in the order the child wrote). Flush hands over an unfinished last
// line. Safe for concurrent use.
type LineWriter struct {
	mu     sync.Mutex
	onLine func(string)
	buf    []byte
}

// NewLineWriter returns a LineWriter calling onLine (nil drops the lines).
func NewLineWriter(onLine func(string)) *LineWriter {
	return &LineWriter{onLine: onLine}
}

func (w *LineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			for len(w.buf) >= MaxLine {
				w.emit(w.buf[:MaxLine])
				w.buf = append(w.buf[:0], w.buf[MaxLine:]...)
			}
			break
		}
		w.buf = append(w.buf, p[:i]...)
		p = p[i+1:]
		for len(w.buf) > MaxLine {
			w.emit(w.buf[:MaxLine])
			w.buf = append(w.buf[:0], w.buf[MaxLine:]...)
		}
		w.emit(w.buf)
		w.buf = w.buf[:0]
	}
	return n, nil
}

// Flush hands over the unfinished last line, if any.
func (w *LineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(w.buf)
		w.buf = w.buf[:0]
	}
}

func (w *LineWriter) emit(line []byte) {
	if w.onLine != nil {
		w.onLine(string(bytes.TrimSuffix(line, []byte("\r"))))
	}
}
