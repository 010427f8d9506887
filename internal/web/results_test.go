package web

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/basalt-lava/basalt/internal/store"
)

// resultsFixtureJobs stores jobs with results: four finished jobs on qemu-01
// named "perf" measuring 0_perf/speed (the third private to alice), one
// named "other", and returns their ids.
func resultsFixtureJobs(t *testing.T, ts *testSite) []store.Job {
	t.Helper()
	ctx := context.Background()
	var jobs []store.Job
	for i, c := range []struct {
		name    string
		vis     store.Visibility
		speed   float64
		verdict string
	}{
		{"perf", "", 10, "pass"}, {"perf", "", 30, "fail"}, {"perf", store.VisibilityPersonal, 99, "pass"},
		{"perf", "", 20, "pass"}, {"other", "", 15, "pass"},
	} {
		j := ts.submit(t, store.NewJob{Description: c.name, Visibility: c.vis,
			Definition: "job_name: " + c.name + "\nmetadata:\n  build: \"v1.2.<b>\"\n  tags: [a, b]\n"})
		if err := ts.st.Schedule(ctx, []store.Assignment{{Job: j.ID, Device: "qemu-01"}}); err != nil {
			t.Fatal(err)
		}
		m := c.speed
		line := int64(40 + i)
		rs := []store.Result{
			{Suite: "lava", Case: "job", Result: "pass", Metadata: "{}"},
			{Suite: "0_perf", Case: "speed", Result: c.verdict, Measurement: &m, Units: "MB/s", LogStart: &line, LogEnd: &line,
				Metadata: "{case: speed, definition: 0_perf, result: " + c.verdict + ", level: 3.1, extra: '<x>'}"},
			{Suite: "0_perf", Case: "boot", Result: "skip", Metadata: "{}"},
			{Suite: "0_perf", Case: "dmesg", Result: "unknown", Metadata: "not yaml: ["},
		}
		if err := ts.st.FinishJob(ctx, j.ID, store.Finish{Health: store.JobComplete, Results: rs}, j.Submitted); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	return jobs
}

// TestJobResults: the suites with their counts, the metadata, the export
// links; a private job is not found for others.
func TestJobResults(t *testing.T) {
	ts := newTestSite(t)
	jobs := resultsFixtureJobs(t, ts)
	for _, p := range []string{"/results/1", "/results/1/"} {
		wantBody(t, ts.get(t, p, ""), http.StatusOK,
			`<tr id="suite-lava"><td><a href="/results/1/lava">lava</a></td>`,
			`<tr id="suite-0_perf"><td><a href="/results/1/0_perf">0_perf</a></td>
<td class="num rs-pass">1</td><td class="num">0</td><td class="num rs-skip">1</td><td class="num rs-unknown">1</td><td class="num">3</td>`,
			`<tfoot><tr><th>All suites</th><th class="num">2</th><th class="num">0</th><th class="num">1</th><th class="num">1</th><th class="num">4</th>`,
			`<tr><th>build</th><td><pre class="res-metadata">v1.2.&lt;b&gt;</pre></td></tr>`,
			`href="/results/1/csv"`, `href="/results/1/0_perf/yaml"`)
	}
	private := fmt.Sprint(jobs[2].ID)
	wantBody(t, ts.get(t, "/results/"+private, ""), http.StatusNotFound)
	wantBody(t, ts.get(t, "/results/"+private+"/0_perf", "admin"), http.StatusOK)
	wantBody(t, ts.get(t, "/results/"+private+"/0_perf/speed", "alice"), http.StatusOK)
	wantBody(t, ts.get(t, "/results/999", ""), http.StatusNotFound)
	empty := ts.submit(t, store.NewJob{})
	wantBody(t, ts.get(t, fmt.Sprintf("/results/%d", empty.ID), ""), http.StatusOK, "This job has no results yet.")
}

// TestSuiteResults: a suite's cases with result, measurement, units and
// the link to their log line.
func TestSuiteResults(t *testing.T) {
	ts := newTestSite(t)
	resultsFixtureJobs(t, ts)
	for _, p := range []string{"/results/2/0_perf", "/results/2/0_perf/"} {
		wantBody(t, ts.get(t, p, ""), http.StatusOK,
			`<td><a href="/results/2/0_perf/speed">speed</a></td>
<td><span class="rs rs-fail">fail</span></td>
<td class="num">30</td><td>MB/s</td>`,
			`<a class="log-link" href="/scheduler/job/2#L41">line 41</a>`,
			`<span class="rs rs-skip">skip</span>`, `<span class="rs rs-unknown">unknown</span>`)
	}
	wantBody(t, ts.get(t, "/results/2/nope", ""), http.StatusNotFound, "suite nope of job 2 not found")
}

// TestTestCasePage: the case by name and by id, its metadata, and the
// plot of its measurement across the visible jobs of the device type (or
// of the job name): one point per job, linking to that job's case.
func TestTestCasePage(t *testing.T) {
	ts := newTestSite(t)
	jobs := resultsFixtureJobs(t, ts)
	rs, err := ts.st.Results(context.Background(), jobs[3].ID)
	if err != nil {
		t.Fatal(err)
	}
	speedID := rs[1].ID
	for _, p := range []string{"/results/4/0_perf/speed", "/results/4/0_perf/speed/", fmt.Sprintf("/results/testcase/%d", speedID),
		fmt.Sprintf("/results/testcase/%d/", speedID), fmt.Sprintf("/results/4/0_perf/%d", speedID)} {
		rec := ts.get(t, p, "")
		wantBody(t, rec, http.StatusOK,
			`<h1>Test case speed</h1>`,
			fmt.Sprintf(`<section class="case" id="case-%d">`, speedID),
			`<dt>Measurement</dt><dd>20 MB/s</dd>`,
			`<dt>extra</dt><dd><pre class="res-metadata">&lt;x&gt;</pre></dd>`,
			`<dt>level</dt><dd><pre class="res-metadata">3.1</pre></dd>`,
			`Jobs on <a href="/scheduler/device_type/qemu">qemu</a> devices`,
			`<svg id="case-plot"`)
		if strings.Contains(rec.Body.String(), "<dt>definition</dt>") {
			t.Errorf("%s: the metadata repeats the definition", p)
		}
		// Anonymous: jobs 1, 2, 4 (3 is private; 5 is named "other" but
		// on the same device type, so it is in).
		if diff := cmp.Diff(resultsPlotLinks(t, rec.Body.String()), []string{
			"/results/1/0_perf/speed", "/results/2/0_perf/speed", "/results/4/0_perf/speed", "/results/5/0_perf/speed",
		}); diff != "" {
			t.Errorf("%s: plot points (-got +want):\n%s", p, diff)
		}
		if !strings.Contains(rec.Body.String(), `<a class="plot-point plot-current" href="/results/4/0_perf/speed">`) {
			t.Errorf("%s: the page's own job is not marked on the plot", p)
		}
	}
	// By job name, as alice (who sees her private job 3).
	rec := ts.get(t, "/results/4/0_perf/speed?by=description", "alice")
	wantBody(t, rec, http.StatusOK, `Jobs named “perf”`)
	if diff := cmp.Diff(resultsPlotLinks(t, rec.Body.String()), []string{
		"/results/1/0_perf/speed", "/results/2/0_perf/speed", "/results/3/0_perf/speed", "/results/4/0_perf/speed",
	}); diff != "" {
		t.Errorf("by description: plot points (-got +want):\n%s", diff)
	}
	// A case without measurements: no plot, the table open.
	rec = ts.get(t, "/results/4/0_perf/boot", "")
	wantBody(t, rec, http.StatusOK, "No job measured this test case", `<details open>`, `<table class="table" id="case-history">`)
	if strings.Contains(rec.Body.String(), "<svg") {
		t.Errorf("a case without measurements has a plot")
	}
	// The limit.
	if got := resultsPlotLinks(t, ts.get(t, "/results/4/0_perf/speed?jobs=2", "").Body.String()); len(got) != 2 {
		t.Errorf("?jobs=2: %d points, want 2", len(got))
	}
	// Unknown or hidden cases.
	priv, err := ts.st.Results(context.Background(), jobs[2].ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/results/4/0_perf/nope", "/results/testcase/999999", "/results/testcase/x", fmt.Sprintf("/results/testcase/%d", priv[1].ID)} {
		wantBody(t, ts.get(t, p, ""), http.StatusNotFound)
	}
}

var resultsPlotRE = regexp.MustCompile(`<svg id="case-plot".*?</svg>`)

// resultsPlotLinks returns the links of the page's plot points, in order.
func resultsPlotLinks(t *testing.T, page string) []string {
	t.Helper()
	svg := resultsPlotRE.FindString(page)
	if svg == "" {
		return nil
	}
	var root plotSVGNode
	if err := xml.Unmarshal([]byte(svg), &root); err != nil {
		t.Fatalf("the plot is not well-formed: %v", err)
	}
	var out []string
	root.walk(func(n plotSVGNode) {
		if n.XMLName.Local == "a" && strings.HasPrefix(n.attr("class"), "plot-point") {
			out = append(out, n.attr("href"))
		}
	})
	return out
}
