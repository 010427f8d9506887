package web

// The job page's log: what is rendered, read and pushed, never the whole
// log (a job's log can be hundreds of megabytes).
//
// Element ids and classes the page's script, the browser tests and the
// perf benchmark rely on (keep them stable):
//
//	#job-header          the job's summary (description, state, device, times)
//	#job-state           the state/health badge ("badge st-<status>", the
//	                     layout's LAVA colours); data-state and data-health
//	                     hold the store's values, data-finished="1" once Finished
//	#job-device, #job-started, #job-duration   fields the live updates refresh
//	#job-error           the error class and message of a failed job
//	#job-actions         the action buttons (cancel/resubmit forms, links)
//	#job-tabs            the tab bar; each tab a.job-tab[data-tab=<name>], its
//	                     href "?tab=<name>#tab-<name>" (works without script)
//	#tab-log, #tab-results, #tab-description, #tab-definition, #tab-timing
//	                     the tabs' panels (section.job-tab-panel)
//	#log                 the log: data-job (the job id), data-first (the index
//	                     of the first line shown), data-next (the index after
//	                     the last line shown), data-finished ("1" when no line
//	                     will come), data-stream (the live stream's URL)
//	#log-lines           the lines' container inside #log
//	.log-line            one log record, id "L<index>" (from 0, as LAVA's),
//	                     classes lvl-<level> (debug, info, warning, error,
//	                     exception, input, target, feedback, results)
//	.log-section         a <details> folding one action: data-level ("1.2"),
//	                     its <summary> the start: line (.log-start), the end:
//	                     line (.log-end) last; open while running or failed
//	#log-earlier         the "earlier lines" link (href: the page at ?start=N;
//	                     the script loads log_lines instead)
//	#log-live            the live indicator ("live", "reconnecting…", "finished")
//	#log-bottom          the end of the log tab (the "End of log" link's target)
//	#show-<level>        the level filters (checkboxes before #log)
//	#timing-block        the Timing tab's content, loaded from timeline when
//	                     the tab opens (rendered in the page for ?tab=timing)
//	#timeline            the Timing tab's SVG: g.tl-row[data-level] per action
//	                     with a .tl-label and a .tl-bar; table.tl-table lists all
//
// Endpoints under /scheduler/job/{id}/:
//
//	log_pipeline_incremental?line=N   LAVA's: JSON records from line N
//	log_lines?start=A&end=B           the page's: lines [A,B) as HTML
//	log_stream?line=N                 server-sent events: "lines", "skip", "state", "end"
//	log_file/plain                    the whole log, streamed (attachment)
//	timeline                          the Timing tab's content (HTML fragment)
//	timing                            LAVA's Timing JSON

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/basalt-lava/basalt/internal/events"
	"github.com/basalt-lava/basalt/internal/logstore"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/value"
)

// Limits of the log views.
const (
	// logTailLines is how many of the last lines the job page renders.
	logTailLines = 300
	// logMaxRange bounds one log_lines request.
	logMaxRange = 1000
	// logMaxMsg is the part of a message the page shows; the rest is
	// in the plain log.
	logMaxMsg = 4096
	// logMaxBehind is how far behind the end of the log a live stream may
	// start; further behind, it skips to the last logTailLines lines (and
	// says so) rather than push a whole log.
	logMaxBehind = 5000
	// logStreamBatch bounds the lines of one "lines" event.
	logStreamBatch = 500
	// logWindowBytes bounds the bytes of log one page, range or event
	// reads (a line can be up to a megabyte); at least one line is read.
	logWindowBytes = 2 << 20
	// logSizeLimit is LAVA's LOG_SIZE_LIMIT for log_pipeline_incremental:
	// over it the endpoint answers [] and X-Size-Warning: 1.
	logSizeLimit = 5 << 20
	// logStateInterval is how often a live stream looks at the job's state
	// when nothing else wakes it.
	logStateInterval = 5 * time.Second
)

