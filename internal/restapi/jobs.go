package restapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/resultexport"
	"github.com/basalt-lava/basalt/internal/store"
)

// jobOut is LAVA's TestJobSerializer, in its field order.
type jobOut struct {
	ID                  int64             `json:"id"`
	Submitter           string            `json:"submitter"`
	ViewingGroups       []int64           `json:"viewing_groups"`
	Description         string            `json:"description"`
	HealthCheck         bool              `json:"health_check"`
	RequestedDeviceType any               `json:"requested_device_type"`
	Tags                []int64           `json:"tags"`
	ActualDevice        any               `json:"actual_device"`
	SubmitTime          any               `json:"submit_time"`
	StartTime           any               `json:"start_time"`
	EndTime             any               `json:"end_time"`
	State               string            `json:"state"`
	Health              string            `json:"health"`
	Priority            int               `json:"priority"`
	Definition          string            `json:"definition"`
	Metadata            map[string]string `json:"metadata"`
	OriginalDefinition  string            `json:"original_definition"`
	MultinodeDefinition string            `json:"multinode_definition"`
	FailureTags         []int64           `json:"failure_tags"`
	FailureComment      any               `json:"failure_comment"`
}

func jobJSON(j store.Job) jobOut {
	o := jobOut{
		ID:                  j.ID,
		Submitter:           j.Submitter,
		ViewingGroups:       []int64{},
		Description:         j.Description,
		HealthCheck:         j.HealthCheck,
		RequestedDeviceType: orNull(j.DeviceType),
		Tags:                []int64{},
		ActualDevice:        orNull(j.Device),
		SubmitTime:          isoTime(j.Submitted),
		StartTime:           isoTime(j.Started),
		EndTime:             isoTime(j.Ended),
		State:               string(j.State),
		Health:              string(j.Health),
		Priority:            j.Priority,
		Definition:          j.Definition,
		Metadata:            map[string]string{},
		OriginalDefinition:  j.Definition,
		MultinodeDefinition: j.MultinodeDefinition,
		FailureTags:         []int64{},
		FailureComment:      orNull(j.ErrorMsg),
	}
	if j.Visibility == store.VisibilityGroup {
		for _, g := range j.VisibleGroups {
			o.ViewingGroups = append(o.ViewingGroups, NameID("group", g))
		}
	}
	for _, t := range j.Tags {
		o.Tags = append(o.Tags, NameID("tag", t))
	}
	if j.MultinodeDefinition != "" {
		o.OriginalDefinition = j.MultinodeDefinition
	}
	for _, m := range resultexport.JobMetadata(j.Definition) {
		for k, v := range m {
			o.Metadata[k] = v
		}
	}
	if o.SubmitTime == nil {
		o.SubmitTime = isoTime(time.Unix(0, 0))
	}
	return o
}

// viewer is the store's Viewer of the request's user.
func (rq *req) viewer() *store.Viewer {
	if !rq.auth {
		return &store.Viewer{}
	}
	return store.ViewerOf(rq.user)
}

// visible reports whether the request's user may see j.
func (a *api) visible(rq *req, j store.Job) (bool, error) {
	var groups []string
	if rq.auth && j.Visibility == store.VisibilityGroup && !rq.user.Superuser {
		var err error
		if groups, err = a.store.UserGroups(rq.r.Context(), rq.user.Name); err != nil {
			return false, err
		}
	}
	u := store.User{}
	if rq.auth {
		u = rq.user
	}
	return store.Visible(j, u, groups), nil
}

// jobByID reads job id (the pk; DRF's lookup takes no "N.M"), 404 when
// it is not a number or not a job.
func (a *api) jobByID(rq *req, id string) (store.Job, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return store.Job{}, errNotFound
	}
	j, err := a.store.Job(rq.r.Context(), n)
	if errors.Is(err, store.ErrNotFound) {
		return j, errNotFound
	}
	return j, err
}

