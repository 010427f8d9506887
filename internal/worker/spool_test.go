package worker

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func spoolLine(i int) string {
	// Lines of different lengths, some longer than the reader's buffer.
	pad := strings.Repeat("x", (i*37)%300)
	if i%1000 == 7 {
		pad = strings.Repeat("y", 70<<10)
	}
	return fmt.Sprintf(`- {"dt": "2026-01-01T00:00:00.000000+00:00", "lvl": "target", "msg": "line %d %s"}`, i, pad)
}

// TestSpoolReadsBackByIndex writes lines across several marks and reads
// them back from any index, in batches bounded by lines and bytes, as the
// sender does after a gap.
func TestSpoolReadsBackByIndex(t *testing.T) {
	t.Parallel()
	s, err := createSpool(filepath.Join(t.TempDir(), SpoolFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.release()
	const n = 3*spoolMark + 100
	var want []string
	for i := range n {
		want = append(want, spoolLine(i))
		s.add([]byte(want[i] + "\n"))
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	if got, closed := s.lines(); got != n || !closed {
		t.Fatalf("lines() = %d, %v; want %d, true", got, closed, n)
	}
	cases := []struct {
		name           string
		from           int64
		maxLines, maxB int
		want           []string
	}{
		{"from the start", 0, 5, 1 << 20, want[0:5]},
		{"on from there (the cursor)", 5, 3, 1 << 20, want[5:8]},
		{"back to a mark", spoolMark, 2, 1 << 20, want[spoolMark : spoolMark+2]},
		{"just before a mark", 2*spoolMark - 1, 3, 1 << 20, want[2*spoolMark-1 : 2*spoolMark+2]},
		{"back, between marks", 10, 2, 1 << 20, want[10:12]},
		{"a line longer than the buffer", 1007, 2, 1 << 20, want[1007:1009]},
		{"bytes bound the batch", 1000, 100, 4096, want[1000:1007]},
		{"one line even over the bytes", 1007, 100, 10, want[1007:1008]},
		{"the last lines", n - 2, 100, 1 << 20, want[n-2:]},
		{"past the end", n, 10, 1 << 20, nil},
	}
	for _, c := range cases {
		got, err := s.read(c.from, c.maxLines, c.maxB)
		if err != nil {
			t.Fatalf("%s: read(%d): %v", c.name, c.from, err)
		}
		if diff := cmp.Diff(got, c.want); diff != "" {
			t.Errorf("%s: read(%d, %d, %d) (-got +want):\n%s", c.name, c.from, c.maxLines, c.maxB, diff)
		}
	}
	b, err := os.ReadFile(s.path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != strings.Join(want, "\n")+"\n" {
		t.Error("the spool file is not the lines, one per line")
	}
}

// blockedWriter is a disk that does not answer until released.
type blockedWriter struct {
	release chan struct{}
	f       *os.File
}

func (w *blockedWriter) Write(p []byte) (int, error) {
	<-w.release
	return w.f.Write(p)
}

func (w *blockedWriter) Close() error { return w.f.Close() }

// TestSpoolBoundedWhenTheDiskStalls: the job never waits for the disk;
// past the buffer's bound lines are dropped and the spool says so.
func TestSpoolBoundedWhenTheDiskStalls(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), SpoolFile)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	w := &blockedWriter{release: make(chan struct{}), f: f}
	failed := make(chan error, 1)
	s := newSpool(path, w, rd, rd, func(err error) { failed <- err }, 1000, 100, time.Millisecond)
	defer s.release()
	line := []byte(strings.Repeat("z", 99) + "\n")
	// The writer takes what is pending and blocks on it; what follows
	// fills the buffer, then is dropped.
	for range 200 {
		s.add(line)
	}
	close(w.release)
	err = s.close()
	if err == nil || !strings.Contains(err.Error(), "did not keep up") || !strings.Contains(err.Error(), "log lines lost") {
		t.Fatalf("close() = %v, want the lost lines counted", err)
	}
	n, _ := s.lines()
	if n == 0 || n >= 200 {
		t.Errorf("%d lines on disk, want some but not all", n)
	}
	select {
	case err := <-failed:
		t.Errorf("a stalled disk reported as a write failure: %v", err)
	default:
	}
}
