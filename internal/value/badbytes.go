package value

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// yaml.v3 reports bytes it cannot read (not UTF-8, or a character YAML
// does not allow) without a position; these are the starts of its
// messages.
var badByteMsgs = []string{"control characters are not allowed", "invalid leading UTF-8 octet",
	"invalid trailing UTF-8 octet", "incomplete UTF-8 octet sequence", "invalid length of a UTF-8 sequence",
	"invalid Unicode character"}

// placeBadByte gives a syntax error about an unreadable byte the line
// and column of the first such byte in data, and says which byte it is.
func placeBadByte(data []byte, e *SyntaxError) {
	known := false
	for _, m := range badByteMsgs {
		known = known || strings.HasPrefix(e.Msg, m)
	}
	if !known || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) || bytes.HasPrefix(data, []byte{0xFF, 0xFE}) {
		return // another error, or UTF-16, whose bytes this scan does not read
	}
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			e.Pos, e.Msg = Pos{line, col}, fmt.Sprintf("byte 0x%02X is not UTF-8", data[i])
			return
		case !yamlPrintable(r):
			e.Pos, e.Msg = Pos{line, col}, fmt.Sprintf("character %U is not allowed in YAML", r)
			return
		case r == '\n':
			line, col = line+1, 1
		default:
			col++
		}
		i += n
	}
}

// yamlPrintable is YAML's set of characters a document may hold.
func yamlPrintable(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r' || r == 0x85:
		return true
	case r >= 0x20 && r <= 0x7E, r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}
