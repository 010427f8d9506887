package web

// The results exports, LAVA's downloads of lava_results_app, written by
// internal/resultexport (the same text lavarpc's results.* and REST's
// exports answer): /results/JOB/csv, /yaml, /yaml_summary, /metadata,
// /results/JOB/SUITE/csv and /yaml (with ?limit= and ?offset=, as LAVA's)
// and /results/testcase/ID/yaml. Each is an attachment named as LAVA
// names it.

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/basalt-lava/basalt/internal/resultexport"
)

// download sends body as an attachment.
func download(w http.ResponseWriter, contentType, filename string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", downloadDisposition(filename))
	_, _ = w.Write(body)
}

func (s *site) resultsJobExport(w http.ResponseWriter, r *http.Request, id, kind string) {
	j, err := s.findJob(r, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rs, err := s.c.Store.Results(r.Context(), j.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// LAVA exports a job's cases suite by suite.
	rs = resultexport.BySuite(rs)
	var b bytes.Buffer
	switch kind {
	case "csv":
		err = resultexport.CSV(&b, j.ID, rs)
		if err == nil {
			download(w, "text/csv; charset=utf-8", fmt.Sprintf("lava_%d.csv", j.ID), b.Bytes())
		}
	case "yaml":
		err = resultexport.YAML(&b, j.ID, rs)
		if err == nil {
			download(w, "text/yaml; charset=utf-8", fmt.Sprintf("lava_%d.yaml", j.ID), b.Bytes())
		}
	case "yaml_summary":
		var text string
		if text, err = resultexport.SuitesYAML(j.ID, rs); err == nil {
			download(w, "text/yaml; charset=utf-8", fmt.Sprintf("lava_%d_summary.yaml", j.ID), []byte(text))
		}
	case "metadata":
		var text string
		if text, err = metadataYAML(resultexport.JobMetadata(j.Definition)); err == nil {
			download(w, "text/yaml; charset=utf-8", fmt.Sprintf("lava_metadata_%d.yaml", j.ID), []byte(text))
		}
	}
	if err != nil {
		s.fail(w, r, err)
	}
}

// metadataYAML is LAVA's /metadata export: the job's metadata as one
// mapping ("{}" for none).
func metadataYAML(items []map[string]string) (string, error) {
	var pairs []any
	for _, it := range items {
		for k, v := range it {
			pairs = append(pairs, k, v)
		}
	}
	if len(pairs) == 0 {
		return "{}\n", nil
	}
	return encodeYAML(resultexport.Mapping(pairs...))
}

// encodeYAML writes one node as the exports write theirs (2-space
// indent).
func encodeYAML(n *yaml.Node) (string, error) {
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (s *site) resultsSuiteExport(w http.ResponseWriter, r *http.Request, id, suite, kind string) {
	j, cases, err := s.resultsSuiteCases(r, id, suite)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// ?offset= and ?limit= (0: all) cut the suite, as LAVA's.
	q := r.URL.Query()
	offset, _ := strconv.Atoi(q.Get("offset"))
	limit, _ := strconv.Atoi(q.Get("limit"))
	if offset > 0 {
		cases = cases[min(offset, len(cases)):]
	}
	if limit > 0 && limit < len(cases) {
		cases = cases[:limit]
	}
	var b bytes.Buffer
	if kind == "csv" {
		err = resultexport.CSV(&b, j.ID, cases)
		if err == nil {
			download(w, "text/csv; charset=utf-8", "lava_"+suite+".csv", b.Bytes())
		}
	} else {
		err = resultexport.YAML(&b, j.ID, cases)
		if err == nil {
			download(w, "text/yaml; charset=utf-8", "lava_"+suite+".yaml", b.Bytes())
		}
	}
	if err != nil {
		s.fail(w, r, err)
	}
}

func (s *site) resultsCaseExport(w http.ResponseWriter, r *http.Request, idText string) {
	jobID, c, err := s.findTestCase(r, idText)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	j, err := s.findJob(r, strconv.FormatInt(jobID, 10))
	if err != nil {
		// A private job's case is not found either.
		s.fail(w, r, notFound("test case "+idText))
		return
	}
	text, err := encodeYAML(resultexport.Case(j.ID, c))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	download(w, "text/yaml; charset=utf-8", "lava_"+c.Case+".yaml", []byte(text))
}
