package jinja

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/basalt-lava/basalt/internal/value"
)

// Values inside the engine are the value package's types (nil, bool,
// int, float64, string, []any, *value.Map) plus the few Python types a
// template can make: tuples, undefined, dict views, callables, the loop
// object and block references.

// Undefined is the value of a name or attribute that does not exist.
// It prints as the empty string, iterates as empty and is false; most
// other uses are errors, as with Jinja2's default Undefined.
type Undefined struct {
	name string // the missing variable, attribute or key
	// obj is the object the attribute was looked up on; hasObj tells
	// whether there was one.
	obj    any
	hasObj bool
	hint   string
}

func (u *Undefined) message() string {
	if u.hint != "" {
		return u.hint
	}
	if !u.hasObj {
		return fmt.Sprintf("'%s' is undefined", u.name)
	}
	return fmt.Sprintf("%s has no attribute '%s'", pyRepr(typeDesc(u.obj)), u.name)
}

// Tuple is a Python tuple.
type Tuple []any

type viewKind int

const (
	viewKeys viewKind = iota
	viewValues
	viewItems
)

// dictView is what dict.keys(), .values() and .items() return.
type dictView struct {
	kind viewKind
	m    *value.Map
}

func (d *dictView) list() []any {
	out := make([]any, 0, d.m.Len())
	d.m.Range(func(k string, v any) bool {
		switch d.kind {
		case viewKeys:
			out = append(out, k)
		case viewValues:
			out = append(out, v)
		default:
			out = append(out, Tuple{k, v})
		}
		return true
	})
	return out
}

// callable is a function value: a method, a global function or a block
// reference.
type callable struct {
	name string
	fn   func(r *renderer, args []any, kw *value.Map) (any, error)
}

// namespace is the mutable object namespace() returns.
type namespace struct{ m *value.Map }

// pyTypeName is Python's type(v).__name__.
func pyTypeName(v any) string {
	switch t := v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []any:
		return "list"
	case Tuple:
		return "tuple"
	case *value.Map:
		return "dict"
	case *Undefined:
		return "Undefined"
	case *dictView:
		return map[viewKind]string{viewKeys: "dict_keys", viewValues: "dict_values", viewItems: "dict_items"}[t.kind]
	case *callable:
		return "builtin_function_or_method"
	case *loopContext:
		return "LoopContext"
	case *namespace:
		return "Namespace"
	case *selfRef:
		return "TemplateReference"
	}
	return fmt.Sprintf("%T", v)
}

// typeDesc is Jinja2's object_type_repr, used in undefined messages.
func typeDesc(v any) string {
	if v == nil {
		return "None"
	}
	switch v.(type) {
	case *loopContext:
		return "jinja2.runtime.LoopContext object"
	case *namespace:
		return "jinja2.utils.Namespace object"
	}
	return pyTypeName(v) + " object"
}

// pyStr is Python's str(v).
func pyStr(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case *Undefined:
		return ""
	}
	return pyRepr(v)
}

// pyRepr is Python's repr(v).
func pyRepr(v any) string {
	var b strings.Builder
	writeRepr(&b, v, 0)
	return b.String()
}

// maxPrinted bounds the text printing one value may produce. Values can
// share structure ([[1] * 1000] * 1000), so a small template can make a
// value whose repr would take forever; printing past this bound stops
// the render with an error (see tooLarge).
const maxPrinted = 16 << 20

// tooLarge is panicked by printers that pass maxPrinted deep inside a
// value; Environment.Render turns it into an ordinary error.
type tooLarge struct{}

func writeRepr(b *strings.Builder, v any, depth int) {
	if depth > 100 {
		b.WriteString("...")
		return
	}
	if b.Len() > maxPrinted {
		panic(tooLarge{})
	}
	switch t := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if t {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int:
		b.WriteString(strconv.Itoa(t))
	case float64:
		b.WriteString(formatFloat(t))
	case string:
		writeStringRepr(b, t)
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e, depth+1)
		}
		b.WriteByte(']')
	case Tuple:
		b.WriteByte('(')
		for i, e := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e, depth+1)
		}
		if len(t) == 1 {
			b.WriteByte(',')
		}
		b.WriteByte(')')
	case *value.Map:
		b.WriteByte('{')
		i := 0
		t.Range(func(k string, e any) bool {
			if i > 0 {
				b.WriteString(", ")
			}
			i++
			writeStringRepr(b, k)
			b.WriteString(": ")
			writeRepr(b, e, depth+1)
			return true
		})
		b.WriteByte('}')
	case *Undefined:
		b.WriteString("Undefined")
	case *dictView:
		b.WriteString(pyTypeName(t))
		b.WriteByte('(')
		writeRepr(b, t.list(), depth+1)
		b.WriteByte(')')
	case *callable:
		fmt.Fprintf(b, "<built-in method %s>", t.name)
	case *loopContext:
		fmt.Fprintf(b, "<LoopContext %d/%d>", t.index+1, len(t.items))
	case *namespace:
		b.WriteString("<Namespace ")
		writeRepr(b, t.m, depth+1)
		b.WriteString(">")
	case *selfRef:
		b.WriteString("<TemplateReference>")
	default:
		fmt.Fprintf(b, "%v", t)
	}
}

