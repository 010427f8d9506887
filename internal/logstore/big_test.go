package logstore

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// bigRecord is a record of about 200 bytes, the size of a line of a
// booting kernel's console in LAVA's form.
func bigRecord(n int) string {
	return fmt.Sprintf(`- {"dt": "2026-01-01T10:00:00.%06d+00:00", "lvl": "target", "msg": "[%10d.000000] %s"}`, n%1000000, n, strings.Repeat("x", 100))
}

// fill appends lines of bigRecord to job until its log holds size bytes.
func fill(tb testing.TB, l *Logs, job int64, size int64) int64 {
	tb.Helper()
	var held, bytes int64
	batch := make([]string, 0, 5000)
	for bytes < size {
		batch = batch[:0]
		for i := 0; i < cap(batch); i++ {
			s := bigRecord(int(held) + i)
			batch = append(batch, s)
			bytes += int64(len(s) + 1)
		}
		h, err := l.Append(job, held, batch)
		if err != nil {
			tb.Fatal(err)
		}
		held = h
	}
	return held
}

// TestBigLogMemory reads ranges of a 200 MB log and checks that the heap
// allocated does not grow with the log: a read is a seek, never the file.
func TestBigLogMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 200 MB log")
	}
	dir := t.TempDir()
	l := open(t, dir, Options{})
	lines := fill(t, l, 1, 200<<20)
	l.Close()

	// A new store, as after a restart: the first use repairs, reading
	// only the index's tail.
	l = open(t, dir, Options{})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	n, err := l.Len(1)
	if err != nil || n != lines {
		t.Fatalf("Len = %d, %v; want %d", n, err, lines)
	}
	var sink countWriter
	if n, err := l.Read(1, lines-100, -1, &sink); err != nil || n != 100 {
		t.Fatalf("Read of the last 100 lines: %d, %v", n, err)
	}
	if n, err := l.Read(1, 0, -1, &sink); err != nil || n != lines {
		t.Fatalf("Read of every line: %d, %v", n, err)
	}
	runtime.ReadMemStats(&after)
	if sink.n < 200<<20 {
		t.Fatalf("read %d bytes, want the whole 200 MB log", sink.n)
	}
	// Allocated over the calls, whatever the GC did meanwhile: a fixed
	// copy buffer and small things, against 200 MB read.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("reading a 200 MB log allocated %d bytes; want under 1 MiB", alloc)
	}
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := l.Read(1, lines/2, lines/2+1000, io.Discard); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 20 {
		t.Errorf("Read of 1000 lines in the middle: %v allocations; want a few", allocs)
	}
}

// countWriter counts bytes and keeps none. It has no ReadFrom, so Read
// copies through its own buffer.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// TestKilled runs a store in a child process that appends and reports
// each acknowledgement, SIGKILLs it mid-stream, and checks that a new
// store holds every acknowledged line, in order, and nothing torn.
func TestKilled(t *testing.T) {
	if os.Getenv("LOGSTORE_CHILD_DIR") != "" {
		child(os.Getenv("LOGSTORE_CHILD_DIR"))
		return
	}
	if testing.Short() {
		t.Skip("runs a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilled$")
	cmd.Env = append(os.Environ(), "LOGSTORE_CHILD_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var acked int64
	for i := 0; i < 200 && sc.Scan(); i++ {
		acked, _ = strconv.ParseInt(sc.Text(), 10, 64)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if acked == 0 {
		t.Fatal("the child acknowledged nothing")
	}
	l := open(t, dir, Options{})
	n, err := l.Len(1)
	if err != nil || n < acked {
		t.Fatalf("Len after the kill = %d, %v; %d lines were acknowledged", n, err, acked)
	}
	var b strings.Builder
	if _, err := l.Read(1, 0, -1, &b); err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := 0; i < int(n); i++ {
		want.WriteString(bigRecord(i) + "\n")
	}
	if b.String() != want.String() {
		t.Errorf("after the kill the log is not the %d lines sent", n)
	}
	checkFiles(t, l, 1)
	t.Logf("%d lines acknowledged, %d held after the kill", acked, n)
}

// child appends to job 1 under dir forever, printing the lines held after
// each batch.
func child(dir string) {
	l, err := Open(dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var held int64
	for {
		var batch []string
		for i := 0; i < 37; i++ {
			batch = append(batch, bigRecord(int(held)+i))
		}
		h, err := l.Append(1, held, batch)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		held = h
		fmt.Println(held)
	}
}
