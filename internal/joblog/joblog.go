// Package joblog writes a job's log the way LAVA's dispatcher does: one
// record per line, `- {"dt": ..., "lvl": ..., "msg": ...}`, a YAML list of
// flow mappings with every scalar double-quoted, so that logs.yaml reads
// back with any YAML parser and LAVA's own tools. It also echoes records
// in a human form (to a terminal, say), masks secrets (see Masker), and
// hands every `results` record to whoever collects them, made safe first
// as package results says (results.CleanText): a record that had to be
// altered is followed by a warning saying so.
//
// A Logger is safe for concurrent use: the console reader and the action
// running the job write to it at the same time.
package joblog

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/basalt-lava/basalt/internal/results"
	"github.com/basalt-lava/basalt/internal/value"
)

// Level is a LAVA log level.
type Level string

// LAVA's levels, in the order its log viewer lists them.
const (
	Exception Level = "exception"
	Error     Level = "error"
	Warning   Level = "warning"
	Info      Level = "info"
	Debug     Level = "debug"
	Input     Level = "input"
	Target    Level = "target"
	Feedback  Level = "feedback"
	Event     Level = "event"
	Results   Level = "results"
)

// MaxLine is LAVA's limit: a longer record is replaced by a notice, so
// that one runaway line cannot make the log unreadable.
const MaxLine = 100000

// Masked replaces a secret wherever it appears in a message.
const Masked = "[MASKED]"

// Options configure a Logger.
type Options struct {
	// Human, when set, receives each record as one readable line
	// ("info: start: 1 deployimages"), console lines as they came.
	Human io.Writer
	// HumanLevels filters what Human receives; nil means every level.
	HumanLevels map[Level]bool
	// OnResult is called with every results record, after masking.
	OnResult func(*value.Map)
	// Now gives the time stamps; nil means time.Now.
	Now func() time.Time
	// Masker masks the records; nil means a new one, which Mask fills.
	// A front end shares one Masker between the log and its other
	// outputs.
	Masker *Masker
	// Records, when set, receives every record as written, in order
	// (a front end streams them); it is called with the Logger's lock
	// held, so it must return quickly and must not log.
	Records func(Record)
}

// Record is one record of the log as written.
type Record struct {
	// Index counts the Logger's records from 0: a record's place in the
	// log, which lets a receiver resume or drop repeats.
	Index int
	Time  time.Time
	Level Level
	// Line is the record in LAVA's form, `- {"dt": ...}` and its
	// newline. It is only valid during the call, as with io.Writer: a
	// receiver copies what it keeps.
	Line []byte
}

// Logger writes job log records.
type Logger struct {
	mu     sync.Mutex
	yaml   *bufio.Writer
	human  *bufio.Writer
	opts   Options
	masker *Masker
	buf    []byte
	err    error
	index  int // of the next record
}

// New returns a Logger writing LAVA log lines to w (nil: no YAML log).
func New(w io.Writer, opts Options) *Logger {
	l := &Logger{opts: opts, masker: opts.Masker}
	if l.masker == nil {
		l.masker = &Masker{}
	}
	if w != nil {
		l.yaml = bufio.NewWriterSize(w, 64<<10)
	}
	if opts.Human != nil {
		l.human = bufio.NewWriterSize(opts.Human, 16<<10)
	}
	if l.opts.Now == nil {
		l.opts.Now = time.Now
	}
	return l
}

// Discard is a Logger that writes nothing, for actions run outside a job.
func Discard() *Logger { return New(nil, Options{}) }

// Mask makes every later record show s as [MASKED] (Masker.Add).
func (l *Logger) Mask(s string) {
	if l == nil {
		return
	}
	l.masker.Add(s)
}

// Masker is the Masker of the log's records.
func (l *Logger) Masker() *Masker {
	if l == nil {
		return nil
	}
	return l.masker
}

