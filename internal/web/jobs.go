package web

// The job page, /scheduler/job/{id} (ids "123" and, for a MultiNode
// sub-job, "123.1"), and LAVA's endpoints under it. A job the user may
// not see is "not found" (404), whether it exists or not.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/dispatcher"
	"github.com/basalt-lava/basalt/internal/hostfiles"
	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() { addRoutes((*site).jobRoutes) }

// jobRoutes registers the job page and its endpoints, each with and
// without LAVA's trailing slash.
func (s *site) jobRoutes() {
	for sub, h := range map[string]http.HandlerFunc{
		"":                           s.jobPage,
		"log_pipeline_incremental":   s.logIncremental,
		"log_lines":                  s.logLines,
		"log_stream":                 s.logStream,
		"log_file/plain":             s.logPlain,
		"job_status":                 s.jobStatus,
		"definition":                 s.jobDefinition,
		"definition/plain":           s.jobDefinitionPlain,
		"multinode_definition":       s.jobDefinition,
		"multinode_definition/plain": s.jobDefinitionPlain,
		"description":                s.jobDescriptionFile,
		"timing":                     s.jobTiming,
		"timeline":                   s.jobTimeline,
		"cancel":                     s.jobCancelPage,
		"resubmit":                   s.jobResubmitPage,
	} {
		s.get(strings.TrimSuffix("/scheduler/job/{id}/"+sub, "/"), h)
	}
	s.post("/scheduler/job/{id}/cancel", s.jobCancel)
	s.post("/scheduler/job/{id}/resubmit", s.jobResubmit)
}

// jobFindVisible returns the job of the request's {id} if r's user may
// see it; otherwise it answers (404 for a job they may not see, as for
// one that does not exist) and ok is false.
func (s *site) jobFindVisible(w http.ResponseWriter, r *http.Request) (store.Job, bool) {
	j, err := s.findJob(r, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return j, false
	}
	return j, true
}

// jobDisplayID is lab.DisplayID as a string.
func jobDisplayID(j store.Job) string { return fmt.Sprint(lab.DisplayID(j)) }

const jobTimeLayout = "2006-01-02 15:04:05 UTC"

func jobTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(jobTimeLayout)
}

// jobDuration is how long j ran (so far, when running): "1 h 02 min",
// "3 min 05 s", "42 s".
func jobDuration(j store.Job, now time.Time) string {
	if j.Started.IsZero() {
		return ""
	}
	end := j.Ended
	if end.IsZero() {
		end = now
	}
	return jobHumanDuration(end.Sub(j.Started))
}

func jobHumanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s >= 3600:
		return fmt.Sprintf("%d h %02d min", s/3600, s/60%60)
	case s >= 60:
		return fmt.Sprintf("%d min %02d s", s/60, s%60)
	case d > 0 && d < time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%d s", s)
}

// jobStateLabel is the label LAVA shows: the state until Finished, then
// the health.
func jobStateLabel(j store.Job) string {
	if j.State == store.JobFinished {
		return string(j.Health)
	}
	return string(j.State)
}

// jobStateClass is the label's colour class, the layout's LAVA colours
// ("st-running", "st-complete", …).
func jobStateClass(j store.Job) string { return "st-" + strings.ToLower(jobStateLabel(j)) }

// jobHealthCode is LAVA's TestJob health number (job_status's job_health).
func jobHealthCode(h store.JobHealth) int {
	switch h {
	case store.JobComplete:
		return 1
	case store.JobIncomplete:
		return 2
	case store.JobCanceled:
		return 3
	}
	return 0
}

func jobVisibilityName(j store.Job) string {
	switch j.Visibility {
	case store.VisibilityPersonal:
		return "Private (personal)"
	case store.VisibilityGroup:
		return "Private (groups: " + strings.Join(j.VisibleGroups, ", ") + ")"
	}
	return "Public"
}

// jobDescription is the job's name: the store's, else job_name from the
// definition.
func jobDescription(j store.Job) string {
	if j.Description != "" {
		return j.Description
	}
	if v, err := value.DecodeYAML([]byte(j.Definition)); err == nil {
		if m, ok := v.(*value.Map); ok && m.Has("job_name") {
			return fmt.Sprint(m.Value("job_name"))
		}
	}
	return ""
}

// jobSubJob is one job of a MultiNode group on the page.
type jobSubJob struct {
	ID, Role, Label, Class string
	Current                bool
}

