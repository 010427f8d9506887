package jinja

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/basalt-lava/basalt/internal/value"
)

// Python string formatting: str.format and the % operator, for the
// conversions templates use (s, r, d, i, f, e, g, x, o, b, %).

// formatSpec is a parsed Python format spec:
// [[fill]align][sign][#][0][width][,|_][.precision][type].
type formatSpec struct {
	fill      string
	align     byte
	sign      byte
	alt       bool
	zero      bool
	width     int
	grouping  byte
	precision int // -1 when absent
	typ       byte
}

func parseFormatSpec(s string) (formatSpec, error) {
	sp := formatSpec{precision: -1}
	rs := []rune(s)
	i := 0
	isAlign := func(r rune) bool { return r == '<' || r == '>' || r == '^' || r == '=' }
	if len(rs) >= 2 && isAlign(rs[1]) {
		sp.fill, sp.align = string(rs[0]), byte(rs[1])
		i = 2
	} else if len(rs) >= 1 && isAlign(rs[0]) {
		sp.align = byte(rs[0])
		i = 1
	}
	if i < len(rs) && (rs[i] == '+' || rs[i] == '-' || rs[i] == ' ') {
		sp.sign = byte(rs[i])
		i++
	}
	if i < len(rs) && rs[i] == '#' {
		sp.alt = true
		i++
	}
	if i < len(rs) && rs[i] == '0' {
		sp.zero = true
		i++
	}
	start := i
	for i < len(rs) && rs[i] >= '0' && rs[i] <= '9' {
		i++
	}
	if i > start {
		sp.width, _ = strconv.Atoi(string(rs[start:i]))
	}
	if i < len(rs) && (rs[i] == ',' || rs[i] == '_') {
		sp.grouping = byte(rs[i])
		i++
	}
	if i < len(rs) && rs[i] == '.' {
		i++
		start = i
		for i < len(rs) && rs[i] >= '0' && rs[i] <= '9' {
			i++
		}
		if i == start {
			return sp, fmt.Errorf("format specifier missing precision")
		}
		sp.precision, _ = strconv.Atoi(string(rs[start:i]))
	}
	if i < len(rs) {
		sp.typ = byte(rs[i])
		i++
	}
	if i != len(rs) {
		return sp, fmt.Errorf("invalid format specifier")
	}
	return sp, nil
}

// formatValue is Python's format(v, spec).
func formatValue(v any, spec string) (string, error) {
	if u, ok := v.(*Undefined); ok {
		if spec == "" {
			return "", nil
		}
		return "", undefinedError(u)
	}
	sp, err := parseFormatSpec(spec)
	if err != nil {
		return "", err
	}
	var body string
	numeric := false
	neg := false
	switch t := v.(type) {
	case string:
		if sp.typ != 0 && sp.typ != 's' {
			return "", fmt.Errorf("unknown format code '%c' for object of type 'str'", sp.typ)
		}
		body = t
		if sp.precision >= 0 && utf8.RuneCountInString(body) > sp.precision {
			body = string([]rune(body)[:sp.precision])
		}
	case bool, int:
		i, _ := intOf(t)
		if b, isBool := t.(bool); isBool && sp.typ == 0 && spec == "" {
			return pyStr(b), nil
		}
		numeric = true
		switch sp.typ {
		case 0, 'd', 'n':
			body = groupDigits(strconv.FormatUint(abs64(int64(i)), 10), sp.grouping)
		case 'x', 'X', 'o', 'b':
			base := map[byte]int{'x': 16, 'X': 16, 'o': 8, 'b': 2}[sp.typ]
			body = strconv.FormatUint(abs64(int64(i)), base)
			if sp.typ == 'X' {
				body = strings.ToUpper(body)
			}
			if sp.alt {
				body = "0" + string(sp.typ) + body
			}
		case 'c':
			return string(rune(i)), nil
		case 'e', 'E', 'f', 'F', 'g', 'G', '%':
			f := float64(i)
			body = formatFloatSpec(math.Abs(f), sp)
		default:
			return "", fmt.Errorf("unknown format code '%c' for object of type 'int'", sp.typ)
		}
		neg = i < 0
	case float64:
		numeric = true
		neg = math.Signbit(t) && !math.IsNaN(t)
		if sp.typ == 0 && sp.precision < 0 {
			body = formatFloat(math.Abs(t))
		} else {
			switch sp.typ {
			case 0, 'e', 'E', 'f', 'F', 'g', 'G', '%', 'n':
				body = formatFloatSpec(math.Abs(t), sp)
			default:
				return "", fmt.Errorf("unknown format code '%c' for object of type 'float'", sp.typ)
			}
		}
	default:
		if spec != "" {
			return "", fmt.Errorf("unsupported format string passed to %s.__format__", pyTypeName(v))
		}
		return pyStr(v), nil
	}
	sign := ""
	if numeric {
		switch {
		case neg:
			sign = "-"
		case sp.sign == '+':
			sign = "+"
		case sp.sign == ' ':
			sign = " "
		}
	}
	fill, align := sp.fill, sp.align
	if fill == "" {
		fill = " "
	}
	if sp.zero && align == 0 {
		fill, align = "0", '='
	}
	if align == 0 {
		align = '<'
		if numeric {
			align = '>'
		}
	}
	n := utf8.RuneCountInString(sign + body)
	if sp.width > maxPrinted || sp.precision > maxPrinted {
		panic(tooLarge{})
	}
	if n >= sp.width {
		return sign + body, nil
	}
	pad := sp.width - n
	switch align {
	case '<':
		return sign + body + strings.Repeat(fill, pad), nil
	case '>':
		return strings.Repeat(fill, pad) + sign + body, nil
	case '=':
		return sign + strings.Repeat(fill, pad) + body, nil
	}
	left := pad / 2
	return strings.Repeat(fill, left) + sign + body + strings.Repeat(fill, pad-left), nil
}

