package jinja

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokenKind int

const (
	tokEOF tokenKind = iota
	tokData
	tokBlockBegin
	tokBlockEnd
	tokVarBegin
	tokVarEnd
	tokName
	tokString
	tokInt
	tokFloat
	tokOp
)

func (k tokenKind) String() string {
	switch k {
	case tokEOF:
		return "end of template"
	case tokData:
		return "template data"
	case tokBlockBegin:
		return "begin of statement block"
	case tokBlockEnd:
		return "end of statement block"
	case tokVarBegin:
		return "begin of print statement"
	case tokVarEnd:
		return "end of print statement"
	case tokName:
		return "name"
	case tokString:
		return "string"
	case tokInt:
		return "integer"
	case tokFloat:
		return "float"
	}
	return "operator"
}

type token struct {
	kind tokenKind
	val  string // data text, name, decoded string, number text or operator
	line int
}

func (t token) describe() string {
	switch t.kind {
	case tokName, tokOp, tokInt, tokFloat:
		return "'" + t.val + "'"
	case tokString:
		return "string"
	}
	return t.kind.String()
}

// lexer turns template source into tokens the way Jinja2's lexer does
// with trim_blocks on: the newline after a block or comment tag is
// dropped, "-" on a tag strips whitespace on that side, and one trailing
// newline of the source is removed.
type lexer struct {
	src  string
	pos  int
	line int
	toks []token
	file string
}

// normalizeNewlines makes every line ending "\n" and drops one final
// newline, as Jinja2 does before lexing (keep_trailing_newline=False).
func normalizeNewlines(src string) string {
	if strings.IndexByte(src, '\r') >= 0 {
		src = strings.ReplaceAll(src, "\r\n", "\n")
		src = strings.ReplaceAll(src, "\r", "\n")
	}
	return strings.TrimSuffix(src, "\n")
}

func tokenize(src, file string) ([]token, error) {
	lx := &lexer{src: normalizeNewlines(src), line: 1, file: file}
	if err := lx.run(); err != nil {
		return nil, err
	}
	return lx.toks, nil
}

func (lx *lexer) errorf(format string, args ...any) error {
	return newError(lx.file, lx.line, format, args...)
}

func (lx *lexer) emit(kind tokenKind, val string, line int) {
	lx.toks = append(lx.toks, token{kind: kind, val: val, line: line})
}

func (lx *lexer) advance(n int) {
	lx.line += strings.Count(lx.src[lx.pos:lx.pos+n], "\n")
	lx.pos += n
}

// findTagStart returns the offset of the next "{{", "{%" or "{#" at or
// after pos, or -1.
func (lx *lexer) findTagStart() int {
	s := lx.src[lx.pos:]
	for i := 0; i < len(s)-1; i++ {
		if s[i] == '{' && (s[i+1] == '{' || s[i+1] == '%' || s[i+1] == '#') {
			return lx.pos + i
		}
	}
	return -1
}

// rawBegin reports whether a "{% raw %}" tag starts at p and returns its
// length and whether its text before must be stripped.
func (lx *lexer) matchTagWord(p int, word string) (n int, lstrip bool, rstrip bool, ok bool) {
	s := lx.src[p:]
	if !strings.HasPrefix(s, "{%") {
		return 0, false, false, false
	}
	i := 2
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		lstrip = s[i] == '-'
		i++
	}
	i += countSpace(s[i:])
	if !strings.HasPrefix(s[i:], word) {
		return 0, false, false, false
	}
	i += len(word)
	i += countSpace(s[i:])
	switch {
	case strings.HasPrefix(s[i:], "-%}"):
		i += 3
		i += countSpace(s[i:])
		rstrip = true
	case strings.HasPrefix(s[i:], "+%}"):
		i += 3
	case strings.HasPrefix(s[i:], "%}"):
		i += 2
	default:
		return 0, false, false, false
	}
	return i, lstrip, rstrip, true
}

func countSpace(s string) int {
	n := 0
	for n < len(s) {
		r, size := utf8.DecodeRuneInString(s[n:])
		if !isPySpace(r) {
			break
		}
		n += size
	}
	return n
}

// isPySpace is Python's str.isspace for one character.
func isPySpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x1f, 0x85:
		return true
	}
	return r > 0x7f && unicode.IsSpace(r)
}

