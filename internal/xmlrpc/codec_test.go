package xmlrpc

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with the file, or rewrites the file with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

// dump writes a decoded value with its Go type, so a golden file pins both.
func dump(b *strings.Builder, v any, indent string) {
	switch v := v.(type) {
	case nil:
		b.WriteString("nil")
	case []any:
		b.WriteString("[]any{\n")
		for _, x := range v {
			b.WriteString(indent + "  ")
			dump(b, x, indent+"  ")
			b.WriteString(",\n")
		}
		b.WriteString(indent + "}")
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("map[string]any{\n")
		for _, k := range keys {
			fmt.Fprintf(b, "%s  %q: ", indent, k)
			dump(b, v[k], indent+"  ")
			b.WriteString(",\n")
		}
		b.WriteString(indent + "}")
	case time.Time:
		fmt.Fprintf(b, "time.Time(%s)", v.Format(time.RFC3339Nano))
	case []byte:
		fmt.Fprintf(b, "[]byte(%q)", v)
	default:
		fmt.Fprintf(b, "%T(%#v)", v, v)
	}
}

func TestDecodeCallGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/calls/*.xml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no calls under testdata/calls: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			c, err := DecodeCall(bytes.NewReader(in), Limits{})
			if err != nil {
				t.Fatalf("DecodeCall(%s): %v", f, err)
			}
			var b strings.Builder
			fmt.Fprintf(&b, "method: %s\nparams: ", c.Method)
			dump(&b, c.Params, "")
			b.WriteString("\n")
			golden(t, strings.TrimSuffix(f, ".xml")+".golden", []byte(b.String()))
		})
	}
}

func TestMarshalResponseGolden(t *testing.T) {
	when := time.Date(2026, 1, 2, 3, 4, 5, 999, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		name string
		v    any
	}{
		{"nil", nil},
		{"ints", []any{0, -1, int32(math.MaxInt32), int64(math.MinInt32), int64(math.MaxInt32) + 1, int64(math.MinInt64)}},
		{"doubles", []any{1.5, 2.0, -0.25, 1e300, math.Inf(1), math.Inf(-1), float32(0.5)}},
		{"strings", []string{"", "plain", "a & b <c> \"d\" 'e'", "line\r\nnext\ttab", "café ☕ 𝄞"}},
		{"bool-bytes-time", []any{true, false, []byte("- {dt: x}\n"), when, []byte{}}},
		{"struct-ordered", Struct{{"id", 12}, {"description", "job"}, {"device", nil}, {"tags", []string{"a", "b"}}}},
		{"map-sorted", map[string]any{"z": 1, "a": map[string]string{"k": "v"}, "m": []map[string]any{{"x": false}}}},
		{"fault", &Fault{Code: 404, String: "Job '999' was not found."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MarshalResponse(tc.v)
			if err != nil {
				t.Fatalf("MarshalResponse(%#v): %v", tc.v, err)
			}
			golden(t, "testdata/responses/"+tc.name+".xml", got)
		})
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	when := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	params := []any{int64(3), int64(1) << 40, true, "x\r\ny & <z>", 0.1, when, []byte{0, 1, 255},
		map[string]any{"a": []any{nil, "b"}}, []any{}, map[string]any{}}
	body, err := MarshalCall("scheduler.jobs.submit", params...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := DecodeCall(bytes.NewReader(body), Limits{})
	if err != nil {
		t.Fatalf("DecodeCall(MarshalCall(...)): %v\n%s", err, body)
	}
	if diff := cmp.Diff(params, c.Params); c.Method != "scheduler.jobs.submit" || diff != "" {
		t.Errorf("round trip: method %q, params (-want +got):\n%s", c.Method, diff)
	}
}

func TestMarshalErrors(t *testing.T) {
	loop := []any{nil}
	loop[0] = loop
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"control char", "a\x00b", "U+0000 at byte 1"},
		{"invalid utf8", "a\xffb", "invalid UTF-8 at byte 1"},
		{"unknown type", struct{}{}, "cannot encode a struct {}"},
		{"uint64", uint64(1), "cannot encode a uint64"},
		{"nested fault", []any{&Fault{}}, "only be a whole reply"},
		{"self loop", loop, "deeper than 1000"},
		{"bad member", Struct{{"k\x01", 1}}, "struct member name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := MarshalResponse(tc.v)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("MarshalResponse(%s) = %v, want an error containing %q", tc.name, err, tc.want)
			}
		})
	}
	// A fault string XML cannot carry is repaired, never refused.
	if got := MarshalFault(&Fault{Code: 1, String: "bad\x00"}); !bytes.Contains(got, []byte("bad\uFFFD")) {
		t.Errorf("MarshalFault with NUL: %s", got)
	}
}

func call(body string) string {
	return "<methodCall><methodName>m</methodName><params><param><value>" + body + "</value></param></params></methodCall>"
}

func TestDecodeCallErrors(t *testing.T) {
	deep := strings.Repeat("<value><array><data>", 65) + strings.Repeat("</data></array></value>", 65)
	for _, tc := range []struct {
		name  string
		in    string
		lim   Limits
		want  string
		limit bool
	}{
		{"empty", "", Limits{}, "unexpected EOF", false},
		{"not xml", "hello", Limits{}, "unexpected text", false},
		{"wrong root", "<methodResponse/>", Limits{}, "expected <methodCall>, found <methodResponse>", false},
		{"no name", "<methodCall><params/></methodCall>", Limits{}, "expected <methodName>", false},
		{"empty name", "<methodCall><methodName></methodName></methodCall>", Limits{}, "empty <methodName>", false},
		{"bad name", "<methodCall><methodName>a b</methodName></methodCall>", Limits{}, `holds ' '`, false},
		{"long name", "<methodCall><methodName>" + strings.Repeat("a", 300) + "</methodName></methodCall>", Limits{}, "longer than 256", true},
		{"doctype", `<!DOCTYPE x [<!ENTITY e "x">]><methodCall/>`, Limits{}, "directives", false},
		{"entity", call("<string>&e;</string>"), Limits{}, "invalid character entity", false},
		{"pi later", "<methodCall><?php x?></methodCall>", Limits{}, "processing instruction", false},
		{"namespace", `<methodCall xmlns="urn:x"></methodCall>`, Limits{}, "namespaced", false},
		{"bad int", call("<int>12a</int>"), Limits{}, `bad <int> "12a"`, false},
		{"huge int", call("<i8>99999999999999999999</i8>"), Limits{}, "out of the 64-bit range", false},
		{"bad bool", call("<boolean>true</boolean>"), Limits{}, "want 0 or 1", false},
		{"bad double", call("<double>x</double>"), Limits{}, "bad <double>", false},
		{"bad time", call("<dateTime.iso8601>yesterday</dateTime.iso8601>"), Limits{}, "bad dateTime.iso8601", false},
		{"bad base64", call("<base64>!!</base64>"), Limits{}, "bad <base64>", false},
		{"unknown type", call("<ex:nil/>"), Limits{}, "namespaced", false},
		{"unknown type 2", call("<float>1</float>"), Limits{}, "unknown value type <float>", false},
		{"nil with text", call("<nil>x</nil>"), Limits{}, `unexpected text "x"`, false},
		{"dup member", call("<struct><member><name>a</name><value>1</value></member><member><name>a</name><value>2</value></member></struct>"), Limits{}, `"a" given twice`, false},
		{"member no value", call("<struct><member><name>a</name></member></struct>"), Limits{}, `member "a": expected <value>`, false},
		{"array no data", call("<array><value/></array>"), Limits{}, "expected <data>", false},
		{"two types", call("<int>1</int><int>2</int>"), Limits{}, "expected </value>", false},
		{"child in string", call("<string><b/></string>"), Limits{}, "unexpected <b> inside <string>", false},
		{"text before type", call("x<int>1</int>"), Limits{}, "text \"x\" before <int>", false},
		{"trailing", "<methodCall><methodName>m</methodName></methodCall><x/>", Limits{}, "<x> after </methodCall>", false},
		{"unclosed", "<methodCall><methodName>m</methodName>", Limits{}, "unexpected EOF", false},
		{"mismatched", "<methodCall><methodName>m</methodCall>", Limits{}, "element <methodName> closed by </methodCall>", false},
		{"depth", "<methodCall><methodName>m</methodName><params><param>" + deep + "</param></params></methodCall>", Limits{}, "deeper than MaxDepth (64)", true},
		{"depth small", call("<struct><member><name>a</name><value><array><data/></array></value></member></struct>"), Limits{MaxDepth: 1}, "MaxDepth (1)", true},
		{"body", call("<string>" + strings.Repeat("x", 100) + "</string>"), Limits{MaxBodyBytes: 64}, "larger than MaxBodyBytes (64 bytes)", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := DecodeCall(strings.NewReader(tc.in), tc.lim)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DecodeCall(%.80q) = %+v, %v; want an error containing %q", tc.in, c, err, tc.want)
			}
			if errors.Is(err, ErrLimit) != tc.limit {
				t.Errorf("errors.Is(%v, ErrLimit) = %v, want %v", err, !tc.limit, tc.limit)
			}
		})
	}
}

func TestDecodeTimes(t *testing.T) {
	want := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, s := range []string{"20260102T03:04:05", "2026-01-02T03:04:05", "2026-01-02T04:04:05+01:00", "20260102T03:04:05Z", "20260102T030405"} {
		c, err := DecodeCall(strings.NewReader(call("<dateTime.iso8601>"+s+"</dateTime.iso8601>")), Limits{})
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if got := c.Params[0].(time.Time); !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%s decoded as %v, want %v", s, got, want)
		}
	}
}

func FuzzDecodeCall(f *testing.F) {
	files, _ := filepath.Glob("testdata/calls/*.xml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(call("<struct><member><name>a</name><value><array><data><value><nil/></value></data></array></value></member></struct>")))
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := DecodeCall(bytes.NewReader(in), Limits{MaxDepth: 8, MaxBodyBytes: 1 << 16})
		if err != nil {
			return
		}
		// Whatever decodes must encode again and decode to the same values
		// (strings that XML cannot carry aside).
		body, err := MarshalCall(c.Method, c.Params...)
		if err != nil {
			return
		}
		c2, err := DecodeCall(bytes.NewReader(body), Limits{MaxDepth: 8, MaxBodyBytes: 1 << 20})
		if err != nil {
			t.Fatalf("re-decoding %q: %v", body, err)
		}
		if diff := cmp.Diff(c.Params, c2.Params, cmp.Comparer(func(a, b float64) bool {
			return a == b || math.IsNaN(a) && math.IsNaN(b)
		})); diff != "" {
			t.Fatalf("round trip of %q (-first +second):\n%s", in, diff)
		}
	})
}

// TestDecodeResponse reads back what MarshalResponse and MarshalFault write.
func TestDecodeResponse(t *testing.T) {
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b, err := MarshalResponse(Struct{{"id", 12}, {"t", when}, {"n", nil}, {"l", []any{"a", []byte("b")}}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := DecodeResponse(bytes.NewReader(b), Limits{})
	want := map[string]any{"id": int64(12), "t": when, "n": nil, "l": []any{"a", []byte("b")}}
	if err != nil || !reflect.DeepEqual(v, want) {
		t.Errorf("DecodeResponse = %#v, %v; want %#v", v, err, want)
	}
	_, err = DecodeResponse(bytes.NewReader(MarshalFault(&Fault{Code: 404, String: "Job '9' was not found."})), Limits{})
	var f *Fault
	if !errors.As(err, &f) || f.Code != 404 || f.String != "Job '9' was not found." {
		t.Errorf("DecodeResponse(fault) = %v", err)
	}
	for _, bad := range []string{"<methodResponse></methodResponse>", "<methodResponse><fault><value><int>1</int></value></fault></methodResponse>", "<methodCall/>"} {
		if v, err := DecodeResponse(strings.NewReader(bad), Limits{}); err == nil || errors.As(err, &f) && f.Code == 404 {
			t.Errorf("DecodeResponse(%q) = %v, %v; want a decoding error", bad, v, err)
		}
	}
}
