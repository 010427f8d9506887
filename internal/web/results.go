package web

// The results pages (LAVA's lava_results_app): a job's suites
// (/results/JOB), a suite's test cases (/results/JOB/SUITE), one test
// case by name (/results/JOB/SUITE/CASE) or by id (/results/testcase/ID)
// with the plot of its measurement across jobs, and the exports
// (/results/JOB/csv, /yaml, /yaml_summary, /metadata, /results/JOB/SUITE/csv
// and /yaml, /results/testcase/ID/yaml), written by internal/resultexport.
// A job the user may not see is not found, as on the job page.
//
// Stable element ids and classes (tests and the browser helper use them):
//
//	job results   #results-job (dl), #results-metadata (table),
//	              #suites (table, tr#suite-NAME: td.rs-pass, and
//	              td.rs-fail, td.rs-skip, td.rs-unknown when not 0),
//	              #results-exports (the download links)
//	suite         #cases (table, tr#case-<id>, span.rs-<result>),
//	              a.log-link (to the job page's #L<line>)
//	test case     .case (one per result of that name, #case-<id>),
//	              #case-plot (svg, see plot.go), #plot-by (links
//	              switching between device type and job name),
//	              #case-history (table of the plotted jobs)

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/resultexport"
	"github.com/basalt-lava/basalt/internal/store"
)

func init() {
	addRoutes(func(s *site) { s.resultRoutes() })
	addFuncs(template.FuncMap{
		"resClass": func(r string) string { return "rs rs-" + caseResultClass(r) },
		"resURL":   resultsURL,
		"resMeasurement": func(m *float64) string {
			if m == nil {
				return ""
			}
			return plotNum(*m)
		},
	})
}

func (s *site) resultRoutes() {
	s.get("/results/{job}", s.resultsJobPage)
	// One pattern a depth, dispatched by hand: "/results/testcase/{id}"
	// and "/results/{job}/csv" would both match "/results/testcase/csv",
	// which Go's ServeMux refuses to register.
	s.get("/results/{job}/{suite}", s.resultsDepth2)
	s.get("/results/{job}/{suite}/{case}", s.resultsDepth3)
}

// resultsURL is the path of a job's results, or of a suite or test case
// of it: resultsURL(job, suite, case) with the names escaped.
func resultsURL(j store.Job, parts ...string) string {
	p := "/results/" + fmt.Sprint(lab.DisplayID(j))
	for _, s := range parts {
		p += "/" + url.PathEscape(s)
	}
	return p
}

// resultsDepth2 is /results/X/Y: a test case by id, a job export, or a suite.
func (s *site) resultsDepth2(w http.ResponseWriter, r *http.Request) {
	job, suite := r.PathValue("job"), r.PathValue("suite")
	switch {
	case job == "testcase":
		s.resultsCaseByID(w, r, suite)
	case suite == "csv" || suite == "yaml" || suite == "yaml_summary" || suite == "metadata":
		s.resultsJobExport(w, r, job, suite)
	default:
		s.resultsSuitePage(w, r, job, suite)
	}
}

// resultsDepth3 is /results/X/Y/Z: a test case's YAML by id, a suite export,
// or a test case by name.
func (s *site) resultsDepth3(w http.ResponseWriter, r *http.Request) {
	job, suite, name := r.PathValue("job"), r.PathValue("suite"), r.PathValue("case")
	switch {
	case job == "testcase" && name == "yaml":
		s.resultsCaseExport(w, r, suite)
	case name == "csv" || name == "yaml":
		s.resultsSuiteExport(w, r, job, suite, name)
	default:
		s.resultsCaseByName(w, r, job, suite, name)
	}
}

// resultSuiteRow is a suite's line in the job's results table.
type resultSuiteRow struct {
	Name                         string
	Pass, Fail, Skip, Unknown, N int
}

// resultSuiteRows counts rs by suite, in the order each suite first appears.
func resultSuiteRows(rs []store.Result) []resultSuiteRow {
	var out []resultSuiteRow
	at := map[string]int{}
	for _, r := range rs {
		i, ok := at[r.Suite]
		if !ok {
			i = len(out)
			at[r.Suite] = i
			out = append(out, resultSuiteRow{Name: r.Suite})
		}
		row := &out[i]
		row.N++
		switch caseResultClass(r.Result) {
		case "pass":
			row.Pass++
		case "fail":
			row.Fail++
		case "skip":
			row.Skip++
		default:
			row.Unknown++
		}
	}
	return out
}