// Log writes one record; msg is a string or a *value.Map (results).
func (l *Logger) Log(lvl Level, msg any) {
	if l == nil {
		return
	}
	msg = l.masker.Value(msg)
	var note string
	if lvl == Results {
		if m, ok := msg.(*value.Map); ok {
			if c, changed := results.CleanValue(m); changed {
				msg = c
				note = fmt.Sprintf("results record %s/%s: a value held bytes that results cannot carry (not UTF-8, or a control character): written escaped (\\xNN, \\uFFFE)",
					c.(*value.Map).String("definition"), c.(*value.Map).String("case"))
			}
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.write(lvl, msg)
	if note != "" {
		l.write(Warning, note)
	}
	if lvl == Results && l.opts.OnResult != nil {
		if m, ok := msg.(*value.Map); ok {
			l.mu.Unlock()
			l.opts.OnResult(m)
			l.mu.Lock()
		}
	}
}

// write writes one record, masked and cleaned, with the lock held.
func (l *Logger) write(lvl Level, msg any) {
	now := l.opts.Now().UTC()
	if l.yaml != nil || l.opts.Records != nil {
		b := l.buf[:0]
		b = append(b, `- {"dt": "`...)
		b = appendStamp(b, now)
		b = append(b, `+00:00", "lvl": "`...)
		b = append(b, lvl...)
		b = append(b, `", "msg": `...)
		b = appendFlow(b, msg)
		b = append(b, "}\n"...)
		if len(b) > MaxLine {
			b = append(b[:0], `- {"dt": "`...)
			b = appendStamp(b, now)
			b = append(b, `+00:00", "lvl": "`...)
			b = append(b, lvl...)
			b = append(b, `", "msg": "<line way too long ...>"}`+"\n"...)
		}
		l.buf = b
		if l.yaml != nil {
			if _, err := l.yaml.Write(b); err != nil && l.err == nil {
				l.err = err
			}
		}
		if l.opts.Records != nil {
			l.opts.Records(Record{Index: l.index, Time: now, Level: lvl, Line: b})
		}
		l.index++
	}
	if l.human != nil && (l.opts.HumanLevels == nil || l.opts.HumanLevels[lvl]) {
		l.writeHuman(lvl, msg)
	}
}

func (l *Logger) writeHuman(lvl Level, msg any) {
	switch lvl {
	case Target:
		fmt.Fprintf(l.human, "%s\n", msg)
		return
	case Input:
		fmt.Fprintf(l.human, "> %s\n", msg)
		return
	}
	switch m := msg.(type) {
	case string:
		fmt.Fprintf(l.human, "%s: %s\n", lvl, m)
	case *value.Map:
		fmt.Fprintf(l.human, "%s: %s\n", lvl, strings.TrimSuffix(string(appendFlow(nil, m)), "\n"))
	default:
		fmt.Fprintf(l.human, "%s: %v\n", lvl, m)
	}
}

// Debugf writes a debug record.
func (l *Logger) Debugf(format string, args ...any) { l.Log(Debug, fmt.Sprintf(format, args...)) }

// Infof writes an info record.
func (l *Logger) Infof(format string, args ...any) { l.Log(Info, fmt.Sprintf(format, args...)) }

// Warnf writes a warning record.
func (l *Logger) Warnf(format string, args ...any) { l.Log(Warning, fmt.Sprintf(format, args...)) }

// Errorf writes an error record.
func (l *Logger) Errorf(format string, args ...any) { l.Log(Error, fmt.Sprintf(format, args...)) }

// Target writes one line the device printed.
func (l *Logger) Target(line string) { l.Log(Target, line) }

// Input writes one line sent to the device.
func (l *Logger) Input(line string) { l.Log(Input, line) }

// Result writes a results record (definition, case, result, …).
func (l *Logger) Result(m *value.Map) { l.Log(Results, m) }

// Flush writes out what is buffered and returns the first write error.
func (l *Logger) Flush() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.yaml != nil {
		if err := l.yaml.Flush(); err != nil && l.err == nil {
			l.err = err
		}
	}
	if l.human != nil {
		l.human.Flush()
	}
	return l.err
}

// appendFlow writes v as PyYAML does with default_flow_style=True and
// default_style='"': mappings and lists in flow style, every scalar
// double-quoted, non-string scalars tagged (!!int "5").
func appendFlow(b []byte, v any) []byte {
	switch t := v.(type) {
	case string:
		return AppendQuoted(b, t)
	case *value.Map:
		b = append(b, '{')
		first := true
		t.Range(func(k string, v any) bool {
			if !first {
				b = append(b, ", "...)
			}
			first = false
			b = AppendQuoted(b, k)
			b = append(b, ": "...)
			b = appendFlow(b, v)
			return true
		})
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for i, e := range t {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendFlow(b, e)
		}
		return append(b, ']')
	case []string:
		b = append(b, '[')
		for i, e := range t {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = AppendQuoted(b, e)
		}
		return append(b, ']')
	case nil:
		return append(b, `!!null "null"`...)
	case bool:
		if t {
			return append(b, `!!bool "true"`...)
		}
		return append(b, `!!bool "false"`...)
	case int, int64, int32, uint, uint64:
		return fmt.Appendf(b, `!!int "%d"`, t)
	case float64:
		return fmt.Appendf(b, `!!float "%s"`, pyFloat(t))
	default:
		return AppendQuoted(b, fmt.Sprint(t))
	}
}

const hexDigits = "0123456789ABCDEF"

// AppendQuoted appends s as a YAML double-quoted scalar with PyYAML's
// escapes (allow_unicode off: everything outside printable ASCII is
// escaped), so that the log is plain ASCII whatever the device printed.
func AppendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r >= 0x20 && r < 0x7f && r != '"' && r != '\\':
			b = append(b, byte(r))
			continue
		}
		switch r {
		case 0:
			b = append(b, `\0`...)
		case 7:
			b = append(b, `\a`...)
		case 8:
			b = append(b, `\b`...)
		case 9:
			b = append(b, `\t`...)
		case 10:
			b = append(b, `\n`...)
		case 11:
			b = append(b, `\v`...)
		case 12:
			b = append(b, `\f`...)
		case 13:
			b = append(b, `\r`...)
		case 27:
			b = append(b, `\e`...)
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case 0x85:
			b = append(b, `\N`...)
		case 0xA0:
			b = append(b, `\_`...)
		case 0x2028:
			b = append(b, `\L`...)
		case 0x2029:
			b = append(b, `\P`...)
		default:
			switch {
			case r <= 0xff:
				b = append(b, '\\', 'x', hexDigits[r>>4], hexDigits[r&0xf])
			case r <= 0xffff:
				b = append(b, '\\', 'u')
				for sh := 12; sh >= 0; sh -= 4 {
					b = append(b, hexDigits[(r>>sh)&0xf])
				}
			default:
				b = append(b, '\\', 'U')
				for sh := 28; sh >= 0; sh -= 4 {
					b = append(b, hexDigits[(r>>sh)&0xf])
				}
			}
		}
	}
	return append(b, '"')
}

// pyFloat formats f as Python's repr does for the usual values: 42.5,
// 3.0, 1e-07.
func pyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return ".inf"
	case math.IsInf(f, -1):
		return "-.inf"
	case math.IsNaN(f):
		return ".nan"
	case f == math.Trunc(f) && math.Abs(f) < 1e16:
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// appendStamp appends t as 2006-01-02T15:04:05.000000, the form LAVA's
// log uses; written out by hand because every console line gets one and
// time.Format is several times slower.
func appendStamp(b []byte, t time.Time) []byte {
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, min, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	return appendDigits(b, t.Nanosecond()/1000, 6)
}

func appendDigits(b []byte, v, width int) []byte {
	var d [8]byte
	for i := width - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:width]...)
}
