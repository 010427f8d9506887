package lavarpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/resultexport"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/workerapi"
	"github.com/basalt-lava/basalt/internal/xmlrpc"
)

// st builds an ordered struct from name, value pairs (Python dicts keep
// insertion order, and lavacli prints them in that order).
func st(pairs ...any) xmlrpc.Struct {
	s := make(xmlrpc.Struct, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		s = append(s, xmlrpc.Member{Name: pairs[i].(string), Value: pairs[i+1]})
	}
	return s
}

// orNil is s, or nil (Python None) when empty.
func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// timeOrNil is t as a dateTime, or nil when zero.
func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// pyTime is str(datetime) of an aware UTC datetime, as LAVA's jobs.list
// verbose entries carry it (resultexport.PyTime), or nil when zero.
func pyTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return resultexport.PyTime(t)
}

// capitalize is Python's str.capitalize: first letter upper, rest lower.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + strings.ToLower(s[1:])
}

func (a *api) registerJobs() {
	a.reg("scheduler.jobs.submit", 1, 1, "submit(definition): submit a job (YAML); returns its id, or the sub-job ids of a MultiNode job.", a.jobSubmit)
	a.reg("scheduler.jobs.resubmit", 1, 1, "resubmit(job_id): submit a job's definition again; returns as submit.", a.jobResubmit)
	a.reg("scheduler.jobs.cancel", 1, 1, "cancel(job_id): cancel a job (a MultiNode sub-job cancels its group); returns true.", a.jobCancel)
	a.reg("scheduler.jobs.show", 1, 1, "show(job_id): a job's details.", a.jobShow)
	a.reg("scheduler.jobs.definition", 1, 1, "definition(job_id): a job's definition as submitted.", a.jobDefinition)
	a.reg("scheduler.jobs.logs", 1, 3, "logs(job_id, start=0, end=None): [finished, log lines [start, end) as YAML]; finished is read before the lines.", a.jobLogs)
	a.reg("scheduler.jobs.list", 0, 7, "list(state=None, health=None, start=0, limit=25, since=0, verbose=False, duration_at_least=None): jobs, newest first.", a.jobList)
	a.reg("scheduler.jobs.queue", 0, 3, "queue(device_types=None, start=0, limit=25): the Submitted jobs, newest first.", a.jobQueue)
	a.reg("scheduler.jobs.configuration", 1, 1, "configuration(job_id): [definition, device, dispatcher, env, env-dut] of a started job (strings or None).", a.jobConfiguration)
	a.registerValidate()
}

// validJobID reports whether id looks like a job id: "123" or "123.1".
// Anything else is "not found", as LAVA's get_by_job_number answers it.
func validJobID(id string) bool {
	whole, sub, multi := strings.Cut(id, ".")
	digits := func(s string) bool {
		if s == "" || len(s) > 18 {
			return false
		}
		for _, r := range s {
			if r < '0' || r > '9' {
				return false
			}
		}
		return true
	}
	return digits(whole) && (!multi || digits(sub))
}

// findJob looks up the job named by argument i (404 when absent).
func (a *api) findJob(ctx context.Context, p params, i int) (store.Job, string, error) {
	id := p.str(i)
	if !validJobID(id) {
		return store.Job{}, id, notFound("Job '%s' was not found.", id)
	}
	j, err := a.lab.FindJob(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Job{}, id, notFound("Job '%s' was not found.", id)
	}
	return j, id, err
}

// visible reports whether the caller may see j.
func (a *api) visible(ctx context.Context, j store.Job) (bool, error) {
	return a.viewer(ctx)(j)
}

// viewer returns visible for one call's caller, reading the caller's
// groups once (a list of group-visible jobs asks for them per job).
func (a *api) viewer(ctx context.Context) func(store.Job) (bool, error) {
	u, _ := caller(ctx)
	var groups []string
	loaded := false
	return func(j store.Job) (bool, error) {
		if j.Visibility == store.VisibilityGroup && u.Name != "" && !u.Superuser && !loaded {
			var err error
			if groups, err = a.store.UserGroups(ctx, u.Name); err != nil {
				return false, err
			}
			loaded = true
		}
		return store.Visible(j, u, groups), nil
	}
}

// viewJob finds the job of argument i and checks the caller may see it:
// 404 when absent, 403 when hidden, as LAVA's scheduler methods answer.
func (a *api) viewJob(ctx context.Context, p params, i int) (store.Job, error) {
	j, id, err := a.findJob(ctx, p, i)
	if err != nil {
		return j, err
	}
	ok, err := a.visible(ctx, j)
	if err != nil {
		return j, err
	}
	if !ok {
		return j, forbidden("Job '%s' not available to user '%s'.", id, callerName(ctx))
	}
	return j, nil
}

