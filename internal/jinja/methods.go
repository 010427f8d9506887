package jinja

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/basalt-lava/basalt/internal/value"
)

// Methods a template may call on values, with Python's behaviour. Lists
// are Go slices shared by value, so the methods that would grow or
// shrink a list in place (append, pop, ...) are not offered; dicts are
// pointers and their mutating methods work as in Python.

type methodFunc func(r *renderer, recv any, args []any, kw *value.Map) (any, error)

var strMethods, dictMethods, listMethods, tupleMethods map[string]methodFunc

func init() {
	strMethods = map[string]methodFunc{
		"upper":        strFn(func(s string, a []any) (any, error) { return pyUpper(s), nil }, 0, 0),
		"lower":        strFn(func(s string, a []any) (any, error) { return pyLower(s), nil }, 0, 0),
		"capitalize":   strFn(func(s string, a []any) (any, error) { return pyCapitalize(s), nil }, 0, 0),
		"title":        strFn(func(s string, a []any) (any, error) { return pyTitle(s), nil }, 0, 0),
		"swapcase":     strFn(func(s string, a []any) (any, error) { return swapcase(s), nil }, 0, 0),
		"casefold":     strFn(func(s string, a []any) (any, error) { return pyLower(s), nil }, 0, 0),
		"strip":        strFn(func(s string, a []any) (any, error) { return pyStrip(s, a, 3) }, 0, 1),
		"lstrip":       strFn(func(s string, a []any) (any, error) { return pyStrip(s, a, 1) }, 0, 1),
		"rstrip":       strFn(func(s string, a []any) (any, error) { return pyStrip(s, a, 2) }, 0, 1),
		"split":        kwStrFn([]string{"sep", "maxsplit"}, []any{nil, -1}, func(s string, a []any) (any, error) { return pySplit(s, a[0], a[1], false) }),
		"rsplit":       kwStrFn([]string{"sep", "maxsplit"}, []any{nil, -1}, func(s string, a []any) (any, error) { return pySplit(s, a[0], a[1], true) }),
		"splitlines":   kwStrFn([]string{"keepends"}, []any{false}, func(s string, a []any) (any, error) { return toAnyList(splitLines(s, truthy(a[0]))), nil }),
		"replace":      strFn(strReplace, 2, 3),
		"startswith":   strFn(func(s string, a []any) (any, error) { return affix(s, a, strings.HasPrefix, "startswith") }, 1, 3),
		"endswith":     strFn(func(s string, a []any) (any, error) { return affix(s, a, strings.HasSuffix, "endswith") }, 1, 3),
		"find":         strFn(func(s string, a []any) (any, error) { return strFind(s, a, false, false) }, 1, 3),
		"rfind":        strFn(func(s string, a []any) (any, error) { return strFind(s, a, true, false) }, 1, 3),
		"index":        strFn(func(s string, a []any) (any, error) { return strFind(s, a, false, true) }, 1, 3),
		"rindex":       strFn(func(s string, a []any) (any, error) { return strFind(s, a, true, true) }, 1, 3),
		"count":        strFn(strCount, 1, 3),
		"join":         strFn(strJoin, 1, 1),
		"isdigit":      strFn(strIs(unicode.IsDigit), 0, 0),
		"isdecimal":    strFn(strIs(unicode.IsDigit), 0, 0),
		"isnumeric":    strFn(strIs(unicode.IsNumber), 0, 0),
		"isalpha":      strFn(strIs(unicode.IsLetter), 0, 0),
		"isalnum":      strFn(strIs(func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }), 0, 0),
		"isspace":      strFn(strIs(isPySpace), 0, 0),
		"islower":      strFn(func(s string, a []any) (any, error) { return casedIs(s, unicode.IsLower, unicode.IsUpper), nil }, 0, 0),
		"isupper":      strFn(func(s string, a []any) (any, error) { return casedIs(s, unicode.IsUpper, unicode.IsLower), nil }, 0, 0),
		"zfill":        strFn(strZfill, 1, 1),
		"center":       strFn(func(s string, a []any) (any, error) { return strJustify(s, a, 'c') }, 1, 2),
		"ljust":        strFn(func(s string, a []any) (any, error) { return strJustify(s, a, 'l') }, 1, 2),
		"rjust":        strFn(func(s string, a []any) (any, error) { return strJustify(s, a, 'r') }, 1, 2),
		"partition":    strFn(func(s string, a []any) (any, error) { return strPartition(s, a, false) }, 1, 1),
		"rpartition":   strFn(func(s string, a []any) (any, error) { return strPartition(s, a, true) }, 1, 1),
		"removeprefix": strFn(func(s string, a []any) (any, error) { return strAffixRemove(s, a, true) }, 1, 1),
		"removesuffix": strFn(func(s string, a []any) (any, error) { return strAffixRemove(s, a, false) }, 1, 1),
		"format": func(r *renderer, recv any, args []any, kw *value.Map) (any, error) {
			return pyFormat(recv.(string), args, kw)
		},
	}
	dictMethods = map[string]methodFunc{
		"get": func(r *renderer, recv any, args []any, kw *value.Map) (any, error) {
			if err := arity("get", args, kw, 1, 2); err != nil {
				return nil, err
			}
			m := recv.(*value.Map)
			if k, ok := args[0].(string); ok {
				if v, ok := m.Get(k); ok {
					return v, nil
				}
			} else if err := hashable(args[0]); err != nil {
				return nil, err
			}
			if len(args) == 2 {
				return args[1], nil
			}
			return nil, nil
		},
		"items":  dictView0(viewItems),
		"keys":   dictView0(viewKeys),
		"values": dictView0(viewValues),
		"copy": func(r *renderer, recv any, args []any, kw *value.Map) (any, error) {
			if err := arity("copy", args, kw, 0, 0); err != nil {
				return nil, err
			}
			return recv.(*value.Map).Copy(), nil
		},
		"update": func(r *renderer, recv any, args []any, kw *value.Map) (any, error) {
			m := recv.(*value.Map)
			if len(args) > 1 {
				return nil, fmt.Errorf("update expected at most 1 argument, got %d", len(args))
			}
			if len(args) == 1 {
				switch src := args[0].(type) {
				case *value.Map:
					src.Range(func(k string, v any) bool { m.Set(k, v); return true })
				default:
					items, err := iterate(src)
					if err != nil {
						return nil, err
					}
					for _, it := range items {
						pair, err := iterate(it)
						if err != nil || len(pair) != 2 {
							return nil, fmt.Errorf("dictionary update sequence element has wrong length")
						}
						k, err := mapKey(pair[0])
						if err != nil {
							return nil, err
						}
						m.Set(k, pair[1])
					}
				}
			}
			kw.Range(func(k string, v any) bool { m.Set(k, v); return true })
			return nil, nil
		},
		"pop": func(r *renderer, recv any, args []any, kw *value.Map) (any, error) {
			if err := arity("pop", args, kw, 1, 2); err != nil {
				return nil, err
			}
			m := recv.(*value.Map)
			if k, ok := args[0].(string); ok {
				if v, ok := m.Get(k); ok {
					m.Delete(k)
					return v, nil
				}
			}
			if len(args) == 2 {
				return args[1], nil
			}
			return nil, fmt.Errorf("keyError: %s", pyRepr(args[0]))
		},
		"setdefault": func(r *renderer, recv any, args []any, kw *value.Map) (any, error) {
			if err := arity("setdefault", args, kw, 1, 2); err != nil {
				return nil, err
			}
			k, err := mapKey(args[0])
			if err != nil {
				return nil, err
			}
			var d any
			if len(args) == 2 {
				d = args[1]
			}
			return recv.(*value.Map).SetDefault(k, d), nil
		},
		"clear": func(r *renderer, recv any, args []any, kw *value.Map) (any, error) {
			m := recv.(*value.Map)
			for _, k := range append([]string(nil), m.Keys()...) {
				m.Delete(k)
			}
			return nil, nil
		},
	}
	seqCount := func(r *renderer, recv any, args []any, kw *value.Map) (any, error) {
		if err := arity("count", args, kw, 1, 1); err != nil {
			return nil, err
		}
		items, _ := iterate(recv)
		n := 0
		for _, it := range items {
			if pyEqual(it, args[0]) {
				n++
			}
		}
		return n, nil
	}
	seqIndex := func(r *renderer, recv any, args []any, kw *value.Map) (any, error) {
		if err := arity("index", args, kw, 1, 1); err != nil {
			return nil, err
		}
		items, _ := iterate(recv)
		for i, it := range items {
			if pyEqual(it, args[0]) {
				return i, nil
			}
		}
		return nil, fmt.Errorf("%s is not in %s", pyRepr(args[0]), pyTypeName(recv))
	}
	listMethods = map[string]methodFunc{
		"count": seqCount,
		"index": seqIndex,
		"copy": func(r *renderer, recv any, args []any, kw *value.Map) (any, error) {
			return append([]any{}, recv.([]any)...), nil
		},
	}
	for _, name := range []string{"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"} {
		name := name
		listMethods[name] = func(r *renderer, recv any, args []any, kw *value.Map) (any, error) {
			return nil, fmt.Errorf("list.%s() is not supported: this engine does not change lists in place", name)
		}
	}
	tupleMethods = map[string]methodFunc{"count": seqCount, "index": seqIndex}
}

