package web

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/store"
)

// submitLab adds the qemu type and two Good devices with a dictionary
// Basalt's shipped qemu template renders, so the test job is accepted.
func (s *listSite) submitLab(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dict, err := os.ReadFile("testdata/device.jinja2")
	listMust(t, err)
	listMust(t, s.st.PutDeviceType(ctx, store.DeviceType{Name: "qemu"}))
	_, err = s.st.CreateWorker(ctx, "w1", "")
	listMust(t, err)
	for _, name := range []string{"qemu-01", "qemu-02"} {
		listMust(t, s.st.CreateDevice(ctx, store.Device{Name: name, DeviceType: "qemu", Worker: "w1", Dictionary: string(dict)}))
		listMust(t, s.st.SetDeviceHealth(ctx, name, store.HealthGood))
	}
	job, err := os.ReadFile("testdata/job.yaml")
	listMust(t, err)
	return string(job)
}

// post sends form as user ("" anonymous) with the session's CSRF token
// unless csrf is false.
func (s *listSite) post(t *testing.T, user string, form url.Values, csrf bool) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("POST", "/scheduler/jobsubmit", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		r.AddCookie(s.session(t, user))
		if csrf {
			form.Set("csrf", s.auth.CSRF(r))
			r = httptest.NewRequest("POST", "/scheduler/jobsubmit/", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.AddCookie(s.session(t, user))
		}
	}
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, r)
	return rec
}

func (s *listSite) jobCount(t *testing.T) int {
	t.Helper()
	n, err := s.st.CountJobs(context.Background(), store.JobFilter{})
	listMust(t, err)
	return n
}

func TestSubmitForm(t *testing.T) {
	s := newListSite(t)
	job := s.submitLab(t)

	rec := s.get(t, "", "/scheduler/jobsubmit")
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), `id="submit-login"`) {
		t.Errorf("GET jobsubmit anonymous = %d, want 401 with a login link", rec.Code)
	}
	rec = s.get(t, "alice", "/scheduler/jobsubmit/")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `<form id="submit-form"`) ||
		!strings.Contains(rec.Body.String(), `name="csrf" value="`) {
		t.Errorf("GET jobsubmit as alice = %d, want 200 with the form and its CSRF token", rec.Code)
	}

	if rec := s.post(t, "", url.Values{"definition": {job}}, false); rec.Code != http.StatusUnauthorized {
		t.Errorf("POST anonymous = %d, want 401", rec.Code)
	}
	if rec := s.post(t, "alice", url.Values{"definition": {job}}, false); rec.Code != http.StatusForbidden {
		t.Errorf("POST without the CSRF token = %d, want 403", rec.Code)
	}
	if n := s.jobCount(t); n != 0 {
		t.Fatalf("refused posts stored %d jobs", n)
	}

	// Validate: every problem with its place, nothing stored.
	bad := strings.Replace(job, "job_name: lab-test\n", "", 1)
	bad = strings.Replace(bad, "media: tmpfs", "media: [tmpfs", 1)
	rec = s.post(t, "alice", url.Values{"definition": {bad}, "action": {"validate"}}, true)
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, `id="submit-problems"`) || !strings.Contains(body, `<li class="problem">job.yaml:`) {
		t.Errorf("validate an invalid job = %d, want 200 listing its problems as job.yaml:line:col:\n%s", rec.Code, body)
	}
	rec = s.post(t, "alice", url.Values{"definition": {strings.Replace(job, "job_name: lab-test\n", "", 1)}, "action": {"validate"}}, true)
	if body := rec.Body.String(); !strings.Contains(body, "job_name") || !strings.Contains(body, "The job is not valid: 1 problem") {
		t.Errorf("validate without job_name does not name it:\n%s", body)
	}
	rec = s.post(t, "alice", url.Values{"definition": {strings.ReplaceAll(job, "\n", "\r\n")}, "action": {"validate"}}, true)
	if body := rec.Body.String(); !strings.Contains(body, `id="submit-valid"`) {
		t.Errorf("validate a valid job (CRLF line ends, as browsers send) does not say valid:\n%s", body)
	}
	if n := s.jobCount(t); n != 0 {
		t.Fatalf("validating stored %d jobs", n)
	}

	// Submit refused: 400, the problems, the definition kept in the form.
	rec = s.post(t, "alice", url.Values{"definition": {strings.Replace(job, "media: tmpfs", "media: nfs", 1)}}, true)
	body = rec.Body.String()
	if rec.Code != http.StatusBadRequest || !strings.Contains(body, "The job was not submitted") ||
		!strings.Contains(body, `actions[1].boot.media: expected &#34;tmpfs&#34;`) || !strings.Contains(body, "media: nfs") {
		t.Errorf("submit a job refused on the device = %d:\n%s", rec.Code, body)
	}
	if rec := s.post(t, "alice", url.Values{"definition": {"  \n"}}, true); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "empty") {
		t.Errorf("submit an empty definition = %d, want 400 saying it is empty", rec.Code)
	}

	// Submitted: a redirect to the new job's page, the job alice's.
	rec = s.post(t, "alice", url.Values{"definition": {job}}, true)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("submit a valid job = %d, want 303:\n%s", rec.Code, rec.Body)
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(rec.Header().Get("Location"), "/scheduler/job/"), 10, 64)
	listMust(t, err)
	j, err := s.st.Job(context.Background(), id)
	listMust(t, err)
	if j.Submitter != "alice" || j.Description != "lab-test" || j.State != store.JobSubmitted {
		t.Errorf("the submitted job is %+v", j)
	}
}

func TestSubmitUpload(t *testing.T) {
	s := newListSite(t)
	job := s.submitLab(t)
	cookie := s.session(t, "bob")
	csrfReq := httptest.NewRequest("GET", "/", nil)
	csrfReq.AddCookie(cookie)
	csrf := s.auth.CSRF(csrfReq)

	upload := func(file string, text string) *httptest.ResponseRecorder {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		listMust(t, mw.WriteField("csrf", csrf))
		listMust(t, mw.WriteField("definition", text))
		listMust(t, mw.WriteField("action", "submit"))
		fw, err := mw.CreateFormFile("definition-file", "job.yaml")
		listMust(t, err)
		_, err = fw.Write([]byte(file))
		listMust(t, err)
		listMust(t, mw.Close())
		r := httptest.NewRequest("POST", "/scheduler/jobsubmit", &b)
		r.Header.Set("Content-Type", mw.FormDataContentType())
		r.AddCookie(cookie)
		rec := httptest.NewRecorder()
		s.h.ServeHTTP(rec, r)
		return rec
	}
	// The file wins over the text area.
	rec := upload(job, "not: a job")
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/scheduler/job/") {
		t.Fatalf("upload a valid job = %d (%s), want 303 to its page:\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	rec = upload(job+"# "+strings.Repeat("x", 1<<20)+"\n", "")
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "limit") {
		t.Errorf("upload an oversized job = %d, want 400 naming the limit:\n%s", rec.Code, rec.Body)
	}
	rec = upload(strings.Repeat("x", 3<<20), "")
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("upload a request over twice the limit = %d, want 413", rec.Code)
	}
	if n := s.jobCount(t); n != 1 {
		t.Errorf("%d jobs stored, want the one valid upload", n)
	}
}