// visibleJob is the job of a detail route: 404 when it is hidden, as
// LAVA's queryset of visible jobs answers.
func (a *api) visibleJob(rq *req, id string) (store.Job, error) {
	j, err := a.jobByID(rq, id)
	if err != nil {
		return j, err
	}
	ok, err := a.visible(rq, j)
	if err != nil {
		return j, err
	}
	if !ok {
		return j, errNotFound
	}
	return j, nil
}

func (a *api) jobs(rq *req, seg []string) error {
	if len(seg) == 0 {
		switch rq.r.Method {
		case http.MethodGet, http.MethodHead:
			return a.jobList(rq)
		case http.MethodPost:
			return a.jobSubmit(rq)
		}
		return methodNotAllowed(rq.r.Method)
	}
	switch seg[0] {
	case "validate":
		if len(seg) == 1 {
			return a.jobValidate(rq)
		}
		return errNotFound
	case "batch-cancel", "batch_cancel":
		if len(seg) == 1 {
			return a.jobBatchCancel(rq)
		}
		return errNotFound
	}
	if len(seg) == 1 {
		if err := rq.methods(http.MethodGet); err != nil {
			return err
		}
		j, err := a.visibleJob(rq, seg[0])
		if err != nil {
			return err
		}
		return rq.ok(jobJSON(j))
	}
	switch seg[1] {
	case "cancel":
		if len(seg) == 2 {
			return a.jobCancel(rq, seg[0])
		}
	case "resubmit":
		if len(seg) == 2 {
			return a.jobResubmit(rq, seg[0])
		}
	case "suites", "tests":
		return a.results(rq, seg)
	case "logs", "junit", "tap13", "csv", "yaml", "metadata":
		if len(seg) != 2 {
			return errNotFound
		}
		if err := rq.methods(http.MethodGet); err != nil {
			return err
		}
		j, err := a.visibleJob(rq, seg[0])
		if err != nil {
			return err
		}
		switch seg[1] {
		case "logs":
			return a.jobLogs(rq, j)
		case "metadata":
			return rq.ok(map[string]any{"metadata": resultexport.JobMetadata(j.Definition)})
		}
		return a.jobExport(rq, j, seg[1])
	}
	return errNotFound
}

// jobFilter reads the list's query into a store filter, or a 400 naming
// the parameter.
func jobFilter(rq *req) (store.JobFilter, error) {
	f := store.JobFilter{Viewer: rq.viewer(), NewestFirst: true}
	q := rq.r.URL.Query()
	for key, vals := range q {
		if len(vals) == 0 {
			continue
		}
		v := vals[len(vals)-1]
		if err := addJobCond(&f, key, v); err != nil {
			return f, err
		}
	}
	if o := q.Get("ordering"); o != "" {
		ok := false
		for _, x := range store.JobOrders {
			ok = ok || x == o
		}
		// DRF ignores an ordering it does not allow.
		if ok {
			f.Order = o
		}
	}
	return f, nil
}

// textLookups are the lookups of LAVA's text job filters.
var textLookups = []store.CondOp{store.OpExact, store.OpIn, store.OpContains, store.OpIContains, store.OpStartsWith, store.OpEndsWith}

