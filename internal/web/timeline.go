package web

// The job's Timing tab: its actions on a timeline, computed from the
// log's "start: L name (timeout T)" and "end: L name (duration D)"
// records (LAVA's Timing tab reads the same records). The whole log is
// scanned once, through a fixed buffer, decoding only the lines that can
// be such records, and what was found is kept (tlCache) so that a
// running job's timeline later reads only the lines added since.

import (
	"bytes"
	"container/list"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/logstore"
	"github.com/basalt-lava/basalt/internal/store"
)

// tlAction is one run of an action, as its log records tell it.
type tlAction struct {
	Level, Name string
	Start, End  time.Time // the records' dt; zero when not logged
	Timeout     time.Duration
	Logged      time.Duration // the end record's (duration …), whole seconds
	Ended       bool
	StartLine   int64
}

// Duration is End-Start when both are logged, else the end record's.
func (a tlAction) Duration() time.Duration {
	if !a.Start.IsZero() && !a.End.IsZero() {
		return a.End.Sub(a.Start)
	}
	return a.Logged
}

// tlScan is what a scan of a log found up to a line.
type tlScan struct {
	lines   int64
	actions []tlAction
	open    map[string]int // level → index in actions of its run without an end
	last    time.Time      // dt of the last line scanned
}

// tlMaxActions bounds the action runs kept for one job (a job has tens
// to hundreds; a log that claims more is cut there).
const tlMaxActions = 5000

var (
	tlStartRE = regexp.MustCompile(`^start: ([0-9][0-9.]*) ([\w_-]+) \(timeout (\d+):(\d+):(\d+)\)`)
	tlEndRE   = regexp.MustCompile(`^end: ([0-9][0-9.]*) ([\w_-]+) \(duration (\d+):(\d+):(\d+)\)`)
)

func tlClock(h, m, s string) time.Duration {
	hh, _ := strconv.Atoi(h)
	mm, _ := strconv.Atoi(m)
	ss, _ := strconv.Atoi(s)
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute + time.Duration(ss)*time.Second
}

// tlTime parses a record's dt: LAVA's isoformat, with or without zone.
func tlTime(dt string) time.Time {
	for _, layout := range []string{"2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, dt); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// tlLineDT returns the dt of a stored line without decoding it
// (`- {"dt": "…"`), "" when the line is not in that form.
func tlLineDT(line []byte) string {
	const prefix = `- {"dt": "`
	if !bytes.HasPrefix(line, []byte(prefix)) {
		return ""
	}
	rest := line[len(prefix):]
	if i := bytes.IndexByte(rest, '"'); i > 0 && i < 64 {
		return string(rest[:i])
	}
	return ""
}

var (
	tlStartMark = []byte("start: ")
	tlEndMark   = []byte("end: ")
)

// add scans line n.
func (sc *tlScan) add(n int64, line []byte) {
	if !bytes.Contains(line, tlStartMark) && !bytes.Contains(line, tlEndMark) {
		return
	}
	rec := logDecode(n, line, 1024)
	msg, ok := rec.Msg.(string)
	if !ok || (rec.Lvl != "info" && rec.Lvl != "debug") {
		return
	}
	at := tlTime(rec.DT)
	if m := tlStartRE.FindStringSubmatch(msg); m != nil {
		if len(sc.actions) >= tlMaxActions {
			return
		}
		sc.open[m[1]] = len(sc.actions)
		sc.actions = append(sc.actions, tlAction{Level: m[1], Name: m[2], Start: at,
			Timeout: tlClock(m[3], m[4], m[5]), StartLine: n})
		return
	}
	if m := tlEndRE.FindStringSubmatch(msg); m != nil {
		if m[2] == "validate" {
			return // as LAVA: validate has no start record
		}
		i, ok := sc.open[m[1]]
		if !ok {
			// The start is missing (LAVA creates the entry too).
			if len(sc.actions) >= tlMaxActions {
				return
			}
			i = len(sc.actions)
			sc.actions = append(sc.actions, tlAction{Level: m[1], Name: m[2], StartLine: n})
		}
		delete(sc.open, m[1])
		a := &sc.actions[i]
		a.End, a.Logged, a.Ended = at, tlClock(m[3], m[4], m[5]), true
	}
}

// tlCache keeps the scans of the jobs last looked at, least recently
// used dropped past tlCacheJobs. Keyed by the log's path, so that two
// log stores (tests) never share an entry.
type tlCacheT struct {
	mu    sync.Mutex
	byKey map[string]*list.Element
	order *list.List // of *tlEntry, most recent first
}

type tlEntry struct {
	key string
	mu  sync.Mutex // held while scanning
	sc  tlScan
}

const tlCacheJobs = 64

var tlCache = &tlCacheT{byKey: map[string]*list.Element{}, order: list.New()}

func (c *tlCacheT) entry(key string) *tlEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		c.order.MoveToFront(el)
		return el.Value.(*tlEntry)
	}
	e := &tlEntry{key: key, sc: tlScan{open: map[string]int{}}}
	c.byKey[key] = c.order.PushFront(e)
	for c.order.Len() > tlCacheJobs {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.byKey, old.Value.(*tlEntry).key)
	}
	return e
}