// logRecord is one line of a job's log, decoded.
type logRecord struct {
	N   int64
	DT  string
	Lvl string
	Msg any // string, *value.Map, or another decoded value
	// Cut is the bytes of the message not kept (over logMaxMsg).
	Cut int
	// Action is the start: or end: record of an action (info or debug).
	Action     string // "start", "end" or ""
	Level      string // the action's level, "1.2"
	ActionName string
}

// logActionRE matches LAVA's action records, "start: 1.2 name (timeout
// 00:05:00) [ns]" and "end: 1.2 name (duration 00:00:01) [ns]".
var logActionRE = regexp.MustCompile(`^(start|end): ([0-9][0-9.]*) ([\w_-]+)`)

// logDecode decodes one stored line (without its "\n"). The log
// store only keeps lines that parse as one record, so a failure is a
// damaged file: it is shown as text.
func logDecode(n int64, line []byte, keep int) logRecord {
	rec := logRecord{N: n, Lvl: "debug"}
	v, err := value.DecodeYAML(line)
	list, _ := v.([]any)
	var m *value.Map
	if err == nil && len(list) == 1 {
		m, _ = list[0].(*value.Map)
	}
	if m == nil {
		rec.Lvl = "error"
		rec.Msg = string(line)
		if err != nil {
			rec.Msg = fmt.Sprintf("unreadable log line: %v: %s", err, line)
		}
	} else {
		rec.DT = fmt.Sprint(m.Value("dt"))
		rec.Lvl = fmt.Sprint(m.Value("lvl"))
		rec.Msg = m.Value("msg")
	}
	if s, ok := rec.Msg.(string); ok {
		if keep > 0 && len(s) > keep {
			cut := keep
			for cut > 0 && !logUTF8Start(s[cut]) {
				cut--
			}
			rec.Cut = len(s) - cut
			rec.Msg = s[:cut]
			s = s[:cut]
		}
		if rec.Lvl == "info" || rec.Lvl == "debug" {
			if sm := logActionRE.FindStringSubmatch(s); sm != nil {
				rec.Action, rec.Level, rec.ActionName = sm[1], sm[2], sm[3]
			}
		}
	}
	return rec
}

func logUTF8Start(b byte) bool { return b&0xC0 != 0x80 }

// logSplitter is an io.Writer that calls fn with each complete line
// written to it (without its "\n"). It holds at most one line, bounded by
// the log store's line limit, whatever is written through it.
type logSplitter struct {
	n     int64 // index of the next line
	carry []byte
	fn    func(n int64, line []byte) error
}

func (s *logSplitter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.carry = append(s.carry, p...)
			break
		}
		line := p[:i]
		if len(s.carry) > 0 {
			s.carry = append(s.carry, line...)
			line = s.carry
		}
		if err := s.fn(s.n, line); err != nil {
			return 0, err
		}
		s.n++
		s.carry = s.carry[:0]
		p = p[i+1:]
	}
	return total, nil
}

// logScan calls fn with each line of job's log in [start,end), read
// through a fixed buffer.
func logScan(logs *logstore.Logs, job, start, end int64, fn func(n int64, line []byte) error) error {
	sp := &logSplitter{n: start, fn: fn}
	bw := bufio.NewWriterSize(sp, 64<<10)
	if _, err := logs.Read(job, start, end, bw); err != nil {
		return err
	}
	return bw.Flush()
}

// logReadRecords decodes lines [start,end) of job's log, messages cut at
// logMaxMsg.
func logReadRecords(logs *logstore.Logs, job, start, end int64) ([]logRecord, error) {
	var recs []logRecord
	err := logScan(logs, job, start, end, func(n int64, line []byte) error {
		recs = append(recs, logDecode(n, line, logMaxMsg))
		return nil
	})
	return recs, err
}

