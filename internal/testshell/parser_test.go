package testshell_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/testshell"
	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// clock is a fake time that moves a quarter of a second at every look,
// so that durations in the golden files do not depend on the machine.
type clock struct{ t time.Time }

func (c *clock) now() time.Time {
	c.t = c.t.Add(250 * time.Millisecond)
	return c.t
}

func definitions(t *testing.T) func(string) (*testshell.Definition, error) {
	t.Helper()
	data, err := os.ReadFile("testdata/definitions.yaml")
	if err != nil {
		t.Fatal(err)
	}
	v, err := value.DecodeYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	all := v.(*value.Map)
	return func(name string) (*testshell.Definition, error) {
		m := all.Map(name)
		if m == nil {
			return nil, nil
		}
		return testshell.DefinitionFromData(name, m)
	}
}

// TestTranscripts feeds console transcripts of real lava-test-runner runs
// through a console session and the parser, and compares what the parser
// logged (results included) in LAVA's log format with the golden files.
func TestTranscripts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		class pipeline.Class // how Follow ends; "" for the runner's exit
		msg   string
		errs  []string // the parser's errors once the runner exited
	}{
		{name: "smoke"},
		{name: "bad"},
		{name: "expected"},
		{name: "install-fail", errs: []string{"Unable to start test stage 0"}},
		{name: "raise", class: pipeline.ClassTest, msg: "device on fire"},
		{name: "killed", class: pipeline.ClassInfrastructure, msg: "console closed"},
		{name: "kmsg"},
	}
	defs := definitions(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := os.Open(filepath.Join("testdata", tt.name+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			s := connection.New(f, discardWriter{}, connection.Options{})
			defer s.Close()

			c := &clock{t: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
			var log bytes.Buffer
			var results []*value.Map
			logger := joblog.New(&log, joblog.Options{Now: c.now})
			p := testshell.New(testshell.Config{
				Namespace:  "common",
				Definition: defs,
				Result: func(m *value.Map) {
					results = append(results, m)
					logger.Result(m)
				},
				Log: logger,
				Now: c.now,
			})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err = p.Follow(ctx, s)
			p.Finish()
			if got := pipeline.ClassOf(err); got != tt.class {
				t.Fatalf("Follow() = %v (class %q), want class %q", err, got, tt.class)
			}
			if err != nil && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Follow() = %q, want it to say %q", err, tt.msg)
			}
			if diff := cmp.Diff(tt.errs, p.Errors()); diff != "" {
				t.Errorf("Errors() (-want +got):\n%s", diff)
			}
			for _, r := range results {
				for _, k := range []string{"definition", "case", "result"} {
					if _, ok := r.Value(k).(string); !ok {
						t.Errorf("result %s has no string %s", value.GoString(r), k)
					}
				}
			}
			if err := logger.Flush(); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&log, "# Follow: %v\n", err)
			golden(t, filepath.Join("testdata", tt.name+".golden"), log.Bytes())
		})
	}
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }

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
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// TestSignals drives the parser signal by signal, for what the helper
// scripts cannot print and for the errors that end the test shell.
func TestSignals(t *testing.T) {
	t.Parallel()
	type sig struct{ name, params string }
	start := sig{"STARTRUN", "0_t 42_1.1"}
	tests := []struct {
		name    string
		signals []sig
		want    []string // "case=result[ set=S]" of each result, the ENDRUN one included
		class   pipeline.Class
		msg     string
	}{
		{"testcase before startrun", []sig{{"TESTCASE", "TEST_CASE_ID=a RESULT=pass"}}, nil,
			pipeline.ClassTest, "Invalid TESTCASE signal"},
		{"testcase after endrun keeps the last run's name", []sig{start, {"ENDRUN", "0_t 42_1.1"},
			{"TESTCASE", "TEST_CASE_ID=late RESULT=pass"}},
			[]string{"0_t=pass", "late=pass"}, "", ""},
		{"startrun without uuid", []sig{{"STARTRUN", "0_t"}}, nil, pipeline.ClassTest, "Invalid STARTRUN"},
		{"endrun without startrun", []sig{{"ENDRUN", "0_t 42_1.1"}}, []string{"0_t=pass"}, "", ""},
		{"testraise", []sig{start, {"TESTRAISE", "disk   full"}}, nil, pipeline.ClassTest, "disk full"},
		{"testset without name", []sig{start, {"TESTSET", "START"}}, nil, pipeline.ClassJob, "without a name"},
		{"testset stop then case", []sig{start, {"TESTSET", "START s1"}, {"TESTCASE", "TEST_CASE_ID=a RESULT=pass"},
			{"TESTSET", "STOP"}, {"TESTCASE", "TEST_CASE_ID=b RESULT=fail"}},
			[]string{"a=pass set=s1", "b=fail"}, "", ""},
		{"reference with too few fields", []sig{start, {"TESTREFERENCE", "a pass"}}, nil,
			pipeline.ClassTest, "Invalid use of TESTREFERENCE"},
		{"reference in a set", []sig{start, {"TESTSET", "START s"}, {"TESTREFERENCE", "a pass http://x"}},
			[]string{"a=pass set=s"}, "", ""},
		{"reference with a bad result", []sig{start, {"TESTREFERENCE", "a maybe http://x"}}, nil, "", ""},
		{"lower-case keys", []sig{start, {"TESTCASE", "test_case_id=a result=skip"}}, []string{"a=skip"}, "", ""},
		{"units without measurement are dropped", []sig{start, {"TESTCASE", "TEST_CASE_ID=a RESULT=pass UNITS=ms"}},
			[]string{"a=pass"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			p := testshell.New(testshell.Config{Namespace: "common", Result: func(m *value.Map) {
				s := m.String("case") + "=" + m.String("result")
				if m.Has("set") {
					s += " set=" + m.String("set")
				}
				if m.Has("units") && !m.Has("measurement") {
					t.Errorf("result %s has units without a measurement", value.GoString(m))
				}
				got = append(got, s)
			}})
			var err error
			for _, s := range tt.signals {
				if err = p.Signal(s.name, s.params); err != nil {
					break
				}
			}
			if c := pipeline.ClassOf(err); c != tt.class || (err != nil && !strings.Contains(err.Error(), tt.msg)) {
				t.Fatalf("signals ended with %v (class %q), want class %q saying %q", err, c, tt.class, tt.msg)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
		})
	}
}

// TestUnfinishedRun checks that a run the console never ended is
// reported failed, with its uuid, commit and duration, exactly once.
func TestUnfinishedRun(t *testing.T) {
	t.Parallel()
	var got []*value.Map
	c := &clock{t: time.Unix(0, 0)}
	p := testshell.New(testshell.Config{
		Definition: func(name string) (*testshell.Definition, error) {
			return &testshell.Definition{Name: name, CommitID: "abc123", Revision: "unspecified"}, nil
		},
		Result: func(m *value.Map) { got = append(got, m) },
		Now:    c.now,
	})
	if err := p.Signal("STARTRUN", "0_t 42_1.1"); err != nil {
		t.Fatal(err)
	}
	if p.Running() != "0_t" {
		t.Errorf("Running() = %q, want 0_t", p.Running())
	}
	p.Finish()
	p.Finish()
	want := []*value.Map{value.MapOf("definition", "lava", "case", "0_t", "uuid", "42_1.1", "result", "fail",
		"commit_id", "abc123", "duration", "0.25")}
	if len(got) != 1 || !value.Equal(got[0], want[0]) {
		t.Errorf("results = %s, want %s", value.GoString(toAny(got)), value.GoString(toAny(want)))
	}
	if p.Running() != "" {
		t.Errorf("Running() after Finish = %q, want none", p.Running())
	}
}

func toAny(ms []*value.Map) []any {
	out := make([]any, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}

func TestParseMeasurement(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"42", 42, true},
		{"12.50", 12.5, true},
		{"-3", -3, true},
		{"+3", 3, true},
		{".5", 0.5, true},
		{"5.", 5, true},
		{"1e3", 1000, true},
		{"1E-3", 0.001, true},
		{"Infinity", math.Inf(1), true},
		{"-inf", math.Inf(-1), true},
		{"1e999", math.Inf(1), true},
		{"", 0, false},
		{"abc", 0, false},
		{"0x10", 0, false},
		{"0x1p-2", 0, false},
		{"1_000", 0, false},
		{"1.2.3", 0, false},
		{"12ms", 0, false},
	}
	for _, tt := range tests {
		got, err := testshell.ParseMeasurement(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParseMeasurement(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if got, err := testshell.ParseMeasurement("NaN"); err != nil || !math.IsNaN(got) {
		t.Errorf("ParseMeasurement(NaN) = %v, %v; want NaN", got, err)
	}
}

func TestDefinitionFromData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, data string
		err        string // substring of the error; "" for none
		check      func(*testshell.Definition) string
	}{
		{"nothing recorded", `{}`, "", func(d *testshell.Definition) string {
			if d.Revision != "unspecified" || d.Pattern != nil || d.Fixup != nil {
				return fmt.Sprintf("got %+v, want revision unspecified and no pattern or fixup", d)
			}
			return ""
		}},
		{"parse without fixupdict drops the default", `{parse: {pattern: '(?P<test_case_id>\w+) (?P<result>\w+)'}}`, "",
			func(d *testshell.Definition) string {
				if d.Fixup == nil || len(d.Fixup) != 0 || d.Pattern == nil {
					return fmt.Sprintf("fixup %v pattern %v, want an empty fixup and a pattern", d.Fixup, d.Pattern)
				}
				return ""
			}},
		{"empty pattern is none", `{parse: {pattern: '', fixupdict: {OK: pass}}}`, "", func(d *testshell.Definition) string {
			if d.Pattern != nil || d.Fixup["OK"] != "pass" {
				return fmt.Sprintf("pattern %v fixup %v", d.Pattern, d.Fixup)
			}
			return ""
		}},
		{"revision and commit", `{revision: 3, commit_id: abc}`, "", func(d *testshell.Definition) string {
			if d.Revision != "3" || d.CommitID != "abc" {
				return fmt.Sprintf("revision %q commit %q", d.Revision, d.CommitID)
			}
			return ""
		}},
		{"python-only syntax", `{parse: {pattern: '(?<=x)y'}}`, "error parsing regular expression", nil},
		{"pattern not a string", `{parse: {pattern: [a]}}`, "unrecognised test parse pattern type", nil},
		{"fixupdict not a map", `{parse: {fixupdict: [a]}}`, "fixupdict must be a map", nil},
		{"fixupdict value not a string", `{parse: {fixupdict: {OK: 1}}}`, "fixupdict[OK] must be a string", nil},
		{"expected not strings", `{expected: [a, {b: c}]}`, "expected[1] must be a string", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := value.DecodeYAML([]byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			d, err := testshell.DefinitionFromData("0_t", v.(*value.Map))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "0_t") {
					t.Fatalf("DefinitionFromData(%s) = %v, want an error naming 0_t and saying %q", tt.data, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DefinitionFromData(%s): %v", tt.data, err)
			}
			if msg := tt.check(d); msg != "" {
				t.Errorf("DefinitionFromData(%s): %s", tt.data, msg)
			}
		})
	}
}

// TestFollowCancel checks that Follow returns the context's error when
// the console stays silent.
func TestFollowCancel(t *testing.T) {
	t.Parallel()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s := connection.New(r, discardWriter{}, connection.Options{})
	defer s.Close()
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := testshell.New(testshell.Config{})
	if err := p.Follow(ctx, s); !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow() = %v, want context.Canceled", err)
	}
}
