package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/events"
	"github.com/basalt-lava/basalt/internal/logstore"
	"github.com/basalt-lava/basalt/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// sseEvent is one server-sent event.
type sseEvent struct {
	Event, ID, Data string
}

// sseReader reads events from a stream.
type sseReader struct {
	resp *http.Response
	r    *bufio.Reader
}

func openStream(t *testing.T, f *jobFixture, path, lastID string) *sseReader {
	t.Helper()
	req, err := http.NewRequest("GET", f.srv.URL+path, nil)
	must(t, err)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	must(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%s: status %d, Content-Type %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return &sseReader{resp: resp, r: bufio.NewReader(resp.Body)}
}

// next reads the next event; it fails the test if the stream ends (or
// nothing comes within 30 s, a bound on a hang).
func (s *sseReader) next(t *testing.T) sseEvent {
	t.Helper()
	type result struct {
		ev  sseEvent
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var ev sseEvent
		for {
			line, err := s.r.ReadString('\n')
			if err != nil {
				ch <- result{ev, err}
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "" && ev.Event == "" && ev.Data == "":
				// A comment only (": waiting"): not an event.
			case line == "":
				ch <- result{ev, nil}
				return
			case strings.HasPrefix(line, "event: "):
				ev.Event = line[len("event: "):]
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[len("id: "):]
			case strings.HasPrefix(line, "data: "):
				ev.Data += line[len("data: "):]
			}
		}
	}()
	select {
	case res := <-ch:
		if res.err != nil {
			t.Fatalf("stream: %v", res.err)
		}
		return res.ev
	case <-time.After(30 * time.Second):
		t.Fatal("no event within 30 s")
	}
	return sseEvent{}
}

// nextOf reads events until one of kind (a running job's state events
// come whenever its duration ticks).
func (s *sseReader) nextOf(t *testing.T, kind string) sseEvent {
	t.Helper()
	for {
		if ev := s.next(t); ev.Event == kind {
			return ev
		}
	}
}

func record(i int, lvl, msg string) string {
	return fmt.Sprintf(`- {"dt": "2026-12-07T02:00:%02d.000000+00:00", "lvl": "%s", "msg": "%s"}`, i%60, lvl, msg)
}

// The live log: the stream starts with the job's state, pushes a line
// appended to the log (woken by the append), then the job's end, and
// stops; a reconnecting browser resumes from its Last-Event-ID.
func TestLogStream(t *testing.T) {
	t.Parallel()
	t.Run("store", func(t *testing.T) { t.Parallel(); testLogStream(t, nil) })
	t.Run("events", func(t *testing.T) { t.Parallel(); testLogStream(t, events.NewHub()) })
}

func testLogStream(t *testing.T, hub *events.Hub) {
	f := newJobFixtureHub(t, hub)
	j := f.start(t, f.submit(t, nil))
	f.appendLog(t, j.ID, exampleLog(t)[:10])

	s := openStream(t, f, "/scheduler/job/1/log_stream?line=10", "")
	ev := s.next(t)
	var st logStreamState
	must(t, json.Unmarshal([]byte(ev.Data), &st))
	if ev.Event != "state" || st.State != "Running" || st.Device != "qemu-01" || st.Worker != "w1" || st.Finished {
		t.Fatalf("first event %+v", ev)
	}
	f.appendLog(t, j.ID, []string{record(10, "target", "a line appended while the page watches")})
	ev = s.nextOf(t, "lines")
	var lines struct {
		First, Next int64
		Lines       []logStreamLine
	}
	must(t, json.Unmarshal([]byte(ev.Data), &lines))
	if ev.Event != "lines" || ev.ID != "11" || lines.First != 10 || lines.Next != 11 || len(lines.Lines) != 1 {
		t.Fatalf("after an append: %+v", ev)
	}
	if h := lines.Lines[0].HTML; !strings.Contains(h, `id="L10"`) || !strings.Contains(h, "a line appended while the page watches") || !strings.Contains(h, "lvl-target") {
		t.Errorf("the line's HTML: %s", h)
	}
	f.appendLog(t, j.ID, []string{record(11, "info", "start: 3 lava-test-retry (timeout 00:05:00) [common]")})
	ev = s.nextOf(t, "lines")
	must(t, json.Unmarshal([]byte(ev.Data), &lines))
	if len(lines.Lines) != 1 || lines.Lines[0].Action != "start" || lines.Lines[0].Level != "3" {
		t.Errorf("a start record: %+v", ev)
	}

	if hub != nil {
		// The finish alone wakes the stream: its event says Finished.
		f.appendLog(t, j.ID, []string{record(12, "info", "end: 3 lava-test-retry (duration 00:00:01) [common]")})
		f.finish(t, j, store.JobComplete, "", "")
	} else {
		f.finish(t, j, store.JobComplete, "", "")
		f.appendLog(t, j.ID, []string{record(12, "info", "end: 3 lava-test-retry (duration 00:00:01) [common]")})
	}
	var sawLine, sawFinished bool
	for {
		ev := s.next(t)
		if ev.Event == "lines" {
			sawLine = true
		}
		if ev.Event == "state" {
			must(t, json.Unmarshal([]byte(ev.Data), &st))
			sawFinished = st.Finished && st.Health == "Complete" && st.Label == "Complete"
		}
		if ev.Event == "end" {
			break
		}
	}
	if !sawLine || !sawFinished {
		t.Errorf("before the end: line %v, finished state %v", sawLine, sawFinished)
	}

	// A reconnection with Last-Event-ID 11 gets lines 11 and 12, then the
	// end (the job is finished).
	s = openStream(t, f, "/scheduler/job/1/log_stream?line=0", "11")
	var got []int64
	for {
		ev := s.next(t)
		if ev.Event == "lines" {
			must(t, json.Unmarshal([]byte(ev.Data), &lines))
			for _, l := range lines.Lines {
				got = append(got, l.N)
			}
		}
		if ev.Event == "end" {
			break
		}
	}
	if fmt.Sprint(got) != "[11 12]" {
		t.Errorf("after Last-Event-ID 11: lines %v", got)
	}
}

// A stream asked for lines far behind the end skips to the tail rather
// than push the whole log.
func TestLogStreamSkips(t *testing.T) {
	t.Parallel()
	f := newJobFixture(t)
	j := f.start(t, f.submit(t, nil))
	var batch []string
	for i := range logMaxBehind + 1000 {
		batch = append(batch, record(i, "target", fmt.Sprintf("line %d", i)))
	}
	f.appendLog(t, j.ID, batch)
	s := openStream(t, f, "/scheduler/job/1/log_stream?line=0", "")
	if ev := s.next(t); ev.Event != "state" {
		t.Fatalf("first event %q", ev.Event)
	}
	ev := s.next(t)
	if ev.Event != "skip" || ev.Data != fmt.Sprintf(`{"from":0,"to":%d}`, len(batch)-logTailLines) {
		t.Fatalf("second event %+v", ev)
	}
	ev = s.next(t)
	var lines struct{ First, Next int64 }
	must(t, json.Unmarshal([]byte(ev.Data), &lines))
	if ev.Event != "lines" || lines.First != int64(len(batch)-logTailLines) || lines.Next != int64(len(batch)) {
		t.Errorf("after the skip: %s %+v", ev.Event, lines)
	}
}

// logRender folds actions, colours levels, links results and cuts long
// messages as the golden file shows; an end without its start is a
// plain line, a section with an error stays open.
func TestRenderLogGolden(t *testing.T) {
	t.Parallel()
	in := []string{
		record(0, "info", "start: 1 deployimages (timeout 00:05:00) [common]"),
		record(1, "debug", "downloading http://example.com/x <img>"),
		record(2, "info", "end: 1 deployimages (duration 00:00:01) [common]"),
		record(3, "info", "start: 2 boot-image-retry (timeout 00:05:00) [common]"),
		record(4, "input", "root\\n"),
		record(5, "target", "\\e[0mlogin: \\e[?7l"),
		record(6, "feedback", "from the other namespace"),
		record(7, "warning", "a warning"),
		record(8, "error", "boot failed"),
		`- {"dt": "2026-12-07T02:00:09.000000+00:00", "lvl": "results", "msg": {"definition": "lava", "case": "boot/image", "result": "fail", "extra": {"k": "v"}}}`,
		record(10, "info", "end: 2 boot-image-retry (duration 00:00:09) [common]"),
		record(11, "info", "end: 9 nowhere (duration 00:00:01) [common]"),
		record(12, "exception", "Traceback"),
		record(13, "info", "start: 3 lava-test-retry (timeout 00:05:00) [common]"),
		`- {"dt": "2026-12-07T02:00:14.000000+00:00", "lvl": "debug", "msg": {"a": [1, 2.5, true, null]}}`,
		record(15, "target", strings.Repeat("x", logMaxMsg-1)+"é and more"),
	}
	var recs []logRecord
	for i, l := range in {
		recs = append(recs, logDecode(int64(i), []byte(l), logMaxMsg))
	}
	var b bytes.Buffer
	logRender(&b, "7", recs)
	golden := filepath.Join("testdata", "render.golden.html")
	if *update {
		must(t, os.WriteFile(golden, b.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	must(t, err)
	if b.String() != string(want) {
		t.Errorf("logRender differs from %s (go test -update to accept):\n%s", golden, b.String())
	}
}

// logSplitter hands over every line whole, however the writes cut them.
func TestLogSplitter(t *testing.T) {
	t.Parallel()
	text := "one\ntwo\n\nthree is longer\n"
	for size := 1; size <= len(text); size++ {
		var got []string
		sp := &logSplitter{n: 5, fn: func(n int64, line []byte) error {
			got = append(got, fmt.Sprintf("%d:%s", n, line))
			return nil
		}}
		for i := 0; i < len(text); i += size {
			sp.Write([]byte(text[i:min(len(text), i+size)]))
		}
		if fmt.Sprint(got) != "[5:one 6:two 7: 8:three is longer]" {
			t.Fatalf("writes of %d bytes: %v", size, got)
		}
	}
}

// CloseStreams ends the open live streams (the server is shutting down)
// and refuses new ones.
func TestCloseStreams(t *testing.T) {
	t.Parallel()
	f := newJobFixture(t)
	j := f.start(t, f.submit(t, nil))
	f.appendLog(t, j.ID, exampleLog(t)[:3])
	s := openStream(t, f, "/scheduler/job/1/log_stream?line=3", "")
	if ev := s.next(t); ev.Event != "state" {
		t.Fatalf("first event %q", ev.Event)
	}
	CloseStreams(f.srv.Config.Handler)
	done := make(chan error, 1)
	go func() {
		_, err := s.r.ReadString('\n')
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("the stream goes on after CloseStreams")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the stream still open 30 s after CloseStreams")
	}
	resp, body := f.get(t, "", "/scheduler/job/1/log_stream?line=3")
	wantStatus(t, resp, body, http.StatusServiceUnavailable)
}

// logFitTail and logFitHead cut a range of lines to logWindowBytes,
// keeping its end or its start, and never below one line.
func TestLogFit(t *testing.T) {
	t.Parallel()
	logs, err := logstore.Open(t.TempDir(), logstore.Options{})
	must(t, err)
	big := strings.Repeat("x", 600000) // 3 fit in logWindowBytes, 4 do not
	var lines []string
	for i := range 10 {
		lines = append(lines, record(i, "target", big))
	}
	lines = append(lines, record(10, "info", "short"), record(11, "info", "short"))
	_, err = logs.Append(1, 0, lines)
	must(t, err)
	for _, c := range []struct {
		start, end, tail, head int64
	}{
		{0, 12, 7, 3}, // the tail: 7, 8, 9 and the short 10, 11; the head: 0, 1, 2
		{0, 10, 7, 3},
		{5, 7, 5, 7}, // fits whole
		{4, 5, 4, 5}, // one line
		{10, 12, 10, 12},
	} {
		tail, err := logFitTail(logs, 1, c.start, c.end)
		must(t, err)
		head, err := logFitHead(logs, 1, c.start, c.end)
		must(t, err)
		if tail != c.tail || head != c.head {
			t.Errorf("[%d,%d): tail from %d, head to %d; want %d, %d", c.start, c.end, tail, head, c.tail, c.head)
		}
	}
}
