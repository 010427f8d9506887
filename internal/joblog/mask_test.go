package joblog

import (
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/value"
)

func TestMasker(t *testing.T) {
	m := &Masker{}
	m.Add("tok3n")
	m.Add("tok3n-long") // holds the other: masked whole
	m.Add("ab")         // too short
	for _, tc := range []struct{ in, want string }{
		{"no secret", "no secret"},
		{"a tok3n and tok3n-long", "a [MASKED] and [MASKED]"},
		{"https://user:pa55@host/x", "https://user:[MASKED]@host/x"},
		{"git clone https://bob:p@ss@example.com/r.git", "git clone https://bob:[MASKED]@example.com/r.git"},
		{"see 'http://u:pw@h:8000/a?b=c' and ftp://x:y@z", "see 'http://u:[MASKED]@h:8000/a?b=c' and ftp://x:[MASKED]@z"},
		{"https://user@host/ keeps a user alone", "https://user@host/ keeps a user alone"},
		{"mail bob@host, time 12:30@noon", "mail bob@host, time 12:30@noon"},
		{"https://host/a:b@c path", "https://host/a:b@c path"},
	} {
		if got := m.String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	var none *Masker
	if got := none.String("http://u:secret@h/"); got != "http://u:"+Masked+"@h/" {
		t.Errorf("a nil Masker: %q", got)
	}
	in := value.MapOf("url", "http://u:pw@h/", "list", []any{"tok3n", 1}, "keep", "x", "tok3n", "key")
	out := m.Value(in).(*value.Map)
	if got := value.GoString(out); strings.Contains(got, "tok3n") || strings.Contains(got, ":pw@") {
		t.Errorf("Value: %s", got)
	}
	if in.String("url") != "http://u:pw@h/" {
		t.Error("Value modified its argument")
	}
	if string(m.Bytes([]byte("url: http://u:tok3n@h/"))) != "url: http://u:[MASKED]@h/" {
		t.Errorf("Bytes: %s", m.Bytes([]byte("url: http://u:tok3n@h/")))
	}
}
