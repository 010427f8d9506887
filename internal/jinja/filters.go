package jinja

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/basalt-lava/basalt/internal/value"
)

// filterFunc implements one filter: v is the filtered value, args and kw
// the call's arguments.
type filterFunc func(r *renderer, v any, args []any, kw *value.Map) (any, error)

var filters map[string]filterFunc

// simpleFilter binds a filter's arguments by name, Python style.
func simpleFilter(name string, names []string, defaults []any, fn func(r *renderer, v any, a []any) (any, error)) filterFunc {
	return func(r *renderer, v any, args []any, kw *value.Map) (any, error) {
		a, err := bindArgs(name, args, kw, names, defaults)
		if err != nil {
			return nil, err
		}
		return fn(r, v, a)
	}
}

// softStr is Jinja2's soft_str: str(v), where undefined is "".
func softStr(v any) string { return pyStr(v) }

func init() {
	filters = map[string]filterFunc{
		"default": simpleFilter("default", []string{"default_value", "boolean"}, []any{"", false}, func(r *renderer, v any, a []any) (any, error) {
			if _, ok := v.(*Undefined); ok || (truthy(a[1]) && !truthy(v)) {
				return a[0], nil
			}
			return v, nil
		}),
		"join": simpleFilter("join", []string{"d", "attribute"}, []any{"", nil}, func(r *renderer, v any, a []any) (any, error) {
			items, err := iterate(v)
			if err != nil {
				return nil, err
			}
			parts := make([]string, len(items))
			size := 0
			for i, it := range items {
				if a[1] != nil {
					if it, err = attrPath(it, a[1]); err != nil {
						return nil, err
					}
				}
				parts[i] = pyStr(it)
				if size += len(parts[i]); size > maxPrinted {
					panic(tooLarge{})
				}
			}
			return limitLen(strings.Join(parts, pyStr(a[0])), r)
		}),
		"indent": simpleFilter("indent", []string{"width", "first", "blank"}, []any{4, false, false}, filterIndent),
		"replace": simpleFilter("replace", []string{"old", "new", "count"}, []any{reqMarker, reqMarker, nil}, func(r *renderer, v any, a []any) (any, error) {
			n := -1
			if a[2] != nil {
				var err error
				if n, err = wantInt(a[2], "count"); err != nil {
					return nil, err
				}
			}
			return limitLen(pyReplace(softStr(v), pyStr(a[0]), pyStr(a[1]), n), r)
		}),
		"string":     simpleFilter("string", nil, nil, func(r *renderer, v any, a []any) (any, error) { return softStr(v), nil }),
		"upper":      simpleFilter("upper", nil, nil, func(r *renderer, v any, a []any) (any, error) { return pyUpper(softStr(v)), nil }),
		"lower":      simpleFilter("lower", nil, nil, func(r *renderer, v any, a []any) (any, error) { return pyLower(softStr(v)), nil }),
		"capitalize": simpleFilter("capitalize", nil, nil, func(r *renderer, v any, a []any) (any, error) { return pyCapitalize(softStr(v)), nil }),
		"title":      simpleFilter("title", nil, nil, func(r *renderer, v any, a []any) (any, error) { return jinjaTitle(softStr(v)), nil }),
		"trim": simpleFilter("trim", []string{"chars"}, []any{nil}, func(r *renderer, v any, a []any) (any, error) {
			return pyStrip(softStr(v), a, 3)
		}),
		"center": simpleFilter("center", []string{"width"}, []any{80}, func(r *renderer, v any, a []any) (any, error) {
			return strJustify(softStr(v), a, 'c')
		}),
		"int":   simpleFilter("int", []string{"default", "base"}, []any{0, 10}, filterInt),
		"float": simpleFilter("float", []string{"default"}, []any{0.0}, filterFloat),
		"list": simpleFilter("list", nil, nil, func(r *renderer, v any, a []any) (any, error) {
			items, err := iterate(v)
			if err != nil {
				return nil, err
			}
			return append([]any{}, items...), nil
		}),
		"items": simpleFilter("items", nil, nil, func(r *renderer, v any, a []any) (any, error) {
			switch t := v.(type) {
			case *Undefined:
				return []any{}, nil
			case *value.Map:
				return (&dictView{kind: viewItems, m: t}).list(), nil
			}
			return nil, fmt.Errorf("can only get item pairs from a mapping")
		}),
		"length": simpleFilter("length", nil, nil, func(r *renderer, v any, a []any) (any, error) { return pyLen(v) }),
		"first": simpleFilter("first", nil, nil, func(r *renderer, v any, a []any) (any, error) {
			items, err := iterate(v)
			if err != nil {
				return nil, err
			}
			if len(items) == 0 {
				return &Undefined{hint: "No first item, sequence was empty."}, nil
			}
			return items[0], nil
		}),
		"last": simpleFilter("last", nil, nil, func(r *renderer, v any, a []any) (any, error) {
			items, err := iterate(v)
			if err != nil {
				return nil, err
			}
			if len(items) == 0 {
				return &Undefined{hint: "No last item, sequence was empty."}, nil
			}
			return items[len(items)-1], nil
		}),
		"reverse": simpleFilter("reverse", nil, nil, func(r *renderer, v any, a []any) (any, error) {
			if s, ok := v.(string); ok {
				rs := []rune(s)
				for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
					rs[i], rs[j] = rs[j], rs[i]
				}
				return string(rs), nil
			}
			items, err := iterate(v)
			if err != nil {
				return nil, fmt.Errorf("argument must be iterable")
			}
			out := make([]any, len(items))
			for i, it := range items {
				out[len(items)-1-i] = it
			}
			return out, nil
		}),
		"sort": simpleFilter("sort", []string{"reverse", "case_sensitive", "attribute"}, []any{false, false, nil}, func(r *renderer, v any, a []any) (any, error) {
			items, err := iterate(v)
			if err != nil {
				return nil, err
			}
			return sortItems(items, truthy(a[0]), truthy(a[1]), a[2])
		}),
		"unique": simpleFilter("unique", []string{"case_sensitive", "attribute"}, []any{false, nil}, func(r *renderer, v any, a []any) (any, error) {
			items, err := iterate(v)
			if err != nil {
				return nil, err
			}
			var out []any
			seen := map[string]bool{}
			for _, it := range items {
				k, err := sortKey(it, truthy(a[0]), a[1])
				if err != nil {
					return nil, err
				}
				hk, err := hashKey(k)
				if err != nil {
					return nil, err
				}
				if !seen[hk] {
					seen[hk] = true
					out = append(out, it)
				}
			}
			if out == nil {
				out = []any{}
			}
			return out, nil
		}),
		"min": simpleFilter("min", []string{"case_sensitive", "attribute"}, []any{false, nil}, func(r *renderer, v any, a []any) (any, error) {
			return minMax(v, truthy(a[0]), a[1], false)
		}),
		"max": simpleFilter("max", []string{"case_sensitive", "attribute"}, []any{false, nil}, func(r *renderer, v any, a []any) (any, error) {
			return minMax(v, truthy(a[0]), a[1], true)
		}),
		"sum": simpleFilter("sum", []string{"attribute", "start"}, []any{nil, 0}, func(r *renderer, v any, a []any) (any, error) {
			items, err := iterate(v)
			if err != nil {
				return nil, err
			}
			total := a[1]
			for _, it := range items {
				if a[0] != nil {
					if it, err = attrPath(it, a[0]); err != nil {
						return nil, err
					}
				}
				if total, err = binop("+", total, it, r.limits.MaxOutput); err != nil {
					return nil, err
				}
			}
			return total, nil
		}),
		"abs": simpleFilter("abs", nil, nil, func(r *renderer, v any, a []any) (any, error) {
			switch t := v.(type) {
			case int:
				if t < 0 {
					return unop("-", t)
				}
				return t, nil
			case bool:
				i, _ := intOf(t)
				return i, nil
			case float64:
				return math.Abs(t), nil
			}
			return nil, fmt.Errorf("bad operand type for abs(): '%s'", pyTypeName(v))
		}),
		"round": simpleFilter("round", []string{"precision", "method"}, []any{0, "common"}, filterRound),
		"map":   filterMap,
		"select": func(r *renderer, v any, args []any, kw *value.Map) (any, error) {
			return selectOrReject(r, v, args, kw, false, true)
		},
		"reject": func(r *renderer, v any, args []any, kw *value.Map) (any, error) {
			return selectOrReject(r, v, args, kw, false, false)
		},
		"selectattr": func(r *renderer, v any, args []any, kw *value.Map) (any, error) {
			return selectOrReject(r, v, args, kw, true, true)
		},
		"rejectattr": func(r *renderer, v any, args []any, kw *value.Map) (any, error) {
			return selectOrReject(r, v, args, kw, true, false)
		},
		"dictsort": simpleFilter("dictsort", []string{"case_sensitive", "by", "reverse"}, []any{false, "key", false}, func(r *renderer, v any, a []any) (any, error) {
			m, ok := v.(*value.Map)
			if !ok {
				return nil, fmt.Errorf("dictsort filter needs a mapping, not %s", pyTypeName(v))
			}
			pos := 0
			switch a[1] {
			case "key":
			case "value":
				pos = 1
			default:
				return nil, fmt.Errorf("you can only sort by either \"key\" or \"value\"")
			}
			items := (&dictView{kind: viewItems, m: m}).list()
			var sortErr error
			sort.SliceStable(items, func(i, j int) bool {
				ki, _ := sortKey(items[i].(Tuple)[pos], truthy(a[0]), nil)
				kj, _ := sortKey(items[j].(Tuple)[pos], truthy(a[0]), nil)
				c, err := order(ki, kj, "lt")
				if err != nil && sortErr == nil {
					sortErr = err
				}
				if truthy(a[2]) {
					return c > 0
				}
				return c < 0
			})
			return items, sortErr
		}),
		"format": func(r *renderer, v any, args []any, kw *value.Map) (any, error) {
			if len(args) > 0 && kw.Len() > 0 {
				return nil, fmt.Errorf("can't handle positional and keyword arguments at the same time")
			}
			if kw.Len() > 0 {
				return percentFormat(softStr(v), kw)
			}
			return percentFormat(softStr(v), Tuple(args))
		},
		"tojson": simpleFilter("tojson", []string{"indent"}, []any{nil}, func(r *renderer, v any, a []any) (any, error) {
			return toJSON(v, a[0])
		}),
		"wordcount": simpleFilter("wordcount", nil, nil, func(r *renderer, v any, a []any) (any, error) {
			return len(wordRe.FindAllString(softStr(v), -1)), nil
		}),
		"attr": simpleFilter("attr", []string{"name"}, []any{reqMarker}, func(r *renderer, v any, a []any) (any, error) {
			name, ok := a[0].(string)
			if !ok {
				return &Undefined{obj: v, hasObj: true, name: pyStr(a[0])}, nil
			}
			if u, isU := v.(*Undefined); isU {
				return nil, undefinedError(u)
			}
			return getattr(v, name)
		}),
		"safe": simpleFilter("safe", nil, nil, func(r *renderer, v any, a []any) (any, error) { return softStr(v), nil }),
		"escape": simpleFilter("escape", nil, nil, func(r *renderer, v any, a []any) (any, error) {
			return htmlEscape(softStr(v)), nil
		}),
		"batch":    simpleFilter("batch", []string{"linecount", "fill_with"}, []any{reqMarker, nil}, filterBatch),
		"truncate": simpleFilter("truncate", []string{"length", "killwords", "end", "leeway"}, []any{255, false, "...", nil}, filterTruncate),

		"shlex_quote":             simpleFilter("shlex_quote", nil, nil, func(r *renderer, v any, a []any) (any, error) { return shlexQuote(v) }),
		"yaml_quote":              simpleFilter("yaml_quote", nil, nil, func(r *renderer, v any, a []any) (any, error) { return yamlQuote(v) }),
		"qemu_guest_fs_interface": simpleFilter("qemu_guest_fs_interface", []string{"guestfs_interface"}, []any{reqMarker}, qemuGuestFSInterface),
	}
	filters["d"] = filters["default"]
	filters["count"] = filters["length"]
	filters["e"] = filters["escape"]
	filters["forceescape"] = filters["escape"]
}

