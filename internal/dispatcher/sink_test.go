package dispatcher

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/results"
	"github.com/basalt-lava/basalt/internal/value"
)

// line is the nth record of a test log, 100 bytes with its newline.
func line(n int) []byte {
	s := fmt.Sprintf("- {\"msg\": \"record %04d\"}", n)
	return []byte(s + strings.Repeat(" ", 99-len(s)) + "\n")
}

// A DirSink writes the log, the published files and the results into
// its folder: logs.yaml holds exactly the lines it was given.
func TestDirSinkWritesFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	s, err := NewDirSink(dir)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	for i := range 1000 {
		s.Log(joblog.Record{Index: i, Line: line(i)})
		want.Write(line(i))
	}
	if err := s.File(DescriptionFile, []byte("pipeline: []\n")); err != nil {
		t.Fatalf("File(%s): %v", DescriptionFile, err)
	}
	var c results.Collector
	c.Add(value.MapOf("definition", "lava", "case", "job", "result", "pass"))
	o := Outcome{JobName: "sink", Cases: c.Cases()}
	if err := s.Results(o); err != nil {
		t.Fatalf("Results: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, LogFile))
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("logs.yaml: %d bytes, want the %d bytes logged", len(got), want.Len())
	}
	y, _ := results.YAML(o.Cases)
	var x bytes.Buffer
	results.WriteJUnit(&x, o.JobName, o.Cases)
	for name, want := range map[string][]byte{DescriptionFile: []byte("pipeline: []\n"), ResultsFile: y, JUnitFile: x.Bytes()} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s = %q (%v), want %q", name, got, err, want)
		}
	}
	if err := s.File("late.txt", nil); err == nil {
		t.Error("File after Close: no error")
	}
}

// Job data may end up naming a published file: only plain names that
// are not the sink's own files are written.
func TestDirSinkRefusesNames(t *testing.T) {
	dir := t.TempDir()
	s, err := NewDirSink(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, name := range []string{"", ".", "..", "../escape", "a/b", `a\b`, "/etc/passwd", "x\x00y", LogFile, ResultsFile, JUnitFile} {
		if err := s.File(name, []byte("x")); err == nil {
			t.Errorf("File(%q): no error", name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "escape")); err == nil {
		t.Error("../escape was written outside the folder")
	}
	if err := s.File("kernel-config.txt", []byte("x")); err != nil {
		t.Errorf("File(kernel-config.txt): %v", err)
	}
}

// blockingWriter holds its first Write until released, as a disk that
// stopped answering would.
type blockingWriter struct {
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { <-w.release })
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *blockingWriter) Close() error { return nil }

// The contract: Log never waits for the writer. With the writer stuck,
// records past the bound are dropped, those kept are written once each
// and in order, and Close says how many were lost.
func TestDirSinkBoundedWhenStuck(t *testing.T) {
	w := &blockingWriter{release: make(chan struct{})}
	// 1000 bytes held at most; a write starts at 200; no tick.
	s := newDirSink(t.TempDir(), "logs.yaml", w, 1000, 200, time.Hour)
	const n = 50
	for i := range n {
		s.Log(joblog.Record{Index: i, Line: line(i)}) // returns although the writer is stuck
	}
	close(w.release)
	err := s.Close()
	var lost *LostError
	if !errors.As(err, &lost) {
		t.Fatalf("Close = %v, want a *LostError", err)
	}
	got := w.buf.Bytes()
	kept := len(got) / 100
	if kept == 0 || kept+lost.Records != n || lost.Bytes != lost.Records*100 || lost.Err != nil {
		t.Errorf("kept %d records, lost %+v; want them to add up to %d", kept, lost, n)
	}
	// The stuck write holds one buffer of at most 1000 bytes, the sink
	// at most 1000 more.
	if len(got) > 2000 {
		t.Errorf("kept %d records with a bound of 10 held and 10 being written", kept)
	}
	next := 0
	for i := 0; i < kept; i++ {
		rec := got[i*100 : (i+1)*100]
		k := next
		for k < n && !bytes.Equal(rec, line(k)) {
			k++
		}
		if k == n {
			t.Fatalf("record %d written is not one logged after record %d: %q", i, next-1, rec)
		}
		next = k + 1
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("lost %d records", lost.Records)) {
		t.Errorf("Close error %q does not say how many records were lost", err)
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, io.ErrShortWrite
}

func (w *failingWriter) Close() error { return nil }

// A write that fails stops the log (no log with a hole in it) and Close
// reports the error and what it cost.
func TestDirSinkWriteError(t *testing.T) {
	w := &failingWriter{}
	s := newDirSink(t.TempDir(), "logs.yaml", w, 1000, 100, time.Hour)
	s.Log(joblog.Record{Line: line(0)}) // starts a write, which fails
	for i := 1; i < 5; i++ {
		s.Log(joblog.Record{Index: i, Line: line(i)})
	}
	err := s.Close()
	var lost *LostError
	if !errors.As(err, &lost) || !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("Close = %v, want a *LostError wrapping the write error", err)
	}
	if lost.Records != 5 || !strings.HasPrefix(err.Error(), "writing the job log: ") {
		t.Errorf("Close = %q, lost %d records; want all 5 lost", err, lost.Records)
	}
	if w.n != 1 {
		t.Errorf("%d writes after the first failed, want none", w.n-1)
	}
}

// Results hold whatever a guest printed: cases whose texts are not UTF-8
// or hold controls still give results.yaml (which reads back) and
// results.xml.
func TestDirSinkResultsAnyBytes(t *testing.T) {
	dir := t.TempDir()
	s, err := NewDirSink(dir)
	if err != nil {
		t.Fatal(err)
	}
	bad := "n\xff\x00\x01\ufffe"
	k := results.Case{Suite: "0_" + bad, Name: bad, Result: "pass", Measurement: 1.0, Units: bad, Set: bad,
		Extra: value.MapOf("reference", bad, bad, bad)}
	if err := s.Results(Outcome{JobName: bad, Cases: []results.Case{k}}); err != nil {
		t.Fatalf("Results: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(filepath.Join(dir, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	v, err := value.DecodeYAML(y)
	if err != nil {
		t.Fatalf("results.yaml does not read back: %v\n%s", err, y)
	}
	if got := v.([]any)[0].(*value.Map).List("cases")[0].(*value.Map).String("name"); got != `n\xFF\x00\x01\uFFFE` {
		t.Errorf("results.yaml: name %q", got)
	}
	x, err := os.ReadFile(filepath.Join(dir, JUnitFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(x, []byte(`name="n\xFF\x00\x01\uFFFE"`)) {
		t.Errorf("results.xml:\n%s", x)
	}
}