func (lx *lexer) run() error {
	for lx.pos < len(lx.src) {
		start := lx.findTagStart()
		if start < 0 {
			lx.emit(tokData, lx.src[lx.pos:], lx.line)
			lx.advance(len(lx.src) - lx.pos)
			break
		}
		text := lx.src[lx.pos:start]
		kind := lx.src[start+1]
		strip := start+2 < len(lx.src) && lx.src[start+2] == '-'
		rawLen, rawStrip, rawRStrip, isRaw := 0, false, false, false
		if kind == '%' {
			rawLen, rawStrip, rawRStrip, isRaw = lx.matchTagWord(start, "raw")
			if isRaw {
				strip = rawStrip
			}
		}
		if strip {
			text = strings.TrimRightFunc(text, isPySpace)
		}
		if text != "" {
			lx.emit(tokData, text, lx.line)
		}
		lx.advance(start - lx.pos)
		switch {
		case isRaw:
			if err := lx.lexRaw(rawLen, rawRStrip); err != nil {
				return err
			}
		case kind == '#':
			if err := lx.lexComment(); err != nil {
				return err
			}
		case kind == '%':
			if err := lx.lexTag(true); err != nil {
				return err
			}
		default:
			if err := lx.lexTag(false); err != nil {
				return err
			}
		}
	}
	lx.emit(tokEOF, "", lx.line)
	return nil
}

func (lx *lexer) lexRaw(beginLen int, rstrip bool) error {
	_ = rstrip // whitespace after "-%}" is already counted in beginLen
	line := lx.line
	lx.advance(beginLen)
	for p := lx.pos; p < len(lx.src); p++ {
		if lx.src[p] != '{' {
			continue
		}
		n, lstrip, _, ok := lx.matchTagWord(p, "endraw")
		if !ok {
			continue
		}
		text := lx.src[lx.pos:p]
		if lstrip {
			text = strings.TrimRightFunc(text, isPySpace)
		}
		// endraw's "%}" trims a newline like any block end.
		end := p + n
		if strings.HasSuffix(lx.src[p:end], "%}") && !strings.HasSuffix(lx.src[p:end], "+%}") && end < len(lx.src) && lx.src[end] == '\n' {
			end++
		}
		if text != "" {
			lx.emit(tokData, text, lx.line)
		}
		lx.advance(end - lx.pos)
		return nil
	}
	lx.line = line
	return lx.errorf("Missing end of raw directive")
}

func (lx *lexer) lexComment() error {
	line := lx.line
	s := lx.src[lx.pos+2:]
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "-#}"):
			end := i + 3
			end += countSpace(s[end:])
			lx.advance(2 + end)
			return nil
		case strings.HasPrefix(s[i:], "+#}"):
			lx.advance(2 + i + 3)
			return nil
		case strings.HasPrefix(s[i:], "#}"):
			end := i + 2
			if end < len(s) && s[end] == '\n' {
				end++
			}
			lx.advance(2 + end)
			return nil
		}
	}
	lx.line = line
	return lx.errorf("Missing end of comment tag")
}

var operators3 = []string{"//", "**", "==", "!=", ">=", "<="}

const operators1 = "+-/*%~[](){}><=.:|,;"

// lexTag lexes one "{% ... %}" or "{{ ... }}" tag starting at pos.
func (lx *lexer) lexTag(block bool) error {
	begin, end := tokVarBegin, tokVarEnd
	closer := "}}"
	if block {
		begin, end = tokBlockBegin, tokBlockEnd
		closer = "%}"
	}
	lx.emit(begin, "", lx.line)
	lx.advance(2)
	if lx.pos < len(lx.src) && (lx.src[lx.pos] == '-' || lx.src[lx.pos] == '+') {
		lx.advance(1)
	}
	var balance []byte
	for {
		if lx.pos >= len(lx.src) {
			if block {
				return lx.errorf("unexpected end of template, expected 'end of statement block'")
			}
			return lx.errorf("unexpected end of template, expected 'end of print statement'")
		}
		s := lx.src[lx.pos:]
		if len(balance) == 0 {
			switch {
			case strings.HasPrefix(s, "-"+closer):
				n := 3 + countSpace(s[3:])
				lx.emit(end, "", lx.line)
				lx.advance(n)
				return nil
			case strings.HasPrefix(s, "+"+closer):
				lx.emit(end, "", lx.line)
				lx.advance(3)
				return nil
			case strings.HasPrefix(s, closer):
				n := 2
				if block && len(s) > 2 && s[2] == '\n' {
					n = 3
				}
				lx.emit(end, "", lx.line)
				lx.advance(n)
				return nil
			}
		}
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case isPySpace(r):
			lx.advance(countSpace(s))
		case r >= '0' && r <= '9':
			n, isFloat := scanNumber(s)
			kind := tokInt
			if isFloat {
				kind = tokFloat
			}
			lx.emit(kind, strings.ReplaceAll(s[:n], "_", ""), lx.line)
			lx.advance(n)
		case r == '_' || unicode.IsLetter(r):
			n := size
			for n < len(s) {
				r2, sz := utf8.DecodeRuneInString(s[n:])
				if r2 != '_' && !unicode.IsLetter(r2) && !unicode.IsDigit(r2) && !unicode.Is(unicode.Mn, r2) && !unicode.Is(unicode.Mc, r2) {
					break
				}
				n += sz
			}
			lx.emit(tokName, s[:n], lx.line)
			lx.advance(n)
		case r == '\'' || r == '"':
			n, ok := scanString(s)
			if !ok {
				return lx.errorf("unexpected char %s at %d", pyRepr(string(r)), lx.pos)
			}
			line := lx.line
			lx.advance(n)
			lx.emit(tokString, decodeStringLiteral(s[1:n-1]), line)
		default:
			op := ""
			for _, o := range operators3 {
				if strings.HasPrefix(s, o) {
					op = o
					break
				}
			}
			if op == "" && r < 0x80 && strings.IndexByte(operators1, byte(r)) >= 0 {
				op = s[:1]
			}
			if op == "" {
				return lx.errorf("unexpected char %s at %d", pyRepr(string(r)), lx.pos)
			}
			switch op {
			case "(", "[", "{":
				balance = append(balance, op[0])
			case ")", "]", "}":
				want := map[string]byte{")": '(', "]": '[', "}": '{'}[op]
				if len(balance) == 0 {
					return lx.errorf("unexpected '%s'", op)
				}
				if balance[len(balance)-1] != want {
					exp := map[byte]string{'(': ")", '[': "]", '{': "}"}[balance[len(balance)-1]]
					return lx.errorf("unexpected '%s', expected '%s'", op, exp)
				}
				balance = balance[:len(balance)-1]
			}
			lx.emit(tokOp, op, lx.line)
			lx.advance(len(op))
		}
	}
}