// formatFloat is Python's repr(float): the shortest digits that round
// trip, in fixed notation for exponents -4..15, else scientific.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	s := strconv.FormatFloat(f, 'e', -1, 64)
	mant, expStr, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expStr)
	neg := strings.HasPrefix(mant, "-")
	mant = strings.TrimPrefix(mant, "-")
	digits := strings.Replace(mant, ".", "", 1)
	sign := ""
	if neg {
		sign = "-"
	}
	if exp < -4 || exp >= 16 {
		m := digits[:1]
		if len(digits) > 1 {
			m += "." + digits[1:]
		}
		es := "+"
		if exp < 0 {
			es = "-"
			exp = -exp
		}
		return fmt.Sprintf("%s%se%s%02d", sign, m, es, exp)
	}
	if exp < 0 {
		return sign + "0." + strings.Repeat("0", -exp-1) + digits
	}
	if len(digits) <= exp+1 {
		return sign + digits + strings.Repeat("0", exp+1-len(digits)) + ".0"
	}
	return sign + digits[:exp+1] + "." + digits[exp+1:]
}

func writeStringRepr(b *strings.Builder, s string) {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	b.WriteByte(q)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			// Not valid UTF-8; Python strings cannot hold this, so show
			// the byte as an escape.
			fmt.Fprintf(b, "\\x%02x", s[i])
			i++
			continue
		}
		i += size
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(b, "\\x%02x", r)
		case r < 0x80 || isPyPrintable(r):
			b.WriteRune(r)
		default:
			b.WriteString(pyEscapeRune(r))
		}
	}
	b.WriteByte(q)
}

// isPyPrintable approximates Python's str.isprintable for one
// non-ASCII character.
func isPyPrintable(r rune) bool {
	if r == ' ' {
		return true
	}
	if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Cs, unicode.Co, unicode.Zl, unicode.Zp, unicode.Zs) {
		return false
	}
	return unicode.IsGraphic(r) || unicode.In(r, unicode.M)
}

func pyEscapeRune(r rune) string {
	switch {
	case r < 0x100:
		return fmt.Sprintf("\\x%02x", r)
	case r < 0x10000:
		return fmt.Sprintf("\\u%04x", r)
	}
	return fmt.Sprintf("\\U%08x", r)
}

// truthy is Python's bool(v): the engine's own types here, LAVA's
// values as value.Truthy says.
func truthy(v any) bool {
	switch t := v.(type) {
	case Tuple:
		return len(t) > 0
	case *Undefined:
		return false
	case *dictView:
		return t.m.Len() > 0
	}
	return value.Truthy(v)
}

// pyEqual is Python's ==.
func pyEqual(a, b any) bool {
	if af, ok := numeric(a); ok {
		if bf, ok := numeric(b); ok {
			return numEqual(a, b, af, bf)
		}
		return false
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		return ok && seqEqual(x, y)
	case Tuple:
		y, ok := b.(Tuple)
		return ok && seqEqual(x, y)
	case *value.Map:
		y, ok := b.(*value.Map)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for _, k := range x.Keys() {
			yv, ok := y.Get(k)
			if !ok || !pyEqual(x.Value(k), yv) {
				return false
			}
		}
		return true
	case *Undefined:
		_, ok := b.(*Undefined)
		return ok
	case *dictView:
		y, ok := b.(*dictView)
		if !ok || x.kind != y.kind || x.kind == viewValues {
			return ok && x == y
		}
		return pyEqual(x.m, y.m) || seqEqual(x.list(), y.list())
	}
	return a == b
}

func numEqual(a, b any, af, bf float64) bool {
	ai, aInt := intOf(a)
	bi, bInt := intOf(b)
	if aInt && bInt {
		return ai == bi
	}
	return af == bf
}

func seqEqual(x, y []any) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if !pyEqual(x[i], y[i]) {
			return false
		}
	}
	return true
}

// numeric returns v as a float when it is a Python number (bool, int,
// float).
func numeric(v any) (float64, bool) {
	switch t := v.(type) {
	case bool:
		if t {
			return 1, true
		}
		return 0, true
	case int:
		return float64(t), true
	case float64:
		return t, true
	}
	return 0, false
}

// intOf returns v as an int when it is a bool or an int.
func intOf(v any) (int, bool) {
	switch t := v.(type) {
	case bool:
		if t {
			return 1, true
		}
		return 0, true
	case int:
		return t, true
	}
	return 0, false
}

// iterate returns the items a for loop over v visits.
func iterate(v any) ([]any, error) {
	switch t := v.(type) {
	case []any:
		return t, nil
	case Tuple:
		return t, nil
	case string:
		out := make([]any, 0, len(t))
		for _, r := range t {
			out = append(out, string(r))
		}
		return out, nil
	case *value.Map:
		out := make([]any, 0, t.Len())
		for _, k := range t.Keys() {
			out = append(out, k)
		}
		return out, nil
	case *dictView:
		return t.list(), nil
	case *Undefined:
		return nil, nil
	}
	return nil, fmt.Errorf("'%s' object is not iterable", pyTypeName(v))
}

func isIterable(v any) bool {
	switch v.(type) {
	case []any, Tuple, string, *value.Map, *dictView, *Undefined:
		return true
	}
	return false
}

// pyLen is Python's len(v).
func pyLen(v any) (int, error) {
	switch t := v.(type) {
	case string:
		return utf8.RuneCountInString(t), nil
	case []any:
		return len(t), nil
	case Tuple:
		return len(t), nil
	case *value.Map:
		return t.Len(), nil
	case *dictView:
		return t.m.Len(), nil
	case *Undefined:
		return 0, nil
	}
	return 0, fmt.Errorf("object of type '%s' has no len()", pyTypeName(v))
}
