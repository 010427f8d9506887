package logstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/basalt-lava/basalt/internal/limits"
)

// rec is a LAVA log record numbered n.
func rec(n int) string {
	return fmt.Sprintf(`- {"dt": "2026-01-01T10:00:00.%06d+00:00", "lvl": "info", "msg": "line %d"}`, n, n)
}

func recs(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, rec(i))
	}
	return out
}

func text(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

func open(t testing.TB, dir string, opts Options) *Logs {
	t.Helper()
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func read(t testing.TB, l *Logs, job, start, end int64) string {
	t.Helper()
	var b bytes.Buffer
	n, err := l.Read(job, start, end, &b)
	if err != nil {
		t.Fatalf("Read(%d, %d, %d): %v", job, start, end, err)
	}
	if got := int64(strings.Count(b.String(), "\n")); got != n {
		t.Fatalf("Read(%d, %d, %d) = %d lines, wrote %d", job, start, end, n, got)
	}
	return b.String()
}

func TestAppend(t *testing.T) {
	t.Parallel()
	type call struct {
		index    int64
		lines    []string
		wantHeld int64
		wantErr  string
	}
	tests := []struct {
		name  string
		opts  Options
		calls []call
		want  []string
	}{
		{name: "batches in order",
			calls: []call{{0, recs(0, 3), 3, ""}, {3, recs(3, 5), 5, ""}},
			want:  recs(0, 5)},
		{name: "a resent batch is skipped",
			calls: []call{{0, recs(0, 3), 3, ""}, {0, recs(0, 3), 3, ""}},
			want:  recs(0, 3)},
		{name: "an overlapping batch adds its new lines",
			calls: []call{{0, recs(0, 3), 3, ""}, {1, recs(1, 6), 6, ""}},
			want:  recs(0, 6)},
		{name: "a gap is refused",
			calls: []call{{0, recs(0, 2), 2, ""}, {4, recs(4, 6), 2, "log lines from 4 sent, but the log holds 2 lines"}},
			want:  recs(0, 2)},
		{name: "a bad line refuses its batch",
			calls: []call{{0, recs(0, 2), 2, ""}, {2, []string{rec(2), "not yaml"}, 2, `job 1, log line 3: does not start with "- {"`}},
			want:  recs(0, 2)},
		{name: "a line with a newline is refused",
			calls: []call{{0, []string{rec(0) + "\n" + rec(1)}, 0, "job 1, log line 0: holds a line break"}}},
		{name: "event becomes debug",
			calls: []call{{0, []string{`- {"dt": "x", "lvl": "event", "msg": "m"}`}, 1, ""}},
			want:  []string{`- {"dt": "x", "lvl": "debug", "msg": "m"}`}},
		{name: "line limit",
			opts:  Options{MaxLineBytes: len(rec(0)), LimitFlag: "max-log-line"},
			calls: []call{{0, []string{rec(0), rec(0) + " "}, 0, "job 1, log line 1: the log line (77 bytes) is over the limit of 76 bytes (--max-log-line changes it)"}}},
		{name: "log limit",
			opts:  Options{MaxLogBytes: int64(len(text(recs(0, 2))))},
			calls: []call{{0, recs(0, 2), 2, ""}, {2, recs(2, 3), 2, "the log of job 1 (154 bytes held, 77 more sent) is over the limit of 154 bytes (a fixed limit)"}},
			want:  recs(0, 2)},
		{name: "no lines creates the log",
			calls: []call{{0, nil, 0, ""}}},
		{name: "a negative index",
			calls: []call{{-1, recs(0, 1), 0, "a line index is not negative"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := open(t, t.TempDir(), tt.opts)
			for _, c := range tt.calls {
				held, err := l.Append(1, c.index, c.lines)
				if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
					t.Fatalf("Append(1, %d, %d lines) error %v; want %q", c.index, len(c.lines), err, c.wantErr)
				}
				if held != c.wantHeld {
					t.Fatalf("Append(1, %d, %d lines) held %d; want %d", c.index, len(c.lines), held, c.wantHeld)
				}
			}
			if got := read(t, l, 1, 0, -1); got != text(tt.want) {
				t.Errorf("log (-got +want):\n%s", cmp.Diff(got, text(tt.want)))
			}
			if n, err := l.Len(1); err != nil || n != int64(len(tt.want)) {
				t.Errorf("Len(1) = %d, %v; want %d", n, err, len(tt.want))
			}
			if l.Exists(1) {
				checkFiles(t, l, 1)
			}
		})
	}
}

// checkFiles checks that the files on disk are what the store says: the
// index's entries are the ends of logs.yaml's lines.
func checkFiles(t *testing.T, l *Logs, job int64) {
	t.Helper()
	data, err := os.ReadFile(l.Path(job))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := os.ReadFile(filepath.Join(filepath.Dir(l.Path(job)), IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for i, b := range data {
		if b == '\n' {
			want = binary.LittleEndian.AppendUint64(want, uint64(i+1))
		}
	}
	if !bytes.Equal(idx, want) {
		t.Errorf("%s: %d entries, want %d (the ends of %d bytes of log)", IndexFile, len(idx)/8, len(want)/8, len(data))
	}
}

func TestAppendErrors(t *testing.T) {
	t.Parallel()
	l := open(t, t.TempDir(), Options{MaxLineBytes: 100, MaxLogBytes: 200})
	if _, err := l.Append(1, 0, recs(0, 2)); err != nil {
		t.Fatal(err)
	}
	_, err := l.Append(1, 5, recs(5, 6))
	var gap *GapError
	if !errors.As(err, &gap) || *gap != (GapError{Job: 1, Held: 2, Got: 5}) {
		t.Errorf("a gap: %#v, want *GapError{1, 2, 5}", err)
	}
	_, err = l.Append(1, 2, []string{rec(2) + strings.Repeat(" ", 100)})
	var lim *limits.Error
	var line *LineError
	if !errors.As(err, &lim) || !errors.As(err, &line) || line.Index != 2 {
		t.Errorf("a long line: %#v, want a *LineError for line 2 wrapping a *limits.Error", err)
	}
	_, err = l.Append(1, 2, recs(2, 4))
	line = nil
	if !errors.As(err, &lim) || errors.As(err, &line) {
		t.Errorf("past the log's limit: %#v, want a *limits.Error that is not a *LineError", err)
	}
	for _, job := range []int64{0, -3} {
		if _, err := l.Append(job, 0, recs(0, 1)); !errors.Is(err, ErrBadJob) {
			t.Errorf("Append(%d): %v, want ErrBadJob", job, err)
		}
		if _, err := l.Read(job, 0, -1, &bytes.Buffer{}); !errors.Is(err, ErrBadJob) {
			t.Errorf("Read(%d): %v, want ErrBadJob", job, err)
		}
	}
}

func TestRead(t *testing.T) {
	t.Parallel()
	l := open(t, t.TempDir(), Options{})
	all := recs(0, 10)
	if _, err := l.Append(7, 0, all); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		start, end int64
		want       []string
	}{
		{0, -1, all},
		{0, 10, all},
		{0, 100, all},
		{3, 5, all[3:5]},
		{9, -1, all[9:]},
		{0, 1, all[:1]},
		{10, -1, nil},
		{12, 20, nil},
		{5, 5, nil},
		{6, 2, nil},
	}
	for _, tt := range tests {
		if got := read(t, l, 7, tt.start, tt.end); got != text(tt.want) {
			t.Errorf("Read(7, %d, %d) (-got +want):\n%s", tt.start, tt.end, cmp.Diff(got, text(tt.want)))
		}
	}
	if _, err := l.Read(7, -1, 2, &bytes.Buffer{}); err == nil {
		t.Error("Read from -1: no error")
	}
}

func TestNoLog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := open(t, dir, Options{})
	if l.Exists(3) {
		t.Error("Exists(3) before any Append")
	}
	if n, err := l.Len(3); n != 0 || err != nil {
		t.Errorf("Len(3) = %d, %v", n, err)
	}
	if got := read(t, l, 3, 0, -1); got != "" {
		t.Errorf("Read(3) = %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "jobs", "3")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("reading job 3 created its folder: %v", err)
	}
	if _, err := l.Append(3, 0, nil); err != nil {
		t.Fatal(err)
	}
	if !l.Exists(3) {
		t.Error("Exists(3) after Append of no lines")
	}
	if got, want := l.Path(3), filepath.Join(dir, "jobs", "3", "logs.yaml"); got != want {
		t.Errorf("Path(3) = %q, want %q", got, want)
	}
}

func TestRemove(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := open(t, dir, Options{})
	if _, err := l.Append(4, 0, recs(0, 3)); err != nil {
		t.Fatal(err)
	}
	if err := l.Remove(4); err != nil {
		t.Fatal(err)
	}
	if l.Exists(4) {
		t.Error("Exists(4) after Remove")
	}
	if _, err := os.Stat(filepath.Join(dir, "jobs", "4")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the job's folder is left: %v", err)
	}
	if n, _ := l.Len(4); n != 0 {
		t.Errorf("Len(4) after Remove = %d", n)
	}
	if err := l.Remove(4); err != nil {
		t.Errorf("Remove again: %v", err)
	}
	// A new log starts from 0, and a folder with other files stays.
	if _, err := l.Append(4, 0, recs(10, 11)); err != nil {
		t.Fatal(err)
	}
	if got := read(t, l, 4, 0, -1); got != text(recs(10, 11)) {
		t.Errorf("after Remove and Append: %q", got)
	}
	other := filepath.Join(dir, "jobs", "4", "job.yaml")
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.Remove(4); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("Remove took another file of the folder: %v", err)
	}
}

// TestReopen checks that what is written is what a new store (a restarted
// server) reads, with and without the open-file cache.
func TestReopen(t *testing.T) {
	t.Parallel()
	for _, maxOpen := range []int{-1, 1, 0} {
		t.Run(fmt.Sprint("MaxOpen=", maxOpen), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			l := open(t, dir, Options{MaxOpen: maxOpen})
			for job := int64(1); job <= 5; job++ {
				for i := 0; i < 4; i++ {
					if _, err := l.Append(job, int64(3*i), recs(3*i, 3*i+3)); err != nil {
						t.Fatal(err)
					}
				}
			}
			l.Close()
			l2 := open(t, dir, Options{})
			for job := int64(1); job <= 5; job++ {
				if got := read(t, l2, job, 0, -1); got != text(recs(0, 12)) {
					t.Errorf("job %d after reopening (-got +want):\n%s", job, cmp.Diff(got, text(recs(0, 12))))
				}
			}
		})
	}
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	const jobs, writers, batches, batch = 12, 3, 20, 7
	l := open(t, t.TempDir(), Options{MaxOpen: 4})
	var wg sync.WaitGroup
	errs := make(chan error, jobs*writers*2)
	for job := int64(1); job <= jobs; job++ {
		// Several writers send the same lines of one job, as a worker's
		// retries can race its first attempt; readers read meanwhile.
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var held int64
				for held < batches*batch {
					h, err := l.Append(job, held, recs(int(held), int(held)+batch))
					var gap *GapError
					if err != nil && !errors.As(err, &gap) {
						errs <- err
						return
					}
					held = h
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				var b bytes.Buffer
				n, err := l.Read(job, 2, -1, &b)
				if err != nil {
					errs <- err
					return
				}
				if want := text(recs(2, 2+int(n))); b.String() != want {
					errs <- fmt.Errorf("job %d: read %d lines, not the lines sent", job, n)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for job := int64(1); job <= jobs; job++ {
		if got := read(t, l, job, 0, -1); got != text(recs(0, batches*batch)) {
			t.Errorf("job %d: the log is not the lines sent once each, in order", job)
		}
		checkFiles(t, l, job)
	}
}

// TestRemoveWhileReading checks that Remove during a Read lets it finish.
func TestRemoveWhileReading(t *testing.T) {
	t.Parallel()
	l := open(t, t.TempDir(), Options{})
	if _, err := l.Append(1, 0, recs(0, 1000)); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w := &hookWriter{w: &b, hook: func() {
		if err := l.Remove(1); err != nil {
			t.Error(err)
		}
	}}
	n, err := l.Read(1, 0, -1, w)
	if err != nil || n != 1000 || b.String() != text(recs(0, 1000)) {
		t.Errorf("Read during Remove: %d lines, %v", n, err)
	}
	if l.Exists(1) {
		t.Error("the log exists after Remove")
	}
}

// hookWriter calls hook on its first Write.
type hookWriter struct {
	w    *bytes.Buffer
	hook func()
}

func (h *hookWriter) Write(p []byte) (int, error) {
	if h.hook != nil {
		h.hook()
		h.hook = nil
	}
	return h.w.Write(p)
}
