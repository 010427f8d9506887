// Package resultexport writes a job's test results in the formats LAVA
// exports them: YAML and CSV (lava_results_app/utils.py export_testcase,
// which results.* over XML-RPC, REST /jobs/<id>/yaml/ and /csv/ and the
// results pages' downloads all use), JUnit XML and TAP13 (REST
// /jobs/<id>/junit/ and /tap13/), and the job's metadata list
// (get_metadata_dict).
//
// Contract (stable: lavarpc, restapi and the web results pages call it):
//
//   - Every function takes the job's id and its results in the order the
//     store returns them (store.Results, by id), already cut to what the
//     caller wants to show (a suite, a page); none reads the store.
//   - YAML and CSV are one record per test case with every value a string
//     (LAVA's export_testcase): measurement as str(Decimal) with 10
//     decimals or "None", logged as str(datetime) or "None", the log lines
//     "" when unknown or 0, level from the case's metadata.
//   - JUnit and TAP13 group the cases by suite in the order each suite
//     first appears; a failed case carries its log lines when the caller
//     gives a LogFunc and the case has a line range.
//   - Nothing here panics on hostile metadata: text that does not parse as
//     a mapping is exported as {}.
package resultexport

import (
	"encoding/csv"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/basalt-lava/basalt/internal/store"
)

// Suite is one test suite of a job: its name and the id it is given,
// the store id of its first result (Basalt keeps no suite rows, and that
// id is unique and stable), as REST /jobs/<id>/suites/ lists it.
type Suite struct {
	ID   int64
	Name string
}

// Suites returns a job's suites in the order they first appear in rs.
func Suites(rs []store.Result) []Suite {
	seen := map[string]bool{}
	var out []Suite
	for _, r := range rs {
		if seen[r.Suite] {
			continue
		}
		seen[r.Suite] = true
		out = append(out, Suite{ID: r.ID, Name: r.Suite})
	}
	return out
}

// BySuite returns rs ordered suite by suite (in the order each suite first
// appears), each suite's cases in their order: LAVA's order for a job's
// whole export.
func BySuite(rs []store.Result) []store.Result {
	order := Suites(rs)
	by := map[string][]store.Result{}
	for _, r := range rs {
		by[r.Suite] = append(by[r.Suite], r)
	}
	out := make([]store.Result, 0, len(rs))
	for _, s := range order {
		out = append(out, by[s.Name]...)
	}
	return out
}

// PyTime is Python's str() of an aware UTC datetime, as LAVA prints
// times in exports: "2026-01-01 10:00:00.123456+00:00" (no fraction when
// the microseconds are 0), "None" when t is zero.
func PyTime(t time.Time) string {
	if t.IsZero() {
		return "None"
	}
	t = t.UTC()
	if us := t.Nanosecond() / 1000; us != 0 {
		return t.Format("2006-01-02 15:04:05") + fmt.Sprintf(".%06d", us) + "+00:00"
	}
	return t.Format("2006-01-02 15:04:05") + "+00:00"
}

// Measurement is str() of LAVA's TestCase.measurement (a Decimal with 10
// decimal places), "None" when there is none.
func Measurement(m *float64) string {
	if m == nil {
		return "None"
	}
	return strconv.FormatFloat(*m, 'f', 10, 64)
}

// URL is a test case's page, as LAVA's TestCase.get_absolute_url.
func URL(r store.Result) string {
	return "/results/testcase/" + strconv.FormatInt(r.ID, 10)
}

// logLine is a test case's log line as LAVA exports it: "" for none or 0.
func logLine(p *int64) string {
	if p == nil || *p == 0 {
		return ""
	}
	return strconv.FormatInt(*p, 10)
}

// str is a YAML string scalar (quoted by the encoder when it would read
// back as another type, as PyYAML's safe_dump quotes '12').
func str(s string) *yaml.Node {
	n := &yaml.Node{}
	n.SetString(s)
	if n.Style == 0 && yamlTimestamp.MatchString(s) {
		// The encoder leaves "2026-12-07 04:05:06+00:00" plain, which
		// PyYAML reads as a datetime (YAML 1.1): quote it as safe_dump does.
		n.Style = yaml.SingleQuotedStyle
	}
	return n
}

