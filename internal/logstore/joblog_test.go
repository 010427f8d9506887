package logstore

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/value"
)

// TestJoblogRecords appends what Basalt's own log writer (the worker's
// dispatcher) produces, awkward messages included, and checks that every
// record is stored as written but for lvl event, and that the stored log
// parses as one record per line.
func TestJoblogRecords(t *testing.T) {
	t.Parallel()
	var lines []string
	lg := joblog.New(nil, joblog.Options{Records: func(r joblog.Record) {
		lines = append(lines, strings.TrimSuffix(string(r.Line), "\n"))
	}})
	messages := []string{
		"plain", `quotes " and ' and \ backslash`, "key: value, {brace} [bracket] # hash",
		"a\nnewline and a \r carriage return", "tab\tand \x00 NUL \x1b[0m escape",
		"unicode ✓ é \u2028 line separator", "- {\"dt\": \"fake\"}", "", "   ",
	}
	levels := []joblog.Level{joblog.Debug, joblog.Info, joblog.Warning, joblog.Error, joblog.Exception,
		joblog.Input, joblog.Target, joblog.Feedback, joblog.Event}
	for _, lvl := range levels {
		for _, m := range messages {
			lg.Log(lvl, m)
		}
	}
	lg.Log(joblog.Results, value.MapOf("definition", "lava", "case", "job", "result", "fail",
		"extra", value.MapOf("error_msg", "boot: \"login\" not found: {x}", "list", []any{"a", 1, true, nil})))
	lg.Log(joblog.Event, value.MapOf("message", "an event map"))
	if len(lines) == 0 {
		t.Fatal("joblog produced no records")
	}

	l := open(t, t.TempDir(), Options{})
	held, err := l.Append(1, 0, lines)
	if err != nil || held != int64(len(lines)) {
		t.Fatalf("Append of joblog's %d records: %d, %v", len(lines), held, err)
	}
	got := strings.Split(strings.TrimSuffix(read(t, l, 1, 0, -1), "\n"), "\n")
	if len(got) != len(lines) {
		t.Fatalf("stored %d lines for %d records", len(got), len(lines))
	}
	for i := range lines {
		want := strings.Replace(lines[i], `"lvl": "event"`, `"lvl": "debug"`, 1)
		if got[i] != want {
			t.Errorf("record %d\nsent   %s\nstored %s", i, lines[i], got[i])
		}
	}
	var parsed []map[string]any
	if err := yaml.Unmarshal([]byte(read(t, l, 1, 0, -1)), &parsed); err != nil {
		t.Fatalf("the stored log does not parse: %v", err)
	}
	if len(parsed) != len(lines) {
		t.Fatalf("the stored log parses as %d records, %d sent", len(parsed), len(lines))
	}
	for i, r := range parsed {
		if r["lvl"] == "event" {
			t.Errorf("record %d: lvl event stored", i)
		}
		if _, ok := r["dt"].(string); !ok {
			t.Errorf("record %d: dt is %T", i, r["dt"])
		}
	}
}
