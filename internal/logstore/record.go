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
// each at the top level. Two things are rewritten, and only they, so a
// record that needs neither is stored byte for byte:
//
//   - `lvl: event` becomes `lvl: debug`, in the same quoting: LAVA's
//     server does this at ingestion, and lavacli crashes on "event";
//   - an unquoted dt is double-quoted: YAML would read a plain ISO time as
//     a datetime, and lavacli does dt.split(".") on it.
//
// This is a lexical check of the flow mapping's structure (quotes,
// nesting, the top-level keys), one pass with no allocation unless the
// record is rewritten; it is not a full YAML parse, so a record that
// passes can still hold, say, an invalid escape inside a quoted msg. What
// it does guarantee is the property lavacli's paging depends on: the
// record is exactly one line, and a line count is a record count.
func normalise(line string) (string, error) {
	if err := printable(line); err != nil {
		return "", err
	}
	if !strings.HasPrefix(line, "- {") {
		return "", fmt.Errorf("does not start with %q: not a LAVA log record", "- {")
	}
	end := len(strings.TrimRight(line, " \t"))
	if end < 4 || line[end-1] != '}' {
		return "", fmt.Errorf("does not end with %q: not a one-line YAML flow mapping", "}")
	}
	body := line[3 : end-1]
	var dt, lvl span
	var seen [3]bool
	pos := 0
	for {
		pos = skipSpace(body, pos)
		if pos == len(body) {
			break
		}
		key, next, err := scalar(body, pos, true)
		if err != nil {
			return "", fmt.Errorf("key at byte %d: %v", 3+pos, err)
		}
		pos = skipSpace(body, next)
		if pos == len(body) || body[pos] != ':' {
			return "", fmt.Errorf("key at byte %d has no ':'", 3+key.start)
		}
		pos = skipSpace(body, pos+1)
		val, next, err := flowValue(body, pos)
		if err != nil {
			return "", fmt.Errorf("value at byte %d: %v", 3+pos, err)
		}
		var slot *span
		switch key.text(body) {
		case "dt":
			slot = &dt
			if seen[0] {
				return "", fmt.Errorf("holds the key dt twice")
			}
			seen[0] = true
		case "lvl":
			slot = &lvl
			if seen[1] {
				return "", fmt.Errorf("holds the key lvl twice")
			}
			seen[1] = true
		case "msg":
			if seen[2] {
				return "", fmt.Errorf("holds the key msg twice")
			}
			seen[2] = true
		}
		if slot != nil {
			*slot = val
		}
		pos = skipSpace(body, next)
		if pos == len(body) {
			break
		}
		if body[pos] != ',' {
			return "", fmt.Errorf("byte %d: want ',' or '}' after a value, have %q", 3+pos, body[pos])
		}
		pos++
	}
	for i, name := range []string{"dt", "lvl", "msg"} {
		if !seen[i] {
			return "", fmt.Errorf("has no %s: a LAVA log record has dt, lvl and msg", name)
		}
	}
	level := lvl.text(body)
	if lvl.kind == '{' || lvl.kind == '!' || (level != "event" && !levels[level]) {
		return "", fmt.Errorf("lvl %q is not a LAVA log level", body[lvl.start:lvl.end])
	}
	if dt.kind == '{' || dt.kind == '!' {
		return "", fmt.Errorf("dt %q is not a time stamp", body[dt.start:dt.end])
	}
	if level != "event" && dt.kind != 0 {
		return line, nil
	}
	// Rewrite, later span first so that the earlier offsets stay valid.
	type edit struct {
		start, end int
		text       string
	}
	var edits []edit
	if level == "event" {
		edits = append(edits, edit{lvl.start, lvl.end, quoteLike(lvl.kind, "debug")})
	}
	if dt.kind == 0 {
		edits = append(edits, edit{dt.start, dt.end, `"` + escapeDouble(dt.text(body)) + `"`})
	}
	if len(edits) == 2 && edits[0].start < edits[1].start {
		edits[0], edits[1] = edits[1], edits[0]
	}
	out := line
	for _, e := range edits {
		out = out[:3+e.start] + e.text + out[3+e.end:]
	}
	return out, nil
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

// span is a scalar or a collection in the body of a record: its bytes
// [start,end) and its kind: the quote of a quoted scalar, 0 for a plain
// one, '{' for a collection ({...} or [...]), '!' for a tagged value.
type span struct {
	start, end int
	kind       byte
}

// text is the span's content, without its quotes; a quoted scalar with
// escapes is returned raw (it never equals a key or level we look for).
func (s span) text(body string) string {
	switch s.kind {
	case '"', '\'':
		return body[s.start+1 : s.end-1]
	default:
		return body[s.start:s.end]
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

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// flowValue reads the value starting at i: a scalar, a nested flow collection
// or a tagged value (`!!binary "..."`).
func flowValue(s string, i int) (span, int, error) {
	if i == len(s) {
		return span{}, i, fmt.Errorf("missing")
	}
	switch s[i] {
	case '{', '[':
		end, err := collection(s, i)
		return span{i, end, '{'}, end, err
	case '!':
		j := i
		for j < len(s) && s[j] != ' ' && s[j] != ',' && s[j] != '}' {
			j++
		}
		j = skipSpace(s, j)
		v, end, err := flowValue(s, j)
		if err != nil {
			return span{}, end, err
		}
		return span{i, v.end, '!'}, end, nil
	}
	return scalar(s, i, false)
}

// scalar reads a quoted or plain scalar starting at i. A plain key ends
// at ": " (or ':' before the end, ',' or '}'); a plain value at ',', '}'
// or ']', as in YAML's flow context.
func scalar(s string, i int, key bool) (span, int, error) {
	if i == len(s) {
		return span{}, i, fmt.Errorf("missing")
	}
	switch q := s[i]; q {
	case '"':
		for j := i + 1; j < len(s); j++ {
			switch s[j] {
			case '\\':
				j++
			case '"':
				return span{i, j + 1, q}, j + 1, nil
			}
		}
		return span{}, len(s), fmt.Errorf("unterminated double-quoted scalar")
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
		return span{}, len(s), fmt.Errorf("unterminated single-quoted scalar")
	case ',', '}', ']', ':', '#', '&', '*', '|', '>', '@', '`':
		return span{}, i, fmt.Errorf("unexpected %q", q)
	}
	j := i
	for j < len(s) {
		c := s[j]
		if c == ',' || c == '}' || c == ']' || c == '{' || c == '[' {
			break
		}
		if c == ':' && (j+1 == len(s) || s[j+1] == ' ' || s[j+1] == ',' || s[j+1] == '}') {
			if key {
				break
			}
			return span{}, j, fmt.Errorf("a plain scalar holds \": \"")
		}
		if c == '#' && j > i && (s[j-1] == ' ' || s[j-1] == '\t') {
			return span{}, j, fmt.Errorf("a comment inside a record")
		}
		j++
	}
	end := j
	for end > i && (s[end-1] == ' ' || s[end-1] == '\t') {
		end--
	}
	if end == i {
		return span{}, j, fmt.Errorf("empty")
	}
	return span{i, end, 0}, j, nil
}

// collection skips a nested flow collection starting at i (s[i] is '{'
// or '['), honouring quotes, and returns the index after its end.
func collection(s string, i int) (int, error) {
	var stack []byte
	for j := i; j < len(s); j++ {
		switch c := s[j]; c {
		case '{':
			stack = append(stack, '}')
		case '[':
			stack = append(stack, ']')
		case '}', ']':
			if len(stack) == 0 || stack[len(stack)-1] != c {
				return j, fmt.Errorf("unbalanced %q at byte %d", c, 3+j)
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return j + 1, nil
			}
		case '"', '\'':
			// A quote opens a scalar only where a scalar can start (after
			// '{', '[', ',', ':' or a space); elsewhere it is part of a
			// plain scalar, as in YAML.
			k := j - 1
			for k > i && (s[k] == ' ' || s[k] == '\t') {
				k--
			}
			if s[k] != '{' && s[k] != '[' && s[k] != ',' && s[k] != ':' {
				continue
			}
			sp, next, err := scalar(s, j, false)
			if err != nil {
				return next, err
			}
			j = sp.end - 1
		}
	}
	return len(s), fmt.Errorf("unterminated flow collection")
}