// hashKey gives equal Python values (1, 1.0, True) the same key, as a
// set would; unhashable values are an error.
func hashKey(v any) (string, error) {
	switch t := v.(type) {
	case nil:
		return "N", nil
	case bool, int:
		i, _ := intOf(t)
		return "n" + strconv.Itoa(i), nil
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1e18 {
			return "n" + strconv.Itoa(int(t)), nil
		}
		return "f" + formatFloat(t), nil
	case string:
		return "s" + t, nil
	case Tuple:
		var b strings.Builder
		b.WriteString("t(")
		for _, e := range t {
			k, err := hashKey(e)
			if err != nil {
				return "", err
			}
			b.WriteString(strconv.Quote(k))
		}
		return b.String(), nil
	}
	return "", fmt.Errorf("unhashable type: '%s'", pyTypeName(v))
}

func limitLen(s string, r *renderer) (any, error) {
	if r.limits.MaxOutput > 0 && len(s) > r.limits.MaxOutput {
		return nil, fmt.Errorf("string too long")
	}
	return s, nil
}

// filterIndent is Jinja2's indent filter, including its quirks: the
// value must be a string, and "blank" lines are those splitlines sees.
func filterIndent(r *renderer, v any, a []any) (any, error) {
	s, ok := v.(string)
	if !ok {
		if u, isU := v.(*Undefined); isU {
			return nil, undefinedError(u)
		}
		return nil, fmt.Errorf("unsupported operand type(s) for +=: '%s' and 'str'", pyTypeName(v))
	}
	var ind string
	if w, isStr := a[0].(string); isStr {
		ind = w
	} else {
		n, ok := intOf(a[0])
		if !ok {
			return nil, fmt.Errorf("can't multiply sequence by non-int of type '%s'", pyTypeName(a[0]))
		}
		if n > 0 {
			if r.limits.MaxOutput > 0 && n > r.limits.MaxOutput {
				return nil, fmt.Errorf("indent width too large")
			}
			ind = strings.Repeat(" ", n)
		}
	}
	lines := splitLines(s+"\n", false)
	var b strings.Builder
	if truthy(a[2]) {
		for i, l := range lines {
			if i > 0 {
				b.WriteString("\n" + ind)
			}
			b.WriteString(l)
		}
	} else {
		b.WriteString(lines[0])
		for _, l := range lines[1:] {
			b.WriteString("\n")
			if l != "" {
				b.WriteString(ind)
			}
			b.WriteString(l)
		}
	}
	out := b.String()
	if truthy(a[1]) {
		out = ind + out
	}
	return limitLen(out, r)
}