// method returns obj's bound method name, or nil.
func method(obj any, name string) *callable {
	var table map[string]methodFunc
	switch obj.(type) {
	case string:
		table = strMethods
	case *value.Map:
		table = dictMethods
	case []any:
		table = listMethods
	case Tuple:
		table = tupleMethods
	default:
		return nil
	}
	fn, ok := table[name]
	if !ok {
		return nil
	}
	return &callable{name: name + " of " + pyTypeName(obj) + " object", fn: func(r *renderer, args []any, kw *value.Map) (any, error) {
		return fn(r, obj, args, kw)
	}}
}

func arity(name string, args []any, kw *value.Map, lo, hi int) error {
	if kw.Len() > 0 {
		return fmt.Errorf("%s() takes no keyword arguments", name)
	}
	if len(args) < lo || len(args) > hi {
		if lo == hi {
			return fmt.Errorf("%s() takes exactly %d argument(s) (%d given)", name, lo, len(args))
		}
		return fmt.Errorf("%s expected at most %d arguments, got %d", name, hi, len(args))
	}
	return nil
}

func hashable(v any) error {
	switch v.(type) {
	case []any, *value.Map:
		return fmt.Errorf("unhashable type: '%s'", pyTypeName(v))
	}
	return nil
}

func dictView0(kind viewKind) methodFunc {
	return func(r *renderer, recv any, args []any, kw *value.Map) (any, error) {
		if err := arity("view", args, kw, 0, 0); err != nil {
			return nil, err
		}
		return &dictView{kind: kind, m: recv.(*value.Map)}, nil
	}
}

