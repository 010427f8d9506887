package kernelmsg

import (
	"context"
	"regexp"
	"strings"

	"github.com/basalt-lava/basalt/internal/connection"
)

// Console is what Watch needs of a console session.
type Console interface {
	Expect(ctx context.Context, patterns ...*regexp.Regexp) (*connection.Match, error)
}

// Watch waits on a live console for one of its prompts, collecting the
// kernel reports printed before it.
//
// A console's Expect matches within lines, and within the line still
// arriving, and consumes only up to its match; lines nothing matched are
// gone. Watch therefore sees of a report its start line, the lines that
// matched while the report was open (its end line, the words that
// classify a trace), each from its start to as much of its end as had
// arrived, and not the lines in between: the text of a live report is
// those lines, the full report is in the log.
type Watch struct {
	// Prompts end the wait; the first to match is the outcome.
	Prompts []*regexp.Regexp
	// Kernel enables the kernel reports; without it Watch only waits for
	// a prompt (LAVA's ignore_kernel_messages).
	Kernel bool
	// MaxLines bounds the pieces of one report; DefaultMaxLines when 0.
	MaxLines int
	// Found, when set, is called with each report as it completes.
	Found func(Message)
}

// Outcome is how a wait ended.
type Outcome struct {
	// Prompt is the index in Prompts of the prompt that matched, -1 when
	// none did.
	Prompt int
	// Match is that prompt's match.
	Match *connection.Match
	// Messages are the reports found, in order.
	Messages []Message
	// Fatal is the fatal report that ended the wait, if one did. It is set
	// whatever else happened (a prompt, the end of the output, the time
	// limit while its end was awaited), since it says why.
	Fatal *Message
}

// liveStarts and liveEnds are the patterns as Watch uses them: each
// takes the rest of its line, as LAVA's take it to the "\r" that ends
// it, so that a second pattern in the same line ("Oops - BUG: 0") is not
// reported again. On a line still arriving "the rest" is what has
// arrived of it. The start's last group is that rest.
var (
	liveStarts []*regexp.Regexp
	liveEnds   = map[*Pattern]*regexp.Regexp{}
)

func init() {
	for i := range Patterns {
		p := &Patterns[i]
		start := p.Start
		if p.live != nil {
			start = p.live
		}
		liveStarts = append(liveStarts, regexp.MustCompile(`(?:`+start.String()+`)(.*)`))
		if p.End != nil {
			liveEnds[p] = regexp.MustCompile(`(?:` + p.End.String() + `).*`)
		}
	}
}

// classifierRes find the words that classify a "cut here" trace.
var classifierRes = func() []*regexp.Regexp {
	var out []*regexp.Regexp
	for _, c := range classifiers {
		out = append(out, regexp.MustCompile(regexp.QuoteMeta(c.word)))
	}
	return out
}()

// Wait returns when a prompt matches, a fatal report is complete, or
// Expect fails (ctx done, connection.ErrClosed); the error is Expect's.
func (w *Watch) Wait(ctx context.Context, c Console) (Outcome, error) {
	out := Outcome{Prompt: -1}
	var pats []*regexp.Regexp
	nk := 0
	if w.Kernel {
		pats = append(pats, liveStarts...)
		nk = len(pats)
	}
	pats = append(pats, w.Prompts...)
	for {
		m, err := c.Expect(ctx, pats...)
		if err != nil {
			return out, err
		}
		if m.Index >= nk {
			out.Prompt, out.Match = m.Index-nk, m
			return out, nil
		}
		p := &Patterns[m.Index]
		// The live pattern's last group is the rest of the line, as much
		// of it as has arrived: the end is looked for after the start.
		head := m.Before + m.Groups[0]
		capt := p.Begin(head, len(head)-len(m.Groups[len(m.Groups)-1]), w.MaxLines)
		prompt, pm, err := w.follow(ctx, c, p, capt)
		msg := capt.Message()
		out.Messages = append(out.Messages, msg)
		if w.Found != nil {
			w.Found(msg)
		}
		if msg.Fatal {
			out.Fatal = &out.Messages[len(out.Messages)-1]
		}
		switch {
		case err != nil:
			return out, err
		case prompt >= 0:
			// A prompt cut the report short: the wait is over, as in
			// LAVA, which takes it for the prompt it waited for.
			out.Prompt, out.Match = prompt, pm
			return out, nil
		case msg.Fatal:
			return out, nil
		}
	}
}

// follow reads the rest of a report until its end line, a prompt (whose
// index it returns) or an error.
func (w *Watch) follow(ctx context.Context, c Console, p *Pattern, capt *Capture) (int, *connection.Match, error) {
	if capt.Done() {
		return -1, nil, nil
	}
	pats := []*regexp.Regexp{liveEnds[p]}
	nc := 0
	if p.Kind == traceByContent {
		pats = append(pats, classifierRes...)
		nc = len(classifierRes)
	}
	pats = append(pats, w.Prompts...)
	for {
		m, err := c.Expect(ctx, pats...)
		if err != nil {
			capt.Cut("")
			return -1, nil, err
		}
		piece := m.Before + m.Groups[0]
		switch {
		case m.Index == 0:
			capt.Line(piece)
			return -1, nil, nil
		case m.Index <= nc:
			if capt.Line(piece) {
				return -1, nil, nil
			}
		default:
			capt.Cut(strings.TrimSpace(piece))
			return m.Index - 1 - nc, m, nil
		}
	}
}