// scanNumber returns the length of the integer or float literal at the
// start of s (digits may be separated by single underscores).
func scanNumber(s string) (int, bool) {
	digits := func(i int) int {
		j := i
		for j < len(s) {
			if s[j] >= '0' && s[j] <= '9' {
				j++
				continue
			}
			if s[j] == '_' && j > i && j+1 < len(s) && s[j+1] >= '0' && s[j+1] <= '9' {
				j++
				continue
			}
			break
		}
		return j
	}
	n := digits(0)
	isFloat := false
	if n+1 < len(s) && s[n] == '.' && s[n+1] >= '0' && s[n+1] <= '9' {
		n = digits(n + 1)
		isFloat = true
	}
	if n < len(s) && (s[n] == 'e' || s[n] == 'E') {
		j := n + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && s[j] >= '0' && s[j] <= '9' {
			n = digits(j)
			isFloat = true
		}
	}
	return n, isFloat
}

// scanString returns the length of the quoted string at the start of s,
// quotes included.
func scanString(s string) (int, bool) {
	q := s[0]
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case q:
			return i + 1, true
		}
	}
	return 0, false
}

// decodeStringLiteral applies Python's "unicode-escape" decoding to the
// body of a string literal, as Jinja2 does: known escapes are replaced,
// unknown ones ("\s") keep their backslash. Jinja2 first turns non-ASCII
// characters into escapes and decodes those back, which is the identity
// except after a lone backslash; that case is handled the same way.
func decodeStringLiteral(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		n := s[i+1]
		if n >= 0x80 {
			// "\é" became "\\xe9" before decoding: a backslash, then the
			// escape text literally.
			r, size := utf8.DecodeRuneInString(s[i+1:])
			b.WriteByte('\\')
			b.WriteString(strings.TrimPrefix(pyEscapeRune(r), "\\"))
			i += 1 + size
			continue
		}
		i += 2
		switch n {
		case '\n':
		case '\\':
			b.WriteByte('\\')
		case '\'':
			b.WriteByte('\'')
		case '"':
			b.WriteByte('"')
		case 'a':
			b.WriteByte(7)
		case 'b':
			b.WriteByte(8)
		case 'f':
			b.WriteByte(12)
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte(11)
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(n - '0')
			for k := 0; k < 2 && i < len(s) && s[i] >= '0' && s[i] <= '7'; k++ {
				v = v*8 + int(s[i]-'0')
				i++
			}
			b.WriteRune(rune(v))
		case 'x', 'u', 'U':
			width := map[byte]int{'x': 2, 'u': 4, 'U': 8}[n]
			if i+width <= len(s) {
				if v, ok := parseHex(s[i : i+width]); ok && v <= unicode.MaxRune {
					b.WriteRune(rune(v))
					i += width
					continue
				}
			}
			// Python raises here; keeping the text is the closest
			// harmless behaviour.
			b.WriteByte('\\')
			b.WriteByte(n)
		default:
			b.WriteByte('\\')
			b.WriteByte(n)
		}
	}
	return b.String()
}

func parseHex(s string) (int, bool) {
	v := 0
	for _, c := range []byte(s) {
		switch {
		case c >= '0' && c <= '9':
			v = v*16 + int(c-'0')
		case c >= 'a' && c <= 'f':
			v = v*16 + int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v*16 + int(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}
