package joblog

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/value"
)

func fixed() time.Time { return time.Date(2026, 11, 21, 23, 5, 7, 123456789, time.UTC) }

func TestLine(t *testing.T) {
	var b bytes.Buffer
	var got []*value.Map
	l := New(&b, Options{Now: fixed, OnResult: func(m *value.Map) { got = append(got, m) }})
	l.Infof("start: 1 deployimages (timeout %s) [common]", "00:02:00")
	l.Target("caf\u00e9 \"quoted\" back\\slash\ttab \x1b[6n")
	l.Result(value.MapOf("definition", "lava", "case", "job", "result", "pass", "size", 12, "m", 42.5, "ok", true, "none", nil))
	l.Flush()
	want := `- {"dt": "2026-11-21T23:05:07.123456+00:00", "lvl": "info", "msg": "start: 1 deployimages (timeout 00:02:00) [common]"}
- {"dt": "2026-11-21T23:05:07.123456+00:00", "lvl": "target", "msg": "caf\xE9 \"quoted\" back\\slash\ttab \e[6n"}
- {"dt": "2026-11-21T23:05:07.123456+00:00", "lvl": "results", "msg": {"definition": "lava", "case": "job", "result": "pass", "size": !!int "12", "m": !!float "42.5", "ok": !!bool "true", "none": !!null "null"}}
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	if len(got) != 1 || got[0].String("case") != "job" {
		t.Fatalf("OnResult got %v", got)
	}
	// Every line reads back as YAML with the original text.
	v, err := value.DecodeYAML(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if msg := v.([]any)[1].(*value.Map).String("msg"); msg != "caf\u00e9 \"quoted\" back\\slash\ttab \x1b[6n" {
		t.Fatalf("read back %q", msg)
	}
}

// appendStamp must agree with time.Format wherever the digits roll over.
func TestStamp(t *testing.T) {
	for _, tm := range []time.Time{
		fixed(),
		time.Date(1999, 1, 2, 3, 4, 5, 6000, time.UTC),
		time.Date(2030, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC),
	} {
		got := string(appendStamp(nil, tm))
		if want := tm.Format("2006-01-02T15:04:05.000000"); got != want {
			t.Errorf("appendStamp = %s, want %s", got, want)
		}
	}
}

func TestMaskAndLongLines(t *testing.T) {
	var b bytes.Buffer
	l := New(&b, Options{Now: fixed})
	l.Mask("hunter2")
	l.Mask("x") // too short to mask without garbling the log
	l.Infof("password is hunter2, x marks the spot")
	l.Result(value.MapOf("definition", "lava", "case", "secret", "extra", value.MapOf("token", "hunter2")))
	l.Target(strings.Repeat("y", MaxLine))
	l.Flush()
	out := b.String()
	if strings.Contains(out, "hunter2") || strings.Count(out, Masked) != 2 {
		t.Fatalf("secret not masked:\n%s", out)
	}
	if !strings.Contains(out, "x marks") {
		t.Fatalf("short string masked:\n%s", out)
	}
	if !strings.Contains(out, "<line way too long ...>") {
		t.Fatal("long line kept")
	}
}

func BenchmarkTarget(b *testing.B) {
	var buf bytes.Buffer
	l := New(&buf, Options{})
	line := "some line of log text 1234567890"
	b.SetBytes(int64(len(line)) + 1)
	for b.Loop() {
		l.Target(line)
		if buf.Len() > 1<<20 {
			buf.Reset()
		}
	}
}

// Records get exactly the lines the YAML log gets, masked, numbered in
// order, one call each, with their level.
func TestRecords(t *testing.T) {
	var b, streamed bytes.Buffer
	var levels []Level
	var indexes []int
	l := New(&b, Options{Now: fixed, Records: func(r Record) {
		if bytes.Count(r.Line, []byte("\n")) != 1 || r.Line[len(r.Line)-1] != '\n' {
			t.Errorf("record %d is not one line: %q", r.Index, r.Line)
		}
		if !r.Time.Equal(fixed()) {
			t.Errorf("record %d time %v", r.Index, r.Time)
		}
		streamed.Write(r.Line)
		levels = append(levels, r.Level)
		indexes = append(indexes, r.Index)
	}})
	l.Mask("hunter2")
	l.Infof("password hunter2")
	l.Target("login:")
	l.Result(value.MapOf("case", "job", "result", "pass"))
	l.Flush()
	if streamed.String() != b.String() {
		t.Fatalf("records:\n%s\nYAML log:\n%s", streamed.String(), b.String())
	}
	if strings.Contains(streamed.String(), "hunter2") {
		t.Errorf("secret not masked: %s", streamed.String())
	}
	if want := []Level{Info, Target, Results}; !slices.Equal(levels, want) {
		t.Errorf("levels %v, want %v", levels, want)
	}
	if want := []int{0, 1, 2}; !slices.Equal(indexes, want) {
		t.Errorf("indexes %v, want %v", indexes, want)
	}

	// Without a YAML writer the records still come.
	n := 0
	l = New(nil, Options{Records: func(Record) { n++ }})
	l.Infof("one")
	l.Warnf("two")
	if n != 2 {
		t.Errorf("%d records without a YAML writer, want 2", n)
	}
}
