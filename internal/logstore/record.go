package logstore

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Levels are the values of `lvl` that LAVA's clients know (lavacli's
// colour table: any other level crashes `lavacli jobs logs`), plus
// "event", which LAVA's server rewrites to "debug" at ingestion and so
// do we.
var levels = map[string]bool{
	"debug": true, "info": true, "warning": true, "error": true, "exception": true,
	"input": true, "target": true, "feedback": true, "results": true,
}

// normalise checks that line is one LAVA log record and returns it as it
// must be stored. A record is a one-line YAML flow mapping in a list,
// `- {dt: ..., lvl: ..., msg: ...}`, with the keys dt, lvl and msg once
// each at the top level and lvl one of the levels lavacli knows. Two
// things are rewritten, and only they, so that a record that needs
// neither is stored byte for byte:
//
//   - `lvl: event` becomes `lvl: debug`, in the same quoting: LAVA's
//     server does this at ingestion, and lavacli crashes on "event";
//   - an unquoted dt is double-quoted: YAML would read a plain ISO time as
//     a datetime, and lavacli does dt.split(".") on it.
//
// The check is a parser of a strict subset of YAML's flow style, one pass
// with no allocation unless the record is rewritten (or a mapping has
// more than 16 keys): scalars double-quoted (with YAML's escapes only),
// single-quoted or plain (as YAML's flow context allows them), nested
// flow mappings and sequences up to maxDepth, the tags !!str and !!binary
// (on a quoted scalar of base64), and keys that are strings (quoted
// without escapes, or plain identifiers that YAML does not read as a
// boolean or null: letters, digits, "_-./" and inner spaces) and unique
// in their mapping. Anchors, aliases,
// comments, explicit keys, empty values and pairs inside sequences are
// refused. What it accepts parses as one record with YAML's parsers (Go's
// yaml.v3 is the fuzz oracle), so that one record cannot make a range of
// the log unreadable and a line count is a record count, which lavacli's
// paging relies on.
func normalise(line string) (string, error) {
	if err := printable(line); err != nil {
		return "", err
	}
	if !strings.HasPrefix(line, "- {") {
		return "", fmt.Errorf("does not start with %q: not a LAVA log record", "- {")
	}
	end := len(strings.TrimRight(line, " \t"))
	p := parser{s: line[:end], top: true}
	next, err := p.mapping(2, 0)
	if err != nil {
		return "", err
	}
	if next != end {
		return "", fmt.Errorf("byte %d: %q after the record's mapping", next, line[next:min(end, next+10)])
	}
	for i, name := range []string{"dt", "lvl", "msg"} {
		if !p.seen[i] {
			return "", fmt.Errorf("has no %s: a LAVA log record has dt, lvl and msg", name)
		}
	}
	dt, lvl := p.dt, p.lvl
	level := lvl.text(line)
	if lvl.kind == '{' || lvl.kind == '!' || (level != "event" && !levels[level]) {
		return "", fmt.Errorf("lvl %q is not a LAVA log level", line[lvl.start:lvl.end])
	}
	if dt.kind == '{' || dt.kind == '!' {
		return "", fmt.Errorf("dt %q is not a time stamp", line[dt.start:dt.end])
	}
	if level != "event" && dt.kind != 0 {
		return line, nil
	}
	// Rewrite, the later span first so that the earlier offsets hold.
	type edit struct {
		start, end int
		text       string
	}
	var edits []edit
	if level == "event" {
		edits = append(edits, edit{lvl.start, lvl.end, quoteLike(lvl.kind, "debug")})
	}
	if dt.kind == 0 {
		edits = append(edits, edit{dt.start, dt.end, `"` + escapeDouble(dt.text(line)) + `"`})
	}
	if len(edits) == 2 && edits[0].start < edits[1].start {
		edits[0], edits[1] = edits[1], edits[0]
	}
	out := line
	for _, e := range edits {
		out = out[:e.start] + e.text + out[e.end:]
	}
	return out, nil
}

// maxDepth bounds the nesting of flow collections in a record.
const maxDepth = 32

// parser reads one record; offsets are bytes of the line.
type parser struct {
	s       string
	top     bool // the next mapping is the record's
	dt, lvl span
	seen    [3]bool // dt, lvl, msg
}

func (p *parser) errorf(i int, format string, args ...any) error {
	return fmt.Errorf("byte %d: "+format, append([]any{i}, args...)...)
}

