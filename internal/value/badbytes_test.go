package value

import (
	"errors"
	"testing"
)

// Bytes YAML cannot read are reported where they are, not at 1:1.
func TestParseYAMLBadBytePositions(t *testing.T) {
	for _, tc := range []struct {
		doc string
		pos Pos
		msg string
	}{
		{"a: 1\nb: \"x\x00y\"\n", Pos{2, 6}, "character U+0000 is not allowed in YAML"},
		{"a: 1\n\n  # é \xff\n", Pos{3, 7}, "byte 0xFF is not UTF-8"},
		{"a: [x, \x01]\n", Pos{1, 8}, "character U+0001 is not allowed in YAML"},
		{"a: ✓✓\xe2\x9c\n", Pos{1, 6}, "byte 0xE2 is not UTF-8"},
		{"a: b\x7f\n", Pos{1, 5}, "character U+007F is not allowed in YAML"},
		{"a: \"\ufffe\"\n", Pos{1, 5}, "character U+FFFE is not allowed in YAML"},
	} {
		_, err := ParseYAML([]byte(tc.doc))
		var se *SyntaxError
		if !errors.As(err, &se) || se.Pos != tc.pos || se.Msg != tc.msg {
			t.Errorf("ParseYAML(%q) = %v, want %s: %s", tc.doc, err, tc.pos, tc.msg)
		}
	}
}
