package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/resultexport"
)

// TestResultsExports: each download is internal/resultexport's text for
// the job (suite by suite), the suite (cut by offset and limit) or the
// case, as an attachment named as LAVA names it; a private job's are not
// found.
func TestResultsExports(t *testing.T) {
	ts := newTestSite(t)
	jobs := resultsFixtureJobs(t, ts)
	ctx := context.Background()
	rs, err := ts.st.Results(ctx, jobs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var csv, yml strings.Builder
	if err := resultexport.CSV(&csv, jobs[0].ID, resultexport.BySuite(rs)); err != nil {
		t.Fatal(err)
	}
	if err := resultexport.YAML(&yml, jobs[0].ID, resultexport.BySuite(rs)); err != nil {
		t.Fatal(err)
	}
	summary, err := resultexport.SuitesYAML(jobs[0].ID, rs)
	if err != nil {
		t.Fatal(err)
	}
	var suiteYAML strings.Builder
	if err := resultexport.YAML(&suiteYAML, jobs[0].ID, rs[2:3]); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, ctype, file, body string
	}{
		{"/results/1/csv", "text/csv; charset=utf-8", "lava_1.csv", csv.String()},
		{"/results/1/csv/", "text/csv; charset=utf-8", "lava_1.csv", csv.String()},
		{"/results/1/yaml", "text/yaml; charset=utf-8", "lava_1.yaml", yml.String()},
		{"/results/1/yaml_summary", "text/yaml; charset=utf-8", "lava_1_summary.yaml", summary},
		{"/results/1/metadata", "text/yaml; charset=utf-8", "lava_metadata_1.yaml", "build: v1.2.<b>\ntags: '[''a'', ''b'']'\n"},
		{"/results/1/0_perf/yaml?offset=1&limit=1", "text/yaml; charset=utf-8", "lava_0_perf.yaml", suiteYAML.String()},
	} {
		rec := ts.get(t, c.path, "")
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != c.ctype ||
			rec.Header().Get("Content-Disposition") != fmt.Sprintf(`attachment; filename="%s"`, c.file) {
			t.Errorf("%s: %d %q %q", c.path, rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Content-Disposition"))
			continue
		}
		if rec.Body.String() != c.body {
			t.Errorf("%s:\n%s\nwant\n%s", c.path, rec.Body.String(), c.body)
		}
	}
	rec := ts.get(t, "/results/1/0_perf/csv", "")
	if lines := strings.Count(rec.Body.String(), "\r\n"); rec.Code != http.StatusOK || lines != 4 {
		t.Errorf("suite CSV: %d, %d lines, want a header and 3 cases", rec.Code, lines)
	}
	rec = ts.get(t, fmt.Sprintf("/results/testcase/%d/yaml", rs[1].ID), "")
	wantBody(t, rec, http.StatusOK, "name: speed\n", "suite: 0_perf\n", "unit: MB/s\n")
	if rec.Header().Get("Content-Disposition") != `attachment; filename="lava_speed.yaml"` {
		t.Errorf("test case YAML named %q", rec.Header().Get("Content-Disposition"))
	}
	private := fmt.Sprint(jobs[2].ID)
	priv, err := ts.st.Results(ctx, jobs[2].ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/results/" + private + "/csv", "/results/" + private + "/0_perf/yaml", fmt.Sprintf("/results/testcase/%d/yaml", priv[1].ID), "/results/999/yaml"} {
		wantBody(t, ts.get(t, p, ""), http.StatusNotFound)
	}
	wantBody(t, ts.get(t, "/results/"+private+"/csv", "alice"), http.StatusOK)
}