// description is LAVA's TestJob.description: the job_name the lab
// stored, else read from the definition (a job stored without one).
func description(j store.Job) string {
	if j.Description != "" {
		return j.Description
	}
	var d struct {
		JobName any `yaml:"job_name"`
	}
	if yaml.Unmarshal([]byte(j.Definition), &d) != nil || d.JobName == nil {
		return ""
	}
	if s, ok := d.JobName.(string); ok {
		return s
	}
	return fmt.Sprint(d.JobName)
}

// originalDefinition is what jobs.definition returns: a MultiNode
// sub-job's whole submission, else the job's definition.
func originalDefinition(j store.Job) string {
	if j.MultinodeDefinition != "" {
		return j.MultinodeDefinition
	}
	return j.Definition
}

// submitted is what submit and resubmit return: the int id of a single job,
// the display ids (strings) of a MultiNode group.
func (a *api) submitted(ctx context.Context, jobs []store.Job) (any, error) {
	if len(jobs) == 1 && jobs[0].Group == "" {
		return jobs[0].ID, nil
	}
	ids := make([]string, 0, len(jobs))
	for _, j := range jobs {
		id := lab.DisplayID(j)
		ids = append(ids, fmt.Sprint(id))
	}
	return ids, nil
}

func (a *api) jobSubmit(ctx context.Context, p params) (any, error) {
	u, err := needUser(ctx)
	if err != nil {
		return nil, err
	}
	def, err := p.text(0)
	if err != nil {
		return nil, err
	}
	jobs, err := a.lab.Submit(ctx, u, def)
	if err != nil {
		return nil, submitFault(err)
	}
	return a.submitted(ctx, jobs)
}