// tlActions returns the action runs of job's log, reading only the
// lines not scanned before.
func tlActions(logs *logstore.Logs, job int64) ([]tlAction, time.Time, error) {
	total, err := logs.Len(job)
	if err != nil {
		return nil, time.Time{}, err
	}
	e := tlCache.entry(logs.Path(job))
	e.mu.Lock()
	defer e.mu.Unlock()
	if total < e.sc.lines { // the log was removed and written again
		e.sc = tlScan{open: map[string]int{}}
	}
	if total > e.sc.lines {
		last := total - 1
		err := logScan(logs, job, e.sc.lines, total, func(n int64, line []byte) error {
			e.sc.add(n, line)
			if n == last {
				if t := tlTime(tlLineDT(line)); !t.IsZero() {
					e.sc.last = t
				}
			}
			return nil
		})
		if err != nil {
			// Start again next time rather than keep half a scan.
			e.sc = tlScan{open: map[string]int{}}
			return nil, time.Time{}, err
		}
		e.sc.lines = total
	}
	return append([]tlAction(nil), e.sc.actions...), e.sc.last, nil
}

// timelineView is the Timing tab.
type timelineView struct {
	SVG     template.HTML
	Table   template.HTML
	Total   string
	Empty   bool
	Running bool
}

// tlKind is the colour class of a top-level action: deploy, boot, test,
// finalize or other.
func tlKind(name string) string {
	switch {
	case strings.Contains(name, "deploy"):
		return "deploy"
	case strings.Contains(name, "boot"):
		return "boot"
	case strings.Contains(name, "test"):
		return "test"
	case strings.Contains(name, "finalize"):
		return "finalize"
	}
	return "other"
}

// tlNearTimeout is LAVA's warning: a duration of at least 85% of the
// timeout.
func tlNearTimeout(a tlAction) bool {
	return a.Timeout > 0 && a.Duration() >= a.Timeout*85/100
}

// timeline builds the Timing tab of j.
func (s *site) tlView(j store.Job) (timelineView, error) {
	acts, last, err := tlActions(s.c.Logs, j.ID)
	if err != nil {
		return timelineView{}, err
	}
	running := j.State != store.JobFinished
	return tlRender(jobDisplayID(j), acts, last, running), nil
}

