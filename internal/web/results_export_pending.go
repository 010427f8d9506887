//go:build !resultexport_landed

package web

import "net/http"

// Until internal/resultexport is on this branch the exports are not found.

func (s *site) resultsJobExport(w http.ResponseWriter, r *http.Request, id, kind string) {
	s.fail(w, r, notFound("export "+kind))
}

func (s *site) resultsSuiteExport(w http.ResponseWriter, r *http.Request, id, suite, kind string) {
	s.fail(w, r, notFound("export "+kind))
}

func (s *site) resultsCaseExport(w http.ResponseWriter, r *http.Request, id string) {
	s.fail(w, r, notFound("export of test case "+id))
}
