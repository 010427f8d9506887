package joblog

import (
	"bytes"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/value"
)

// A results record holding bytes that results cannot carry is written
// cleaned, as results.CleanText says, followed by a warning naming it;
// the collector gets the same cleaned record, so that logs.yaml and the
// results agree. The log reads back as YAML.
func TestResultsRecordCleaned(t *testing.T) {
	var buf bytes.Buffer
	var got []*value.Map
	l := New(&buf, Options{OnResult: func(m *value.Map) { got = append(got, m) }})
	l.Result(value.MapOf("definition", "0_smoke", "case", "bad\xff\x00name", "result", "pass", "units", "\ufffe"))
	l.Result(value.MapOf("definition", "0_smoke", "case", "fine", "result", "pass"))
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	v, err := value.DecodeYAML(buf.Bytes())
	if err != nil {
		t.Fatalf("the log does not read back: %v\n%s", err, buf.String())
	}
	recs := v.([]any)
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3 (the cleaned record, a warning, the other):\n%s", len(recs), buf.String())
	}
	first := recs[0].(*value.Map).Map("msg")
	if first.String("case") != `bad\xFF\x00name` || first.String("units") != `\uFFFE` {
		t.Errorf("logged %s", value.GoString(first))
	}
	warn := recs[1].(*value.Map)
	if warn.String("lvl") != "warning" || !strings.Contains(warn.String("msg"), `0_smoke/bad\xFF\x00name`) {
		t.Errorf("second record %s, want the warning naming the case", value.GoString(warn))
	}
	if len(got) != 2 || got[0].String("case") != first.String("case") {
		t.Errorf("the collector got %v", got)
	}
}