func abs64(i int64) uint64 {
	if i < 0 {
		return uint64(-i)
	}
	return uint64(i)
}

func groupDigits(s string, sep byte) string {
	if sep == 0 || len(s) <= 3 {
		return s
	}
	var b strings.Builder
	pre := len(s) % 3
	if pre > 0 {
		b.WriteString(s[:pre])
	}
	for i := pre; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(sep)
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

func formatFloatSpec(f float64, sp formatSpec) string {
	if sp.precision > 1000 {
		panic(tooLarge{})
	}
	prec := sp.precision
	if prec < 0 {
		prec = 6
	}
	if math.IsInf(f, 0) {
		if sp.typ == 'F' || sp.typ == 'E' || sp.typ == 'G' {
			return "INF"
		}
		return "inf"
	}
	if math.IsNaN(f) {
		if sp.typ == 'F' || sp.typ == 'E' || sp.typ == 'G' {
			return "NAN"
		}
		return "nan"
	}
	switch sp.typ {
	case 'f', 'F':
		return groupFixed(strconv.FormatFloat(f, 'f', prec, 64), sp.grouping)
	case '%':
		return strconv.FormatFloat(f*100, 'f', prec, 64) + "%"
	case 'e', 'E':
		s := pyExp(strconv.FormatFloat(f, 'e', prec, 64))
		if sp.typ == 'E' {
			s = strings.ToUpper(s)
		}
		return s
	}
	// g, G, n, and "no type with precision".
	if prec == 0 {
		prec = 1
	}
	exp := 0
	if f != 0 {
		exp = int(math.Floor(math.Log10(f)))
		// Rounding may carry into the next power of ten.
		r, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'e', prec-1, 64), 64)
		if r != 0 {
			exp = int(math.Floor(math.Log10(r)))
		}
	}
	var s string
	if exp < -4 || exp >= prec {
		s = pyExp(strconv.FormatFloat(f, 'e', prec-1, 64))
		if !sp.alt {
			mant, e, _ := strings.Cut(s, "e")
			if strings.Contains(mant, ".") {
				mant = strings.TrimRight(strings.TrimRight(mant, "0"), ".")
			}
			s = mant + "e" + e
		}
	} else {
		s = strconv.FormatFloat(f, 'f', prec-1-exp, 64)
		if !sp.alt && strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		if sp.typ == 0 && !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
	}
	if sp.typ == 'G' {
		s = strings.ToUpper(s)
	}
	return s
}

func groupFixed(s string, sep byte) string {
	if sep == 0 {
		return s
	}
	ip, fp, hasFrac := strings.Cut(s, ".")
	ip = groupDigits(ip, sep)
	if hasFrac {
		return ip + "." + fp
	}
	return ip
}