// strFn adapts a string method taking lo..hi positional arguments.
func strFn(fn func(s string, args []any) (any, error), lo, hi int) methodFunc {
	return func(r *renderer, recv any, args []any, kw *value.Map) (any, error) {
		if err := arity("method", args, kw, lo, hi); err != nil {
			return nil, err
		}
		for _, a := range args {
			if u, ok := a.(*Undefined); ok {
				return nil, undefinedError(u)
			}
		}
		return fn(recv.(string), args)
	}
}

// kwStrFn adapts a string method whose arguments may be given by name.
func kwStrFn(names []string, defaults []any, fn func(s string, args []any) (any, error)) methodFunc {
	return func(r *renderer, recv any, args []any, kw *value.Map) (any, error) {
		bound, err := bindArgs("method", args, kw, names, defaults)
		if err != nil {
			return nil, err
		}
		return fn(recv.(string), bound)
	}
}

func wantStr(v any, what string) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s must be str, not %s", what, pyTypeName(v))
	}
	return s, nil
}

func wantInt(v any, what string) (int, error) {
	i, ok := intOf(v)
	if !ok {
		return 0, fmt.Errorf("'%s' object cannot be interpreted as an integer", pyTypeName(v))
	}
	return i, nil
}

func pyUpper(s string) string { return strings.ToUpper(s) }
func pyLower(s string) string { return strings.ToLower(s) }