// jobParams maps a filter's base name to the field and its lookups
// (lava_rest_app/filters.py TestJobFilter and its related filters).
var jobParams = map[string]struct {
	field store.JobField
	ops   []store.CondOp
}{
	"id":                          {store.FieldID, []store.CondOp{store.OpExact, store.OpLT, store.OpGT, store.OpIn}},
	"submit_time":                 {store.FieldSubmitTime, []store.CondOp{store.OpExact, store.OpLT, store.OpGT, store.OpIsNull}},
	"start_time":                  {store.FieldStartTime, []store.CondOp{store.OpExact, store.OpLT, store.OpGT, store.OpIsNull}},
	"end_time":                    {store.FieldEndTime, []store.CondOp{store.OpExact, store.OpLT, store.OpGT, store.OpIsNull}},
	"health_check":                {store.FieldHealthCheck, []store.CondOp{store.OpExact}},
	"target_group":                {store.FieldGroup, []store.CondOp{store.OpExact, store.OpIExact, store.OpIn, store.OpContains, store.OpIContains, store.OpStartsWith}},
	"priority":                    {store.FieldPriority, []store.CondOp{store.OpExact, store.OpIn, store.OpLT, store.OpLTE, store.OpGT, store.OpGTE}},
	"description":                 {store.FieldDescription, textLookups},
	"definition":                  {store.FieldDefinition, textLookups},
	"requested_device_type":       {store.FieldDeviceType, []store.CondOp{store.OpExact}},
	"requested_device_type__name": {store.FieldDeviceType, textLookups},
	"actual_device":               {store.FieldDevice, []store.CondOp{store.OpExact}},
	"actual_device__hostname":     {store.FieldDevice, textLookups},
	"submitter__username":         {store.FieldSubmitter, textLookups},
	"tags__name":                  {store.FieldTag, []store.CondOp{store.OpExact, store.OpIn}},
}

// addJobCond adds the condition of one query parameter; parameters that
// are no filter are ignored, as django-filter ignores them.
func addJobCond(f *store.JobFilter, key, v string) error {
	switch key {
	case "state", "state__iexact", "state__in", "health", "health__iexact", "health__in":
		// Display names, checked; each parameter is one more condition
		// (state=X&state__in=X,Y both hold, as django-filter ANDs them).
		base, op, _ := strings.Cut(key, "__")
		names := []string{v}
		if op == "in" {
			names = strings.Split(v, ",")
		}
		for i, n := range names {
			if op == "iexact" && n != "" {
				n = strings.ToUpper(n[:1]) + strings.ToLower(n[1:])
			}
			names[i] = n
			_, okState := store.ParseJobState(n)
			_, okHealth := store.ParseJobHealth(n)
			if base == "state" && !okState {
				return fieldError(key, fmt.Sprintf("Select a valid choice. %s is not one of the available choices: ('Submitted', 'Scheduling', 'Scheduled', 'Running', 'Canceling', 'Finished')", v))
			}
			if base == "health" && !okHealth {
				return fieldError(key, fmt.Sprintf("Select a valid choice. %s is not one of the available choices: ('Unknown', 'Complete', 'Incomplete', 'Canceled')", v))
			}
		}
		field := store.FieldState
		if base == "health" {
			field = store.FieldHealth
		}
		if op == "in" {
			f.Conds = append(f.Conds, store.JobCond{Field: field, Op: store.OpIn, Value: names})
		} else {
			f.Conds = append(f.Conds, store.JobCond{Field: field, Op: store.OpExact, Value: names[0]})
		}
		return nil
	}
	base, op := key, store.OpExact
	if _, ok := jobParams[key]; !ok {
		i := strings.LastIndex(key, "__")
		if i < 0 {
			return nil
		}
		base, op = key[:i], store.CondOp(key[i+2:])
	}
	p, ok := jobParams[base]
	if !ok {
		return nil
	}
	allowed := false
	for _, o := range p.ops {
		allowed = allowed || o == op
	}
	if !allowed {
		return nil
	}
	val, err := condValue(p.field, op, v)
	if err != nil {
		return fieldError(key, err.Error())
	}
	f.Conds = append(f.Conds, store.JobCond{Field: p.field, Op: op, Value: val})
	return nil
}

