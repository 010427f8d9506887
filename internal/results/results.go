// Package results collects the results records of a job (the `results`
// lines of its log) and writes them as results.yaml, in the shape of
// LAVA's results export (one entry per test case, grouped by suite), and
// as JUnit XML for CI systems.
//
// Results hold whatever a guest printed, so every text in them (suite and
// case names, result, units, set, level, duration, measurement, every
// extra key and value) is made safe before it is kept or written: a
// string is kept as it is unless it holds bytes that are not UTF-8 or
// characters that XML 1.0 cannot carry (C0 controls other than tab,
// line feed and carriage return; U+FFFE and U+FFFF). Those are written
// as Go-style escapes: an invalid byte or a control character as \xNN
// (\x00 for NUL), U+FFFE and U+FFFF as \uFFFE and \uFFFF. Backslashes
// already in the string are left alone: the escape is for reading, not a
// lossless encoding. The job log (package joblog) applies the same rule
// to each results record before writing it, and says in a warning which
// record was altered, so that logs.yaml, results.yaml, results.xml and
// the summary show the same value. CleanText is the rule.
package results

import (
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"

	"github.com/basalt-lava/basalt/internal/value"
)

// Case is one result: a test case of a suite. The suite is the record's
// definition ("0_smoke-tests", or "lava" for the dispatcher's own).
type Case struct {
	Suite       string
	Name        string
	Result      string
	Measurement any    // float64 or nil
	Units       string // LAVA: units
	Set         string
	Level       string
	Duration    string
	// Extra holds every other key of the record, as LAVA keeps them in
	// the case's metadata.
	Extra *value.Map
}

// Collector gathers cases as the job logs them; safe for concurrent use.
type Collector struct {
	mu    sync.Mutex
	cases []Case
}

// known are the record keys Case has fields for.
var known = map[string]bool{"definition": true, "case": true, "result": true, "measurement": true,
	"units": true, "set": true, "level": true, "duration": true}

// Add records one results record (definition, case, result, …). Records
// without a definition or case are ignored, as LAVA's server drops them.
func (c *Collector) Add(rec *value.Map) {
	suite, name := str(rec.Value("definition")), str(rec.Value("case"))
	if suite == "" || name == "" {
		return
	}
	k := cleanCase(Case{Suite: suite, Name: name, Result: str(rec.Value("result")), Measurement: rec.Value("measurement"),
		Units: str(rec.Value("units")), Set: str(rec.Value("set")), Level: str(rec.Value("level")),
		Duration: str(rec.Value("duration"))})
	rec.Range(func(key string, v any) bool {
		if !known[key] {
			if k.Extra == nil {
				k.Extra = value.NewMap()
			}
			key, _ = CleanText(key)
			v, _ = CleanValue(v)
			k.Extra.Set(key, v)
		}
		return true
	})
	c.mu.Lock()
	c.cases = append(c.cases, k)
	c.mu.Unlock()
}

// Cases returns the cases collected so far, in the order they came.
func (c *Collector) Cases() []Case {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Case(nil), c.cases...)
}

func str(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	default:
		return fmt.Sprint(t)
	}
}

// Suite is the cases of one suite, with counts.
type Suite struct {
	Name                      string
	Cases                     []Case
	Pass, Fail, Skip, Unknown int
}

// Suites groups cases by suite, suites in order of first appearance.
func Suites(cases []Case) []Suite {
	idx := map[string]int{}
	var out []Suite
	for _, k := range cases {
		i, ok := idx[k.Suite]
		if !ok {
			i = len(out)
			idx[k.Suite] = i
			out = append(out, Suite{Name: k.Suite})
		}
		s := &out[i]
		s.Cases = append(s.Cases, k)
		switch k.Result {
		case "pass":
			s.Pass++
		case "fail":
			s.Fail++
		case "skip":
			s.Skip++
		default:
			s.Unknown++
		}
	}
	return out
}