// logFitTail returns the first line of the longest range ending at end,
// starting at start or later, that holds at most logWindowBytes (at
// least the last line).
func logFitTail(logs *logstore.Logs, job, start, end int64) (int64, error) {
	if n, err := logs.Bytes(job, start, end); err != nil || n <= logWindowBytes || end-start <= 1 {
		return start, err
	}
	lo, hi := start+1, end-1 // the answer is in [lo, hi]
	for lo < hi {
		mid := lo + (hi-lo)/2
		n, err := logs.Bytes(job, mid, end)
		if err != nil {
			return 0, err
		}
		if n <= logWindowBytes {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, nil
}

// logFitHead returns the end of the longest range starting at start,
// ending at end or before, that holds at most logWindowBytes (at least
// the first line).
func logFitHead(logs *logstore.Logs, job, start, end int64) (int64, error) {
	if n, err := logs.Bytes(job, start, end); err != nil || n <= logWindowBytes || end-start <= 1 {
		return end, err
	}
	lo, hi := start+1, end-1 // the answer is in [lo, hi]
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		n, err := logs.Bytes(job, start, mid)
		if err != nil {
			return 0, err
		}
		if n <= logWindowBytes {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo, nil
}

// logView is the log part of the job page.
type logView struct {
	HTML      []byte // the rendered lines
	First     int64  // index of the first line rendered
	Next      int64  // index after the last
	Total     int64  // lines in the log
	Finished  bool   // the job is Finished: no line will come
	StreamURL string
}

// Earlier is the range the "earlier lines" link loads, [EarlierStart, First).
func (v logView) EarlierStart() int64 { return max(0, v.First-logTailLines) }

// logRender writes recs as HTML: each record a .log-line, the records of
// an action between its start: and end: lines folded in a .log-section.
// A section is open while it has no end (running, or started before a
// failure) or when an error was logged inside it, closed otherwise. An
// end: whose start is not among recs is an ordinary line.
func logRender(w *bytes.Buffer, job string, recs []logRecord) {
	// Pair starts with ends first, to know which sections close and
	// which hold an error, before writing their opening tags.
	type section struct {
		start, end int // indexes in recs; end -1 while open
		failed     bool
	}
	var sections []section
	sectionAt := map[int]int{} // index in recs of a start → its section
	endOf := map[int]bool{}    // index in recs of a matched end
	var stack []int
	for i, r := range recs {
		switch {
		case r.Action == "start":
			sectionAt[i] = len(sections)
			stack = append(stack, len(sections))
			sections = append(sections, section{start: i, end: -1})
		case r.Action == "end":
			// Close the innermost open section of that level (and any
			// left open inside it).
			for k := len(stack) - 1; k >= 0; k-- {
				if recs[sections[stack[k]].start].Level == r.Level {
					sections[stack[k]].end = i
					endOf[i] = true
					stack = stack[:k]
					break
				}
			}
		case r.Lvl == "error" || r.Lvl == "exception":
			for _, k := range stack {
				sections[k].failed = true
			}
		}
	}
	depth := 0
	for i, r := range recs {
		if k, ok := sectionAt[i]; ok {
			sec := sections[k]
			w.WriteString(`<details class="log-section" data-level="`)
			w.WriteString(html.EscapeString(r.Level))
			w.WriteString(`"`)
			if sec.end < 0 || sec.failed {
				w.WriteString(" open")
			}
			w.WriteString("><summary>")
			logRenderLine(w, job, r)
			w.WriteString("</summary>")
			depth++
			continue
		}
		logRenderLine(w, job, r)
		if endOf[i] && depth > 0 {
			w.WriteString("</details>")
			depth--
		}
	}
	for ; depth > 0; depth-- {
		w.WriteString("</details>")
	}
}

// logRenderLine writes one record as a .log-line, as LAVA's page shows it:
// input as keyboard text, a result as its keys (linked to the test
// case), anything else as its message.
func logRenderLine(w *bytes.Buffer, job string, r logRecord) {
	id := "L" + strconv.FormatInt(r.N, 10)
	lvl := r.Lvl
	switch lvl {
	case "debug", "info", "warning", "error", "exception", "input", "target", "feedback", "results":
	default:
		lvl = "debug"
	}
	w.WriteString(`<span class="log-line lvl-`)
	w.WriteString(lvl)
	switch r.Action {
	case "start":
		w.WriteString(" log-start")
	case "end":
		w.WriteString(" log-end")
	}
	m, isMap := r.Msg.(*value.Map)
	if lvl == "results" && isMap && m.String("result") == "fail" {
		w.WriteString(" log-fail")
	}
	w.WriteString(`" id="`)
	w.WriteString(id)
	if r.DT != "" {
		w.WriteString(`" title="`)
		w.WriteString(html.EscapeString(r.DT))
	}
	w.WriteString(`"><a class="log-n" href="#`)
	w.WriteString(id)
	w.WriteString(`">`)
	w.WriteString(strconv.FormatInt(r.N, 10))
	w.WriteString(`</a><span class="log-msg">`)
	switch {
	case lvl == "results" && isMap:
		w.WriteString(`<a class="log-result" href="/results/`)
		w.WriteString(url.PathEscape(job))
		w.WriteString("/")
		w.WriteString(url.PathEscape(m.String("definition")))
		w.WriteString("/")
		w.WriteString(url.PathEscape(m.String("case")))
		w.WriteString(`">`)
		first := true
		m.Range(func(k string, v any) bool {
			if !first {
				w.WriteString("<br>")
			}
			first = false
			text := "..."
			if k != "extra" {
				text = logText(v)
			}
			w.WriteString(html.EscapeString(k + ": " + text))
			return true
		})
		w.WriteString("</a>")
	case lvl == "input":
		w.WriteString("<kbd>")
		w.WriteString(html.EscapeString(logText(r.Msg)))
		w.WriteString("</kbd>")
	default:
		w.WriteString(html.EscapeString(logPrintable(logText(r.Msg))))
	}
	if r.Cut > 0 {
		fmt.Fprintf(w, `<span class="log-cut"> … %d more bytes in the plain log</span>`, r.Cut)
	}
	w.WriteString("</span></span>\n")
}

// logEscapeRE matches a terminal's escape sequences (colours, cursor
// moves, mode switches), which a device's console is full of.
var logEscapeRE = regexp.MustCompile(`\x1b(\[[0-9;?<=>!]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78cDEHMNOZ])`)

// logPrintable drops escape sequences and control characters (tabs
// and newlines kept) from console text: LAVA's page shows them as they
// came, which a browser draws as boxes. The plain log keeps every byte.
func logPrintable(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	s = logEscapeRE.ReplaceAllString(s, "")
	return strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\t' && r != '\n') || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// logText is a message as text: a string as it is, anything else in
// JSON (LAVA's page shows Python's str of it).
func logText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	var b bytes.Buffer
	logWriteJSON(&b, v)
	s := b.String()
	if len(s) > logMaxMsg {
		s = s[:logMaxMsg] + " …"
	}
	return s
}

// logWriteJSON writes a decoded YAML value as JSON, mappings in their
// order (the order LAVA's clients print them in).
func logWriteJSON(b *bytes.Buffer, v any) {
	switch t := v.(type) {
	case *value.Map:
		b.WriteByte('{')
		first := true
		t.Range(func(k string, v any) bool {
			if !first {
				b.WriteString(", ")
			}
			first = false
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteString(": ")
			logWriteJSON(b, v)
			return true
		})
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			logWriteJSON(b, e)
		}
		b.WriteByte(']')
	case float64:
		if math.IsInf(t, 0) || math.IsNaN(t) {
			b.WriteString(`"` + strconv.FormatFloat(t, 'g', -1, 64) + `"`)
			return
		}
		jb, _ := json.Marshal(t)
		b.Write(jb)
	case time.Time:
		jb, _ := json.Marshal(t.Format(time.RFC3339Nano))
		b.Write(jb)
	case []byte:
		jb, _ := json.Marshal(string(t))
		b.Write(jb)
	default:
		jb, err := json.Marshal(t)
		if err != nil {
			jb, _ = json.Marshal(fmt.Sprint(t))
		}
		b.Write(jb)
	}
}

// logRecordJSON writes a record as LAVA's log_pipeline_incremental does:
// {"dt": ..., "lvl": ..., "msg": ...}.
func logRecordJSON(b *bytes.Buffer, r logRecord) {
	b.WriteString(`{"dt": `)
	logWriteJSON(b, r.DT)
	b.WriteString(`, "lvl": `)
	logWriteJSON(b, r.Lvl)
	b.WriteString(`, "msg": `)
	logWriteJSON(b, r.Msg)
	b.WriteByte('}')
}

// logTail reads the lines the job page shows: the last logTailLines, or
// logTailLines from start when the request names one (?start=N, the
// "earlier lines" link without script).
func (s *site) logTail(j store.Job, r *http.Request) (logView, error) {
	id := jobDisplayID(j)
	v := logView{Finished: j.State == store.JobFinished,
		StreamURL: "/scheduler/job/" + id + "/log_stream"}
	total, err := s.c.Logs.Len(j.ID)
	if err != nil {
		return v, err
	}
	v.Total = total
	start := max(0, total-logTailLines)
	if q := r.URL.Query().Get("start"); q != "" {
		if n, err := strconv.ParseInt(q, 10, 64); err == nil && n >= 0 && n < total {
			start = n
		}
	}
	end := min(total, start+logTailLines)
	if q := r.URL.Query().Get("start"); q != "" {
		end, err = logFitHead(s.c.Logs, j.ID, start, end)
	} else {
		start, err = logFitTail(s.c.Logs, j.ID, start, end)
	}
	if err != nil {
		return v, err
	}
	recs, err := logReadRecords(s.c.Logs, j.ID, start, end)
	if err != nil {
		return v, err
	}
	var b bytes.Buffer
	logRender(&b, id, recs)
	v.HTML, v.First, v.Next = b.Bytes(), start, end
	return v, nil
}

// logLines answers log_lines?start=A&end=B: lines [A,B) as HTML, at most
// logMaxRange, for the page's "earlier lines". X-Log-First and
// X-Log-Next say which lines came.
func (s *site) logLines(w http.ResponseWriter, r *http.Request) {
	j, ok := s.jobFindVisible(w, r)
	if !ok {
		return
	}
	total, err := s.c.Logs.Len(j.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	start, err1 := strconv.ParseInt(q.Get("start"), 10, 64)
	end, err2 := strconv.ParseInt(q.Get("end"), 10, 64)
	if q.Get("end") == "" {
		end, err2 = total, nil
	}
	if err1 != nil || err2 != nil || start < 0 || end < start {
		s.fail(w, r, &httpError{Code: http.StatusBadRequest, Msg: "log_lines needs start and end, line indexes with start <= end"})
		return
	}
	end = min(end, total)
	if end-start > logMaxRange {
		start = end - logMaxRange
	}
	if start < end {
		if start, err = logFitTail(s.c.Logs, j.ID, start, end); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	recs, err := logReadRecords(s.c.Logs, j.ID, start, end)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var b bytes.Buffer
	logRender(&b, jobDisplayID(j), recs)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Log-First", strconv.FormatInt(start, 10))
	h.Set("X-Log-Next", strconv.FormatInt(max(start, end), 10))
	w.Write(b.Bytes())
}

// logIncremental is LAVA's log_pipeline_incremental?line=N: the records
// from line N as a JSON list; X-Is-Finished: 1 once the job is Finished;
// [] with X-Size-Warning: 1 when the log is over LAVA's size limit (its
// page then offers the plain log only).
func (s *site) logIncremental(w http.ResponseWriter, r *http.Request) {
	j, ok := s.jobFindVisible(w, r)
	if !ok {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if j.State == store.JobFinished {
		h.Set("X-Is-Finished", "1")
	}
	if fi, err := os.Stat(s.c.Logs.Path(j.ID)); err == nil && fi.Size() >= logSizeLimit {
		h.Set("X-Size-Warning", "1")
		io.WriteString(w, "[]")
		return
	}
	first, err := strconv.ParseInt(r.URL.Query().Get("line"), 10, 64)
	if err != nil || first < 0 {
		first = 0 // as LAVA: a bad line is 0
	}
	var b bytes.Buffer
	b.WriteByte('[')
	n := 0
	err = logScan(s.c.Logs, j.ID, first, -1, func(i int64, line []byte) error {
		if n > 0 {
			b.WriteString(", ")
		}
		n++
		logRecordJSON(&b, logDecode(i, line, 0))
		return nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	b.WriteByte(']')
	w.Write(b.Bytes())
}

// logPlain is LAVA's log_file/plain: the whole logs.yaml as an
// attachment, copied from the file through a fixed buffer. LAVA also
// accepts ?user=&token= here, for downloads from scripts.
func (s *site) logPlain(w http.ResponseWriter, r *http.Request) {
	j, err := s.findJob(r, r.PathValue("id"))
	if q := r.URL.Query(); err != nil && q.Get("token") != "" {
		if u, aerr := s.c.Store.Authenticate(r.Context(), q.Get("user"), q.Get("token")); aerr == nil {
			if tj, ferr := s.c.Lab.FindJob(r.Context(), r.PathValue("id")); ferr == nil {
				groups, _ := s.c.Store.UserGroups(r.Context(), u.Name)
				if store.Visible(tj, u, groups) {
					j, err = tj, nil
				}
			}
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !s.c.Logs.Exists(j.ID) {
		s.fail(w, r, notFound("log of job "+jobDisplayID(j)))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/yaml")
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=job_%d.log", j.ID))
	if _, err := s.c.Logs.Read(j.ID, 0, -1, w); err != nil {
		s.log.Warn("sending a plain log", "job", j.ID, "err", err)
	}
}

// logStreamState is what a "state" event carries (and job_status's
// fields the page refreshes).
type logStreamState struct {
	State    string `json:"state"`
	Health   string `json:"health"`
	Label    string `json:"label"`
	Device   string `json:"device"`
	Worker   string `json:"worker"`
	Started  string `json:"started"`
	Ended    string `json:"ended"`
	Duration string `json:"duration"`
	Error    string `json:"error"`
	Finished bool   `json:"finished"`
}

func logStateOf(j store.Job, now time.Time) logStreamState {
	st := logStreamState{State: string(j.State), Health: string(j.Health), Label: jobStateLabel(j),
		Device: j.Device, Finished: j.State == store.JobFinished}
	if !j.Started.IsZero() {
		st.Started = jobTime(j.Started)
		// Whole seconds: a finer duration would change at every wake.
		end := j.Ended
		if end.IsZero() {
			end = now
		}
		st.Duration = jobHumanDuration(end.Sub(j.Started).Truncate(time.Second))
	}
	st.Ended = jobTime(j.Ended)
	if j.ErrorClass != "" || j.ErrorMsg != "" {
		st.Error = strings.TrimSpace(j.ErrorClass + " error: " + j.ErrorMsg)
	}
	return st
}

// logStream is the page's live log: server-sent events from line
// ?line=N (or the Last-Event-ID a reconnecting browser sends):
//
//	event: lines   data {"first": A, "next": B, "lines": [{"n", "html",
//	               "action": "start"|"end"|"", "level"}]}, id B
//	event: skip    data {"from": A, "to": B}: lines not sent (too far
//	               behind the end; "earlier lines" loads them)
//	event: state   data logStreamState, on connection and on every change
//	event: end     the job is Finished and every line was sent; the
//	               stream closes
//
// It waits with logstore's Wait (woken by the append, no polling of the
// log) and looks at the job's state when woken and every logStateInterval.
func (s *site) logStream(w http.ResponseWriter, r *http.Request) {
	j, ok := s.jobFindVisible(w, r)
	if !ok {
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		s.fail(w, r, errors.New("log_stream: the response cannot be flushed"))
		return
	}
	next, err := strconv.ParseInt(r.URL.Query().Get("line"), 10, 64)
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		next, err = strconv.ParseInt(id, 10, 64)
	}
	if err != nil || next < 0 {
		next = 0
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if !s.logStreamSet().add(ctx, cancel) {
		s.fail(w, r, &httpError{Code: http.StatusServiceUnavailable, Msg: "the server is stopping"})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	id := jobDisplayID(j)

	// With the events hub, the job's changes come as events (subscribed
	// before the first read, so none is lost in between); without it,
	// the store is read when the log wakes the stream (at most once a
	// second) and every logStateInterval.
	var watch *logJobWatch
	if s.c.Events != nil {
		watch = logWatchJob(ctx, s.c.Events, j.ID)
	}
	var last logStreamState
	sentState := false
	var lastRead time.Time
	pending := false // a read was put off: read again at lastRead+1s
	readJob := func() error {
		nj, err := s.c.Store.Job(ctx, j.ID)
		if err == nil {
			j, lastRead, pending = nj, time.Now(), false
		}
		return err
	}
	// The worker of the job's device, looked up when the device changes.
	var worker, workerOf string
	// sendState sends the job's state if it changed, else a comment when
	// keepalive is set (it keeps proxies from closing a quiet stream).
	sendState := func(keepalive bool) error {
		if j.Device != workerOf {
			worker, workerOf = "", j.Device
			if d, err := s.c.Store.Device(ctx, j.Device); err == nil {
				worker = d.Worker
			}
		}
		cur := logStateOf(j, time.Now())
		cur.Worker = worker
		if !sentState || cur != last {
			last, sentState = cur, true
			return logSendEvent(w, "state", "", cur)
		}
		if keepalive {
			_, err := io.WriteString(w, ": waiting\n\n")
			return err
		}
		return nil
	}
	if err := readJob(); err != nil {
		return
	}
	if err := sendState(false); err != nil {
		return
	}
	fl.Flush()
	for {
		total, err := s.c.Logs.Len(j.ID)
		if err != nil {
			return
		}
		if total-next > logMaxBehind {
			from := next
			next = total - logTailLines
			if err := logSendEvent(w, "skip", "", map[string]int64{"from": from, "to": next}); err != nil {
				return
			}
		}
		for next < total {
			end, err := logFitHead(s.c.Logs, j.ID, next, min(total, next+logStreamBatch))
			if err != nil {
				return
			}
			if err := s.logSendLines(w, id, j.ID, next, end); err != nil {
				return
			}
			next = end
			fl.Flush()
		}
		if last.Finished {
			// Once Finished the log is complete (the worker's last lines
			// land before its finish): send what is left, then the end.
			if n, err := s.c.Logs.Len(j.ID); err == nil && n > next {
				continue
			}
			logSendEvent(w, "end", "", map[string]int64{"next": next})
			fl.Flush()
			return
		}
		wait := logStateInterval
		if pending {
			wait = max(time.Until(lastRead.Add(time.Second)), time.Millisecond)
		}
		wctx, cancel := context.WithTimeout(ctx, wait)
		watch.waiting(cancel)
		err = s.c.Logs.Wait(wctx, j.ID, next)
		watch.waiting(nil)
		cancel()
		if ctx.Err() != nil {
			return
		}
		timedOut := errors.Is(err, context.DeadlineExceeded)
		if err != nil && !timedOut && !errors.Is(err, context.Canceled) {
			return
		}
		var rerr error
		switch {
		case watch != nil:
			changed, missed := watch.take()
			if missed {
				rerr = readJob()
			} else if changed != nil {
				j = *changed
			}
		case timedOut || time.Since(lastRead) >= time.Second:
			rerr = readJob()
		default:
			pending = true
		}
		if rerr != nil {
			return
		}
		if err := sendState(timedOut); err != nil {
			return
		}
		fl.Flush()
	}
}

// logJobWatch is a live stream's subscription to its job's changes.
type logJobWatch struct {
	mu      sync.Mutex
	changed *store.Job         // the job after its last change
	missed  bool               // events were lost: read the store
	cancel  context.CancelFunc // ends the stream's current wait
}

// logWatchJob subscribes to the hub's events about job until ctx ends.
// Each one (or a loss of events) ends the stream's current wait.
func logWatchJob(ctx context.Context, hub *events.Hub, job int64) *logJobWatch {
	ch, stop := hub.Subscribe(16)
	context.AfterFunc(ctx, stop)
	w := &logJobWatch{}
	go func() {
		for e := range ch {
			mine := e.Kind == events.TestJob && e.Job != nil && e.Job.ID == job
			if !mine && e.Missed == 0 {
				continue
			}
			w.mu.Lock()
			if mine {
				j := *e.Job
				w.changed = &j
			}
			if e.Missed > 0 {
				w.missed = true
			}
			if w.cancel != nil {
				w.cancel()
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// waiting records the cancel of the stream's current wait (nil: none);
// a change already there ends it at once. A nil watch does nothing.
func (w *logJobWatch) waiting(cancel context.CancelFunc) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cancel = cancel
	if cancel != nil && (w.changed != nil || w.missed) {
		cancel()
	}
}

// take returns and forgets what changed since the last take.
func (w *logJobWatch) take() (changed *store.Job, missed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	changed, missed = w.changed, w.missed
	w.changed, w.missed = nil, false
	return changed, missed
}

// logStreamLine is one line of a "lines" event.
type logStreamLine struct {
	N      int64  `json:"n"`
	HTML   string `json:"html"`
	Action string `json:"action,omitempty"`
	Level  string `json:"level,omitempty"`
}

func (s *site) logSendLines(w io.Writer, id string, job, start, end int64) error {
	recs, err := logReadRecords(s.c.Logs, job, start, end)
	if err != nil {
		return err
	}
	lines := make([]logStreamLine, 0, len(recs))
	var b bytes.Buffer
	for _, r := range recs {
		b.Reset()
		logRenderLine(&b, id, r)
		lines = append(lines, logStreamLine{N: r.N, HTML: b.String(), Action: r.Action, Level: r.Level})
	}
	return logSendEvent(w, "lines", strconv.FormatInt(end, 10),
		map[string]any{"first": start, "next": end, "lines": lines})
}

// logSendEvent writes one server-sent event with data as JSON (one line:
// JSON escapes every newline).
func logSendEvent(w io.Writer, event, id string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	out.WriteString("event: ")
	out.WriteString(event)
	out.WriteByte('\n')
	if id != "" {
		out.WriteString("id: ")
		out.WriteString(id)
		out.WriteByte('\n')
	}
	out.WriteString("data: ")
	out.Write(b)
	out.WriteString("\n\n")
	_, err = w.Write(out.Bytes())
	return err
}

// logLevels are the level filters the page offers, LAVA's buttons
// in LAVA's order, with LAVA's names for them.
var logLevels = []struct{ Level, Name string }{
	{"debug", "debug"}, {"info", "info"}, {"warning", "warning"}, {"error", "error"},
	{"input", "input"}, {"target", "output"}, {"feedback", "feedback"}, {"results", "results"},
}

// logStreams are the live streams of one site, ended by CloseStreams.
type logStreams struct {
	mu      sync.Mutex
	closed  bool
	cancels map[context.Context]context.CancelFunc
}

// logLiveStreams holds each site's streams (keyed by *site, so that the
// skeleton's site needs no field for them).
var logLiveStreams sync.Map

func (s *site) logStreamSet() *logStreams {
	v, _ := logLiveStreams.LoadOrStore(s, &logStreams{cancels: map[context.Context]context.CancelFunc{}})
	return v.(*logStreams)
}

// add registers a stream until ctx ends; false once the site is closing.
func (ls *logStreams) add(ctx context.Context, cancel context.CancelFunc) bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.closed {
		return false
	}
	ls.cancels[ctx] = cancel
	context.AfterFunc(ctx, func() {
		ls.mu.Lock()
		delete(ls.cancels, ctx)
		ls.mu.Unlock()
	})
	return true
}

// CloseStreams ends the live log streams of h (a handler New returned)
// and refuses new ones: http.Server.Shutdown waits for running handlers,
// and a stream otherwise lasts as long as its job. Browsers reconnect
// (to the next server) by themselves. For http.Server.RegisterOnShutdown.
func CloseStreams(h http.Handler) {
	s, ok := h.(*site)
	if !ok {
		return
	}
	ls := s.logStreamSet()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.closed = true
	for _, cancel := range ls.cancels {
		cancel()
	}
}