// ws skips spaces and tabs.
func (p *parser) ws(i int) int {
	for i < len(p.s) && (p.s[i] == ' ' || p.s[i] == '\t') {
		i++
	}
	return i
}

// at is the byte at i, 0 past the end.
func (p *parser) at(i int) byte {
	if i < len(p.s) {
		return p.s[i]
	}
	return 0
}

// mapping reads a flow mapping whose '{' is at i and returns the index
// after its '}'.
func (p *parser) mapping(i, depth int) (int, error) {
	if depth >= maxDepth {
		return i, p.errorf(i, "nested deeper than %d", maxDepth)
	}
	top := p.top
	p.top = false
	var few [16]string
	keys := few[:0]
	var many map[string]bool
	j := p.ws(i + 1)
	if p.at(j) == '}' {
		return j + 1, nil
	}
	for {
		k, next, err := p.key(j)
		if err != nil {
			return next, err
		}
		name := k.text(p.s)
		if many != nil {
			if many[name] {
				return k.start, p.errorf(k.start, "the key %q is there twice", name)
			}
			many[name] = true
		} else {
			for _, seen := range keys {
				if seen == name {
					return k.start, p.errorf(k.start, "the key %q is there twice", name)
				}
			}
			if len(keys) < cap(keys) {
				keys = append(keys, name)
			} else {
				many = map[string]bool{name: true}
				for _, seen := range keys {
					many[seen] = true
				}
			}
		}
		j = p.ws(next)
		if p.at(j) != ':' {
			return j, p.errorf(j, "the key %q has no ':'", name)
		}
		// "a:b" would be one plain scalar to YAML; keep ": " for all.
		if c := p.at(j + 1); c != ' ' && c != '\t' {
			return j, p.errorf(j, "the ':' after the key %q is not followed by a space", name)
		}
		j = p.ws(j + 1)
		if c := p.at(j); c == ',' || c == '}' || c == 0 {
			return j, p.errorf(j, "the key %q has no value", name)
		}
		v, next, err := p.node(j, depth+1)
		if err != nil {
			return next, err
		}
		if top {
			switch name {
			case "dt":
				p.dt, p.seen[0] = v, true
			case "lvl":
				p.lvl, p.seen[1] = v, true
			case "msg":
				p.seen[2] = true
			}
		}
		j = p.ws(next)
		switch p.at(j) {
		case '}':
			return j + 1, nil
		case ',':
			j = p.ws(j + 1)
			if p.at(j) == '}' {
				return j + 1, nil
			}
		default:
			return j, p.errorf(j, "want ',' or '}' after the value of %q", name)
		}
	}
}

// sequence reads a flow sequence whose '[' is at i.
func (p *parser) sequence(i, depth int) (int, error) {
	if depth >= maxDepth {
		return i, p.errorf(i, "nested deeper than %d", maxDepth)
	}
	j := p.ws(i + 1)
	if p.at(j) == ']' {
		return j + 1, nil
	}
	for {
		_, next, err := p.node(j, depth+1)
		if err != nil {
			return next, err
		}
		j = p.ws(next)
		switch p.at(j) {
		case ']':
			return j + 1, nil
		case ',':
			j = p.ws(j + 1)
			if p.at(j) == ']' {
				return j + 1, nil
			}
		case ':':
			return j, p.errorf(j, "a key: value pair inside a sequence (write it as {key: value})")
		default:
			return j, p.errorf(j, "want ',' or ']' in a sequence")
		}
	}
}

// node reads a value at i.
func (p *parser) node(i, depth int) (span, int, error) {
	switch p.at(i) {
	case '{':
		end, err := p.mapping(i, depth)
		return span{i, end, '{'}, end, err
	case '[':
		end, err := p.sequence(i, depth)
		return span{i, end, '{'}, end, err
	case '!':
		return p.tagged(i)
	}
	return p.scalar(i)
}

