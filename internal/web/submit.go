package web

// submit.go: /scheduler/jobsubmit, LAVA's web submit form. A logged-in
// user pastes a job definition (or uploads its file) and either validates
// it (every problem listed as `basalt validate` prints it,
// file:line:col: key: message) or submits it (the lab's whole submission
// check, then a redirect to the new job's page, the first sub-job's for
// MultiNode, as LAVA does). The form carries the session's CSRF token.
//
// Stable ids (browser tests): form#submit-form with textarea#definition
// (name "definition"), input#definition-file (name "definition-file"),
// button#validate-job (name "action" value "validate") and button#submit-job
// (value "submit"); div#submit-problems (li.problem each), div#submit-warnings,
// p#submit-valid; p#submit-login for an anonymous visitor.

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/store"
)

// submitData is what templates/jobsubmit.html renders.
type submitData struct {
	LoggedIn   bool
	LoginLink  string
	Definition string
	// Validated: the definition was validated (not submitted); with no
	// Problems it is valid.
	Validated bool
	Problems  []string
	Warnings  []string
	// MaxSize is the largest definition accepted, for the page to say.
	MaxSize string
}

func init() { addRoutes((*site).submitRoutes) }

func (s *site) submitRoutes() {
	s.get("/scheduler/jobsubmit", s.submitForm)
	// Not s.post: the body is bounded before the CSRF check reads it.
	s.route("POST", "/scheduler/jobsubmit", s.submitPost)
}

func (s *site) newSubmitData(r *http.Request) (store.User, submitData) {
	u, in := s.user(r)
	return u, submitData{
		LoggedIn:  in,
		LoginLink: "/accounts/login/?next=" + url.QueryEscape(r.URL.Path),
		MaxSize:   limits.FormatSize(limits.Defaults().JobSize) + " bytes",
	}
}

// submitForm shows the empty form; an anonymous visitor gets 401 and a
// login link (LAVA answers 401 with its page too).
func (s *site) submitForm(w http.ResponseWriter, r *http.Request) {
	_, d := s.newSubmitData(r)
	status := http.StatusOK
	if !d.LoggedIn {
		status = http.StatusUnauthorized
	}
	s.submitPage(w, r, status, d)
}

func (s *site) submitPage(w http.ResponseWriter, r *http.Request, status int, d submitData) {
	s.render(w, r, status, "jobsubmit.html", "Submit a job", d)
}

func (s *site) submitPost(w http.ResponseWriter, r *http.Request) {
	u, d := s.newSubmitData(r)
	if !d.LoggedIn {
		s.submitPage(w, r, http.StatusUnauthorized, d)
		return
	}
	max := limits.Defaults().JobSize
	// The definition may come twice (pasted and uploaded) plus the form's
	// own fields.
	r.Body = http.MaxBytesReader(w, r.Body, 2*max+64<<10)
	if err := parseSubmitForm(r, max); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			d.Problems = []string{fmt.Sprintf("the request is over %d bytes: a job definition is limited to %s", tooBig.Limit, d.MaxSize)}
			s.submitPage(w, r, http.StatusRequestEntityTooLarge, d)
			return
		}
		s.fail(w, r, &httpError{Code: http.StatusBadRequest, Msg: "the form could not be read: " + err.Error()})
		return
	}
	if !s.c.Auth.CheckCSRF(r) {
		s.fail(w, r, &httpError{Code: http.StatusForbidden, Msg: "the form's CSRF token is missing or out of date: reload the page and try again"})
		return
	}
	def, err := submittedDefinition(r, max)
	if err != nil {
		d.Problems = []string{err.Error()}
		s.submitPage(w, r, http.StatusBadRequest, d)
		return
	}
	d.Definition = def
	if strings.TrimSpace(def) == "" {
		d.Problems = []string{"the job definition is empty: paste it or choose its file"}
		s.submitPage(w, r, http.StatusBadRequest, d)
		return
	}
	ctx := r.Context()
	if r.PostFormValue("action") == "validate" {
		d.Validated = true
		var paths []string
		for _, p := range s.c.Lab.Validate(ctx, def, false) {
			d.Problems = append(d.Problems, p.Msg)
			paths = append(paths, p.Path)
		}
		// LAVA's form shows the strict schema's findings as warnings;
		// one about a key already in error would say it twice.
		for _, p := range s.c.Lab.Validate(ctx, def, true) {
			if !slices.Contains(paths, p.Path) && !slices.Contains(d.Warnings, p.Msg) {
				d.Warnings = append(d.Warnings, p.Msg)
			}
		}
		s.submitPage(w, r, http.StatusOK, d)
		return
	}
	jobs, err := s.c.Lab.Submit(ctx, u, def)
	var refused *lab.SubmitError
	switch {
	case errors.As(err, &refused):
		d.Problems = refused.Problems
		if len(d.Problems) == 0 {
			d.Problems = []string{refused.Error()}
		}
		s.submitPage(w, r, http.StatusBadRequest, d)
		return
	case errors.Is(err, lab.ErrPermission):
		d.Problems = []string{err.Error()}
		s.submitPage(w, r, http.StatusForbidden, d)
		return
	case err != nil:
		s.fail(w, r, err)
		return
	case len(jobs) == 0:
		s.fail(w, r, errors.New("submit stored no job"))
		return
	}
	http.Redirect(w, r, "/scheduler/job/"+strconv.FormatInt(jobs[0].ID, 10), http.StatusSeeOther)
}

// parseSubmitForm reads a urlencoded or multipart form, keeping at most
// about max bytes of it in memory.
func parseSubmitForm(r *http.Request, max int64) error {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "multipart/form-data" {
		return r.ParseMultipartForm(max + 64<<10)
	}
	return r.ParseForm()
}

// submittedDefinition is the uploaded file when one was chosen, else the
// pasted text (LAVA's field name "definition-input" is accepted too).
func submittedDefinition(r *http.Request, max int64) (string, error) {
	if r.MultipartForm != nil {
		if fhs := r.MultipartForm.File["definition-file"]; len(fhs) > 0 && fhs[0].Size > 0 {
			fh := fhs[0]
			if fh.Size > max {
				return "", &limits.Error{What: "job definition file " + strconv.Quote(fh.Filename), Limit: limits.FormatSize(max) + " bytes"}
			}
			f, err := fh.Open()
			if err != nil {
				return "", fmt.Errorf("reading the uploaded file %q: %w", fh.Filename, err)
			}
			defer f.Close()
			b, err := io.ReadAll(io.LimitReader(f, max+1))
			if err != nil {
				return "", fmt.Errorf("reading the uploaded file %q: %w", fh.Filename, err)
			}
			return string(b), nil
		}
	}
	def := r.PostFormValue("definition")
	if def == "" {
		def = r.PostFormValue("definition-input")
	}
	// Browsers send a textarea's line ends as CRLF.
	return strings.ReplaceAll(def, "\r\n", "\n"), nil
}
