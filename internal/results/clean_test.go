package results

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/value"
)

func TestCleanText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain name", "plain name"},
		{"tab\tline\nreturn\r", "tab\tline\nreturn\r"},
		{"é ünïcödé ✓ 𝄞 \u0085 \u00a0 \x7f", "é ünïcödé ✓ 𝄞 \u0085 \u00a0 \x7f"},
		{"real \ufffd kept", "real \ufffd kept"},
		{"bad\xffbyte", `bad\xFFbyte`},
		{"nul\x00here", `nul\x00here`},
		{"bell\x07 esc\x1b", `bell\x07 esc\x1B`},
		{"\ufffe\uffff", `\uFFFE\uFFFF`},
		{"cut \xe2\x9c", `cut \xE2\x9C`},
		{"surrogate \xed\xa0\x80", `surrogate \xED\xA0\x80`},
		{`back\slash`, `back\slash`},
	} {
		got, changed := CleanText(tc.in)
		if got != tc.want || changed != (tc.in != tc.want) {
			t.Errorf("CleanText(%q) = %q, %v; want %q", tc.in, got, changed, tc.want)
		}
	}
}

// badRecords are results records whose every text field holds what a
// guest may print: bytes that are not UTF-8, NUL and other controls,
// noncharacters.
func badRecords() []*value.Map {
	bad := "x\xff\x00\x01\ufffe\x1b[31m\xc3"
	return []*value.Map{
		value.MapOf("definition", "0_"+bad, "case", "case-"+bad, "result", "pass", "measurement", 1.5, "units", "u"+bad,
			"set", "set"+bad, "level", bad, "duration", bad, "key"+bad, "extra"+bad, "nested", value.MapOf(bad, []any{bad, 3})),
		value.MapOf("definition", "lava", "case", "job", "result", "fail", "error_msg", "msg"+bad, "error_type", "Test"+bad),
		value.MapOf("definition", "0_smoke", "case", "ref", "result", "fail"+bad, "reference", "http://"+bad),
	}
}

// Results keep whatever a guest printed: both writers succeed, results.yaml
// reads back as YAML with the escaped texts, results.xml is well-formed.
func TestWritersCarryAnyBytes(t *testing.T) {
	var c Collector
	for _, r := range badRecords() {
		c.Add(r)
	}
	cases := c.Cases()
	if len(cases) != 3 {
		t.Fatalf("%d cases, want 3", len(cases))
	}
	if want := `case-x\xFF\x00\x01\uFFFE\x1B[31m\xC3`; cases[0].Name != want {
		t.Errorf("case name %q, want %q", cases[0].Name, want)
	}
	y, err := YAML(cases)
	if err != nil {
		t.Fatalf("YAML: %v", err)
	}
	v, err := value.DecodeYAML(y)
	if err != nil {
		t.Fatalf("results.yaml does not read back: %v\n%s", err, y)
	}
	got := v.([]any)[0].(*value.Map).List("cases")[0].(*value.Map)
	if got.String("name") != cases[0].Name || got.String("unit") != cases[0].Units {
		t.Errorf("results.yaml holds %s", value.GoString(got))
	}
	var x bytes.Buffer
	if err := WriteJUnit(&x, "job\xff", cases); err != nil {
		t.Fatalf("WriteJUnit: %v", err)
	}
	checkXML(t, x.Bytes())
	if !strings.Contains(x.String(), `name="case-x\xFF\x00\x01\uFFFE`) {
		t.Errorf("results.xml does not hold the escaped name:\n%s", x.String())
	}
}

// checkXML fails unless b is well-formed XML whose every character is
// one XML 1.0 allows.
func checkXML(t testing.TB, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("results.xml is not well-formed: %v\n%s", err, b)
		}
	}
}

// FuzzWriters: any bytes as any field of a result give results.yaml that
// reads back (with the cleaned texts) and well-formed results.xml.
func FuzzWriters(f *testing.F) {
	f.Add("case", "pass", "ms", "msg")
	f.Add("a\xffb", "\x00", "\ufffe", "\x1b[0m\xc3")
	f.Add("- [x]: {y}", "'\"", "\\x00", "&<>]]>")
	f.Fuzz(func(t *testing.T, name, result, units, extra string) {
		var c Collector
		c.Add(value.MapOf("definition", "0_"+name, "case", name+"x", "result", result, "measurement", 1.0, "units", units,
			"set", extra, extra+"k", name, "error_msg", extra))
		cases := c.Cases()
		y, err := YAML(cases)
		if err != nil {
			t.Fatalf("YAML: %v", err)
		}
		v, err := value.DecodeYAML(y)
		if err != nil {
			t.Fatalf("results.yaml does not read back: %v\n%s", err, y)
		}
		got := v.([]any)[0].(*value.Map).List("cases")[0].(*value.Map)
		if got.String("name") != cases[0].Name || got.String("suite") != cases[0].Suite {
			t.Errorf("results.yaml holds %s, want name %q", value.GoString(got), cases[0].Name)
		}
		var x bytes.Buffer
		if err := WriteJUnit(&x, name, cases); err != nil {
			t.Fatalf("WriteJUnit: %v", err)
		}
		checkXML(t, x.Bytes())
	})
}