// condValue parses a filter's value for field and lookup.
func condValue(field store.JobField, op store.CondOp, v string) (any, error) {
	if op == store.OpIsNull {
		b, ok := parseBool(v)
		if !ok {
			return nil, valueError("Enter a valid boolean.")
		}
		return b, nil
	}
	switch field {
	case store.FieldID, store.FieldPriority:
		if op == store.OpIn {
			var ns []int64
			for _, s := range strings.Split(v, ",") {
				n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
				if err != nil {
					return nil, valueError("Enter a number.")
				}
				ns = append(ns, n)
			}
			return ns, nil
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, valueError("Enter a number.")
		}
		return n, nil
	case store.FieldSubmitTime, store.FieldStartTime, store.FieldEndTime:
		t, ok := parseTime(v)
		if !ok {
			return nil, valueError("Enter a valid date/time.")
		}
		return t, nil
	case store.FieldHealthCheck:
		b, ok := parseBool(v)
		if !ok {
			return nil, valueError("Enter a valid boolean.")
		}
		return b, nil
	}
	if op == store.OpIn {
		return strings.Split(v, ","), nil
	}
	return v, nil
}

// valueError is a filter value's error, in Django's words.
type valueError string

func (e valueError) Error() string { return string(e) }

// parseBool reads django-filter's booleans.
func parseBool(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on":
		return true, true
	case "false", "0", "no", "off":
		return false, true
	}
	return false, false
}

// parseTime reads a datetime as Django's form field does: ISO 8601 /
// RFC 3339 with or without a zone (UTC when none), or a date alone.
func parseTime(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func (a *api) jobList(rq *req) error {
	f, err := jobFilter(rq)
	if err != nil {
		return err
	}
	ctx := rq.r.Context()
	count, err := a.store.CountJobs(ctx, f)
	if err != nil {
		return err
	}
	limit, offset := rq.pageArgs()
	f.Limit, f.Offset = limit, offset
	jobs, err := a.store.Jobs(ctx, f)
	if err != nil {
		return err
	}
	out := make([]any, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, jobJSON(j))
	}
	return rq.page(count, limit, offset, out)
}

// submitError is LAVA's 400 for a refused submission.
func submitError(err error) error {
	var se *lab.SubmitError
	switch {
	case errors.As(err, &se):
		msg := strings.Join(se.Problems, "\n")
		switch {
		case se.Code == http.StatusNotFound:
			return message(http.StatusBadRequest, "Specified device or device type not found.")
		case strings.HasPrefix(msg, "Device unavailable: "):
			return message(http.StatusBadRequest, "Devices unavailable: "+strings.TrimPrefix(msg, "Device unavailable: "))
		}
		return message(http.StatusBadRequest, "Problem with submitted job data: "+msg)
	case errors.Is(err, lab.ErrPermission):
		return detail(http.StatusForbidden, "Insufficient permissions")
	}
	return err
}

// submitted is the 201 of submit and resubmit: the job's id, or the
// sub_id strings of a MultiNode group ("12.0", "12.1").
func (rq *req) submitted(jobs []store.Job) error {
	ids := make([]any, 0, len(jobs))
	for _, j := range jobs {
		if j.Group == "" {
			ids = append(ids, j.ID)
		} else {
			ids = append(ids, fmt.Sprint(lab.DisplayID(j)))
		}
	}
	writeJSON(rq.w, http.StatusCreated, map[string]any{"message": "job(s) successfully submitted", "job_ids": ids})
	return nil
}

func (a *api) jobSubmit(rq *req) error {
	if err := rq.needAuth(); err != nil {
		return err
	}
	def, ok := rq.str("definition")
	if !ok || def == "" {
		if _, present := rq.data["definition"]; present && def == "" {
			return fieldError("definition", "This field may not be blank.")
		}
		return fieldError("definition", "This field is required.")
	}
	jobs, err := a.lab.Submit(rq.r.Context(), rq.user, def)
	if err != nil {
		return submitError(err)
	}
	return rq.submitted(jobs)
}