// tlRender draws acts as an SVG (top-level actions and, when they
// last a second or more, their children) and lists every action in a
// table. Geometry is in percent of the width, text in pixels, so the
// picture fills any width and its text stays readable on a phone. An
// action without an end is drawn to the last time logged.
func tlRender(jobID string, acts []tlAction, last time.Time, running bool) timelineView {
	var tv timelineView
	tv.Running = running
	var t0, t1 time.Time
	for _, a := range acts {
		if !a.Start.IsZero() && (t0.IsZero() || a.Start.Before(t0)) {
			t0 = a.Start
		}
		if a.End.After(t1) {
			t1 = a.End
		}
	}
	if last.After(t1) {
		t1 = last
	}
	if len(acts) == 0 || t0.IsZero() || !t1.After(t0) {
		tv.Empty = true
		if len(acts) == 0 {
			return tv
		}
	}
	span := t1.Sub(t0)
	tv.Total = jobHumanDuration(span)
	pct := func(t time.Time) float64 {
		if span <= 0 {
			return 0
		}
		return float64(t.Sub(t0)) / float64(span) * 100
	}

	// The rows drawn.
	type row struct {
		a      tlAction
		depth  int
		kind   string
		x, w   float64
		isOpen bool
	}
	var rows []row
	kindOf := map[string]string{} // top level → kind
	for _, a := range acts {
		depth := strings.Count(a.Level, ".")
		top, _, _ := strings.Cut(a.Level, ".")
		if depth == 0 {
			kindOf[top] = tlKind(a.Name)
		}
		if a.Start.IsZero() || depth > 1 {
			continue
		}
		end := a.End
		if end.IsZero() {
			end = t1
		}
		if depth == 1 && end.Sub(a.Start) < time.Second {
			continue
		}
		kind := kindOf[top]
		if kind == "" {
			kind = tlKind(a.Name)
		}
		x := pct(a.Start)
		w := max(pct(end)-x, 0.4)
		if x+w > 100 {
			w = max(100-x, 0.4)
		}
		rows = append(rows, row{a: a, depth: depth, kind: kind, x: x, w: w, isOpen: !a.Ended})
	}

	if !tv.Empty && len(rows) > 0 {
		const rowH, top, axisH = 30, 8, 26
		height := top + len(rows)*rowH + axisH
		var b strings.Builder
		fmt.Fprintf(&b, `<svg id="timeline" class="timeline" width="100%%" height="%d" role="img" aria-label="The job's actions on a timeline, %s in all">`, height, html.EscapeString(tv.Total))
		for i, r := range rows {
			y := top + i*rowH
			a := r.a
			cls := "tl-row tl-" + r.kind
			if r.depth > 0 {
				cls += " tl-child"
			}
			if r.isOpen {
				cls += " tl-open"
			}
			if tlNearTimeout(a) {
				cls += " tl-near-timeout"
			}
			dur := jobHumanDuration(a.Duration())
			if r.isOpen && running {
				dur = "running, " + jobHumanDuration(t1.Sub(a.Start))
			} else if r.isOpen {
				dur = "no end logged, " + jobHumanDuration(t1.Sub(a.Start)) + " to the log's last line"
			}
			label := fmt.Sprintf("%s %s · %s", a.Level, a.Name, dur)
			tip := label
			if a.Timeout > 0 {
				tip += " of " + jobHumanDuration(a.Timeout) + " timeout"
			}
			fmt.Fprintf(&b, `<g class="%s" data-level="%s">`, cls, html.EscapeString(a.Level))
			fmt.Fprintf(&b, `<text class="tl-label" x="%d" y="%d">%s</text>`, 2+12*r.depth, y+11, html.EscapeString(label))
			fmt.Fprintf(&b, `<rect class="tl-bar" x="%.3f%%" y="%d" width="%.3f%%" height="10" rx="2"><title>%s</title></rect>`,
				r.x, y+15, r.w, html.EscapeString(tip))
			b.WriteString("</g>")
		}
		// The time axis: a line and five ticks.
		ay := top + len(rows)*rowH + 4
		fmt.Fprintf(&b, `<g class="tl-axis"><line x1="0" y1="%d" x2="100%%" y2="%d"/>`, ay, ay)
		for _, p := range []float64{0, 25, 50, 75, 100} {
			anchor := "middle"
			switch p {
			case 0:
				anchor = "start"
			case 100:
				anchor = "end"
			}
			at := time.Duration(float64(span) * p / 100)
			fmt.Fprintf(&b, `<line x1="%g%%" y1="%d" x2="%g%%" y2="%d"/><text x="%g%%" y="%d" text-anchor="%s">%s</text>`,
				p, ay, p, ay+4, p, ay+16, anchor, html.EscapeString(jobHumanDuration(at)))
		}
		b.WriteString("</g></svg>")
		tv.SVG = template.HTML(b.String())
	}

	// The table: every action, by level as LAVA lists them.
	sorted := append([]tlAction(nil), acts...)
	sort.SliceStable(sorted, func(i, k int) bool { return tlLevelLess(sorted[i].Level, sorted[k].Level) })
	var b strings.Builder
	b.WriteString(`<table class="table tl-table"><thead><tr><th>Level</th><th>Action</th><th>Duration</th><th>Timeout</th></tr></thead><tbody>`)
	for _, a := range sorted {
		cls := ""
		if tlNearTimeout(a) {
			cls = ` class="tl-near-timeout"`
		}
		dur := jobHumanDuration(a.Duration())
		if !a.Ended {
			dur = "not ended"
		}
		timeout := ""
		if a.Timeout > 0 {
			timeout = job.FormatDuration(int(a.Timeout / time.Second))
		}
		fmt.Fprintf(&b, `<tr%s><td><a href="/scheduler/job/%s?start=%d#L%d">%s</a></td><td style="padding-left:%dem">%s</td><td>%s</td><td class="tl-timeout">%s</td></tr>`,
			cls, url.PathEscape(jobID), max(0, a.StartLine-20), a.StartLine, html.EscapeString(a.Level), strings.Count(a.Level, "."), html.EscapeString(a.Name),
			html.EscapeString(dur), html.EscapeString(timeout))
	}
	b.WriteString("</tbody></table>")
	tv.Table = template.HTML(b.String())
	return tv
}

