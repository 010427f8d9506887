package value

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolvePlain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want any
	}{
		{"", nil}, {"~", nil}, {"null", nil}, {"None", "None"},
		{"yes", true}, {"Off", false}, {"True", true},
		{"10", 10}, {"-3", -3}, {"0x1f", 31}, {"017", 15}, {"1:30", 90}, {"1_000", 1000},
		{"1.5", 1.5}, {"1e3", "1e3"}, {"1.0e+3", 1000.0},
		{"0.0.0.0", "0.0.0.0"}, {"52:54:00:12:34:59", 41135085299} /* PyYAML reads MACs as base-60 ints */, {"ttyS0,115200", "ttyS0,115200"},
	}
	for _, tt := range tests {
		if got := ResolvePlain(tt.in); !Equal(got, tt.want) {
			t.Errorf("ResolvePlain(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestParseYAMLKeepsOrderPositionsAndDuplicates(t *testing.T) {
	t.Parallel()
	src := "b: 1\na:\n  - x\n  -\n  - 'yes'\nb: 2\n"
	d, err := ParseYAML([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got := d.Root.Value().(*Map)
	if diff := cmp.Diff([]string{"b", "a"}, got.Keys()); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if !Equal(got.Value("a"), []any{"x", nil, "yes"}) || got.Value("b") != 2 {
		t.Errorf("values = %s", GoString(got))
	}
	if want := []Duplicate{{Key: "b", First: Pos{1, 1}, Then: Pos{6, 1}}}; !cmp.Equal(d.Duplicates, want) {
		t.Errorf("duplicates = %v, want %v", d.Duplicates, want)
	}
	if p := d.Root.Get("a").Items[2].Pos; p != (Pos{5, 5}) {
		t.Errorf("position of 'yes' = %v, want 5:5", p)
	}
}

func TestParseYAMLEmptyEntryBeforeSiblingKey(t *testing.T) {
	t.Parallel()
	// As base.jinja2 renders docker options: the empty entries must stay empty.
	v, err := DecodeYAML([]byte("a:\n  g:\n  - \n  o:\n  - \n"))
	if err != nil {
		t.Fatal(err)
	}
	want := MapOf("a", MapOf("g", []any{nil}, "o", []any{nil}))
	if !Equal(v, want) {
		t.Errorf("got %s, want %s", GoString(v), GoString(want))
	}
}

func TestParseYAMLErrors(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"a: [1,\n", "a: b: c\n", "---\na: 1\n---\nb: 2\n", "*x\n"} {
		if _, err := ParseYAML([]byte(src)); err == nil {
			t.Errorf("ParseYAML(%q) succeeded, want an error", src)
		}
	}
}

func TestEncodeYAMLRoundTrip(t *testing.T) {
	t.Parallel()
	in := MapOf("level", "1", "n", 3, "s", "yes", "l", []any{"a", MapOf("x", nil)}, "f", 1.5)
	b, err := EncodeYAML(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeYAML(b)
	if err != nil {
		t.Fatal(err)
	}
	if !Equal(in, out) {
		t.Errorf("round trip: got %s from\n%s", GoString(out), b)
	}
}
