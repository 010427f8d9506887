package resultexport

import (
	"bytes"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/basalt-lava/basalt/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func ptr[T any](v T) *T { return &v }

// sample is a job's results as the store returns them: two suites
// interleaved, every result kind, a measurement, metadata with a level
// and a duration, hostile text in names.
func sample() []store.Result {
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
	return []store.Result{
		{ID: 10, Suite: "lava", Case: "job", Result: "pass", Metadata: "{case: job, level: '1', result: pass}", Logged: at},
		{ID: 11, Suite: "0_smoke", Case: "pwd", Result: "pass", Measurement: ptr(1.5), Units: "s",
			Metadata: `{"case": "pwd", "duration": "0.25", "extra": [1, true, null]}`, Logged: at, LogStart: ptr(int64(40)), LogEnd: ptr(int64(42))},
		{ID: 12, Suite: "0_smoke", Case: `uname "a" <b> & 'c'`, Result: "fail", Logged: at, LogStart: ptr(int64(43)), LogEnd: ptr(int64(45))},
		{ID: 13, Suite: "lava", Case: "skipped-one", Result: "skip"},
		{ID: 14, Suite: "0_smoke", Case: "odd", Result: "unknown", Metadata: "not: [a mapping"},
	}
}

// fakeLog is a job log of numbered lines: lines [start, end).
func fakeLog(start, end int64) (string, error) {
	var b strings.Builder
	for i := start; i < end; i++ {
		fmt.Fprintf(&b, "- {\"lvl\": \"target\", \"msg\": \"line %d\"}\n", i)
	}
	return b.String(), nil
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (-update to accept):\n%s", name, got)
	}
}

func TestFormats(t *testing.T) {
	rs := sample()
	for _, tc := range []struct {
		file  string
		write func(*bytes.Buffer) error
		check func(t *testing.T, out []byte)
	}{
		{"job.yaml", func(b *bytes.Buffer) error { return YAML(b, 7, rs) }, func(t *testing.T, out []byte) {
			var got []map[string]any
			if err := yaml.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(rs) || got[1]["measurement"] != "1.5000000000" || got[0]["level"] != "1" ||
				got[1]["log_start_line"] != "40" || got[0]["logged"] != "2026-01-02 03:04:05.123456+00:00" || got[3]["logged"] != "None" {
				t.Errorf("YAML export read back as %v", got)
			}
		}},
		{"job.csv", func(b *bytes.Buffer) error { return CSV(b, 7, rs) }, func(t *testing.T, out []byte) {
			rows, err := ParseCSV(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(rs) || rows[2]["name"] != rs[2].Case || rows[1]["metadata"] != `{'case': 'pwd', 'duration': '0.25', 'extra': [1, True, None]}` ||
				rows[4]["metadata"] != "{}" || rows[1]["url"] != "/results/testcase/11" {
				t.Errorf("CSV export read back as %v", rows)
			}
		}},
		{"job.xml", func(b *bytes.Buffer) error {
			return JUnit(b, 7, rs, JUnitOptions{ClassnamePrefix: "ci", Log: fakeLog})
		}, func(t *testing.T, out []byte) {
			var doc struct {
				Failures int `xml:"failures,attr"`
				Tests    int `xml:"tests,attr"`
				Suites   []struct {
					Name  string `xml:"name,attr"`
					Cases []struct {
						Name      string `xml:"name,attr"`
						Classname string `xml:"classname,attr"`
						Failure   *struct {
							Text string `xml:",chardata"`
						} `xml:"failure"`
					} `xml:"testcase"`
				} `xml:"testsuite"`
			}
			if err := xml.Unmarshal(out, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Tests != 5 || doc.Failures != 1 || len(doc.Suites) != 2 || doc.Suites[0].Name != "lava" ||
				doc.Suites[1].Cases[1].Name != rs[2].Case || doc.Suites[1].Cases[1].Classname != "ci_0_smoke" ||
				doc.Suites[1].Cases[1].Failure == nil || !strings.Contains(doc.Suites[1].Cases[1].Failure.Text, "line 44") {
				t.Errorf("JUnit export read back as %+v", doc)
			}
		}},
		{"job.tap13", func(b *bytes.Buffer) error { return TAP13(b, 7, rs, fakeLog) }, func(t *testing.T, out []byte) {
			if !strings.HasPrefix(string(out), "TAP version 13\n1..5\nok 1 job\nok 2 skipped-one # SKIP test skipped\nok 3 pwd\nnot ok 4 ") {
				t.Errorf("TAP13 export starts wrong:\n%s", out)
			}
		}},
		{"suites.yaml", func(b *bytes.Buffer) error {
			s, err := SuitesYAML(7, rs)
			b.WriteString(s)
			return err
		}, nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.write(&b); err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, b.Bytes())
			}
			golden(t, tc.file, b.Bytes())
		})
	}
}

func TestEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := YAML(&b, 1, nil); err != nil || b.String() != "[]\n" {
		t.Errorf("YAML of no results = %q, %v; want []", b.String(), err)
	}
	b.Reset()
	if err := TAP13(&b, 1, nil, nil); err != nil || b.String() != "TAP version 13\n1..0\n" {
		t.Errorf("TAP13 of no results = %q, %v", b.String(), err)
	}
	b.Reset()
	if err := JUnit(&b, 1, nil, JUnitOptions{}); err != nil || xml.Unmarshal(b.Bytes(), new(struct{})) != nil {
		t.Errorf("JUnit of no results = %q, %v", b.String(), err)
	}
}

func TestSuites(t *testing.T) {
	got := Suites(sample())
	want := []Suite{{10, "lava"}, {11, "0_smoke"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Suites = %v, want %v", got, want)
	}
	var order []int64
	for _, r := range BySuite(sample()) {
		order = append(order, r.ID)
	}
	if fmt.Sprint(order) != "[10 13 11 12 14]" {
		t.Errorf("BySuite order = %v", order)
	}
}

// TestCaseLogBound: a failed case spanning a huge log is cut, not held.
func TestCaseLogBound(t *testing.T) {
	r := store.Result{ID: 1, Suite: "s", Case: "c", Result: "fail", LogStart: ptr(int64(0)), LogEnd: ptr(int64(1))}
	big := func(start, end int64) (string, error) { return strings.Repeat("x", 2*maxCaseLog), nil }
	var b bytes.Buffer
	if err := TAP13(&b, 1, []store.Result{r}, big); err != nil {
		t.Fatal(err)
	}
	if b.Len() > maxCaseLog+1000 || !strings.Contains(b.String(), "cut at") {
		t.Errorf("TAP13 of a 2 MB case log is %d bytes", b.Len())
	}
}