// parsePyInt is Python's int(str, base) for bases 2..36 and 0.
func parsePyInt(s string, base int) (int, bool) {
	s = strings.TrimFunc(s, isPySpace)
	neg := false
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		neg = s[0] == '-'
		s = s[1:]
	}
	low := strings.ToLower(s)
	prefixes := map[string]int{"0x": 16, "0o": 8, "0b": 2}
	if len(low) > 2 {
		if b, ok := prefixes[low[:2]]; ok && (base == 0 || base == b) {
			s, base = s[2:], b
			s = strings.TrimPrefix(s, "_")
		}
	}
	if base == 0 {
		base = 10
		if len(s) > 1 && strings.Trim(s, "0_") != "" && s[0] == '0' {
			return 0, false
		}
	}
	if s == "" || strings.HasPrefix(s, "_") || strings.HasSuffix(s, "_") || strings.Contains(s, "__") {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), base, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		v = -v
	}
	return int(v), true
}

// parsePyFloat is Python's float(str).
func parsePyFloat(s string) (float64, bool) {
	s = strings.TrimFunc(s, isPySpace)
	low := strings.ToLower(strings.TrimLeft(s, "+-"))
	switch low {
	case "inf", "infinity", "nan":
		f, _ := strconv.ParseFloat(strings.Replace(strings.ToLower(s), "infinity", "inf", 1), 64)
		return f, true
	}
	if strings.ContainsAny(low, "xp") || strings.HasPrefix(low, "_") || strings.HasSuffix(low, "_") || strings.Contains(low, "__") {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true
		}
		return 0, false
	}
	return f, true
}