func (a *api) jobResubmit(rq *req, id string) error {
	if err := rq.methods(http.MethodPost); err != nil {
		return err
	}
	if err := rq.needAuth(); err != nil {
		return err
	}
	j, err := a.visibleJob(rq, id)
	if err != nil {
		return err
	}
	jobs, err := a.lab.Resubmit(rq.r.Context(), rq.user, j)
	if err != nil {
		return submitError(err)
	}
	return rq.submitted(jobs)
}

// cancel is TestJob.cancel: a job that ended or is ending is left alone
// (whoever asks), else the submitter or a superuser cancels it.
func (a *api) cancel(ctx context.Context, rq *req, j store.Job) error {
	if j.State == store.JobFinished || j.State == store.JobCanceling {
		return nil
	}
	if !rq.auth || (!rq.user.Superuser && rq.user.Name != j.Submitter) {
		return detail(http.StatusForbidden, "Insufficient permissions")
	}
	return submitError(a.lab.Cancel(ctx, rq.user, j))
}

// jobCancel answers GET (LAVA's action) and POST (SQUAD's).
func (a *api) jobCancel(rq *req, id string) error {
	if err := rq.methods(http.MethodGet, http.MethodPost); err != nil {
		return err
	}
	if rq.r.Method == http.MethodPost {
		if err := rq.needAuth(); err != nil {
			return err
		}
	}
	// LAVA looks the job up among all jobs here, not the visible ones.
	j, err := a.jobByID(rq, id)
	if err != nil {
		return err
	}
	if err := a.cancel(rq.r.Context(), rq, j); err != nil {
		return err
	}
	return rq.ok(map[string]any{"message": "Job cancel signal sent."})
}

func (a *api) jobBatchCancel(rq *req) error {
	if err := rq.methods(http.MethodPost); err != nil {
		return err
	}
	if err := rq.needAuth(); err != nil {
		return err
	}
	list, _ := rq.data["job_ids"].([]any)
	done, invalid := []any{}, []any{}
	ctx := rq.r.Context()
	for _, v := range list {
		id := fmt.Sprint(v)
		if f, ok := v.(float64); ok {
			id = strconv.FormatFloat(f, 'f', -1, 64)
		}
		j, err := a.lab.FindJob(ctx, id)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			invalid = append(invalid, v)
			continue
		}
		if ok, err := a.visible(rq, j); err != nil {
			return err
		} else if !ok {
			invalid = append(invalid, v)
			continue
		}
		if err := a.cancel(ctx, rq, j); err != nil {
			var ae *apiError
			if errors.As(err, &ae) {
				invalid = append(invalid, v)
				continue
			}
			return err
		}
		done = append(done, v)
	}
	return rq.ok(map[string]any{"message": "Job cancel signal sent for job ids.", "job_ids": done, "invalid_job_ids": invalid})
}

// jobValidate is open to everyone (AllowAny).
func (a *api) jobValidate(rq *req) error {
	if err := rq.methods(http.MethodPost); err != nil {
		return err
	}
	v, present := rq.data["definition"]
	def, isStr := v.(string)
	if !present || v == nil || isStr && def == "" {
		return &apiError{http.StatusBadRequest, map[string]any{"definition": "Test job definition is required."}}
	}
	if !isStr {
		return &apiError{http.StatusBadRequest, map[string]any{"definition": "Test job definition should be a string."}}
	}
	strict := false
	switch s := rq.data["strict"].(type) {
	case bool:
		strict = s
	case string:
		strict, _ = parseBool(s)
	}
	problems := a.lab.Validate(rq.r.Context(), def, strict)
	if len(problems) == 0 {
		return rq.ok(map[string]any{"message": "Job valid."})
	}
	return rq.ok(map[string]any{"message": fmt.Sprintf("Job invalid: %s @ %s", problems[0].Msg, problems[0].Path)})
}

