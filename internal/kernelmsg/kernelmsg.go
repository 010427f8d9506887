// Package kernelmsg finds the Linux kernel's own reports of trouble in a
// console's output — panics, oopses, BUG and WARNING traces, KASAN,
// KFENCE and KCSAN reports — as LAVA's login action does while it waits
// for a login or shell prompt. Each report starts with a recognisable
// line and, for multi-line reports, runs to the end marker the kernel
// prints (LAVA's patterns); the report is classified and its text kept
// for the job's results. A panic is fatal: the kernel will not reach a
// prompt, so waiting on is pointless.
//
// Two ways in: Scanner takes complete lines (a saved log), Watch drives
// a live console through its Expect.
package kernelmsg

import (
	"regexp"
	"strings"
)

// Kind classifies a kernel message; the strings are LAVA's.
type Kind string

// LAVA's kinds. A "cut here" trace has no kind of its own: it is an oops,
// bug or warning by what its text says, unknown otherwise.
const (
	Fault          Kind = "fault"
	KCSAN          Kind = "kcsan"
	KASAN          Kind = "kasan"
	KFENCE         Kind = "kfence"
	Oops           Kind = "oops"
	Warning        Kind = "warning"
	Bug            Kind = "bug"
	InvalidOpcode  Kind = "invalid opcode"
	Panic          Kind = "panic"
	Unknown        Kind = "unknown"
	traceByContent Kind = ""
)

// Pattern is one kind of report: how it starts and, when it spans lines,
// the line that ends it.
type Pattern struct {
	// Kind is empty for a "cut here" trace, classified by its text.
	Kind  Kind
	Start *regexp.Regexp
	// End matches the last line of the report; nil for one-line reports.
	End *regexp.Regexp
	// Fatal reports end the wait: the kernel cannot go on.
	Fatal bool
	// live is Start for a console read as it arrives, when a partial line
	// could match Start too early (see Watch); nil means Start.
	live *regexp.Regexp
}

// Patterns are LAVA's kernel messages (lava_dispatcher/utils/messages.py),
// in its order: at the same position in a line the earlier one wins. The
// end patterns are LAVA's, on lines: its trailing "\r" is the end of the
// line, and every end pattern runs to the end of its line.
var Patterns = []Pattern{
	{Kind: traceByContent, Start: regexp.MustCompile(`-\[ cut here \]`), End: regexp.MustCompile(`-+\[ end trace \w* \]-+`)},
	{Kind: Fault, Start: regexp.MustCompile(`Unhandled fault`)},
	{Kind: KCSAN, Start: regexp.MustCompile(`BUG: KCSAN:`), End: regexp.MustCompile(`=+$`)},
	{Kind: KASAN, Start: regexp.MustCompile(`BUG: KASAN:`), End: regexp.MustCompile(`=+$`)},
	{Kind: KFENCE, Start: regexp.MustCompile(`BUG: KFENCE:`), End: regexp.MustCompile(`=+$`)},
	{Kind: Oops, Start: regexp.MustCompile(`Oops(?: -|:)`)},
	{Kind: Warning, Start: regexp.MustCompile(`WARNING:`), End: regexp.MustCompile(`end trace`)},
	// On a live console "BUG:" may arrive before " KASAN:", and would then
	// be taken for a plain BUG: the live pattern waits for the seven
	// characters that tell them apart.
	{Kind: Bug, Start: regexp.MustCompile(`(kernel BUG at|BUG:)`), live: regexp.MustCompile(`(kernel BUG at|BUG:.{7})`)},
	{Kind: InvalidOpcode, Start: regexp.MustCompile(`invalid opcode:`)},
	{Kind: Panic, Start: regexp.MustCompile(`Kernel panic - not syncing`), End: regexp.MustCompile(`end Kernel panic`), Fatal: true},
}

// classifiers are the words that classify a "cut here" trace, in LAVA's
// order of precedence.
var classifiers = []struct {
	word string
	kind Kind
}{{"Oops", Oops}, {"BUG", Bug}, {"WARNING", Warning}}

// DefaultMaxLines bounds a report that never shows its end line, so that
// a missing end marker cannot swallow the rest of the boot.
const DefaultMaxLines = 1000