func filterInt(r *renderer, v any, a []any) (any, error) {
	base, ok := intOf(a[1])
	if !ok {
		return a[0], nil
	}
	switch t := v.(type) {
	case string:
		if i, ok := parsePyInt(t, base); ok {
			return i, nil
		}
		if f, ok := parsePyFloat(t); ok && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return int(f), nil
		}
		return a[0], nil
	case bool:
		i, _ := intOf(t)
		return i, nil
	case int:
		return t, nil
	case float64:
		if math.IsInf(t, 0) || math.IsNaN(t) {
			return a[0], nil
		}
		return int(t), nil
	case *Undefined:
		return nil, undefinedError(t)
	}
	return a[0], nil
}

func filterFloat(r *renderer, v any, a []any) (any, error) {
	switch t := v.(type) {
	case string:
		if f, ok := parsePyFloat(t); ok {
			return f, nil
		}
	case bool, int, float64:
		f, _ := numeric(t)
		return f, nil
	case *Undefined:
		return nil, undefinedError(t)
	}
	return a[0], nil
}

func filterRound(r *renderer, v any, a []any) (any, error) {
	method, _ := a[1].(string)
	if method != "common" && method != "ceil" && method != "floor" {
		return nil, fmt.Errorf("method must be common, ceil or floor")
	}
	prec, ok := intOf(a[0])
	if !ok {
		return nil, fmt.Errorf("'%s' object cannot be interpreted as an integer", pyTypeName(a[0]))
	}
	f, isNum := numeric(v)
	if !isNum {
		if u, isU := v.(*Undefined); isU {
			return nil, undefinedError(u)
		}
		return nil, fmt.Errorf("type %s doesn't define __round__ method", pyTypeName(v))
	}
	if method == "common" {
		if i, isInt := intOf(v); isInt && prec >= 0 {
			return i, nil
		}
		// Python rounds half to even on the decimal value.
		s := strconv.FormatFloat(f, 'f', prec, 64)
		out, _ := strconv.ParseFloat(s, 64)
		return out, nil
	}
	p := math.Pow(10, float64(prec))
	if method == "ceil" {
		return math.Ceil(f*p) / p, nil
	}
	return math.Floor(f*p) / p, nil
}