// pyExp rewrites Go's exponent ("e+07") as Python's ("e+07"), keeping at
// least two exponent digits.
func pyExp(s string) string {
	mant, e, ok := strings.Cut(s, "e")
	if !ok {
		return s
	}
	sign := e[:1]
	digits := strings.TrimLeft(e[1:], "0")
	for len(digits) < 2 {
		digits = "0" + digits
	}
	return mant + "e" + sign + digits
}

// pyFormat is str.format.
func pyFormat(s string, args []any, kw *value.Map) (any, error) {
	var b strings.Builder
	auto := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '}' {
			if i+1 < len(s) && s[i+1] == '}' {
				b.WriteByte('}')
				i++
				continue
			}
			return nil, fmt.Errorf("single '}' encountered in format string")
		}
		if c != '{' {
			b.WriteByte(c)
			continue
		}
		if i+1 < len(s) && s[i+1] == '{' {
			b.WriteByte('{')
			i++
			continue
		}
		// Find the matching close brace, allowing one level of nested
		// replacement fields in the spec.
		depth, j := 1, i+1
		for ; j < len(s) && depth > 0; j++ {
			switch s[j] {
			case '{':
				depth++
			case '}':
				depth--
			}
		}
		if depth != 0 {
			return nil, fmt.Errorf("expected '}' before end of string")
		}
		field := s[i+1 : j-1]
		i = j - 1
		name, spec, _ := strings.Cut(field, ":")
		conv := byte(0)
		if k := strings.IndexByte(name, '!'); k >= 0 {
			if k+2 != len(name) {
				return nil, fmt.Errorf("expected ':' after conversion specifier")
			}
			conv = name[k+1]
			name = name[:k]
		}
		if strings.Contains(spec, "{") {
			nested, err := pyFormat(spec, args, kw)
			if err != nil {
				return nil, err
			}
			spec = nested.(string)
		}
		v, err := formatField(name, &auto, args, kw)
		if err != nil {
			return nil, err
		}
		switch conv {
		case 0:
		case 'r', 'a':
			v = pyRepr(v)
		case 's':
			v = pyStr(v)
		default:
			return nil, fmt.Errorf("unknown conversion specifier %c", conv)
		}
		out, err := formatValue(v, spec)
		if err != nil {
			return nil, err
		}
		b.WriteString(out)
	}
	return b.String(), nil
}

