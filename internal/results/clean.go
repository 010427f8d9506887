package results

import (
	"strings"
	"unicode/utf8"

	"github.com/basalt-lava/basalt/internal/value"
)

// CleanText returns s as results can carry it (the package doc gives
// the rule), and whether it changed.
func CleanText(s string) (string, bool) {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !carried(r, n) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s, false
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case carried(r, n):
			b.WriteString(s[i : i+n])
		case r == utf8.RuneError && n <= 1:
			writeHex(&b, 'x', uint32(s[i]), 2)
		case r < 0x80:
			writeHex(&b, 'x', uint32(r), 2)
		default:
			writeHex(&b, 'u', uint32(r), 4)
		}
		i += n
	}
	return b.String(), true
}

// carried reports whether the rune r, n bytes long in the input, is kept
// as it is.
func carried(r rune, n int) bool {
	switch {
	case r == utf8.RuneError && n <= 1:
		return false // an invalid byte (a real U+FFFD is 3 bytes long)
	case r < 0x20:
		return r == '\t' || r == '\n' || r == '\r'
	case r == 0xFFFE || r == 0xFFFF:
		return false
	}
	return true
}

const hexDigits = "0123456789ABCDEF"

func writeHex(b *strings.Builder, kind byte, v uint32, width int) {
	b.WriteByte('\\')
	b.WriteByte(kind)
	for sh := 4 * (width - 1); sh >= 0; sh -= 4 {
		b.WriteByte(hexDigits[(v>>sh)&0xf])
	}
}

// CleanValue returns v with every string in it (map keys included) as
// CleanText makes it, and whether anything changed. Maps and lists that
// change are copied; v itself is never modified.
func CleanValue(v any) (any, bool) {
	switch t := v.(type) {
	case string:
		return CleanText(t)
	case *value.Map:
		changed := false
		t.Range(func(k string, e any) bool {
			_, c1 := CleanText(k)
			_, c2 := CleanValue(e)
			changed = c1 || c2
			return !changed
		})
		if !changed {
			return t, false
		}
		c := value.NewMap()
		t.Range(func(k string, e any) bool {
			k, _ = CleanText(k)
			e, _ = CleanValue(e)
			c.Set(k, e)
			return true
		})
		return c, true
	case []any:
		var out []any
		for i, e := range t {
			ce, c := CleanValue(e)
			if c && out == nil {
				out = append(make([]any, 0, len(t)), t[:i]...)
			}
			if out != nil {
				out = append(out, ce)
			}
		}
		if out == nil {
			return t, false
		}
		return out, true
	}
	return v, false
}

// cleanCase returns k with every text field as CleanText makes it.
func cleanCase(k Case) Case {
	for _, f := range []*string{&k.Suite, &k.Name, &k.Result, &k.Units, &k.Set, &k.Level, &k.Duration} {
		*f, _ = CleanText(*f)
	}
	if s, ok := k.Measurement.(string); ok {
		k.Measurement, _ = CleanText(s)
	}
	if k.Extra != nil {
		if m, ok := CleanValue(k.Extra); ok {
			k.Extra = m.(*value.Map)
		}
	}
	return k
}