// attrPath follows a dotted attribute path (as in join(attribute="a.b")).
func attrPath(v any, attr any) (any, error) {
	if i, ok := attr.(int); ok {
		return getitem(v, i)
	}
	for _, part := range strings.Split(pyStr(attr), ".") {
		var key any = part
		if n, err := strconv.Atoi(part); err == nil {
			key = n
		}
		var err error
		if v, err = getitem(v, key); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func sortKey(v any, caseSensitive bool, attr any) (any, error) {
	if attr != nil {
		var err error
		if v, err = attrPath(v, attr); err != nil {
			return nil, err
		}
	}
	if s, ok := v.(string); ok && !caseSensitive {
		return pyLower(s), nil
	}
	return v, nil
}

func sortItems(items []any, reverse, caseSensitive bool, attr any) (any, error) {
	keys := make([]any, len(items))
	for i, it := range items {
		k, err := sortKey(it, caseSensitive, attr)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	var sortErr error
	sort.SliceStable(idx, func(i, j int) bool {
		a, b := keys[idx[i]], keys[idx[j]]
		if reverse {
			a, b = b, a
		}
		c, err := order(a, b, "lt")
		if err != nil && sortErr == nil {
			sortErr = err
		}
		return c < 0
	})
	out := make([]any, len(items))
	for i, k := range idx {
		out[i] = items[k]
	}
	return out, sortErr
}

func minMax(v any, caseSensitive bool, attr any, max bool) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return &Undefined{hint: "No aggregated item, sequence was empty."}, nil
	}
	best := items[0]
	bestKey, err := sortKey(best, caseSensitive, attr)
	if err != nil {
		return nil, err
	}
	for _, it := range items[1:] {
		k, err := sortKey(it, caseSensitive, attr)
		if err != nil {
			return nil, err
		}
		c, err := order(k, bestKey, "lt")
		if err != nil {
			return nil, err
		}
		if (max && c > 0) || (!max && c < 0) {
			best, bestKey = it, k
		}
	}
	return best, nil
}

func filterMap(r *renderer, v any, args []any, kw *value.Map) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(items))
	if len(args) == 0 {
		attr, ok := kw.Get("attribute")
		if !ok {
			return out, nil
		}
		def, hasDef := kw.Get("default")
		for _, it := range items {
			x, err := attrPath(it, attr)
			if err != nil {
				return nil, err
			}
			if _, isU := x.(*Undefined); isU && hasDef {
				x = def
			}
			out = append(out, x)
		}
		return out, nil
	}
	name, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("map requires a filter argument")
	}
	fl, ok := filters[name]
	if !ok {
		return nil, fmt.Errorf("no filter named '%s'", name)
	}
	for _, it := range items {
		x, err := fl(r, it, args[1:], kw)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

func selectOrReject(r *renderer, v any, args []any, kw *value.Map, byAttr, want bool) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	var attr any
	if byAttr {
		if len(args) == 0 {
			return nil, fmt.Errorf("missing parameter for attribute name")
		}
		attr, args = args[0], args[1:]
	}
	test := func(x any) (bool, error) { return truthy(x), nil }
	if len(args) > 0 {
		name, _ := args[0].(string)
		t, ok := tests[name]
		if !ok {
			return nil, fmt.Errorf("no test named '%s'", name)
		}
		targs := args[1:]
		test = func(x any) (bool, error) {
			res, err := t(x, targs, kw)
			if err != nil {
				return false, err
			}
			return truthy(res), nil
		}
	}
	out := []any{}
	for _, it := range items {
		x := it
		if byAttr {
			if x, err = attrPath(it, attr); err != nil {
				return nil, err
			}
		}
		ok, err := test(x)
		if err != nil {
			return nil, err
		}
		if ok == want {
			out = append(out, it)
		}
	}
	return out, nil
}

