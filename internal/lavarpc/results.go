package lavarpc

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/xmlrpc"
)

func (a *api) registerResults() {
	a.reg("results.get_testjob_results_yaml", 1, 1, "get_testjob_results_yaml(job_id): the job's test cases as a YAML list (a string).", a.resJob)
	a.reg("results.get_testsuite_results_yaml", 2, 4, "get_testsuite_results_yaml(job_id, suite_name, limit=None, offset=None): one suite's test cases as YAML.", a.resSuite)
	a.reg("results.get_testcase_results_yaml", 3, 3, "get_testcase_results_yaml(job_id, suite_name, case_name): the test cases of that name as YAML.", a.resCase)
	a.reg("results.get_testjob_suites_list_yaml", 1, 1, "get_testjob_suites_list_yaml(job_id): the job's suites as YAML.", a.resSuites)
	a.reg("results.get_testjob_metadata", 1, 1, "get_testjob_metadata(job_id): the job's metadata as a list of {name: value}.", a.resMetadata)
}

// resultsJob is the job of a results.* call: LAVA's ExposedAPI always
// wants a user (401), an empty id is 400, an unknown one 404, and a job
// the user may not see 401 (not 403).
func (a *api) resultsJob(ctx context.Context, p params) (store.Job, error) {
	if _, err := needUser(ctx); err != nil {
		return store.Job{}, err
	}
	id := p.str(0)
	if id == "" {
		return store.Job{}, badRequest("Bad request: TestJob id was not specified.")
	}
	if !validJobID(id) {
		return store.Job{}, notFound("Specified job not found.")
	}
	j, err := a.lab.FindJob(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return j, notFound("Specified job not found.")
	} else if err != nil {
		return j, err
	}
	ok, err := a.visible(ctx, j)
	if err != nil {
		return j, err
	}
	if !ok {
		return j, xmlrpc.Faultf(xmlrpc.CodeAuthRequired, "Permission denied for user to job %s", id)
	}
	return j, nil
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

// mapping builds a YAML mapping keeping the pairs' order.
func mapping(pairs ...any) *yaml.Node {
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

// testcase is LAVA's export_testcase: every scalar a string. The id is
// the store's key of the result, logged Python's str() of the time it was
// recorded ("None" for a result stored before Basalt kept it), the log
// lines "" when unknown or 0 (LAVA tests them for truth).
func testcase(jobID int64, r store.Result) *yaml.Node {
	meas := "None"
	if r.Measurement != nil {
		meas = strconv.FormatFloat(*r.Measurement, 'f', 10, 64)
	}
	meta, level := metadataNode(r.Metadata)
	job := strconv.FormatInt(jobID, 10)
	id := strconv.FormatInt(r.ID, 10)
	return mapping(
		"name", r.Case,
		"job", job,
		"suite", r.Suite,
		"result", r.Result,
		"measurement", meas,
		"unit", r.Units,
		"level", level,
		"url", "/results/testcase/"+id,
		"id", id,
		"logged", loggedTime(r.Logged),
		"log_start_line", logLine(r.LogStart),
		"log_end_line", logLine(r.LogEnd),
		"metadata", meta,
	)
}

// loggedTime is str() of a test case's logged time: "None" for a result
// stored before Basalt kept it.
func loggedTime(t time.Time) string {
	if s, ok := pyTime(t).(string); ok {
		return s
	}
	return "None"
}

// logLine is a test case's log line as LAVA exports it: "" for none or 0.
func logLine(p *int64) string {
	if p == nil || *p == 0 {
		return ""
	}
	return strconv.FormatInt(*p, 10)
}

// dumpList is PyYAML's safe_dump of a list: "[]\n" when empty, else a
// block list.
func dumpList(items []*yaml.Node) (string, error) {
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

func (a *api) resJob(ctx context.Context, p params) (any, error) {
	j, err := a.resultsJob(ctx, p)
	if err != nil {
		return nil, err
	}
	rs, err := a.store.Results(ctx, j.ID)
	if err != nil {
		return nil, err
	}
	// LAVA lists suite by suite (in creation order), each suite's cases in
	// order.
	var order []string
	bySuite := map[string][]store.Result{}
	for _, r := range rs {
		if _, ok := bySuite[r.Suite]; !ok {
			order = append(order, r.Suite)
		}
		bySuite[r.Suite] = append(bySuite[r.Suite], r)
	}
	var items []*yaml.Node
	for _, s := range order {
		for _, r := range bySuite[s] {
			items = append(items, testcase(j.ID, r))
		}
	}
	return dumpList(items)
}

// suiteResults returns the results of the suite of argument 1 (404 when
// the job has none of that suite).
func (a *api) suiteResults(ctx context.Context, j store.Job, suite string) ([]store.Result, error) {
	rs, err := a.store.Results(ctx, j.ID)
	if err != nil {
		return nil, err
	}
	var out []store.Result
	found := false
	for _, r := range rs {
		if r.Suite == suite {
			found = true
			out = append(out, r)
		}
	}
	if !found {
		return nil, notFound("Specified test suite not found.")
	}
	return out, nil
}

func (a *api) resSuite(ctx context.Context, p params) (any, error) {
	j, err := a.resultsJob(ctx, p)
	if err != nil {
		return nil, err
	}
	rs, err := a.suiteResults(ctx, j, p.str(1))
	if err != nil {
		return nil, err
	}
	// LAVA pages only when limit is given (and not 0): offset alone is
	// ignored (lava_results_app get_testcases_with_limit).
	limit, err := p.int(2, 0)
	if err != nil {
		return nil, err
	}
	if limit != 0 {
		offset, err := p.int(3, 0)
		if err != nil {
			return nil, err
		}
		if offset < 0 || limit < 0 {
			return "[]\n", nil
		}
		rs = rs[min(offset, int64(len(rs))):]
		rs = rs[:min(limit, int64(len(rs)))]
	}
	items := make([]*yaml.Node, 0, len(rs))
	for _, r := range rs {
		items = append(items, testcase(j.ID, r))
	}
	return dumpList(items)
}

func (a *api) resCase(ctx context.Context, p params) (any, error) {
	j, err := a.resultsJob(ctx, p)
	if err != nil {
		return nil, err
	}
	rs, err := a.suiteResults(ctx, j, p.str(1))
	if err != nil {
		return nil, err
	}
	var items []*yaml.Node
	for _, r := range rs {
		if r.Case == p.str(2) {
			items = append(items, testcase(j.ID, r))
		}
	}
	return dumpList(items)
}

func (a *api) resSuites(ctx context.Context, p params) (any, error) {
	j, err := a.resultsJob(ctx, p)
	if err != nil {
		return nil, err
	}
	rs, err := a.store.Results(ctx, j.ID)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var items []*yaml.Node
	for _, r := range rs {
		if seen[r.Suite] {
			continue
		}
		seen[r.Suite] = true
		items = append(items, mapping("name", r.Suite, "job", strconv.FormatInt(j.ID, 10), "id", ""))
	}
	return dumpList(items)
}

// resMetadata returns the definition's metadata block as LAVA's
// get_metadata_dict does: a list of one-entry structs, each value as
// str() of what extract_job_metadata stored (metadataValue).
func (a *api) resMetadata(ctx context.Context, p params) (any, error) {
	j, err := a.resultsJob(ctx, p)
	if err != nil {
		return nil, err
	}
	var d struct {
		Metadata yaml.Node `yaml:"metadata"`
	}
	out := []any{}
	if yaml.Unmarshal([]byte(j.Definition), &d) != nil || d.Metadata.Kind != yaml.MappingNode {
		return out, nil
	}
	for i := 0; i+1 < len(d.Metadata.Content); i += 2 {
		k, v := d.Metadata.Content[i], d.Metadata.Content[i+1]
		out = append(out, map[string]any{k.Value: metadataValue(v, false)})
	}
	return out, nil
}

// metadataValue is Python's str() (repr inside a container) of a job
// metadata value as LAVA's extract_job_metadata normalises it: a scalar
// becomes a string, a YAML 1.1 boolean "true" or "false", a null None,
// and maps and lists keep their shape ("{'a': '1'}").
func metadataValue(n *yaml.Node, inner bool) string {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		parts := make([]string, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			parts = append(parts, pyRepr(n.Content[i].Value)+": "+metadataValue(n.Content[i+1], true))
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
		return pyRepr(v)
	}
	return v
}

// pyRepr is Python's repr() of a str: single quotes unless the text has
// one and no double quote, backslash escapes for quotes, backslashes and
// control characters.
func pyRepr(s string) string {
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