// jobLogs is LAVA's logs action: the whole log as a YAML attachment, or
// lines [start, end); 404 when there is no log or the range is empty
// (clients following a log read 404 as "nothing new yet"). The lines are
// streamed from the log file, never held whole.
func (a *api) jobLogs(rq *req, j store.Job) error {
	q := rq.r.URL.Query()
	start, end := int64(0), int64(-1)
	if s := q.Get("start"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return fieldError("start", "A valid non-negative integer is required.")
		}
		start = n
	}
	if s := q.Get("end"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return fieldError("end", "A valid non-negative integer is required.")
		}
		end = n
	}
	if a.logs == nil || !a.logs.Exists(j.ID) {
		return errNotFound
	}
	n, err := a.logs.Len(j.ID)
	if err != nil {
		return err
	}
	if end < 0 || end > n {
		end = n
	}
	if start >= end {
		return errNotFound
	}
	h := rq.w.Header()
	h.Set("Content-Type", "application/yaml")
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=job_%d.yaml", j.ID))
	rq.w.WriteHeader(http.StatusOK)
	if rq.r.Method == http.MethodHead {
		return nil
	}
	// The status is sent: an error now can only cut the body short.
	_, _ = a.logs.Read(j.ID, start, end, rq.w)
	return nil
}

// errLogCap stops a case's log read at its bound.
var errLogCap = errors.New("case log bound reached")

// capBuffer keeps at most max bytes.
type capBuffer struct {
	bytes.Buffer
	max int
}

func (b *capBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.Buffer.Write(p[:max(room, 0)])
		return 0, errLogCap
	}
	return b.Buffer.Write(p)
}

// caseLog reads a failed case's log lines for the JUnit and TAP13
// exports, bounded (resultexport cuts there with a note).
func (a *api) caseLog(job int64) resultexport.LogFunc {
	if a.logs == nil || !a.logs.Exists(job) {
		return nil
	}
	return func(start, end int64) (string, error) {
		b := &capBuffer{max: 1<<20 + 1}
		if _, err := a.logs.Read(job, start, end, b); err != nil && !errors.Is(err, errLogCap) {
			return "", err
		}
		return b.String(), nil
	}
}

// sliceArgs reads the exports' limit and offset (Python slicing:
// results[offset:][:limit]).
func sliceArgs[T any](rq *req, all []T) ([]T, error) {
	q := rq.r.URL.Query()
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, fieldError("offset", "A valid non-negative integer is required.")
		}
		all = all[min(n, len(all)):]
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, fieldError("limit", "A valid non-negative integer is required.")
		}
		all = all[:min(n, len(all))]
	}
	return all, nil
}

// jobExport answers junit, tap13, csv and yaml.
func (a *api) jobExport(rq *req, j store.Job, kind string) error {
	rs, err := a.store.Results(rq.r.Context(), j.ID)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	switch kind {
	case "junit":
		err = resultexport.JUnit(&b, j.ID, rs, resultexport.JUnitOptions{
			ClassnamePrefix: rq.r.URL.Query().Get("classname_prefix"), Log: a.caseLog(j.ID)})
		if err == nil {
			return rq.attachment("application/xml", fmt.Sprintf("job_%d.xml", j.ID), b.Bytes())
		}
	case "tap13":
		if err = resultexport.TAP13(&b, j.ID, rs, a.caseLog(j.ID)); err == nil {
			return rq.attachment("application/yaml", fmt.Sprintf("job_%d.yaml", j.ID), b.Bytes())
		}
	case "csv":
		if rs, err = sliceArgs(rq, rs); err != nil {
			return err
		}
		if err = resultexport.CSV(&b, j.ID, rs); err == nil {
			return rq.attachment("application/csv", fmt.Sprintf("job_%d.csv", j.ID), b.Bytes())
		}
	case "yaml":
		if rs, err = sliceArgs(rq, rs); err != nil {
			return err
		}
		if err = resultexport.YAML(&b, j.ID, rs); err == nil {
			return rq.attachment("application/yaml", fmt.Sprintf("job_%d.yaml", j.ID), b.Bytes())
		}
	}
	return err
}