func pyCapitalize(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 {
		return s
	}
	return string(unicode.ToTitle(r)) + strings.ToLower(s[size:])
}

// pyTitle is str.title: a letter after a non-letter is upper-cased,
// other letters lower-cased.
func pyTitle(s string) string {
	var b strings.Builder
	prevCased := false
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			if prevCased {
				b.WriteRune(unicode.ToLower(r))
			} else {
				b.WriteRune(unicode.ToTitle(r))
			}
			prevCased = true
		default:
			b.WriteRune(r)
			prevCased = false
		}
	}
	return b.String()
}

func swapcase(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsUpper(r) {
			return unicode.ToLower(r)
		}
		if unicode.IsLower(r) {
			return unicode.ToUpper(r)
		}
		return r
	}, s)
}

// pyStrip is str.strip/lstrip/rstrip (sides: 1 left, 2 right, 3 both).
func pyStrip(s string, args []any, sides int) (any, error) {
	cut := isPySpace
	if len(args) == 1 && args[0] != nil {
		chars, err := wantStr(args[0], "strip arg")
		if err != nil {
			return nil, err
		}
		cut = func(r rune) bool { return strings.ContainsRune(chars, r) }
	}
	if sides&1 != 0 {
		s = strings.TrimLeftFunc(s, cut)
	}
	if sides&2 != 0 {
		s = strings.TrimRightFunc(s, cut)
	}
	return s, nil
}

func pySplit(s string, sepV, maxV any, right bool) (any, error) {
	maxsplit, err := wantInt(maxV, "maxsplit")
	if err != nil {
		return nil, err
	}
	if sepV == nil {
		return toAnyList(splitWhitespace(s, maxsplit, right)), nil
	}
	sep, err := wantStr(sepV, "sep")
	if err != nil {
		return nil, err
	}
	if sep == "" {
		return nil, fmt.Errorf("empty separator")
	}
	if maxsplit < 0 {
		return toAnyList(strings.Split(s, sep)), nil
	}
	if !right {
		return toAnyList(strings.SplitN(s, sep, maxsplit+1)), nil
	}
	var parts []string
	for i := 0; i < maxsplit; i++ {
		j := strings.LastIndex(s, sep)
		if j < 0 {
			break
		}
		parts = append(parts, s[j+len(sep):])
		s = s[:j]
	}
	parts = append(parts, s)
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return toAnyList(parts), nil
}

func splitWhitespace(s string, maxsplit int, right bool) []string {
	if !right {
		var out []string
		for {
			s = strings.TrimLeftFunc(s, isPySpace)
			if s == "" {
				return out
			}
			if maxsplit >= 0 && len(out) == maxsplit {
				return append(out, s)
			}
			i := strings.IndexFunc(s, isPySpace)
			if i < 0 {
				return append(out, s)
			}
			out = append(out, s[:i])
			s = s[i:]
		}
	}
	var rev []string
	for {
		s = strings.TrimRightFunc(s, isPySpace)
		if s == "" {
			break
		}
		if maxsplit >= 0 && len(rev) == maxsplit {
			rev = append(rev, s)
			break
		}
		i := strings.LastIndexFunc(s, isPySpace)
		if i < 0 {
			rev = append(rev, s)
			break
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		rev = append(rev, s[i+size:])
		s = s[:i]
	}
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev
}

// splitLines is str.splitlines.
func splitLines(s string, keepEnds bool) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '\n', '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			end := i + size
			if r == '\r' && end < len(s) && s[end] == '\n' {
				end++
			}
			if keepEnds {
				out = append(out, s[start:end])
			} else {
				out = append(out, s[start:i])
			}
			start = end
			i = end
			continue
		}
		i += size
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

func toAnyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func strReplace(s string, a []any) (any, error) {
	old, err := wantStr(a[0], "replace() argument 1")
	if err != nil {
		return nil, err
	}
	nw, err := wantStr(a[1], "replace() argument 2")
	if err != nil {
		return nil, err
	}
	n := -1
	if len(a) == 3 {
		if n, err = wantInt(a[2], "count"); err != nil {
			return nil, err
		}
	}
	return pyReplace(s, old, nw, n), nil
}