// tagged reads a tagged scalar, as PyYAML writes non-string values with
// default_style='"' (`!!int "5"`, `!!bool "true"`, `!!null "null"`,
// `!!float "1.5"`, `!!binary "aGk="`) and `!!str`. The content must be
// one the tag's type reads: YAML parsers refuse `!!int "x"`, and one such
// value makes a whole range of the log unreadable. Other tags are refused.
func (p *parser) tagged(i int) (span, int, error) {
	j := i
	for j < len(p.s) && p.s[j] != ' ' && p.s[j] != '\t' {
		j++
	}
	tag := p.s[i:j]
	switch tag {
	case "!!str", "!!binary", "!!int", "!!float", "!!bool", "!!null":
	default:
		return span{}, i, p.errorf(i, "the tag %q (only !!str, !!int, !!float, !!bool, !!null and !!binary are kept)", tag)
	}
	k := p.ws(j)
	if k == j {
		return span{}, j, p.errorf(j, "no value after the tag %s", tag)
	}
	v, next, err := p.scalar(k)
	if err != nil {
		return span{}, next, err
	}
	text := v.text(p.s)
	ok := true
	switch tag {
	case "!!binary":
		if v.kind == 0 {
			return span{}, k, p.errorf(k, "!!binary on a plain scalar (quote the base64)")
		}
		if err := base64Text(text, v.kind); err != nil {
			return span{}, k, p.errorf(k, "!!binary: %v", err)
		}
	case "!!int":
		ok = isInt(text)
	case "!!float":
		ok = isFloat(text)
	case "!!bool":
		switch text {
		case "true", "false", "True", "False", "TRUE", "FALSE":
		default:
			ok = false
		}
	case "!!null":
		switch text {
		case "", "null", "Null", "NULL", "~":
		default:
			ok = false
		}
	}
	if !ok {
		return span{}, k, p.errorf(k, "%q is not a %s value", text, tag)
	}
	return span{i, v.end, '!'}, next, nil
}

// isInt is a decimal integer of at most 18 digits (any int64).
func isInt(s string) bool {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	if s == "" || len(s) > 18 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isFloat is a float as PyYAML writes one: [-+]digits[.digits][e[-+]digits],
// or .inf, -.inf, .nan.
func isFloat(s string) bool {
	switch s {
	case ".inf", "-.inf", "+.inf", ".nan", ".Inf", "-.Inf", "+.Inf", ".NaN", ".INF", "-.INF", "+.INF", ".NAN":
		return true
	}
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	n := digits()
	if i < len(s) && s[i] == '.' {
		i++
		n += digits()
	}
	if n == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// base64Text checks the content of a quoted scalar holding base64, which
// may be split by "\n" escapes (PyYAML writes long binaries so).
func base64Text(s string, quote byte) error {
	n, pad := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '"' && c == '\\' && i+1 < len(s) && s[i+1] == 'n':
			i++
		case c == '=':
			pad++
			n++
		case pad > 0:
			return fmt.Errorf("data after the padding")
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/':
			n++
		default:
			return fmt.Errorf("%q is not base64", c)
		}
	}
	if n%4 != 0 || pad > 2 {
		return fmt.Errorf("%d base64 characters, not a multiple of 4", n)
	}
	return nil
}

// key reads a mapping key: a string YAML cannot read otherwise.
func (p *parser) key(i int) (span, int, error) {
	switch c := p.at(i); c {
	case '"', '\'':
		k, next, err := p.scalar(i)
		if err != nil {
			return k, next, err
		}
		if strings.ContainsAny(k.text(p.s), "\\'") {
			return k, i, p.errorf(i, "a key with an escape or a quote in it")
		}
		return k, next, nil
	}
	j := i
	for j < len(p.s) && identByte(p.s[j], j == i) {
		j++
	}
	if j == i {
		return span{}, i, p.errorf(i, "a key must be a quoted string or a name, not %q", p.at(i))
	}
	for j > i && p.s[j-1] == ' ' {
		j--
	}
	switch strings.ToLower(p.s[i:j]) {
	case "y", "n", "yes", "no", "on", "off", "true", "false", "null":
		return span{}, i, p.errorf(i, "the plain key %q reads as a boolean or null: quote it", p.s[i:j])
	}
	return span{i, j, 0}, j, nil
}

func identByte(c byte, first bool) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		return true
	case '0' <= c && c <= '9', c == '-', c == '.', c == '/', c == ' ':
		return !first
	}
	return false
}

