package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/events"
	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/logstore"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/sqlite"
	"github.com/basalt-lava/basalt/internal/webauth"
)

// jobFixture is a real lab on SQLite with a log store: users alice
// (submitter), bob and admin (superuser), each with an API token; type
// qemu with devices qemu-01 and qemu-02 on worker w1.
type jobFixture struct {
	st     store.Store
	logs   *logstore.Logs
	lab    *lab.Lab
	srv    *httptest.Server
	tokens map[string]string
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newJobFixture(t *testing.T) *jobFixture { return newJobFixtureHub(t, nil) }

// newJobFixtureHub is newJobFixture with hub, when not nil, fed by the
// store (as basalt server does) and given to the pages.
func newJobFixtureHub(t *testing.T, hub *events.Hub) *jobFixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	sq, err := sqlite.Open(ctx, filepath.Join(dir, "basalt.db"))
	must(t, err)
	t.Cleanup(func() { sq.Close() })
	var st store.Store = sq
	if hub != nil {
		st = events.Feed(sq, hub)
	}
	logs, err := logstore.Open(dir, logstore.Options{})
	must(t, err)
	t.Cleanup(func() { logs.Close() })
	f := &jobFixture{st: st, logs: logs, tokens: map[string]string{}}
	for _, u := range []struct {
		name  string
		admin bool
	}{{"alice", false}, {"bob", false}, {"admin", true}} {
		_, err := st.CreateUser(ctx, u.name, "secret-"+u.name, u.admin)
		must(t, err)
		f.tokens[u.name], err = st.CreateToken(ctx, u.name, "", "test")
		must(t, err)
	}
	must(t, st.PutDeviceType(ctx, store.DeviceType{Name: "qemu"}))
	_, err = st.CreateWorker(ctx, "w1", "")
	must(t, err)
	dict, err := os.ReadFile("testdata/device.jinja2")
	must(t, err)
	for _, name := range []string{"qemu-01", "qemu-02"} {
		must(t, st.CreateDevice(ctx, store.Device{Name: name, DeviceType: "qemu", Worker: "w1", Dictionary: string(dict)}))
		must(t, st.SetDeviceHealth(ctx, name, store.HealthGood))
	}
	f.lab, err = lab.New(lab.Config{Store: st, Logs: logs, DataDir: dir})
	must(t, err)
	h, err := New(Config{Store: st, Logs: logs, Lab: f.lab, Auth: webauth.New(st, []byte("0123456789abcdef0123456789abcdef")), DataDir: dir, Events: hub})
	must(t, err)
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

// submit submits testdata/job.yaml (edited by edit) as alice.
func (f *jobFixture) submit(t *testing.T, edit func(string) string) store.Job {
	t.Helper()
	def, err := os.ReadFile("testdata/job.yaml")
	must(t, err)
	d := string(def)
	if edit != nil {
		d = edit(d)
	}
	alice, err := f.st.User(context.Background(), "alice")
	must(t, err)
	jobs, err := f.lab.Submit(context.Background(), alice, d)
	must(t, err)
	return jobs[0]
}

// start schedules job on a free device, claims it (Running) and keeps
// its device configuration in the job's folder, as the lab does when a
// worker starts it.
func (f *jobFixture) start(t *testing.T, j store.Job) store.Job {
	t.Helper()
	ctx := context.Background()
	device := ""
	for _, name := range []string{"qemu-01", "qemu-02"} {
		if d, err := f.st.Device(ctx, name); err == nil && d.State == store.DeviceIdle {
			device = name
			break
		}
	}
	if device == "" {
		t.Fatal("no idle device")
	}
	must(t, f.st.Schedule(ctx, []store.Assignment{{Job: j.ID, Device: device}}))
	_, ok, err := f.st.ClaimJob(ctx, "w1", time.Now())
	must(t, err)
	if !ok {
		t.Fatal("nothing to claim")
	}
	cfg, err := f.lab.RenderDevice(ctx, device, "")
	must(t, err)
	path := f.lab.JobFile(j.ID, lab.DeviceFile)
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	must(t, os.WriteFile(path, []byte(cfg), 0o644))
	j, err = f.st.Job(ctx, j.ID)
	must(t, err)
	return j
}

func (f *jobFixture) finish(t *testing.T, j store.Job, h store.JobHealth, class, msg string) {
	t.Helper()
	must(t, f.st.FinishJob(context.Background(), j.ID, store.Finish{Health: h, ErrorClass: class, ErrorMsg: msg}, time.Now()))
}

// appendLog appends the lines of testdata/logs.yaml (a real job's log,
// from `basalt run`) to job's log.
func (f *jobFixture) appendLog(t *testing.T, job int64, lines []string) {
	t.Helper()
	held, err := f.logs.Len(job)
	must(t, err)
	_, err = f.logs.Append(job, held, lines)
	must(t, err)
}

func exampleLog(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/logs.yaml")
	must(t, err)
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// get fetches path as user ("" for anonymous, by API token otherwise).
func (f *jobFixture) get(t *testing.T, user, path string) (*http.Response, string) {
	t.Helper()
	return f.do(t, "GET", user, path, nil)
}

func (f *jobFixture) do(t *testing.T, method, user, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	must(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" {
		req.Header.Set("Authorization", "Token "+f.tokens[user])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp, string(b)
}

func wantStatus(t *testing.T, resp *http.Response, body string, code int) {
	t.Helper()
	if resp.StatusCode != code {
		t.Fatalf("%s %s: status %d, want %d\n%.600s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, code, body)
	}
}

func wantContains(t *testing.T, what, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("%s lacks %q", what, s)
		}
	}
}

// The job page of a running job with a real log shows the header, the
// last logTailLines lines (and a link to the earlier ones), its actions
// folded, levels as classes, the Description tab built on the device's
// configuration with each timeout's source, and the definition.
func TestJobPage(t *testing.T) {
	t.Parallel()
	f := newJobFixture(t)
	j := f.start(t, f.submit(t, nil))
	lines := exampleLog(t)
	f.appendLog(t, j.ID, lines)

	for _, path := range []string{"/scheduler/job/1", "/scheduler/job/1/"} {
		resp, body := f.get(t, "", path)
		wantStatus(t, resp, body, 200)
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		first := len(lines) - logTailLines
		wantContains(t, path, body,
			`id="job-state" class="badge st-running" data-state="Running"`,
			`<a href="/scheduler/device/qemu-01">qemu-01</a>`,
			`<a href="/scheduler/worker/w1">w1</a>`,
			"lab-test", // the description (job_name)
			fmt.Sprintf(`data-first="%d" data-next="%d"`, first, len(lines)),
			fmt.Sprintf(`id="L%d"`, first), fmt.Sprintf(`id="L%d"`, len(lines)-1),
			fmt.Sprintf(`href="/scheduler/job/1?start=%d#log"`, max(0, first-logTailLines)),
			`class="log-line lvl-target"`, `class="log-line lvl-results"`, `<details class="log-section"`,
			`data-stream="/scheduler/job/1/log_stream"`,
		)
		if strings.Contains(body, `action="/scheduler/job/1/cancel"`) {
			t.Errorf("%s: an anonymous user is offered Cancel", path)
		}
		if strings.Contains(body, fmt.Sprintf(`id="L%d"`, first-1)) {
			t.Errorf("%s renders line %d, before the tail", path, first-1)
		}
	}
}

// A private job is "not found" to anyone but its submitter and
// administrators, on the page and on every endpoint under it (an
// invalid token is anonymous, as on every page).
func TestJobVisibility(t *testing.T) {
	t.Parallel()
	f := newJobFixture(t)
	j := f.start(t, f.submit(t, func(d string) string {
		return strings.Replace(d, "visibility: public", "visibility: personal", 1)
	}))
	f.appendLog(t, j.ID, exampleLog(t)[:10])
	paths := []string{"", "/", "/log_pipeline_incremental?line=0", "/log_lines?start=0&end=5", "/log_file/plain",
		"/job_status", "/definition", "/definition/plain", "/timing", "/timeline", "/cancel", "/resubmit"}
	for _, p := range paths {
		path := "/scheduler/job/1" + p
		for _, who := range []string{"", "bob"} {
			resp, body := f.get(t, who, path)
			wantStatus(t, resp, body, 404)
		}
		for _, who := range []string{"alice", "admin"} {
			resp, body := f.get(t, who, path)
			wantStatus(t, resp, body, 200)
		}
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/scheduler/job/1", nil)
	req.Header.Set("Authorization", "Token nope")
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("an invalid token (anonymous on pages): status %d, want 404", resp.StatusCode)
	}
	// LAVA's ?user=&token= on the plain log.
	resp, body := f.get(t, "", "/scheduler/job/1/log_file/plain?user=alice&token="+f.tokens["alice"])
	wantStatus(t, resp, body, 200)
	for _, bad := range []string{"/scheduler/job/9", "/scheduler/job/x", "/scheduler/job/1.0", "/scheduler/job/-1"} {
		resp, body := f.get(t, "admin", bad)
		wantStatus(t, resp, body, 404)
	}
}

// A MultiNode sub-job is reachable as first.sub; its page lists the
// group's sub-jobs with their roles, and multinode_definition serves the
// whole submission.
func TestJobMultiNode(t *testing.T) {
	t.Parallel()
	f := newJobFixture(t)
	def, err := os.ReadFile("testdata/multinode.yaml")
	must(t, err)
	alice, err := f.st.User(context.Background(), "alice")
	must(t, err)
	jobs, err := f.lab.Submit(context.Background(), alice, string(def))
	must(t, err)
	if len(jobs) != 2 {
		t.Fatalf("%d jobs", len(jobs))
	}
	id := fmt.Sprintf("%d.1", jobs[0].ID)
	resp, body := f.get(t, "", "/scheduler/job/"+id)
	wantStatus(t, resp, body, 200)
	wantContains(t, id, body, "Job "+id, fmt.Sprintf(`href="/scheduler/job/%d.0">#%d.0 (server)`, jobs[0].ID, jobs[0].ID),
		`aria-current="page"`, "(client)", `/scheduler/job/`+id+`/multinode_definition`)
	resp, body = f.get(t, "", "/scheduler/job/"+id+"/multinode_definition/plain")
	wantStatus(t, resp, body, 200)
	if body != string(def) {
		t.Errorf("multinode_definition/plain is not the submission")
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != fmt.Sprintf("attachment; filename=multinode_job_%d.yaml", jobs[1].ID) {
		t.Errorf("Content-Disposition %q", cd)
	}
	resp, body = f.get(t, "", "/scheduler/job/"+id+"/job_status")
	wantStatus(t, resp, body, 200)
	var st struct{ Subjobs [][]any }
	must(t, json.Unmarshal([]byte(body), &st))
	if len(st.Subjobs) != 2 || st.Subjobs[0][1] != "Submitted" {
		t.Errorf("job_status subjobs %v", st.Subjobs)
	}
	// A single job has no MultiNode definition.
	j := f.submit(t, nil)
	resp, body = f.get(t, "", fmt.Sprintf("/scheduler/job/%d/multinode_definition", j.ID))
	wantStatus(t, resp, body, 404)
}

// LAVA's endpoints: log_pipeline_incremental (records as JSON from a
// line, X-Is-Finished once Finished, [] and X-Size-Warning over the size
// limit), job_status, log_file/plain, definition[/plain], description,
// timing.
func TestJobEndpoints(t *testing.T) {
	t.Parallel()
	f := newJobFixture(t)
	j := f.start(t, f.submit(t, nil))
	lines := exampleLog(t)
	f.appendLog(t, j.ID, lines)

	resp, body := f.get(t, "", fmt.Sprintf("/scheduler/job/1/log_pipeline_incremental?line=%d", len(lines)-3))
	wantStatus(t, resp, body, 200)
	var recs []map[string]any
	must(t, json.Unmarshal([]byte(body), &recs))
	if len(recs) != 3 || resp.Header.Get("X-Is-Finished") != "" {
		t.Fatalf("incremental from the last 3 lines: %d records, X-Is-Finished %q", len(recs), resp.Header.Get("X-Is-Finished"))
	}
	for _, r := range recs {
		if r["dt"] == nil || r["lvl"] == nil || r["msg"] == nil {
			t.Errorf("record %v lacks dt, lvl or msg", r)
		}
	}
	// A results record's msg is a mapping, its keys in the log's order.
	resp, body = f.get(t, "", "/scheduler/job/1/log_pipeline_incremental?line=1")
	wantStatus(t, resp, body, 200)
	if !strings.HasPrefix(body, `[{"dt": "2026-12-07T02:01:04`) || !strings.Contains(body, `"msg": {"definition": "lava", "case": "validate", "result": "pass"}`) {
		t.Errorf("incremental from line 1 starts %.300s", body)
	}

	resp, body = f.get(t, "", "/scheduler/job/1/job_status")
	wantStatus(t, resp, body, 200)
	var st map[string]any
	must(t, json.Unmarshal([]byte(body), &st))
	for _, k := range []string{"actual_device", "duration", "job_state", "failure_comment", "job_health", "started", "subjobs"} {
		if _, ok := st[k]; !ok {
			t.Errorf("job_status lacks %s: %v", k, st)
		}
	}
	if st["job_state"] != "Running" || st["X-JobState"] != nil || !strings.Contains(st["actual_device"].(string), "qemu-01") {
		t.Errorf("job_status of a running job: %v", st)
	}

	resp, body = f.get(t, "", "/scheduler/job/1/log_file/plain")
	wantStatus(t, resp, body, 200)
	want, _ := os.ReadFile("testdata/logs.yaml")
	if body != string(want) || resp.Header.Get("Content-Disposition") != "attachment; filename=job_1.log" || resp.Header.Get("Content-Type") != "application/yaml" {
		t.Errorf("log_file/plain: %d bytes (want %d), headers %v", len(body), len(want), resp.Header)
	}

	resp, body = f.get(t, "", "/scheduler/job/1/definition/plain")
	wantStatus(t, resp, body, 200)
	if body != j.Definition || resp.Header.Get("Content-Disposition") != "attachment; filename=job_1.yaml" {
		t.Errorf("definition/plain: %q", resp.Header.Get("Content-Disposition"))
	}
	resp, body = f.get(t, "", "/scheduler/job/1/definition")
	wantStatus(t, resp, body, 200)
	wantContains(t, "definition page", body, "job_name: lab-test", `href="/scheduler/job/1/definition/plain"`)

	// description: 404 until the run publishes description.yaml.
	resp, body = f.get(t, "", "/scheduler/job/1/description")
	wantStatus(t, resp, body, 404)
	must(t, os.WriteFile(f.lab.JobFile(1, "description.yaml"), []byte("pipeline: []\n"), 0o644))
	resp, body = f.get(t, "", "/scheduler/job/1/description")
	wantStatus(t, resp, body, 200)
	if body != "pipeline: []\n" || resp.Header.Get("Content-Type") != "text/yaml" || resp.Header.Get("Content-Disposition") != "attachment; filename=job_description_1.yaml" {
		t.Errorf("description: %q %v", body, resp.Header)
	}

	resp, body = f.get(t, "", "/scheduler/job/1/timing")
	wantStatus(t, resp, body, 200)
	var timing struct {
		Timing string
		Graph  [][]any
	}
	must(t, json.Unmarshal([]byte(body), &timing))
	if len(timing.Graph) == 0 || timing.Graph[0][0] != "1" || timing.Graph[0][1] != "deployimages" || timing.Graph[0][3] != 300.0 {
		t.Errorf("timing graph starts %v", timing.Graph[:min(2, len(timing.Graph))])
	}

	f.finish(t, j, store.JobIncomplete, "Infrastructure", "boot failed")
	resp, body = f.get(t, "", "/scheduler/job/1/log_pipeline_incremental?line=99999")
	wantStatus(t, resp, body, 200)
	if body != "[]" || resp.Header.Get("X-Is-Finished") != "1" {
		t.Errorf("incremental past the end of a finished job: %q, X-Is-Finished %q", body, resp.Header.Get("X-Is-Finished"))
	}
	resp, body = f.get(t, "", "/scheduler/job/1/job_status")
	wantStatus(t, resp, body, 200)
	st = nil
	must(t, json.Unmarshal([]byte(body), &st))
	if st["X-JobState"] != "1" || st["job_health"] != 2.0 || st["failure_comment"] != "boot failed" || !strings.Contains(st["job_state"].(string), "label-danger") {
		t.Errorf("job_status of an incomplete job: %v", st)
	}
	resp, body = f.get(t, "", "/scheduler/job/1")
	wantStatus(t, resp, body, 200)
	wantContains(t, "finished page", body, `id="job-state" class="badge st-incomplete"`, "Infrastructure error:", "boot failed", `data-finished="1"`)

	// Over LAVA's size limit: [] and X-Size-Warning.
	big := f.submit(t, nil)
	msg := strings.Repeat("x", 100000)
	var batch []string
	for i := 0; i < logSizeLimit/100000+2; i++ {
		batch = append(batch, `- {"dt": "2026-01-01T00:00:00.000000", "lvl": "target", "msg": "`+msg+`"}`)
	}
	f.appendLog(t, big.ID, batch)
	resp, body = f.get(t, "", fmt.Sprintf("/scheduler/job/%d/log_pipeline_incremental?line=0", big.ID))
	wantStatus(t, resp, body, 200)
	if body != "[]" || resp.Header.Get("X-Size-Warning") != "1" {
		t.Errorf("incremental over the size limit: %.50q, X-Size-Warning %q", body, resp.Header.Get("X-Size-Warning"))
	}
	// The page shows as much of the tail as logWindowBytes holds, each
	// long message cut.
	resp, body = f.get(t, "", fmt.Sprintf("/scheduler/job/%d", big.ID))
	wantStatus(t, resp, body, 200)
	fit := logWindowBytes / (len(batch[0]) + 1)
	wantContains(t, "page of a log of long lines", body, fmt.Sprintf("%d more bytes in the plain log", 100000-logMaxMsg),
		fmt.Sprintf(`data-first="%d" data-next="%d"`, len(batch)-fit, len(batch)))
	resp, body = f.get(t, "", fmt.Sprintf("/scheduler/job/%d?start=3", big.ID))
	wantStatus(t, resp, body, 200)
	wantContains(t, "a window of long lines", body, fmt.Sprintf(`data-first="3" data-next="%d"`, 3+fit))
	resp, body = f.get(t, "", fmt.Sprintf("/scheduler/job/%d/log_lines?start=0&end=40", big.ID))
	wantStatus(t, resp, body, 200)
	if resp.Header.Get("X-Log-First") != strconv.Itoa(40-fit) {
		t.Errorf("log_lines of long lines from %s, want %d", resp.Header.Get("X-Log-First"), 40-fit)
	}
}

// log_lines serves a range as HTML, bounded, saying which lines came.
func TestJobLogLines(t *testing.T) {
	t.Parallel()
	f := newJobFixture(t)
	j := f.start(t, f.submit(t, nil))
	f.appendLog(t, j.ID, exampleLog(t))
	resp, body := f.get(t, "", "/scheduler/job/1/log_lines?start=2&end=5")
	wantStatus(t, resp, body, 200)
	if resp.Header.Get("X-Log-First") != "2" || resp.Header.Get("X-Log-Next") != "5" {
		t.Errorf("X-Log-First %q X-Log-Next %q", resp.Header.Get("X-Log-First"), resp.Header.Get("X-Log-Next"))
	}
	// Line 2 starts action 1, whose end is not in the range: an open
	// section.
	wantContains(t, "lines 2..5", body, `<details class="log-section" data-level="1" open><summary><span class="log-line lvl-info log-start" id="L2"`, `id="L4"`)
	if strings.Contains(body, `id="L5"`) || strings.Contains(body, `id="L1"`) {
		t.Errorf("lines outside [2,5): %s", body)
	}
	for _, bad := range []string{"?start=x&end=2", "?start=5&end=2", "?end=3"} {
		resp, body := f.get(t, "", "/scheduler/job/1/log_lines"+bad)
		wantStatus(t, resp, body, 400)
	}
}

// Cancel and resubmit are POST forms with the session's CSRF token
// (none needed with a token header); a GET shows the form; only the
// submitter and administrators may cancel.
func TestJobActions(t *testing.T) {
	t.Parallel()
	f := newJobFixture(t)
	j := f.submit(t, nil)

	resp, body := f.get(t, "alice", "/scheduler/job/1")
	wantStatus(t, resp, body, 200)
	wantContains(t, "alice's page", body, `action="/scheduler/job/1/cancel"`, `action="/scheduler/job/1/resubmit"`)
	resp, body = f.get(t, "bob", "/scheduler/job/1")
	wantStatus(t, resp, body, 200)
	if strings.Contains(body, `action="/scheduler/job/1/cancel"`) {
		t.Error("bob is offered Cancel on alice's job")
	}

	resp, body = f.get(t, "alice", "/scheduler/job/1/cancel")
	wantStatus(t, resp, body, 200)
	wantContains(t, "cancel form", body, `<form method="post" action="/scheduler/job/1/cancel">`)
	resp, body = f.get(t, "", "/scheduler/job/1/cancel")
	wantStatus(t, resp, body, 403)

	resp, body = f.do(t, "POST", "bob", "/scheduler/job/1/cancel", url.Values{})
	wantStatus(t, resp, body, 403)
	resp, body = f.do(t, "POST", "", "/scheduler/job/1/cancel", url.Values{})
	wantStatus(t, resp, body, 403)

	// A session without the CSRF token is refused; with it, it cancels.
	auth := webauth.New(f.st, []byte("0123456789abcdef0123456789abcdef"))
	alice, err := f.st.User(context.Background(), "alice")
	must(t, err)
	rec := httptest.NewRecorder()
	auth.Login(rec, httptest.NewRequest("GET", "/", nil), alice)
	cookie := rec.Result().Cookies()[0]
	post := func(form url.Values) *http.Response {
		req, _ := http.NewRequest("POST", f.srv.URL+"/scheduler/job/1/cancel", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(cookie)
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Do(req)
		must(t, err)
		resp.Body.Close()
		return resp
	}
	if resp := post(url.Values{"csrf": {"forged"}}); resp.StatusCode != 403 {
		t.Errorf("a forged CSRF token: status %d", resp.StatusCode)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(cookie)
	if resp := post(url.Values{"csrf": {auth.CSRF(req)}}); resp.StatusCode != 303 || resp.Header.Get("Location") != "/scheduler/job/1" {
		t.Errorf("cancel: status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	got, err := f.st.Job(context.Background(), j.ID)
	must(t, err)
	if got.State != store.JobFinished || got.Health != store.JobCanceled {
		t.Errorf("after cancel: %s %s", got.State, got.Health)
	}
	// Nothing left to cancel.
	resp, body = f.do(t, "POST", "alice", "/scheduler/job/1/cancel/", url.Values{})
	wantStatus(t, resp, body, 403)

	resp, body = f.do(t, "POST", "bob", "/scheduler/job/1/resubmit", url.Values{})
	wantStatus(t, resp, body, 303)
	if resp.Header.Get("Location") != "/scheduler/job/2" {
		t.Errorf("resubmit went to %q", resp.Header.Get("Location"))
	}
	re, err := f.st.Job(context.Background(), 2)
	must(t, err)
	if re.Submitter != "bob" || re.Definition != j.Definition {
		t.Errorf("resubmitted job: submitter %s", re.Submitter)
	}
	resp, body = f.do(t, "POST", "", "/scheduler/job/1/resubmit", url.Values{})
	wantStatus(t, resp, body, 403)
}

// The Description tab is the pipeline built for the job on its device's
// configuration, each timeout with what set it; before the job starts it
// says so.
func TestJobDescriptionTab(t *testing.T) {
	t.Parallel()
	f := newJobFixture(t)
	j := f.submit(t, nil)
	resp, body := f.get(t, "", "/scheduler/job/1?tab=description")
	wantStatus(t, resp, body, 200)
	wantContains(t, "queued job", body, `id="tab-description" class="job-tab-panel active"`, "built when the job starts on a device")
	f.start(t, j)
	resp, body = f.get(t, "", "/scheduler/job/1?tab=description")
	wantStatus(t, resp, body, 200)
	wantContains(t, "started job", body, "Job timeout <strong>00:10:00</strong>",
		`<td class="desc-level">1</td><td class="desc-name" style="padding-left: 0em" title="`,
		">deployimages<", `<td class="desc-timeout">00:02:00<span class="desc-source desc-source-inline">block timeout</span></td><td class="desc-source desc-source-col">block timeout</td>`,
		`<td class="desc-source desc-source-col">device timeouts.actions.power-off</td>`,
		"http://127.0.0.1:8000/vmlinuz")

	// A job naming a file of the host (stored without the lab's checks):
	// the description is built without looking at the server's files.
	def := strings.Replace(j.Definition, "http://127.0.0.1:8000/vmlinuz", "file:///etc/basalt-no-such-file", 1)
	ids, err := f.st.Submit(context.Background(), []store.NewJob{{Definition: def, Submitter: "alice", DeviceType: "qemu", Visibility: store.VisibilityPublic}})
	must(t, err)
	local, err := f.st.Job(context.Background(), ids[0])
	must(t, err)
	f.start(t, local)
	resp, body = f.get(t, "", fmt.Sprintf("/scheduler/job/%d?tab=description", local.ID))
	wantStatus(t, resp, body, 200)
	wantContains(t, "a job naming a local file", body, ">deployimages<", "file:///etc/basalt-no-such-file")
	if strings.Contains(body, "desc-problem") {
		t.Errorf("the description shows problems of the server's host")
	}
}

// TestJobConnection: a MultiNode dynamic connection (a secondary
// connection role) has no device of its own: its page and the job lists
// say "connection" where a device goes, as LAVA's job tables do.
func TestJobConnection(t *testing.T) {
	t.Parallel()
	f := newJobFixture(t)
	def, err := os.ReadFile("testdata/multinode.yaml")
	must(t, err)
	ids, err := f.st.Submit(context.Background(), []store.NewJob{
		{Definition: "{}", Submitter: "alice", DeviceType: "qemu", Group: "g1", SubID: 0, Visibility: store.VisibilityPublic, MultinodeDefinition: string(def)},
		{Definition: "{}", Submitter: "alice", Group: "g1", SubID: 1, Dynamic: true, HostSubID: 0, Visibility: store.VisibilityPublic, MultinodeDefinition: string(def)},
	})
	must(t, err)
	guest := fmt.Sprintf("%d.1", ids[0])
	resp, body := f.get(t, "", "/scheduler/job/"+guest)
	wantStatus(t, resp, body, 200)
	wantContains(t, guest, body, `<dd id="job-device">connection</dd>`)
	resp, body = f.get(t, "", fmt.Sprintf("/scheduler/job/%d.0", ids[0]))
	wantStatus(t, resp, body, 200)
	wantContains(t, "host", body, `<dd id="job-device">…</dd>`)
	resp, body = f.get(t, "", "/scheduler/alljobs")
	wantStatus(t, resp, body, 200)
	wantContains(t, "alljobs", body, `data-label="Device">connection</td>`, `data-label="Device">-</td>`)
}