func (a *api) jobResubmit(ctx context.Context, p params) (any, error) {
	u, err := needUser(ctx)
	if err != nil {
		return nil, err
	}
	j, err := a.viewJob(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	jobs, err := a.lab.Resubmit(ctx, u, j)
	if err != nil {
		return nil, submitFault(err)
	}
	return a.submitted(ctx, jobs)
}

func (a *api) jobCancel(ctx context.Context, p params) (any, error) {
	u, err := needUser(ctx)
	if err != nil {
		return nil, err
	}
	if p.str(0) == "" {
		return nil, badRequest("Bad request: TestJob id was not specified.")
	}
	j, err := a.viewJob(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	// LAVA's TestJob.can_cancel: the submitter or an admin.
	if !u.Superuser && u.Name != j.Submitter {
		return nil, forbidden("Permission denied.")
	}
	if err := a.lab.Cancel(ctx, u, j); err != nil {
		return nil, err
	}
	return true, nil
}

// visibilityName is jobs.show's "visibility".
func visibilityName(j store.Job) string {
	switch j.Visibility {
	case store.VisibilityPersonal:
		return "Personal"
	case store.VisibilityGroup:
		if len(j.VisibleGroups) == 0 {
			return "Personal"
		}
		return "Group (" + strings.Join(j.VisibleGroups, ", ") + ")"
	default:
		return "Public"
	}
}

func (a *api) jobShow(ctx context.Context, p params) (any, error) {
	j, err := a.viewJob(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	id := lab.DisplayID(j)
	tags := j.Tags
	if tags == nil {
		tags = []string{}
	}
	return st(
		"id", id,
		"description", description(j),
		"device", orNil(j.Device),
		"device_type", orNil(j.DeviceType),
		"health_check", j.HealthCheck,
		"pipeline", true,
		"health", string(j.Health),
		"state", string(j.State),
		"submitter", j.Submitter,
		"submit_time", timeOrNil(j.Submitted),
		"start_time", timeOrNil(j.Started),
		"end_time", timeOrNil(j.Ended),
		"tags", tags,
		"visibility", visibilityName(j),
		"failure_comment", nil,
		"error_msg", orNil(j.ErrorMsg),
		"error_type", orNil(j.ErrorClass),
	), nil
}

func (a *api) jobDefinition(ctx context.Context, p params) (any, error) {
	j, err := a.viewJob(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	return originalDefinition(j), nil
}

// maxLogReply bounds the log bytes of one jobs.logs reply, so that a
// client asking for a whole 1 GB log (lavacli asks from its position to
// the end) does not make the server hold it in memory. A reply cut there
// ends on a whole line and says finished=false, so lavacli asks again from
// where it is; only "lavacli jobs logs --no-follow" sees the first part
// alone.
const maxLogReply = 4 << 20

// errLogCap stops a log read at maxLogReply.
var errLogCap = errors.New("log reply limit reached")

// capWriter keeps what a log read writes, up to max bytes and whole lines.
type capWriter struct {
	buf    []byte
	max    int
	lastNL int // length of the prefix that ends with a whole line
	full   bool
}

// Write keeps b. Once whole lines reach max it refuses the next write
// (not this one: a read that ends here is complete, not cut).
func (w *capWriter) Write(b []byte) (int, error) {
	if w.full {
		return 0, errLogCap
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		w.lastNL = len(w.buf) + i + 1
	}
	if need := len(w.buf) + len(b); need > cap(w.buf) {
		// Double, as append stops doing for large slices (it grows them
		// by a quarter, which copies a 4 MB chunk some 20 times over).
		grown := make([]byte, len(w.buf), max(need, 2*cap(w.buf), 64<<10))
		copy(grown, w.buf)
		w.buf = grown
	}
	w.buf = append(w.buf, b...)
	w.full = w.lastNL >= w.max
	return len(b), nil
}

func (a *api) jobLogs(ctx context.Context, p params) (any, error) {
	j, err := a.viewJob(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	start, err := p.int(1, 0)
	if err != nil {
		return nil, err
	}
	end, err := p.int(2, -1)
	if err != nil {
		return nil, err
	}
	// Read the state first: lines read after it are at least those of a
	// job it calls finished, so a client stopping at finished=true loses
	// nothing (LAVA's order, which lavacli relies on).
	finished := j.State == store.JobFinished
	if a.logs == nil || !a.logs.Exists(j.ID) {
		return []any{finished, []byte("[]")}, nil
	}
	if start < 0 {
		start = 0
	}
	if end >= 0 && end <= start {
		return []any{finished, []byte{}}, nil
	}
	w := &capWriter{max: a.maxLog}
	if _, err := a.logs.Read(j.ID, start, end, w); err != nil {
		if !errors.Is(err, errLogCap) {
			return nil, fmt.Errorf("reading the log of job %d: %w", j.ID, err)
		}
		// Cut at the last whole line and let the client come back.
		w.buf = w.buf[:w.lastNL]
		finished = false
	}
	return []any{finished, w.buf}, nil
}

// pageJobs returns the jobs matching f that the caller may see and keep
// accepts (nil: all), newest first, skipping start and returning at most
// limit, as LAVA pages its visible_by_user query.
func (a *api) pageJobs(ctx context.Context, f store.JobFilter, keep func(store.Job) bool, start, limit int) ([]store.Job, error) {
	f.NewestFirst = true
	if limit <= 0 {
		return nil, nil
	}
	if keep == nil && isSuperuser(ctx) {
		f.Offset, f.Limit = start, limit
		return a.store.Jobs(ctx, f)
	}
	const batch = 500
	visible := a.viewer(ctx)
	var out []store.Job
	skipped := 0
	for off := 0; ; off += batch {
		f.Offset, f.Limit = off, batch
		js, err := a.store.Jobs(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, j := range js {
			if ok, err := visible(j); err != nil {
				return nil, err
			} else if !ok || keep != nil && !keep(j) {
				continue
			}
			if skipped < start {
				skipped++
				continue
			}
			out = append(out, j)
			if len(out) == limit {
				return out, nil
			}
		}
		if len(js) < batch {
			return out, nil
		}
	}
}

// pageArgs reads LAVA's start and limit (limit clamped to 100).
func pageArgs(p params, i int) (start, limit int, err error) {
	s, err := p.int(i, 0)
	if err != nil {
		return 0, 0, err
	}
	l, err := p.int(i+1, 25)
	if err != nil {
		return 0, 0, err
	}
	return int(max(0, min(s, 1<<31))), int(max(0, min(l, 100))), nil
}

func (a *api) jobList(ctx context.Context, p params) (any, error) {
	var f store.JobFilter
	if s, ok := p.optStr(0); ok && s != "" {
		st, ok := store.ParseJobState(capitalize(s))
		if !ok {
			return nil, badRequest("Invalid state '%s'", s)
		}
		f.States = []store.JobState{st}
	}
	if h, ok := p.optStr(1); ok && h != "" {
		jh, ok := store.ParseJobHealth(capitalize(h))
		if !ok {
			return nil, badRequest("Invalid health '%s'", h)
		}
		f.Healths = []store.JobHealth{jh}
	}
	start, limit, err := pageArgs(p, 2)
	if err != nil {
		return nil, err
	}
	since, err := p.int(4, 0)
	if err != nil {
		return nil, err
	}
	now := a.now()
	var keep func(store.Job) bool
	if since != 0 {
		from := now.Add(-time.Duration(since) * time.Minute)
		f.EndedAfter = from
		keep = func(j store.Job) bool { return !j.Ended.Before(from) && !j.Ended.After(now) }
	}
	verbose := p.bool(5, false)
	if p[6] != nil {
		minutes, err := p.int(6, 0)
		if err != nil {
			return nil, err
		}
		atLeast := time.Duration(minutes) * time.Minute
		sinceKeep := keep
		keep = func(j store.Job) bool {
			if sinceKeep != nil && !sinceKeep(j) || j.Started.IsZero() {
				return false
			}
			end := j.Ended
			if end.IsZero() {
				end = now
			}
			return end.Sub(j.Started) > atLeast
		}
	}
	jobs, err := a.pageJobs(ctx, f, keep, start, limit)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(jobs))
	for _, j := range jobs {
		id := lab.DisplayID(j)
		e := st(
			"id", id,
			"description", description(j),
			"device_type", orNil(j.DeviceType),
			"health", string(j.Health),
			"state", string(j.State),
			"submitter", j.Submitter,
		)
		if verbose {
			e = append(e, st(
				"actual_device", orNil(j.Device),
				"start_time", pyTime(j.Started),
				"end_time", pyTime(j.Ended),
				"error_msg", orNil(j.ErrorMsg),
				"error_type", orNil(j.ErrorClass),
			)...)
		}
		out = append(out, e)
	}
	return out, nil
}

func (a *api) jobQueue(ctx context.Context, p params) (any, error) {
	f := store.JobFilter{States: []store.JobState{store.JobSubmitted}}
	if p[0] != nil {
		list, ok := p[0].([]any)
		if !ok {
			return nil, argError(0, "a list of device-type names", p[0])
		}
		if len(list) == 0 {
			return []any{}, nil
		}
		for _, v := range list {
			f.DeviceTypes = append(f.DeviceTypes, fmt.Sprint(v))
		}
	}
	start, limit, err := pageArgs(p, 1)
	if err != nil {
		return nil, err
	}
	jobs, err := a.pageJobs(ctx, f, nil, start, limit)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(jobs))
	for _, j := range jobs {
		id := lab.DisplayID(j)
		out = append(out, st(
			"id", id,
			"description", description(j),
			"requested_device_type", orNil(j.DeviceType),
			"submitter", j.Submitter,
		))
	}
	return out, nil
}

// jobContext is the definition's "context:" block as YAML text ("" for
// none), what the device dictionary is rendered with.
func jobContext(definition string) string {
	var d struct {
		Context yaml.Node `yaml:"context"`
	}
	if yaml.Unmarshal([]byte(definition), &d) != nil || d.Context.Kind != yaml.MappingNode {
		return ""
	}
	b, err := yaml.Marshal(&d.Context)
	if err != nil {
		return ""
	}
	return string(b)
}

// jobConfiguration returns the files a started job ran with. LAVA sends
// them as base64, which both lavacli versions fail to write (they call
// file.write(Binary)); Basalt sends strings, which they write. The
// dispatcher and env files are the worker's and not on the server: nil.
func (a *api) jobConfiguration(ctx context.Context, p params) (any, error) {
	j, err := a.viewJob(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	switch j.State {
	case store.JobRunning, store.JobCanceling, store.JobFinished:
	default:
		return nil, notFound("Job '%s' has not started yet", p.str(0))
	}
	// The device configuration is the one the worker was sent, which the
	// lab keeps beside the log (LAVA's output_dir/device.yaml); a job
	// started before Basalt kept it gets its device's rendering now.
	var device any
	if b, err := readBounded(a.lab.JobFile(j.ID, lab.DeviceFile), maxDeviceFile); err == nil {
		device = string(b)
	} else if errors.Is(err, fs.ErrNotExist) && j.Device != "" {
		if cfg, err := a.lab.RenderDevice(ctx, j.Device, jobContext(j.Definition)); err == nil {
			device = cfg
		}
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return []any{j.Definition, device, nil, nil, nil}, nil
}

// maxDeviceFile bounds a stored device configuration read back (the
// worker protocol's bound on a poll reply).
const maxDeviceFile = workerapi.MaxResponseBytes

// readBounded reads a file of at most max bytes.
func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, &limits.Error{Path: path, What: "stored device configuration", Limit: fmt.Sprintf("%d bytes", max)}
	}
	return b, nil
}