// scalar reads a quoted or plain scalar at i.
func (p *parser) scalar(i int) (span, int, error) {
	s := p.s
	switch q := p.at(i); q {
	case '"':
		for j := i + 1; j < len(s); j++ {
			switch s[j] {
			case '\\':
				n, err := escape(s, j+1)
				if err != nil {
					return span{}, j, p.errorf(j, "%v", err)
				}
				j += n
			case '"':
				return span{i, j + 1, q}, j + 1, nil
			}
		}
		return span{}, i, p.errorf(i, "a double-quoted scalar is not closed")
	case '\'':
		for j := i + 1; j < len(s); j++ {
			if s[j] == '\'' {
				if j+1 < len(s) && s[j+1] == '\'' {
					j++
					continue
				}
				return span{i, j + 1, q}, j + 1, nil
			}
		}
		return span{}, i, p.errorf(i, "a single-quoted scalar is not closed")
	case 0:
		return span{}, i, p.errorf(i, "a value is missing")
	case ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '%', '@', '`', '?', ':':
		return span{}, i, p.errorf(i, "a value cannot start with %q here (anchors, aliases, comments and block scalars are not kept)", q)
	case '-':
		if c := p.at(i + 1); c == 0 || c == ' ' || c == '\t' || strings.IndexByte(",[]{}", c) >= 0 {
			return span{}, i, p.errorf(i, "%q starts a block or an explicit key, not a flow value", q)
		}
	}
	j := i
	for ; j < len(s); j++ {
		c := s[j]
		if strings.IndexByte(",[]{}", c) >= 0 {
			break
		}
		if c == ':' {
			if n := p.at(j + 1); n == 0 || n == ' ' || n == '\t' || strings.IndexByte(",[]{}", n) >= 0 {
				break
			}
		}
		if c == '#' && (s[j-1] == ' ' || s[j-1] == '\t') {
			return span{}, j, p.errorf(j, "a comment inside a record")
		}
	}
	end := j
	for end > i && (s[end-1] == ' ' || s[end-1] == '\t') {
		end--
	}
	return span{i, end, 0}, j, nil
}

// escape checks the escape after a backslash at s[i:] and returns the
// bytes it takes.
func escape(s string, i int) (int, error) {
	if i >= len(s) {
		return 0, fmt.Errorf("a backslash at the end")
	}
	hex := 0
	switch s[i] {
	case '0', 'a', 'b', 't', '\t', 'n', 'v', 'f', 'r', 'e', ' ', '"', '\\', 'N', '_', 'L', 'P':
		// Not YAML 1.2's "\/": Go's yaml.v3 refuses it.
		return 1, nil
	case 'x':
		hex = 2
	case 'u':
		hex = 4
	case 'U':
		hex = 8
	default:
		return 0, fmt.Errorf("the escape \\%c is not YAML's", s[i])
	}
	if i+1+hex > len(s) {
		return 0, fmt.Errorf("a short \\%c escape", s[i])
	}
	var r rune
	for _, c := range []byte(s[i+1 : i+1+hex]) {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, fmt.Errorf("the \\%c escape holds %q", s[i], c)
		}
		r = r<<4 | rune(d)
	}
	if r > utf8.MaxRune || (r >= 0xd800 && r <= 0xdfff) {
		return 0, fmt.Errorf("the escape \\%s is not a character", s[i:i+1+hex])
	}
	return 1 + hex, nil
}

// printable checks that s is one line of valid UTF-8 made of characters
// YAML allows: a line break would split the record, and a control
// character or invalid UTF-8 makes PyYAML (lavacli) refuse every range of
// the log that holds it.
func printable(s string) error {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\n' || c == '\r':
				return fmt.Errorf("holds a line break at byte %d: a record must be one line", i)
			case c < 0x20 && c != '\t' || c == 0x7f:
				return fmt.Errorf("holds the control character %#02x at byte %d, which YAML does not allow", c, i)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return fmt.Errorf("holds invalid UTF-8 at byte %d", i)
		case r == 0x85 || r == 0x2028 || r == 0x2029:
			return fmt.Errorf("holds the line break U+%04X at byte %d: a record must be one line", r, i)
		case r < 0xa0 || r == 0xfffe || r == 0xffff:
			return fmt.Errorf("holds the control character U+%04X at byte %d, which YAML does not allow", r, i)
		}
		i += size
	}
	return nil
}

// span is a scalar or a collection of a record: its bytes [start,end) in
// the line and its kind: the quote of a quoted scalar, 0 for a plain one,
// '{' for a collection ({...} or [...]), '!' for a tagged value.
type span struct {
	start, end int
	kind       byte
}

// text is the span's content, without its quotes, escapes left as they
// are.
func (s span) text(line string) string {
	switch s.kind {
	case '"', '\'':
		return line[s.start+1 : s.end-1]
	default:
		return line[s.start:s.end]
	}
}

func quoteLike(kind byte, s string) string {
	switch kind {
	case '"':
		return `"` + s + `"`
	case '\'':
		return "'" + s + "'"
	}
	return s
}

func escapeDouble(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}