func filterBatch(r *renderer, v any, a []any) (any, error) {
	n, ok := intOf(a[0])
	if !ok || n <= 0 {
		return nil, fmt.Errorf("batch size must be a positive integer")
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	var out []any
	for i := 0; i < len(items); i += n {
		end := i + n
		var chunk []any
		if end > len(items) {
			chunk = append(chunk, items[i:]...)
			if a[1] != nil {
				for len(chunk) < n {
					chunk = append(chunk, a[1])
				}
			}
		} else {
			chunk = append(chunk, items[i:end]...)
		}
		out = append(out, chunk)
	}
	if out == nil {
		out = []any{}
	}
	return out, nil
}

func filterTruncate(r *renderer, v any, a []any) (any, error) {
	s := softStr(v)
	length, ok := intOf(a[0])
	if !ok {
		return nil, fmt.Errorf("length must be an integer")
	}
	end := pyStr(a[2])
	leeway := 5
	if a[3] != nil {
		leeway, _ = intOf(a[3])
	}
	if utf8.RuneCountInString(end) > length {
		return nil, fmt.Errorf("expected length >= %d, got %d", utf8.RuneCountInString(end), length)
	}
	if leeway < 0 {
		return nil, fmt.Errorf("expected leeway >= 0, got %d", leeway)
	}
	rs := []rune(s)
	if len(rs) <= length+leeway {
		return s, nil
	}
	cut := string(rs[:length-utf8.RuneCountInString(end)])
	if truthy(a[1]) {
		return cut + end, nil
	}
	if i := strings.LastIndex(cut, " "); i >= 0 {
		cut = cut[:i]
	}
	return cut + end, nil
}

var (
	wordRe      = regexp.MustCompile(`\w+`)
	titleSplitR = regexp.MustCompile(`[-\s({\[<]+`)
)

// jinjaTitle is Jinja2's title filter: words start after whitespace or
// one of "-([{<".
func jinjaTitle(s string) string {
	var b strings.Builder
	last := 0
	write := func(item string) {
		if item == "" {
			return
		}
		r, size := utf8.DecodeRuneInString(item)
		b.WriteString(pyUpper(string(r)))
		b.WriteString(pyLower(item[size:]))
	}
	for _, loc := range titleSplitR.FindAllStringIndex(s, -1) {
		write(s[last:loc[0]])
		b.WriteString(s[loc[0]:loc[1]])
		last = loc[1]
	}
	write(s[last:])
	return b.String()
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", ">", "&gt;", "<", "&lt;", "'", "&#39;", "\"", "&#34;").Replace(s)
}
