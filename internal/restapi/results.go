package restapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/basalt-lava/basalt/internal/resultexport"
	"github.com/basalt-lava/basalt/internal/store"
)

// suiteOut is LAVA's TestSuiteSerializer.
type suiteOut struct {
	ID          int64  `json:"id"`
	ResourceURI string `json:"resource_uri"`
	Job         int64  `json:"job"`
	Name        string `json:"name"`
}

// caseOut is LAVA's TestCaseSerializer: metadata is the raw YAML text
// (SQUAD parses it), measurement a decimal string, the log lines the
// indexes the case covers.
type caseOut struct {
	ID           int64  `json:"id"`
	Result       string `json:"result"`
	ResourceURI  string `json:"resource_uri"`
	Unit         string `json:"unit"`
	Name         string `json:"name"`
	Measurement  any    `json:"measurement"`
	Metadata     string `json:"metadata"`
	Suite        int64  `json:"suite"`
	StartLogLine any    `json:"start_log_line"`
	EndLogLine   any    `json:"end_log_line"`
	TestSet      any    `json:"test_set"`
	Logged       any    `json:"logged"`
}

func (rq *req) suiteJSON(job int64, s resultexport.Suite) suiteOut {
	return suiteOut{ID: s.ID, Job: job, Name: s.Name,
		ResourceURI: rq.absURL(fmt.Sprintf("%sjobs/%d/suites/%d/", rq.base, job, s.ID), nil)}
}

// caseJSON is r of job j in suite. Clients parse strictly what LAVA
// always fills: lava-api wants logged set and metadata a YAML string with
// definition, case and result. A result stored before Basalt kept its
// time gets the job's end (else submit) time; one without metadata
// gets those three keys.
func (rq *req) caseJSON(j store.Job, suite int64, r store.Result) caseOut {
	logged := r.Logged
	if logged.IsZero() {
		logged = j.Ended
	}
	if logged.IsZero() {
		logged = j.Submitted
	}
	o := caseOut{ID: r.ID, Result: r.Result, Unit: r.Units, Name: r.Case, Suite: suite,
		ResourceURI: rq.absURL(fmt.Sprintf("%sjobs/%d/suites/%d/tests/%d/", rq.base, j.ID, suite, r.ID), nil),
		Logged:      isoTime(logged), Metadata: r.Metadata}
	if r.Measurement != nil {
		o.Measurement = resultexport.Measurement(r.Measurement)
	}
	if r.Metadata == "" {
		b, err := json.Marshal(map[string]string{"case": r.Case, "definition": r.Suite, "result": r.Result})
		if err == nil {
			o.Metadata = string(b)
		}
	}
	if r.LogStart != nil {
		o.StartLogLine = *r.LogStart
	}
	if r.LogEnd != nil {
		o.EndLogLine = *r.LogEnd
	}
	return o
}

// results answers jobs/<id>/suites/... and jobs/<id>/tests/...: 404 for
// a job that does not exist, 403 for one the user may not see (LAVA's
// nested viewsets check can_view).
func (a *api) results(rq *req, seg []string) error {
	if err := rq.methods(http.MethodGet); err != nil {
		return err
	}
	j, err := a.jobByID(rq, seg[0])
	if err != nil {
		return err
	}
	if ok, err := a.visible(rq, j); err != nil {
		return err
	} else if !ok {
		return errNoPermission
	}
	rs, err := a.store.Results(rq.r.Context(), j.ID)
	if err != nil {
		return err
	}
	suites := resultexport.Suites(rs)
	suiteOf := map[string]int64{}
	for _, s := range suites {
		suiteOf[s.Name] = s.ID
	}
	q := rq.r.URL.Query()
	if seg[1] == "tests" {
		switch len(seg) {
		case 2:
			return a.caseList(rq, j, filterCases(rs, q.Get("name"), q.Get("result")), suiteOf)
		case 3:
			return a.caseDetail(rq, j, rs, seg[2], suiteOf, "")
		}
		return errNotFound
	}
	if len(seg) == 2 {
		var out []suiteOut
		for _, s := range suites {
			if n := q.Get("name"); n != "" && s.Name != n {
				continue
			}
			out = append(out, rq.suiteJSON(j.ID, s))
		}
		return pageOf(rq, out)
	}
	sid, err := strconv.ParseInt(seg[2], 10, 64)
	if err != nil {
		return errNotFound
	}
	var suite *resultexport.Suite
	for i := range suites {
		if suites[i].ID == sid {
			suite = &suites[i]
		}
	}
	if suite == nil {
		return errNotFound
	}
	var cases []store.Result
	for _, r := range rs {
		if r.Suite == suite.Name {
			cases = append(cases, r)
		}
	}
	if len(seg) == 3 {
		return rq.ok(rq.suiteJSON(j.ID, *suite))
	}
	switch seg[3] {
	case "tests":
		switch len(seg) {
		case 4:
			return a.caseList(rq, j, filterCases(cases, q.Get("name"), q.Get("result")), suiteOf)
		case 5:
			return a.caseDetail(rq, j, cases, seg[4], suiteOf, suite.Name)
		}
	case "csv", "yaml":
		if len(seg) != 4 {
			return errNotFound
		}
		// The suite exports page only when limit is given, as LAVA's
		// get_testcases_with_limit.
		if q.Get("limit") != "" {
			if cases, err = sliceArgs(rq, cases); err != nil {
				return err
			}
		}
		var b bytes.Buffer
		if seg[3] == "csv" {
			if err := resultexport.CSV(&b, j.ID, cases); err != nil {
				return err
			}
			return rq.attachment("application/csv", "suite_"+suite.Name+".csv", b.Bytes())
		}
		if err := resultexport.YAML(&b, j.ID, cases); err != nil {
			return err
		}
		return rq.attachment("application/yaml", "suite_"+suite.Name+".yaml", b.Bytes())
	}
	return errNotFound
}

// filterCases keeps the cases named name and with result result (each
// when not empty).
func filterCases(rs []store.Result, name, result string) []store.Result {
	if name == "" && result == "" {
		return rs
	}
	var out []store.Result
	for _, r := range rs {
		if (name == "" || r.Case == name) && (result == "" || r.Result == result) {
			out = append(out, r)
		}
	}
	return out
}

func (a *api) caseList(rq *req, job store.Job, rs []store.Result, suiteOf map[string]int64) error {
	out := make([]caseOut, 0, len(rs))
	for _, r := range rs {
		out = append(out, rq.caseJSON(job, suiteOf[r.Suite], r))
	}
	return pageOf(rq, out)
}

func (a *api) caseDetail(rq *req, job store.Job, rs []store.Result, id string, suiteOf map[string]int64, suite string) error {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return errNotFound
	}
	for _, r := range rs {
		if r.ID == n && (suite == "" || r.Suite == suite) {
			return rq.ok(rq.caseJSON(job, suiteOf[r.Suite], r))
		}
	}
	return errNotFound
}