func formatField(name string, auto *int, args []any, kw *value.Map) (any, error) {
	first := name
	rest := ""
	if k := strings.IndexAny(name, ".["); k >= 0 {
		first, rest = name[:k], name[k:]
	}
	var v any
	if first == "" || (first[0] >= '0' && first[0] <= '9') {
		idx := 0
		if first == "" {
			if *auto < 0 {
				return nil, fmt.Errorf("cannot switch from manual field specification to automatic field numbering")
			}
			idx = *auto
			*auto++
		} else {
			var err error
			if idx, err = strconv.Atoi(first); err != nil {
				return nil, fmt.Errorf("invalid field name %q", first)
			}
			if *auto > 0 {
				return nil, fmt.Errorf("cannot switch from automatic field numbering to manual field specification")
			}
			*auto = -1
		}
		if idx >= len(args) {
			return nil, fmt.Errorf("replacement index %d out of range for positional args tuple", idx)
		}
		v = args[idx]
	} else {
		var ok bool
		if v, ok = kw.Get(first); !ok {
			return nil, fmt.Errorf("keyError: %s", pyRepr(first))
		}
	}
	for rest != "" {
		if rest[0] == '.' {
			k := strings.IndexAny(rest[1:], ".[")
			attr := rest[1:]
			if k >= 0 {
				attr, rest = rest[1:1+k], rest[1+k:]
			} else {
				rest = ""
			}
			var err error
			if v, err = getattr(v, attr); err != nil {
				return nil, err
			}
			continue
		}
		k := strings.IndexByte(rest, ']')
		if k < 0 {
			return nil, fmt.Errorf("missing ']' in format string")
		}
		key := rest[1:k]
		rest = rest[k+1:]
		var kv any = key
		if n, err := strconv.Atoi(key); err == nil {
			kv = n
		}
		var err error
		if v, err = getitem(v, kv); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// percentFormat is Python's "format % args".
func percentFormat(s string, arg any) (any, error) {
	var args []any
	var mapping *value.Map
	switch t := arg.(type) {
	case Tuple:
		args = t
	case *value.Map:
		mapping = t
		args = []any{t}
	default:
		args = []any{arg}
	}
	next := 0
	take := func() (any, error) {
		if next >= len(args) {
			return nil, fmt.Errorf("not enough arguments for format string")
		}
		v := args[next]
		next++
		return v, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i >= len(s) {
			return nil, fmt.Errorf("incomplete format")
		}
		var v any
		haveV := false
		if s[i] == '(' {
			k := strings.IndexByte(s[i:], ')')
			if k < 0 {
				return nil, fmt.Errorf("incomplete format key")
			}
			if mapping == nil {
				return nil, fmt.Errorf("format requires a mapping")
			}
			key := s[i+1 : i+k]
			var ok bool
			if v, ok = mapping.Get(key); !ok {
				return nil, fmt.Errorf("keyError: %s", pyRepr(key))
			}
			haveV = true
			i += k + 1
		}
		var flags []byte
		for i < len(s) && strings.IndexByte("-+ #0", s[i]) >= 0 {
			flags = append(flags, s[i])
			i++
		}
		width := ""
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '*') {
			if s[i] == '*' {
				w, err := take()
				if err != nil {
					return nil, err
				}
				n, _ := intOf(w)
				width = strconv.Itoa(n)
			} else {
				width += s[i : i+1]
			}
			i++
		}
		prec := ""
		if i < len(s) && s[i] == '.' {
			prec = "."
			i++
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				prec += s[i : i+1]
				i++
			}
			if prec == "." {
				prec = ".0"
			}
		}
		if i >= len(s) {
			return nil, fmt.Errorf("incomplete format")
		}
		conv := s[i]
		if conv == '%' {
			b.WriteByte('%')
			continue
		}
		if !haveV {
			var err error
			if v, err = take(); err != nil {
				return nil, err
			}
		}
		spec := ""
		fl := string(flags)
		align := ""
		if strings.Contains(fl, "-") {
			align = "<"
		} else if width != "" {
			align = ">"
		}
		signCh := ""
		if strings.Contains(fl, "+") {
			signCh = "+"
		} else if strings.Contains(fl, " ") {
			signCh = " "
		}
		zero := ""
		if strings.Contains(fl, "0") && align != "<" {
			zero = "0"
			align = ""
		}
		alt := ""
		if strings.Contains(fl, "#") {
			alt = "#"
		}
		var out string
		var err error
		switch conv {
		case 's', 'r', 'a':
			str := pyStr(v)
			if conv != 's' {
				str = pyRepr(v)
			}
			spec = align + width + prec
			out, err = formatValue(str, spec)
		case 'd', 'i', 'u':
			n, ok := intOf(v)
			if !ok {
				f, isF := v.(float64)
				if !isF {
					return nil, fmt.Errorf("%%%c format: a real number is required, not %s", conv, pyTypeName(v))
				}
				n = int(f)
			}
			out, err = formatValue(n, align+signCh+zero+width+"d")
		case 'x', 'X', 'o':
			n, ok := intOf(v)
			if !ok {
				return nil, fmt.Errorf("%%%c format: an integer is required, not %s", conv, pyTypeName(v))
			}
			out, err = formatValue(n, align+signCh+alt+zero+width+string(conv))
		case 'f', 'F', 'e', 'E', 'g', 'G':
			f, ok := numeric(v)
			if !ok {
				return nil, fmt.Errorf("must be real number, not %s", pyTypeName(v))
			}
			if prec == "" {
				prec = ".6"
			}
			out, err = formatValue(f, align+signCh+alt+zero+width+prec+string(conv))
		case 'c':
			switch t := v.(type) {
			case string:
				out = t
			default:
				n, _ := intOf(v)
				out = string(rune(n))
			}
		default:
			return nil, fmt.Errorf("unsupported format character '%c' (0x%x) at index %d", conv, conv, i)
		}
		if err != nil {
			return nil, err
		}
		b.WriteString(out)
	}
	if mapping == nil && next < len(args) {
		return nil, fmt.Errorf("not all arguments converted during string formatting")
	}
	return b.String(), nil
}