// pyReplace is str.replace; unlike Go, an empty old string inserts new
// between characters and at both ends.
func pyReplace(s, old, nw string, n int) string {
	if replacedSize(s, old, nw, n) > maxPrinted {
		panic(tooLarge{})
	}
	if old == "" {
		var b strings.Builder
		count := 0
		for _, r := range s {
			if n >= 0 && count >= n {
				b.WriteRune(r)
				continue
			}
			b.WriteString(nw)
			b.WriteRune(r)
			count++
		}
		if n < 0 || count < n {
			b.WriteString(nw)
		}
		return b.String()
	}
	return strings.Replace(s, old, nw, n)
}

// replacedSize is the length pyReplace's result will have.
func replacedSize(s, old, nw string, n int) int {
	count := 0
	if old == "" {
		count = utf8.RuneCountInString(s) + 1
	} else {
		count = strings.Count(s, old)
	}
	if n >= 0 && n < count {
		count = n
	}
	return len(s) + count*(len(nw)-len(old))
}

// runeRange converts Python start/end arguments (in characters) into a
// byte range of s.
func runeRange(s string, args []any) (int, int, error) {
	runes := []rune(s)
	n := len(runes)
	lo, hi := 0, n
	for i, a := range args {
		if a == nil {
			continue
		}
		v, err := wantInt(a, "index")
		if err != nil {
			return 0, 0, err
		}
		if v < 0 {
			v += n
			if v < 0 {
				v = 0
			}
		}
		if v > n {
			v = n
		}
		if i == 0 {
			lo = v
		} else {
			hi = v
		}
	}
	if hi < lo {
		return -1, -1, nil
	}
	return len(string(runes[:lo])), len(string(runes[:hi])), nil
}

func affix(s string, a []any, has func(string, string) bool, name string) (any, error) {
	lo, hi, err := runeRange(s, a[1:])
	if err != nil {
		return nil, err
	}
	if lo < 0 {
		return false, nil
	}
	sub := s[lo:hi]
	switch p := a[0].(type) {
	case string:
		return has(sub, p), nil
	case Tuple:
		for _, e := range p {
			ps, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("tuple for %s must only contain str, not %s", name, pyTypeName(e))
			}
			if has(sub, ps) {
				return true, nil
			}
		}
		return false, nil
	}
	return nil, fmt.Errorf("%s first arg must be str or a tuple of str, not %s", name, pyTypeName(a[0]))
}

func strFind(s string, a []any, right, raise bool) (any, error) {
	sub, err := wantStr(a[0], "must be str")
	if err != nil {
		return nil, err
	}
	lo, hi, err := runeRange(s, a[1:])
	if err != nil {
		return nil, err
	}
	i := -1
	if lo >= 0 {
		if right {
			i = strings.LastIndex(s[lo:hi], sub)
		} else {
			i = strings.Index(s[lo:hi], sub)
		}
		if i >= 0 {
			i = utf8.RuneCountInString(s[:lo+i])
		}
	}
	if i < 0 && raise {
		return nil, fmt.Errorf("substring not found")
	}
	return i, nil
}

func strCount(s string, a []any) (any, error) {
	sub, err := wantStr(a[0], "must be str")
	if err != nil {
		return nil, err
	}
	lo, hi, err := runeRange(s, a[1:])
	if err != nil {
		return nil, err
	}
	if lo < 0 {
		return 0, nil
	}
	if sub == "" {
		return utf8.RuneCountInString(s[lo:hi]) + 1, nil
	}
	return strings.Count(s[lo:hi], sub), nil
}

func strJoin(s string, a []any) (any, error) {
	items, err := iterate(a[0])
	if err != nil {
		return nil, fmt.Errorf("can only join an iterable")
	}
	parts := make([]string, len(items))
	for i, it := range items {
		p, ok := it.(string)
		if !ok {
			return nil, fmt.Errorf("sequence item %d: expected str instance, %s found", i, pyTypeName(it))
		}
		parts[i] = p
	}
	return strings.Join(parts, s), nil
}

func strIs(pred func(rune) bool) func(s string, a []any) (any, error) {
	return func(s string, a []any) (any, error) {
		if s == "" {
			return false, nil
		}
		for _, r := range s {
			if !pred(r) {
				return false, nil
			}
		}
		return true, nil
	}
}