// jobResultRow is one test case in the Results tab.
type jobResultRow struct {
	store.Result
	URL         string
	Measurement string
}

// jobMaxResultRows bounds the Results tab; /results/N has them all.
const jobMaxResultRows = 500

// jobPageView is what templates/job.html renders.
type jobPageView struct {
	Job         store.Job
	ID          string
	Description string
	Label       string
	LabelClass  string
	Submitted   string
	Started     string
	Ended       string
	Duration    string
	Priority    string
	Visibility  string
	Worker      string
	SubJobs     []jobSubJob

	Passed, Failed, Skipped, Unknown int
	Results                          []jobResultRow
	MoreResults                      int

	CanCancel   bool
	CanResubmit bool
	CSRF        string
	User        store.User
	LoggedIn    bool

	Tab      string
	Tabs     []jobTabInfo
	Log      logView
	LogHTML  template.HTML
	Levels   []struct{ Level, Name string }
	Desc     jobDescView
	Timeline *timelineView // rendered only when the Timing tab is asked for
}

type jobTabInfo struct{ Name, Title string }

var jobTabs = []jobTabInfo{{"log", "Log"}, {"results", "Results"}, {"description", "Description"}, {"definition", "Definition"}, {"timing", "Timing"}}

// jobPage is /scheduler/job/{id}. It reads only the tail of the log
// (logTailLines; ?start=N for another window), so it costs the same
// whatever the log's size.
func (s *site) jobPage(w http.ResponseWriter, r *http.Request) {
	j, ok := s.jobFindVisible(w, r)
	if !ok {
		return
	}
	u, in := s.user(r)
	v := jobViewer{User: u, LoggedIn: in}
	ctx := r.Context()
	now := time.Now()
	jv := jobPageView{
		Job: j, ID: jobDisplayID(j), Description: jobDescription(j),
		Label: jobStateLabel(j), LabelClass: jobStateClass(j),
		Submitted: jobTime(j.Submitted), Started: jobTime(j.Started), Ended: jobTime(j.Ended),
		Duration: jobDuration(j, now), Priority: store.PriorityName(j.Priority), Visibility: jobVisibilityName(j),
		User: v.User, LoggedIn: v.LoggedIn, CSRF: s.c.Auth.CSRF(r),
		CanCancel:   v.LoggedIn && (v.User.Superuser || v.User.Name == j.Submitter) && j.State != store.JobFinished && j.State != store.JobCanceling,
		CanResubmit: v.LoggedIn,
		Tab:         "log", Tabs: jobTabs, Levels: logLevels,
	}
	for _, t := range jobTabs {
		if r.URL.Query().Get("tab") == t.Name {
			jv.Tab = t.Name
		}
	}
	if j.Device != "" {
		if d, err := s.c.Store.Device(ctx, j.Device); err == nil {
			jv.Worker = d.Worker
		}
	}
	if j.Group != "" {
		group, err := s.c.Store.GroupJobs(ctx, j.Group)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, g := range group {
			jv.SubJobs = append(jv.SubJobs, jobSubJob{ID: jobDisplayID(g), Role: jobMultinodeRole(g.Definition),
				Label: jobStateLabel(g), Class: jobStateClass(g), Current: g.ID == j.ID})
		}
	}
	results, err := s.c.Store.Results(ctx, j.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The job's own test suites first, LAVA's lava suite (the actions'
	// results) after them; each in the order it was logged.
	sort.SliceStable(results, func(a, b int) bool { return results[a].Suite != "lava" && results[b].Suite == "lava" })
	for _, res := range results {
		// The counts are the job's own tests, as the job lists count them
		// (store.ResultCounts): LAVA's lava suite is its actions, not tests.
		switch {
		case res.Suite == "lava":
		case res.Result == "pass":
			jv.Passed++
		case res.Result == "fail":
			jv.Failed++
		case res.Result == "skip":
			jv.Skipped++
		default:
			jv.Unknown++
		}
		if len(jv.Results) >= jobMaxResultRows {
			jv.MoreResults++
			continue
		}
		row := jobResultRow{Result: res, URL: fmt.Sprintf("/results/%s/%s/%s", jv.ID, url.PathEscape(res.Suite), url.PathEscape(res.Case))}
		if res.Measurement != nil {
			row.Measurement = strconv.FormatFloat(*res.Measurement, 'f', -1, 64)
		}
		jv.Results = append(jv.Results, row)
	}
	if jv.Log, err = s.logTail(j, r); err != nil {
		s.fail(w, r, err)
		return
	}
	jv.LogHTML = template.HTML(jv.Log.HTML)
	jv.Desc = s.jobDescribe(r, j)
	if jv.Tab == "timing" {
		tl, err := s.tlView(j)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		jv.Timeline = &tl
	}
	title := "Job " + jv.ID
	if jv.Description != "" {
		title += ": " + jv.Description
	}
	s.page(w, r, "job.html", title, jv)
}

// jobMultinodeRole is the role of a MultiNode sub-job's definition.
func jobMultinodeRole(def string) string {
	v, err := value.DecodeYAML([]byte(def))
	if err != nil {
		return ""
	}
	m, _ := v.(*value.Map)
	if m == nil {
		return ""
	}
	role, _ := m.Lookup("protocols", "lava-multinode", "role")
	if role == nil {
		return ""
	}
	return fmt.Sprint(role)
}

// jobDescView is the Description tab: the pipeline as the dispatcher
// builds it for this job on its device, each action with its effective
// timeout and what set it (as `basalt validate` prints it).
type jobDescView struct {
	Built      bool
	Why        string // why there is no pipeline
	JobTimeout string
	JobSource  string
	Rows       []jobDescRow
	Problems   []string
	HasFile    bool // description.yaml was published by the job's run
}

type jobDescRow struct {
	Level   string
	Name    string
	Depth   int
	Timeout string
	Source  string
	Retries int
	URL     string
	Summary string
}

// jobDescribe builds the job's pipeline from its definition and the device
// configuration its worker was sent (device.yaml in the job's folder),
// the way the worker's dispatcher does: what `basalt validate --device`
// shows, for the run that happened.
func (s *site) jobDescribe(r *http.Request, j store.Job) jobDescView {
	var dv jobDescView
	if _, err := os.Stat(s.c.Lab.JobFile(j.ID, dispatcher.DescriptionFile)); err == nil {
		dv.HasFile = true
	}
	device, err := os.ReadFile(s.c.Lab.JobFile(j.ID, lab.DeviceFile))
	if err != nil {
		dv.Why = "The pipeline is built when the job starts on a device: it has not started yet."
		if j.State == store.JobFinished {
			dv.Why = "The job ended without starting on a device: there is no pipeline."
		}
		return dv
	}
	// The server's files are none of the job's business here: building
	// the description must not look at them (hostfiles.None). So the
	// validation's findings, which would be about this host rather than
	// the worker that ran the job, are not shown; only a pipeline that
	// cannot be built says why.
	p, err := dispatcher.PrepareBytes([]byte(j.Definition), device, dispatcher.Options{
		JobID:      strconv.FormatInt(j.ID, 10),
		Job:        job.Options{Lax: true, SubJob: true},
		LocalFiles: hostfiles.None("server", "")})
	if err != nil {
		dv.Why = err.Error()
		return dv
	}
	masker := &joblog.Masker{}
	if p.Job != nil {
		dispatcher.MaskSecrets(masker, p.Job.Data)
	}
	if p.Pipeline == nil {
		dv.Why = "The pipeline could not be built."
		for _, d := range job.Errors(p.Diagnostics) {
			dv.Problems = append(dv.Problems, masker.String(d.String()))
		}
		return dv
	}
	dv.Built = true
	dv.JobTimeout = job.FormatDuration(p.Pipeline.Timeout.Seconds)
	dv.JobSource = p.Pipeline.Timeout.Source
	p.Pipeline.Pipeline.Walk(func(a pipeline.Action) {
		b := a.ActionBase()
		row := jobDescRow{Level: b.Level, Name: b.Name, Depth: strings.Count(b.Level, "."),
			Timeout: job.FormatDuration(b.Timeout.Seconds), Source: b.Timeout.Source, Summary: b.Summary}
		if b.MaxRetries > 1 {
			row.Retries = b.MaxRetries
		}
		if b.URL != "" {
			row.URL = masker.String(b.URL)
		}
		dv.Rows = append(dv.Rows, row)
	})
	return dv
}

// jobStatus is LAVA's job_status: what its page polls.
func (s *site) jobStatus(w http.ResponseWriter, r *http.Request) {
	j, ok := s.jobFindVisible(w, r)
	if !ok {
		return
	}
	now := time.Now()
	out := map[string]any{
		"actual_device":   "<i>...</i>",
		"duration":        "<i>...</i>",
		"job_state":       string(j.State),
		"failure_comment": nil,
		"job_health":      jobHealthCode(j.Health),
		"started":         "<i>...</i>",
		"subjobs":         [][]any{},
	}
	if j.ErrorMsg != "" {
		out["failure_comment"] = j.ErrorMsg
	}
	if j.Device != "" {
		out["actual_device"] = fmt.Sprintf(`<a href="/scheduler/device/%s">%s</a>`, url.PathEscape(j.Device), template.HTMLEscapeString(j.Device))
	}
	if !j.Started.IsZero() {
		out["started"] = jobTime(j.Started)
		out["duration"] = jobDuration(j, now)
	}
	if j.State == store.JobFinished {
		cls := map[store.JobHealth]string{store.JobComplete: "label-success", store.JobIncomplete: "label-danger"}[j.Health]
		if cls == "" {
			cls = "label-warning"
		}
		out["job_state"] = fmt.Sprintf(`<span class="label %s">%s</span>`, cls, j.Health)
		out["X-JobState"] = "1"
	}
	if j.Group != "" {
		group, err := s.c.Store.GroupJobs(r.Context(), j.Group)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		subs := [][]any{}
		for _, g := range group {
			subs = append(subs, []any{g.ID, string(g.State)})
		}
		out["subjobs"] = subs
	}
	jobWriteJSON(w, out)
}

func jobWriteJSON(w http.ResponseWriter, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	if err := enc.Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b.Bytes())
}

// jobDefView is templates/job_definition.html.
type jobDefView struct {
	Job        store.Job
	ID         string
	Title      string
	Definition string
	PlainURL   string
}

// jobDefinitionText is what definition (the job's own, as scheduled: a
// MultiNode sub-job's has its roles filled in) and multinode_definition
// (the whole submission) show.
func jobDefinitionText(j store.Job, multinode bool) string {
	if multinode {
		return j.MultinodeDefinition
	}
	return j.Definition
}

// jobDefinitionOf is the job whose definition (or, on a
// multinode_definition path, MultiNode definition) r asks for; when it
// has none or r may not see it, the error page is sent and ok is false.
func (s *site) jobDefinitionOf(w http.ResponseWriter, r *http.Request) (j store.Job, multi, ok bool) {
	j, ok = s.jobFindVisible(w, r)
	if !ok {
		return j, false, false
	}
	multi = strings.Contains(r.URL.Path, "/multinode_definition")
	if multi && j.MultinodeDefinition == "" {
		s.fail(w, r, notFound("MultiNode definition of job "+jobDisplayID(j)))
		return j, multi, false
	}
	return j, multi, true
}

func (s *site) jobDefinition(w http.ResponseWriter, r *http.Request) {
	j, multi, ok := s.jobDefinitionOf(w, r)
	if !ok {
		return
	}
	dv := jobDefView{Job: j, ID: jobDisplayID(j), Definition: jobDefinitionText(j, multi), Title: "Definition"}
	dv.PlainURL = "/scheduler/job/" + dv.ID + "/definition/plain"
	if multi {
		dv.Title, dv.PlainURL = "MultiNode definition", "/scheduler/job/"+dv.ID+"/multinode_definition/plain"
	}
	s.page(w, r, "job_definition.html", fmt.Sprintf("Job %s: %s", dv.ID, strings.ToLower(dv.Title[:1])+dv.Title[1:]), dv)
}

// jobDefinitionPlain is definition/plain (job_N.yaml) and
// multinode_definition/plain (multinode_job_N.yaml), LAVA's attachments.
func (s *site) jobDefinitionPlain(w http.ResponseWriter, r *http.Request) {
	j, multi, ok := s.jobDefinitionOf(w, r)
	if !ok {
		return
	}
	name := fmt.Sprintf("job_%d.yaml", j.ID)
	if multi {
		name = "multinode_" + name
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", "attachment; filename="+name)
	w.Write([]byte(jobDefinitionText(j, multi)))
}

// jobDescriptionFile is LAVA's description: the description.yaml the
// job's run published, as a text/yaml attachment; 404 when there is
// none.
func (s *site) jobDescriptionFile(w http.ResponseWriter, r *http.Request) {
	j, ok := s.jobFindVisible(w, r)
	if !ok {
		return
	}
	f, err := os.Open(s.c.Lab.JobFile(j.ID, dispatcher.DescriptionFile))
	if err != nil {
		s.fail(w, r, notFound("description of job "+jobDisplayID(j)))
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/yaml")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=job_description_%d.yaml", j.ID))
	io.Copy(w, f)
}

// jobActionView is templates/job_action.html: a confirmation form for an
// action (a GET on cancel or resubmit), or its refusal.
type jobActionView struct {
	Job     store.Job
	ID      string
	Action  string // "cancel" or "resubmit"
	Allowed bool
	Why     string
	CSRF    string
	Message string
}

// LAVA cancels and resubmits on a GET; here a GET shows a form that
// POSTs (with the CSRF token), so a link or a prefetch cannot act.
func (s *site) jobCancelPage(w http.ResponseWriter, r *http.Request) { s.jobActionPage(w, r, "cancel") }
func (s *site) jobResubmitPage(w http.ResponseWriter, r *http.Request) {
	s.jobActionPage(w, r, "resubmit")
}

func (s *site) jobActionPage(w http.ResponseWriter, r *http.Request, action string) {
	j, ok := s.jobFindVisible(w, r)
	if !ok {
		return
	}
	u, in := s.user(r)
	av := jobActionView{Job: j, ID: jobDisplayID(j), Action: action, CSRF: s.c.Auth.CSRF(r)}
	av.Allowed, av.Why = jobAllowed(jobViewer{User: u, LoggedIn: in}, j, action)
	code := http.StatusOK
	if !av.Allowed {
		code = http.StatusForbidden
	}
	s.render(w, r, code, "job_action.html", fmt.Sprintf("Job %s: %s", av.ID, action), av)
}

// jobAllowed says whether v may take action on j, and why not.
// jobViewer is who looks at a job page.
type jobViewer struct {
	User     store.User
	LoggedIn bool
}

func jobAllowed(v jobViewer, j store.Job, action string) (bool, string) {
	if !v.LoggedIn {
		return false, "Log in to " + action + " a job."
	}
	if action == "cancel" {
		if !v.User.Superuser && v.User.Name != j.Submitter {
			return false, "Only the job's submitter and administrators can cancel it."
		}
		if j.State == store.JobFinished || j.State == store.JobCanceling {
			return false, "The job is " + strings.ToLower(string(j.State)) + ": there is nothing to cancel."
		}
	}
	return true, ""
}

func (s *site) jobCancel(w http.ResponseWriter, r *http.Request) {
	v, j, ok := s.jobPostAction(w, r, "cancel")
	if !ok {
		return
	}
	if err := s.c.Lab.Cancel(r.Context(), v.User, j); err != nil {
		if errors.Is(err, lab.ErrPermission) {
			s.fail(w, r, &httpError{Code: http.StatusForbidden, Msg: "you cannot cancel this job"})
			return
		}
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/scheduler/job/"+jobDisplayID(j), http.StatusSeeOther)
}

func (s *site) jobResubmit(w http.ResponseWriter, r *http.Request) {
	v, j, ok := s.jobPostAction(w, r, "resubmit")
	if !ok {
		return
	}
	jobs, err := s.c.Lab.Resubmit(r.Context(), v.User, j)
	if err != nil {
		var se *lab.SubmitError
		if errors.As(err, &se) {
			s.render(w, r, http.StatusBadRequest, "job_action.html", "Job "+jobDisplayID(j)+": resubmit", jobActionView{Job: j, ID: jobDisplayID(j),
				Action: "resubmit", Why: "The definition is refused: " + se.Error()})
			return
		}
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/scheduler/job/"+jobDisplayID(jobs[0]), http.StatusSeeOther)
}

// jobPostAction checks a POST to cancel or resubmit (the CSRF token
// was checked by s.post): a user, a job they see and may act on.
func (s *site) jobPostAction(w http.ResponseWriter, r *http.Request, action string) (jobViewer, store.Job, bool) {
	u, in := s.user(r)
	v := jobViewer{User: u, LoggedIn: in}
	j, ok := s.jobFindVisible(w, r)
	if !ok {
		return v, j, false
	}
	if ok, why := jobAllowed(v, j, action); !ok {
		s.fail(w, r, &httpError{Code: http.StatusForbidden, Msg: why})
		return v, j, false
	}
	return v, j, true
}
