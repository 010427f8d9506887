package web

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rchar is the bytes this process has read with read(2) and pread(2)
// so far (/proc/self/io), page cache hits included.
func rchar(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/io")
	if err != nil {
		t.Skipf("no /proc/self/io: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "rchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			must(t, err)
			return n
		}
	}
	t.Skip("no rchar in /proc/self/io")
	return 0
}

func totalAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// A job page on a 200 MB log reads its tail only: the bytes the server
// reads and allocates to answer are bounded whatever the log's size, and
// so is the page. The live stream from the start skips to the tail; the
// Timing tab scans the whole log through a fixed buffer.
// (Not parallel: it measures the process's reads.)
func TestJobPageBigLog(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 200 MB log")
	}
	f := newJobFixture(t)
	j := f.start(t, f.submit(t, nil))
	const size = 200 << 20
	filler := strings.Repeat("0123456789", 13)
	var written int64
	var n int
	batch := make([]string, 0, 20000)
	flush := func() {
		f.appendLog(t, j.ID, batch)
		batch = batch[:0]
	}
	add := func(lvl, msg string) {
		line := fmt.Sprintf(`- {"dt": "2026-12-07T02:%02d:%02d.%06d+00:00", "lvl": "%s", "msg": "%s"}`, n/60000%60, n/1000%60, n%1000000, lvl, msg)
		batch = append(batch, line)
		written += int64(len(line) + 1)
		n++
		if len(batch) == cap(batch) {
			flush()
		}
	}
	add("info", "start: 1 deployimages (timeout 00:05:00) [common]")
	add("info", "end: 1 deployimages (duration 00:00:10) [common]")
	add("info", "start: 2 lava-test-retry (timeout 00:50:00) [common]")
	for written < size {
		add("target", fmt.Sprintf("line %d %s", n, filler))
	}
	flush()
	t.Logf("log: %d lines, %d bytes", n, written)

	runtime.GC()
	r0, a0, t0 := rchar(t), totalAlloc(), time.Now()
	resp, body := f.get(t, "", "/scheduler/job/1")
	r1, a1, elapsed := rchar(t), totalAlloc(), time.Since(t0)
	wantStatus(t, resp, body, 200)
	wantContains(t, "page", body, fmt.Sprintf(`id="L%d"`, n-1), fmt.Sprintf(`data-first="%d"`, n-logTailLines))
	t.Logf("page: %d bytes in %s; the server process read %d bytes and allocated %d bytes for it", len(body), elapsed, r1-r0, a1-a0)
	if len(body) > 1<<20 {
		t.Errorf("the page is %d bytes", len(body))
	}
	if r1-r0 > 4<<20 {
		t.Errorf("serving the page read %d bytes: more than its tail", r1-r0)
	}
	if a1-a0 > 16<<20 {
		t.Errorf("serving the page allocated %d bytes", a1-a0)
	}

	// The live stream asked from line 0 skips to the tail.
	s := openStream(t, f, "/scheduler/job/1/log_stream?line=0", "")
	s.next(t) // state
	if ev := s.next(t); ev.Event != "skip" {
		t.Errorf("stream from 0 on a big log: %q first", ev.Event)
	}
	s.resp.Body.Close()

	// The timeline reads the whole log, in constant memory.
	runtime.GC()
	r0, a0 = rchar(t), totalAlloc()
	resp, body = f.get(t, "", "/scheduler/job/1/timing")
	r1, a1 = rchar(t), totalAlloc()
	wantStatus(t, resp, body, 200)
	var timing struct{ Graph [][]any }
	must(t, json.Unmarshal([]byte(body), &timing))
	if len(timing.Graph) != 2 || timing.Graph[0][1] != "deployimages" || timing.Graph[1][1] != "lava-test-retry" || timing.Graph[1][3] != 3000.0 {
		t.Errorf("timing of the big log: %v", timing.Graph)
	}
	t.Logf("timing: read %d bytes, allocated %d bytes", r1-r0, a1-a0)
	if a1-a0 > 32<<20 {
		t.Errorf("the timing of a %d-byte log allocated %d bytes", written, a1-a0)
	}
}