func casedIs(s string, want, not func(rune) bool) bool {
	found := false
	for _, r := range s {
		if not(r) {
			return false
		}
		if want(r) {
			found = true
		}
	}
	return found
}

func strZfill(s string, a []any) (any, error) {
	w, err := wantInt(a[0], "width")
	if err != nil {
		return nil, err
	}
	n := utf8.RuneCountInString(s)
	if n >= w {
		return s, nil
	}
	if w > maxPrinted {
		panic(tooLarge{})
	}
	pad := strings.Repeat("0", w-n)
	if s != "" && (s[0] == '+' || s[0] == '-') {
		return s[:1] + pad + s[1:], nil
	}
	return pad + s, nil
}

func strJustify(s string, a []any, how byte) (any, error) {
	w, err := wantInt(a[0], "width")
	if err != nil {
		return nil, err
	}
	fill := " "
	if len(a) == 2 {
		f, err := wantStr(a[1], "fill character")
		if err != nil {
			return nil, err
		}
		if utf8.RuneCountInString(f) != 1 {
			return nil, fmt.Errorf("the fill character must be exactly one character long")
		}
		fill = f
	}
	return justify(s, w, fill, how), nil
}

func justify(s string, w int, fill string, how byte) string {
	if w > maxPrinted {
		panic(tooLarge{})
	}
	n := utf8.RuneCountInString(s)
	if n >= w {
		return s
	}
	pad := w - n
	switch how {
	case 'l', '<':
		return s + strings.Repeat(fill, pad)
	case 'r', '>':
		return strings.Repeat(fill, pad) + s
	}
	// Python's center puts the extra character on the right when the
	// string length is even... precisely: left = pad/2 + (pad & w & 1).
	left := pad/2 + (pad & w & 1)
	return strings.Repeat(fill, left) + s + strings.Repeat(fill, pad-left)
}

func strPartition(s string, a []any, right bool) (any, error) {
	sep, err := wantStr(a[0], "sep")
	if err != nil {
		return nil, err
	}
	if sep == "" {
		return nil, fmt.Errorf("empty separator")
	}
	var i int
	if right {
		i = strings.LastIndex(s, sep)
		if i < 0 {
			return Tuple{"", "", s}, nil
		}
	} else {
		i = strings.Index(s, sep)
		if i < 0 {
			return Tuple{s, "", ""}, nil
		}
	}
	return Tuple{s[:i], sep, s[i+len(sep):]}, nil
}

func strAffixRemove(s string, a []any, prefix bool) (any, error) {
	x, err := wantStr(a[0], "argument")
	if err != nil {
		return nil, err
	}
	if prefix {
		return strings.TrimPrefix(s, x), nil
	}
	return strings.TrimSuffix(s, x), nil
}

// bindArgs matches positional and keyword arguments to names, Python
// style, filling defaults; a nil default entry marked required by
// reqMarker must be given.
func bindArgs(fname string, args []any, kw *value.Map, names []string, defaults []any) ([]any, error) {
	if len(args) > len(names) {
		return nil, fmt.Errorf("%s() takes at most %d arguments (%d given)", fname, len(names), len(args))
	}
	out := make([]any, len(names))
	set := make([]bool, len(names))
	for i, a := range args {
		out[i] = a
		set[i] = true
	}
	var err error
	kw.Range(func(k string, v any) bool {
		for i, n := range names {
			if n == k {
				if set[i] {
					err = fmt.Errorf("%s() got multiple values for argument '%s'", fname, k)
					return false
				}
				out[i] = v
				set[i] = true
				return true
			}
		}
		err = fmt.Errorf("%s() got an unexpected keyword argument '%s'", fname, k)
		return false
	})
	if err != nil {
		return nil, err
	}
	for i := range names {
		if set[i] {
			continue
		}
		if defaults[i] == reqMarker {
			return nil, fmt.Errorf("%s() missing required argument: '%s'", fname, names[i])
		}
		out[i] = defaults[i]
	}
	return out, nil
}

// reqMarker in a defaults list marks a required argument.
var reqMarker any = &struct{ required bool }{true}