// resultMeta is one entry of a job's or a test case's metadata.
type resultMeta struct{ Key, Value string }

// resultJobMetadata is the definition's metadata block as LAVA's results
// page shows job.metadata: each value str() of what LAVA stored
// (resultexport.JobMetadata).
func resultJobMetadata(definition string) []resultMeta {
	var out []resultMeta
	for _, it := range resultexport.JobMetadata(definition) {
		for k, v := range it {
			out = append(out, resultMeta{k, v})
		}
	}
	return out
}

// yamlNodeText is a YAML value as text: a scalar's value, else its YAML.
func yamlNodeText(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	b, err := yaml.Marshal(n)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

type jobResultsData struct {
	Job      store.Job
	Suites   []resultSuiteRow
	Total    resultSuiteRow
	Metadata []resultMeta
}

func (s *site) resultsJobPage(w http.ResponseWriter, r *http.Request) {
	j, err := s.findJob(r, r.PathValue("job"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rs, err := s.c.Store.Results(r.Context(), j.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := jobResultsData{Job: j, Suites: resultSuiteRows(rs), Metadata: resultJobMetadata(j.Definition)}
	for _, row := range d.Suites {
		d.Total.Pass += row.Pass
		d.Total.Fail += row.Fail
		d.Total.Skip += row.Skip
		d.Total.Unknown += row.Unknown
		d.Total.N += row.N
	}
	s.page(w, r, "results_job.html", fmt.Sprintf("Results of job %v", lab.DisplayID(j)), d)
}

type suiteResultsData struct {
	Job   store.Job
	Suite resultSuiteRow
	Cases []store.Result
}

func (s *site) resultsSuitePage(w http.ResponseWriter, r *http.Request, id, suite string) {
	j, cases, err := s.resultsSuiteCases(r, id, suite)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.page(w, r, "results_suite.html", fmt.Sprintf("Suite %s of job %v", suite, lab.DisplayID(j)),
		suiteResultsData{Job: j, Suite: resultSuiteRows(cases)[0], Cases: cases})
}

// resultsSuiteCases is the job an URL names and its results in suite; a suite
// without results is not found.
func (s *site) resultsSuiteCases(r *http.Request, id, suite string) (store.Job, []store.Result, error) {
	j, err := s.findJob(r, id)
	if err != nil {
		return j, nil, err
	}
	rs, err := s.c.Store.Results(r.Context(), j.ID)
	if err != nil {
		return j, nil, err
	}
	var cases []store.Result
	for _, c := range rs {
		if c.Suite == suite {
			cases = append(cases, c)
		}
	}
	if len(cases) == 0 {
		return j, nil, notFound(fmt.Sprintf("suite %s of job %s", suite, id))
	}
	return j, cases, nil
}

func (s *site) resultsCaseByName(w http.ResponseWriter, r *http.Request, id, suite, name string) {
	j, cases, err := s.resultsSuiteCases(r, id, suite)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// LAVA takes the last part as a test case id first, then as a name.
	if n, err := strconv.ParseInt(name, 10, 64); err == nil {
		for _, c := range cases {
			if c.ID == n {
				s.resultsCasePage(w, r, j, cases, c.Case)
				return
			}
		}
	}
	s.resultsCasePage(w, r, j, cases, name)
}

// findTestCase is the test case whose id idText is, with its job's id,
// or a 404 error naming it when idText is no number or no case has it.
func (s *site) findTestCase(r *http.Request, idText string) (int64, store.Result, error) {
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		return 0, store.Result{}, notFound("test case " + idText)
	}
	jobID, c, err := s.c.Store.TestCase(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return 0, store.Result{}, notFound("test case " + idText)
	}
	return jobID, c, err
}

func (s *site) resultsCaseByID(w http.ResponseWriter, r *http.Request, idText string) {
	jobID, c, err := s.findTestCase(r, idText)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	j, cases, err := s.resultsSuiteCases(r, strconv.FormatInt(jobID, 10), c.Suite)
	var he *httpError
	if errors.As(err, &he) && he.Code == http.StatusNotFound {
		// A private job's case is not found either.
		s.fail(w, r, notFound("test case "+idText))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.resultsCasePage(w, r, j, cases, c.Case)
}

// resultCaseView is one result of the case page (not embedding store.Result,
// whose field Result the embedded struct's name would shadow).
type resultCaseView struct {
	ID          int64
	Result      string
	Measurement *float64
	Units       string
	Logged      time.Time
	LogStart    *int64
	Metadata    []resultMeta
}

// caseHistoryRow is one job of the case's history.
type caseHistoryRow struct {
	Job     store.Job
	Result  store.Result
	URL     string
	Current bool
}

type resultCaseData struct {
	Job     store.Job
	Suite   string
	Name    string
	Cases   []resultCaseView
	Plot    template.HTML
	Units   string
	By      string // "type" or "description"
	ByType  string // the device type plotted across
	History []caseHistoryRow
	// NoMeasure is set when no job of the history measured the case.
	NoMeasure bool
}

// Bounds of the case history: the default and largest number of jobs.
const (
	caseHistoryJobs = 50
	caseHistoryMax  = store.MaxCaseHistory
)

func (s *site) resultsCasePage(w http.ResponseWriter, r *http.Request, j store.Job, resultsSuiteCases []store.Result, name string) {
	ctx := r.Context()
	d := resultCaseData{Job: j, Suite: resultsSuiteCases[0].Suite, Name: name, By: "type"}
	for _, c := range resultsSuiteCases {
		if c.Case == name {
			d.Cases = append(d.Cases, resultCaseView{ID: c.ID, Result: c.Result, Measurement: c.Measurement, Units: c.Units,
				Logged: c.Logged, LogStart: c.LogStart, Metadata: resultCaseMetadata(c.Metadata)})
		}
	}
	if len(d.Cases) == 0 {
		s.fail(w, r, notFound(fmt.Sprintf("test case %s in suite %s of job %v", name, d.Suite, lab.DisplayID(j))))
		return
	}
	q := store.CaseHistoryQuery{Suite: d.Suite, Case: name, Viewer: s.viewer(r), Limit: caseHistoryJobs}
	if n, err := strconv.Atoi(r.URL.Query().Get("jobs")); err == nil && n > 0 {
		q.Limit = min(n, caseHistoryMax)
	}
	if r.URL.Query().Get("by") == "description" && j.Description != "" {
		d.By, q.Description = "description", j.Description
	} else {
		// The type of the device the job ran on (the requested name may
		// be an alias).
		d.ByType = j.DeviceType
		if j.Device != "" {
			if dev, err := s.c.Store.Device(ctx, j.Device); err == nil {
				d.ByType = dev.DeviceType
			}
		}
		q.DeviceType = d.ByType
	}
	points, err := s.c.Store.CaseHistory(ctx, q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var plot []plotPoint
	// Oldest first, left to right.
	for i := len(points) - 1; i >= 0; i-- {
		p := points[i]
		row := caseHistoryRow{Job: p.Job, Result: p.Result, URL: resultsURL(p.Job, d.Suite, name), Current: p.Job.ID == j.ID}
		d.History = append(d.History, row)
		if p.Result.Measurement != nil {
			plot = append(plot, plotPoint{Label: fmt.Sprint(lab.DisplayID(p.Job)), URL: row.URL, Value: *p.Result.Measurement,
				Result: p.Result.Result, Current: row.Current})
			if d.Units == "" {
				d.Units = p.Result.Units
			}
		}
	}
	slices.Reverse(d.History) // the table reads newest first
	d.NoMeasure = len(plot) == 0
	d.Plot = plotSVG(plot, d.Units)
	s.page(w, r, "results_case.html", fmt.Sprintf("Test case %s of job %v", name, lab.DisplayID(j)), d)
}

// resultCaseMetadata is a result's metadata (YAML or JSON text as the
// worker sent it) as sorted items, without the keys the page shows
// already (case, result, definition, measurement, units).
func resultCaseMetadata(text string) []resultMeta {
	var n yaml.Node
	if yaml.Unmarshal([]byte(text), &n) != nil || len(n.Content) == 0 || n.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	m := n.Content[0]
	var out []resultMeta
	for i := 0; i+1 < len(m.Content); i += 2 {
		switch k := m.Content[i].Value; k {
		case "case", "result", "definition", "measurement", "units":
		default:
			out = append(out, resultMeta{k, yamlNodeText(m.Content[i+1])})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