// tlLevelLess orders levels numerically, part by part ("1.10" after
// "1.9").
func tlLevelLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x < y
		}
	}
	return len(pa) < len(pb)
}

// jobTimeline is /scheduler/job/{id}/timeline: the Timing tab's content
// as an HTML fragment, which the page's script loads when the tab is
// opened (the page itself does not scan the log).
func (s *site) jobTimeline(w http.ResponseWriter, r *http.Request) {
	j, ok := s.jobFindVisible(w, r)
	if !ok {
		return
	}
	tv, err := s.tlView(j)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(tlFragment(tv)))
}

// tlFragment is the Timing tab's content (the page's template
// renders the same for ?tab=timing).
func tlFragment(tv timelineView) string {
	var b strings.Builder
	switch {
	case tv.Empty && tv.Table == "":
		b.WriteString(`<p class="tl-empty">No action has started yet.</p>`)
	default:
		if tv.Total != "" {
			fmt.Fprintf(&b, `<p class="tl-total">Actions over %s`, html.EscapeString(tv.Total))
			if tv.Running {
				b.WriteString(" so far (the job is running)")
			}
			b.WriteString(`. Bars in red outline took 85% or more of their timeout.</p>`)
		}
		b.WriteString(string(tv.SVG))
		b.WriteString(string(tv.Table))
	}
	return b.String()
}

// jobTiming is LAVA's timing: {"timing": the table as HTML, "graph":
// [[level, name, duration, timeout, near timeout]]} with durations and
// timeouts in seconds, by level.
func (s *site) jobTiming(w http.ResponseWriter, r *http.Request) {
	j, ok := s.jobFindVisible(w, r)
	if !ok {
		return
	}
	if !s.c.Logs.Exists(j.ID) {
		s.fail(w, r, notFound("log of job "+jobDisplayID(j)))
		return
	}
	tv, err := s.tlView(j)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	acts, _, err := tlActions(s.c.Logs, j.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// LAVA keeps one entry per level (the last run).
	byLevel := map[string]tlAction{}
	for _, a := range acts {
		byLevel[a.Level] = a
	}
	levels := make([]string, 0, len(byLevel))
	for l := range byLevel {
		levels = append(levels, l)
	}
	sort.Slice(levels, func(i, k int) bool { return tlLevelLess(levels[i], levels[k]) })
	graph := [][]any{}
	for _, l := range levels {
		a := byLevel[l]
		graph = append(graph, []any{l, a.Name, a.Duration().Seconds(), a.Timeout.Seconds(), tlNearTimeout(a)})
	}
	out := map[string]any{"timing": "", "graph": graph}
	if len(graph) > 0 {
		out["timing"] = string(tv.Table)
	}
	jobWriteJSON(w, out)
}