// YAML returns results.yaml: a list of suites, each with its cases, as
// {suite, name, result, measurement, unit, set, level, duration,
// metadata}: the field names of LAVA's results export.
func YAML(cases []Case) ([]byte, error) {
	cases = cleanCases(cases)
	var suites []any
	for _, s := range Suites(cases) {
		var list []any
		for _, k := range s.Cases {
			m := value.MapOf("suite", k.Suite, "name", k.Name, "result", k.Result)
			if k.Measurement != nil {
				m.Set("measurement", k.Measurement)
				m.Set("unit", k.Units)
			}
			if k.Set != "" {
				m.Set("set", k.Set)
			}
			if k.Level != "" {
				m.Set("level", k.Level)
			}
			if k.Duration != "" {
				m.Set("duration", k.Duration)
			}
			if k.Extra != nil {
				m.Set("metadata", k.Extra)
			}
			list = append(list, m)
		}
		suites = append(suites, value.MapOf("suite", s.Name,
			"counts", value.MapOf("pass", s.Pass, "fail", s.Fail, "skip", s.Skip, "unknown", s.Unknown),
			"cases", list))
	}
	if suites == nil {
		suites = []any{}
	}
	return value.EncodeYAML(suites)
}

// cleanCases returns the cases as CleanText makes them: the writers
// apply the rule themselves, whoever built the cases.
func cleanCases(cases []Case) []Case {
	out := make([]Case, len(cases))
	for i, k := range cases {
		out[i] = cleanCase(k)
	}
	return out
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr,omitempty"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr,omitempty"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Classname  string        `xml:"classname,attr"`
	Name       string        `xml:"name,attr"`
	Time       string        `xml:"time,attr,omitempty"`
	Properties *junitProps   `xml:"properties,omitempty"`
	Failure    *junitFailure `xml:"failure,omitempty"`
	Skipped    *struct{}     `xml:"skipped,omitempty"`
	SystemOut  string        `xml:"system-out,omitempty"`
}

type junitProps struct {
	Props []junitProp `xml:"property"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the cases as JUnit XML: one testsuite per LAVA suite,
// a failure for fail and unknown results, skipped for skip, measurements
// as properties.
func WriteJUnit(w io.Writer, jobName string, cases []Case) error {
	cases = cleanCases(cases)
	jobName, _ = CleanText(jobName)
	doc := junitSuites{Name: jobName}
	for _, s := range Suites(cases) {
		js := junitSuite{Name: s.Name, Tests: len(s.Cases), Failures: s.Fail + s.Unknown, Skipped: s.Skip}
		var total float64
		for _, k := range s.Cases {
			jc := junitCase{Classname: s.Name, Name: k.Name}
			if k.Set != "" {
				jc.Classname = s.Name + "." + k.Set
			}
			if d, err := strconv.ParseFloat(k.Duration, 64); err == nil {
				jc.Time = k.Duration
				total += d
			}
			var props []junitProp
			if k.Measurement != nil {
				props = append(props, junitProp{"measurement", str(k.Measurement)}, junitProp{"units", k.Units})
			}
			if k.Extra != nil {
				keys := k.Extra.Keys()
				sort.Strings(keys)
				for _, key := range keys {
					if v, ok := k.Extra.Value(key).(string); ok {
						props = append(props, junitProp{key, v})
					}
				}
			}
			if len(props) > 0 {
				jc.Properties = &junitProps{props}
			}
			switch k.Result {
			case "pass":
			case "skip":
				jc.Skipped = &struct{}{}
			default:
				msg := k.Result
				if k.Extra != nil {
					if em := str(k.Extra.Value("error_msg")); em != "" {
						msg = em
					}
				}
				jc.Failure = &junitFailure{Message: msg, Type: str(k.Extra.Value("error_type"))}
			}
			js.Cases = append(js.Cases, jc)
		}
		if total > 0 {
			js.Time = strconv.FormatFloat(total, 'f', 2, 64)
		}
		doc.Tests += js.Tests
		doc.Failures += js.Failures
		doc.Skipped += js.Skipped
		doc.Suites = append(doc.Suites, js)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