// Message is one kernel report found.
type Message struct {
	Kind Kind
	// Text is the report, lines joined with "\n".
	Text  string
	Fatal bool
	// Complete is false when the report was cut short: no end line before
	// the line limit, a prompt, the end of the output or the time limit.
	Complete bool
}

// Result is the message as LAVA reports it in the kernel-messages result
// (its extra.extra list): kind and message.
func (m Message) Result() map[string]string {
	return map[string]string{"kind": string(m.Kind), "message": m.Text}
}

// Capture collects one report, line by line, from its start line.
type Capture struct {
	p        *Pattern
	lines    []string
	done     bool
	complete bool
	max      int
}

// Begin starts a report of pattern p whose start matched line, the match
// ending at offset end; the end pattern is looked for after it, in the
// same line first. max bounds the lines (DefaultMaxLines when 0).
func (p *Pattern) Begin(line string, end, max int) *Capture {
	if max <= 0 {
		max = DefaultMaxLines
	}
	c := &Capture{p: p, lines: []string{line}, max: max}
	switch {
	case p.End == nil:
		c.done, c.complete = true, true
	case p.End.MatchString(line[end:]):
		c.done, c.complete = true, true
	}
	return c
}

// Line adds the next line and reports whether the report is over: its
// end line, or the line limit.
func (c *Capture) Line(line string) bool {
	if c.done {
		return true
	}
	c.lines = append(c.lines, line)
	if c.p.End.MatchString(line) {
		c.done, c.complete = true, true
	} else if len(c.lines) >= c.max {
		c.done = true
	}
	return c.done
}

// Cut ends the report before its end line; text, when not empty, is the
// last (partial) line, up to what cut it short.
func (c *Capture) Cut(text string) {
	if c.done {
		return
	}
	if text != "" {
		c.lines = append(c.lines, text)
	}
	c.done = true
}

// Done reports whether the report is over.
func (c *Capture) Done() bool { return c.done }

// Message returns the report, classified.
func (c *Capture) Message() Message {
	text := strings.Join(c.lines, "\n")
	kind := c.p.Kind
	if kind == traceByContent {
		kind = Unknown
		for _, cl := range classifiers {
			if strings.Contains(text, cl.word) {
				kind = cl.kind
				break
			}
		}
	}
	return Message{Kind: kind, Text: text, Fatal: c.p.Fatal, Complete: c.complete}
}

// find returns the pattern whose start matches line earliest (the first
// in Patterns on a tie) and where its match ends.
func find(line string) (p *Pattern, end int) {
	at := -1
	for i := range Patterns {
		loc := Patterns[i].Start.FindStringIndex(line)
		if loc != nil && (at < 0 || loc[0] < at) {
			p, at, end = &Patterns[i], loc[0], loc[1]
		}
	}
	return p, end
}

// Scanner finds the reports in a sequence of complete lines, as LAVA's
// parse_failures does on a console: it stops at the first fatal report.
type Scanner struct {
	// MaxLines bounds each report; DefaultMaxLines when 0.
	MaxLines int
	cur      *Capture
	msgs     []Message
	fatal    bool
}

// Line feeds the next line; it reports false once a fatal report has
// ended the scan, when later lines are ignored.
func (s *Scanner) Line(line string) bool {
	if s.fatal {
		return false
	}
	if s.cur != nil {
		if s.cur.Line(line) {
			s.finish()
		}
		return !s.fatal
	}
	p, end := find(line)
	if p == nil {
		return true
	}
	s.cur = p.Begin(line, end, s.MaxLines)
	if s.cur.Done() {
		s.finish()
	}
	return !s.fatal
}

func (s *Scanner) finish() {
	m := s.cur.Message()
	s.cur = nil
	s.msgs = append(s.msgs, m)
	s.fatal = m.Fatal
}

// Close ends the scan: a report still open is kept, incomplete. It
// returns every report found.
func (s *Scanner) Close() []Message {
	if s.cur != nil {
		s.cur.Cut("")
		s.finish()
	}
	return s.msgs
}

// Scan returns the reports in text, which is split into lines (carriage
// returns dropped, as a console session does).
func Scan(text string) []Message {
	var s Scanner
	for line := range strings.Lines(text) {
		line = strings.TrimSuffix(line, "\n")
		line = strings.ReplaceAll(line, "\r", "")
		if !s.Line(line) {
			break
		}
	}
	return s.Close()
}