// yamlTimestamp is PyYAML's implicit timestamp pattern (YAML 1.1).
var yamlTimestamp = regexp.MustCompile(`^(?:[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?|[0-9]{4}-[0-9]{2}-[0-9]{2})$`)

// Mapping builds a YAML mapping keeping the pairs' order: each value a
// *yaml.Node, or anything else written as a string with fmt.Sprint.
func Mapping(pairs ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(pairs); i += 2 {
		v, ok := pairs[i+1].(*yaml.Node)
		if !ok {
			v = str(fmt.Sprint(pairs[i+1]))
		}
		m.Content = append(m.Content, str(pairs[i].(string)), v)
	}
	return m
}

// metadataNode parses a result's metadata (YAML or JSON text) into a
// mapping, {} when it is empty or not a mapping; its level is returned too.
func metadataNode(text string) (*yaml.Node, string) {
	var doc yaml.Node
	if text == "" || yaml.Unmarshal([]byte(text), &doc) != nil || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}, ""
	}
	m := doc.Content[0]
	m.Style = 0
	level := ""
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "level" && m.Content[i+1].Kind == yaml.ScalarNode {
			level = m.Content[i+1].Value
		}
	}
	return m, level
}

// Case is LAVA's export_testcase of one result as a YAML mapping, every
// scalar a string: name, job, suite, result, measurement, unit, level,
// url, id, logged, log_start_line, log_end_line, metadata.
func Case(job int64, r store.Result) *yaml.Node {
	meta, level := metadataNode(r.Metadata)
	return Mapping(
		"name", r.Case,
		"job", strconv.FormatInt(job, 10),
		"suite", r.Suite,
		"result", r.Result,
		"measurement", Measurement(r.Measurement),
		"unit", r.Units,
		"level", level,
		"url", URL(r),
		"id", strconv.FormatInt(r.ID, 10),
		"logged", PyTime(r.Logged),
		"log_start_line", logLine(r.LogStart),
		"log_end_line", logLine(r.LogEnd),
		"metadata", meta,
	)
}

// DumpList is PyYAML's safe_dump of a list: "[]\n" when empty, else a
// block list.
func DumpList(items []*yaml.Node) (string, error) {
	if len(items) == 0 {
		return "[]\n", nil
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: items}
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(seq); err != nil {
		return "", fmt.Errorf("encoding results as YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("encoding results as YAML: %w", err)
	}
	return b.String(), nil
}

// YAMLText is YAML's text: rs as a list of Case mappings.
func YAMLText(job int64, rs []store.Result) (string, error) {
	items := make([]*yaml.Node, 0, len(rs))
	for _, r := range rs {
		items = append(items, Case(job, r))
	}
	return DumpList(items)
}

// YAML writes rs as LAVA's YAML export: a list of Case mappings.
func YAML(w io.Writer, job int64, rs []store.Result) error {
	text, err := YAMLText(job, rs)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, text)
	return err
}

// SuiteYAML renders a job's results suite by suite, each as
// results.get_testsuite_results_yaml answers it: the `results` of a notify
// callback's payload.
func SuiteYAML(job int64, rs []store.Result) (map[string]string, error) {
	by := map[string][]store.Result{}
	for _, r := range rs {
		by[r.Suite] = append(by[r.Suite], r)
	}
	out := make(map[string]string, len(by))
	for s, cases := range by {
		text, err := YAMLText(job, cases)
		if err != nil {
			return nil, err
		}
		out[s] = text
	}
	return out, nil
}

// SuitesYAML is results.get_testjob_suites_list_yaml: the job's suites
// as a list of {name, job, id} (id "" as LAVA leaves it).
func SuitesYAML(job int64, rs []store.Result) (string, error) {
	var items []*yaml.Node
	for _, s := range Suites(rs) {
		items = append(items, Mapping("name", s.Name, "job", strconv.FormatInt(job, 10), "id", ""))
	}
	return DumpList(items)
}

// CSVFields are the columns of the CSV export, LAVA's
// testcase_export_fields (duration and timeout are always empty, as
// LAVA's export_testcase does not fill them).
var CSVFields = []string{"job", "suite", "result", "measurement", "unit", "duration", "timeout",
	"logged", "level", "metadata", "url", "name", "id", "log_start_line", "log_end_line"}

// CSV writes rs as LAVA's CSV export: a header of CSVFields, then one
// row per case, every value quoted (csv.QUOTE_ALL), lines ending "\r\n"
// as Python's csv module ends them; metadata is Python's str() of the
// dict.
func CSV(w io.Writer, job int64, rs []store.Result) error {
	b := &strings.Builder{}
	row := func(vals []string) {
		for i, v := range vals {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('"')
			b.WriteString(strings.ReplaceAll(v, `"`, `""`))
			b.WriteByte('"')
		}
		b.WriteString("\r\n")
	}
	row(CSVFields)
	jobID := strconv.FormatInt(job, 10)
	for _, r := range rs {
		meta, level := metadataNode(r.Metadata)
		row([]string{jobID, r.Suite, r.Result, Measurement(r.Measurement), r.Units, "", "",
			PyTime(r.Logged), level, PyRepr(meta), URL(r), r.Case, strconv.FormatInt(r.ID, 10),
			logLine(r.LogStart), logLine(r.LogEnd)})
		if b.Len() >= 64<<10 {
			if _, err := io.WriteString(w, b.String()); err != nil {
				return err
			}
			b.Reset()
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ParseCSV reads a CSV export back (for tests and tools): one map per row.
func ParseCSV(r io.Reader) ([]map[string]string, error) {
	recs, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("csv export: no header")
	}
	var out []map[string]string
	for _, rec := range recs[1:] {
		m := map[string]string{}
		for i, k := range recs[0] {
			if i < len(rec) {
				m[k] = rec[i]
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// PyRepr is Python's str() of a value loaded from YAML: a dict or list
// with repr()'d members ("{'case': 'x', 'n': 1}"), a string as itself at
// the top level; ints, floats, booleans (True/False) and null (None) as
// Python prints them.
func PyRepr(n *yaml.Node) string {
	return pyNode(n, false)
}

func pyNode(n *yaml.Node, inner bool) string {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		parts := make([]string, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			parts = append(parts, pyNode(n.Content[i], true)+": "+pyNode(n.Content[i+1], true))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case yaml.SequenceNode:
		parts := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			parts = append(parts, pyNode(c, true))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	switch n.ShortTag() {
	case "!!null":
		return "None"
	case "!!bool":
		var v bool
		if n.Decode(&v) == nil {
			if v {
				return "True"
			}
			return "False"
		}
	case "!!int", "!!float":
		return n.Value
	}
	if inner {
		return pyString(n.Value)
	}
	return n.Value
}

// pyString is Python's repr() of a str: single quotes unless the text has
// one and no double quote, backslash escapes for quotes, backslashes and
// control characters.
func pyString(s string) string {
	q := byte('\'')
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// JobMetadata is LAVA's get_metadata_dict of a job definition's
// metadata: block: a list of one-entry maps, each value str() of what
// extract_job_metadata stored (a scalar as a string, a YAML 1.1 boolean
// "true" or "false", a null "None", maps and lists in Python's repr).
// A definition without a metadata mapping gives an empty list.
func JobMetadata(definition string) []map[string]string {
	var d struct {
		Metadata yaml.Node `yaml:"metadata"`
	}
	out := []map[string]string{}
	if yaml.Unmarshal([]byte(definition), &d) != nil || d.Metadata.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(d.Metadata.Content); i += 2 {
		k, v := d.Metadata.Content[i], d.Metadata.Content[i+1]
		out = append(out, map[string]string{k.Value: metadataValue(v, false)})
	}
	return out
}

// metadataValue is str() (repr inside a container) of a job metadata
// value as LAVA's extract_job_metadata normalises it.
func metadataValue(n *yaml.Node, inner bool) string {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		parts := make([]string, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			parts = append(parts, pyString(n.Content[i].Value)+": "+metadataValue(n.Content[i+1], true))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case yaml.SequenceNode:
		parts := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			parts = append(parts, metadataValue(c, true))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	v := n.Value
	if n.Style == 0 {
		switch strings.ToLower(v) {
		case "", "~", "null":
			return "None"
		case "true", "yes", "on":
			v = "true"
		case "false", "no", "off":
			v = "false"
		}
	}
	if inner {
		return pyString(v)
	}
	return v
}
