package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/logstore"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/value"
	"github.com/basalt-lava/basalt/internal/workerapi"
)

// missingPolls is how many polls in a row may leave out a job the store
// says the worker runs before the job is ended as lost by the worker (one
// poll may cross the job's start or finish).
const missingPolls = 3

// WorkerServer is the server's side of the worker protocol, to serve with
// workerapi.NewHandler.
func (l *Lab) WorkerServer() workerapi.Server { return workerServer{l} }

type workerServer struct{ l *Lab }

var _ workerapi.Server = workerServer{}

// Authenticate checks the worker's token against the store.
func (s workerServer) Authenticate(ctx context.Context, worker, token string) error {
	_, err := s.l.st.AuthenticateWorker(ctx, worker, token)
	if errors.Is(err, store.ErrAuth) {
		return fmt.Errorf("%w: %v", workerapi.ErrUnauthorized, err)
	}
	return err
}

// Poll records the heartbeat, claims the worker's Scheduled jobs and
// answers with them, the cancels and the jobs the worker runs; with
// nothing to start or cancel it holds the poll up to req.Wait(), woken
// when a job of the worker is scheduled or canceled.
func (s workerServer) Poll(ctx context.Context, worker string, req workerapi.PollRequest) (workerapi.PollResponse, error) {
	l := s.l
	l.mu.Lock()
	_, heard := l.lastPoll[worker]
	l.lastPoll[worker] = l.now()
	l.polling[worker]++
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.polling[worker]--
		l.lastPoll[worker] = l.now()
		l.mu.Unlock()
	}()
	w, err := l.st.Worker(ctx, worker)
	if err != nil {
		return workerapi.PollResponse{}, err
	}
	if err := l.st.PingWorker(ctx, worker, l.now()); err != nil {
		return workerapi.PollResponse{}, err
	}
	if !heard || w.State != store.WorkerOnline {
		l.Kick() // its devices may take work again
	}
	deadline := time.NewTimer(req.Wait())
	defer deadline.Stop()
	for {
		news := l.waiter(worker)
		resp, something, err := s.answer(ctx, worker, req)
		if err != nil || something || req.Wait() == 0 {
			return resp, err
		}
		select {
		case <-news:
		case <-deadline.C:
			return resp, nil
		case <-ctx.Done():
			return resp, nil
		case <-l.stopping:
			return resp, nil
		}
	}
}

// answer builds one poll reply; something is true when it starts or
// cancels a job.
func (s workerServer) answer(ctx context.Context, worker string, req workerapi.PollRequest) (workerapi.PollResponse, bool, error) {
	l := s.l
	now := l.now()
	resp := workerapi.PollResponse{Start: []workerapi.StartJob{}, Cancel: []workerapi.JobID{}, Running: []workerapi.JobID{},
		LeaseMS: l.lease.Milliseconds(), LeaseDeadline: now.Add(l.lease)}
	started := map[int64]bool{}
	for {
		j, ok, err := l.st.ClaimJob(ctx, worker, now)
		if err != nil {
			return resp, false, err
		}
		if !ok {
			break
		}
		l.changed(j.ID, store.JobRunning, store.JobUnknown)
		sj, err := s.start(ctx, j)
		if err != nil {
			// The device's configuration no longer renders for the job
			// (its dictionary changed since the submission).
			f := store.Finish{Health: store.JobIncomplete, ErrorClass: "Configuration",
				ErrorMsg: fmt.Sprintf("device %s: %v", j.Device, err), DeviceHealth: store.HealthBad}
			if ferr := l.endJob(ctx, j, f, now); ferr != nil {
				return resp, false, ferr
			}
			l.log.Warn("job incomplete: its device configuration does not render", "job", j.ID, "device", j.Device, "err", err)
			l.Kick()
			continue
		}
		l.log.Info("job started", "job", j.ID, "device", j.Device, "worker", worker)
		started[j.ID] = true
		resp.Start = append(resp.Start, sj)
	}
	reported := map[int64]workerapi.RunningJob{}
	for _, r := range req.Running {
		reported[int64(r.Job)] = r
	}
	jobs, err := l.st.Jobs(ctx, store.JobFilter{States: []store.JobState{store.JobRunning, store.JobCanceling}, Worker: worker})
	if err != nil {
		return resp, false, err
	}
	for _, j := range jobs {
		r, listed := reported[j.ID]
		if j.State == store.JobCanceling {
			resp.Running = append(resp.Running, workerapi.JobID(j.ID))
			if !listed || !r.Canceling {
				resp.Cancel = append(resp.Cancel, workerapi.JobID(j.ID))
			}
			continue
		}
		if started[j.ID] {
			resp.Running = append(resp.Running, workerapi.JobID(j.ID))
			continue
		}
		if listed {
			l.mu.Lock()
			delete(l.missing, j.ID)
			l.mu.Unlock()
			resp.Running = append(resp.Running, workerapi.JobID(j.ID))
			continue
		}
		// The store says the worker runs it; the worker does not list it.
		held, err := l.logs.Len(j.ID)
		if err != nil {
			return resp, false, err
		}
		if held == 0 {
			// The reply that started it was lost: start it again.
			sj, err := s.start(ctx, j)
			if err == nil {
				resp.Start = append(resp.Start, sj)
				resp.Running = append(resp.Running, workerapi.JobID(j.ID))
				continue
			}
		}
		l.mu.Lock()
		l.missing[j.ID]++
		n := l.missing[j.ID]
		l.mu.Unlock()
		if n < missingPolls {
			resp.Running = append(resp.Running, workerapi.JobID(j.ID))
			continue
		}
		l.mu.Lock()
		delete(l.missing, j.ID)
		l.mu.Unlock()
		f := store.Finish{Health: store.JobIncomplete, ErrorClass: "Infrastructure",
			ErrorMsg:     fmt.Sprintf("worker %s no longer runs the job (left out of %d polls in a row)", worker, missingPolls),
			DeviceHealth: store.HealthUnknown, DeviceHealthFrom: []store.DeviceHealth{store.HealthGood, store.HealthUnknown}}
		if err := l.endJob(ctx, j, f, now); err != nil {
			return resp, false, err
		}
		l.log.Warn("job incomplete: its worker no longer runs it", "job", j.ID, "worker", worker)
		l.Kick()
	}
	return resp, len(resp.Start) > 0 || len(resp.Cancel) > 0, nil
}

// start is what a worker needs to run j: its definition (with the
// submitter's remote tokens in place, workerDefinition), its device's
// configuration rendered with the job's context, the coordinator for a
// MultiNode sub-job, the log lines already held.
func (s workerServer) start(ctx context.Context, j store.Job) (workerapi.StartJob, error) {
	l := s.l
	sj := workerapi.StartJob{Job: workerapi.JobID(j.ID), Definition: l.workerDefinition(ctx, j.ID, j.Submitter, j.Definition)}
	v, err := value.DecodeYAML([]byte(j.Definition))
	if err != nil {
		return sj, fmt.Errorf("stored definition: %w", err)
	}
	m, _ := v.(*value.Map)
	var jc *value.Map
	if c := m.Map("context"); c != nil {
		jc, _ = value.Clone(c).(*value.Map)
	}
	d, err := l.jobDevice(ctx, j)
	if err != nil {
		return sj, err
	}
	loader, err := l.loader(ctx)
	if err != nil {
		return sj, err
	}
	if sj.Device, err = renderDevice(d, jc, loader); err != nil {
		return sj, err
	}
	if j.Dynamic() {
		// The host role's device, rendered with this job's context,
		// without what only the host's own job may use (dynamic.go).
		if sj.Device, err = minimiseDevice(sj.Device, d); err != nil {
			return sj, err
		}
	}
	if err := l.keepDevice(j.ID, sj.Device); err != nil {
		// Not a reason to hold the job back: jobs.configuration renders
		// the device again when the file is missing.
		l.log.Warn("the device configuration sent is not kept", "job", j.ID, "err", err)
	}
	if j.Group != "" {
		sj.Coordinator = l.cfg.CoordinatorAddr
	}
	if sj.LogAcked, err = l.logs.Len(j.ID); err != nil {
		return sj, err
	}
	return sj, nil
}

// ownJob returns job id when it runs on a device of worker.
func (s workerServer) ownJob(ctx context.Context, worker string, id workerapi.JobID) (store.Job, error) {
	j, err := s.l.st.Job(ctx, int64(id))
	if errors.Is(err, store.ErrNotFound) {
		return j, fmt.Errorf("job %d: %w", id, workerapi.ErrUnknownJob)
	}
	if err != nil {
		return j, err
	}
	if j.Device == "" && !j.Dynamic() {
		return j, fmt.Errorf("job %d has no device: %w", id, workerapi.ErrUnknownJob)
	}
	// A dynamic connection runs on its host job's device's worker.
	d, err := s.l.jobDevice(ctx, j)
	if err != nil {
		return j, fmt.Errorf("%v: %w", err, workerapi.ErrUnknownJob)
	}
	if d.Worker != worker {
		return j, fmt.Errorf("job %d runs on device %s, not a device of worker %s: %w", id, d.Name, worker, workerapi.ErrUnknownJob)
	}
	return j, nil
}

// Log appends lines to a Running or Canceling job's log.
func (s workerServer) Log(ctx context.Context, worker string, req workerapi.LogRequest) (workerapi.LogResponse, error) {
	j, err := s.ownJob(ctx, worker, req.Job)
	if err != nil {
		return workerapi.LogResponse{}, err
	}
	if j.State != store.JobRunning && j.State != store.JobCanceling {
		return workerapi.LogResponse{}, fmt.Errorf("job %d is %s, not running: %w", req.Job, j.State, workerapi.ErrUnknownJob)
	}
	held, err := s.l.logs.Len(j.ID)
	if err != nil {
		return workerapi.LogResponse{}, err
	}
	if req.Index > held {
		return workerapi.LogResponse{}, &workerapi.GapError{Job: req.Job, Expected: held, Got: req.Index}
	}
	before := held
	held, err = s.appendLog(j.ID, req.Index, req.Lines)
	if err == nil && held > before {
		// The results the new lines hold, kept now so that a job whose
		// worker is lost keeps what it reported (LAVA records them as
		// the log arrives); the finish's own set replaces them.
		from := before - req.Index
		if rs := logResults(req.Lines[from:], before, s.l.now()); len(rs) > 0 {
			if err := s.l.st.AddResults(ctx, j.ID, rs); err != nil {
				return workerapi.LogResponse{}, err
			}
		}
	}
	var full *limits.Error
	if le := (*logstore.LineError)(nil); err != nil && !errors.As(err, &le) && errors.As(err, &full) {
		return workerapi.LogResponse{}, s.logFull(ctx, j, full, req.Index, req.Lines)
	}
	if err != nil {
		// A racing append may have moved the end: say where it is.
		if n, lerr := s.l.logs.Len(j.ID); lerr == nil && req.Index > n {
			return workerapi.LogResponse{}, &workerapi.GapError{Job: req.Job, Expected: n, Got: req.Index}
		}
		return workerapi.LogResponse{}, err
	}
	return workerapi.LogResponse{Acked: held}, nil
}

// logResults returns the results recorded in log lines: the records of
// level "results", whose msg maps definition, case, result and, for a
// measurement, measurement and units (LAVA's TestCase), every key kept as
// metadata. lines[0] is the log's line first; a result's log range is
// the msg's starttc/endtc when the dispatcher marked the test case (LAVA
// takes them out of the metadata), else its own record's line.
func logResults(lines []string, first int64, now time.Time) []store.Result {
	var out []store.Result
	for i, line := range lines {
		if !strings.Contains(line, "results") {
			continue
		}
		v, err := value.DecodeYAMLLimit([]byte(line), 10000)
		if err != nil {
			continue
		}
		l, _ := v.([]any)
		if len(l) != 1 {
			continue
		}
		rec, _ := l[0].(*value.Map)
		msg := rec.Map("msg")
		if rec.String("lvl") != "results" || msg == nil {
			continue
		}
		r := store.Result{Suite: text(msg.Value("definition")), Case: text(msg.Value("case")), Result: text(msg.Value("result")),
			Units: text(msg.Value("units"))}
		if r.Suite == "" || r.Case == "" {
			continue
		}
		if m, err := strconv.ParseFloat(text(msg.Value("measurement")), 64); err == nil {
			r.Measurement = &m
		}
		r.Logged = now
		at := first + int64(i)
		r.LogStart, r.LogEnd = lineMark(msg.Value("starttc"), at), lineMark(msg.Value("endtc"), at)
		meta := map[string]string{}
		msg.Range(func(k string, v any) bool {
			if k != "starttc" && k != "endtc" {
				meta[k] = text(v)
			}
			return true
		})
		if b, err := json.Marshal(meta); err == nil {
			r.Metadata = string(b)
		}
		out = append(out, r)
	}
	return out
}

// lineMark is a test case's marked log line: v when it is a line number,
// else the line of the results record.
func lineMark(v any, at int64) *int64 {
	if n, err := strconv.ParseInt(text(v), 10, 64); err == nil && n >= 0 {
		return &n
	}
	return &at
}

// text is a result field as text; a list or a map as YAML in flow style.
func text(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case int:
		return strconv.Itoa(t)
	case bool:
		return strconv.FormatBool(t)
	}
	b, err := value.EncodeYAML(v)
	if err != nil {
		return value.GoString(v)
	}
	return strings.TrimSpace(string(b))
}

// maxRefused bounds the records of one batch replaced by a notice.
const maxRefused = 100

// appendLog appends lines, replacing a record the log store refuses (not
// a LAVA log record, over the line limit) by a warning record that says
// so: the worker cannot mend what the job printed, and refusing the batch
// would have it resend the same lines for ever. The line keeps its index,
// so the worker's count and the server's stay the same.
func (s workerServer) appendLog(job, index int64, lines []string) (int64, error) {
	held, err := s.l.logs.Append(job, index, lines)
	copied := false
	for n := 0; n < maxRefused; n++ {
		var le *logstore.LineError
		if !errors.As(err, &le) {
			break
		}
		i := le.Index - index
		if i < 0 || i >= int64(len(lines)) {
			break
		}
		if !copied {
			lines, copied = slices.Clone(lines), true
		}
		lines[i] = refusedRecord(s.l.now(), le)
		s.l.log.Warn("log record refused: replaced by a notice", "job", job, "line", le.Index, "err", le.Err)
		held, err = s.l.logs.Append(job, index, lines)
	}
	return held, err
}

// refusedRecord is the warning that stands for a refused log record.
func refusedRecord(now time.Time, le *logstore.LineError) string {
	msg := fmt.Sprintf("basalt server: log line %d was refused and is left out: %v", le.Index, le.Err)
	if len(msg) > 1000 {
		msg = msg[:1000] + "..."
	}
	return fmt.Sprintf(`- {"dt": "%s", "lvl": "warning", "msg": %s}`, now.UTC().Format("2006-01-02T15:04:05.000000"), strconv.QuoteToASCII(msg))
}

// Finish ends a job with its results, applying the device health rules;
// a job that was Canceling ends Canceled. Finishing a finished job again
// succeeds and changes nothing.
func (s workerServer) Finish(ctx context.Context, worker string, req workerapi.FinishRequest) (workerapi.FinishResponse, error) {
	l := s.l
	j, err := s.ownJob(ctx, worker, req.Job)
	if err != nil {
		return workerapi.FinishResponse{}, err
	}
	if j.State == store.JobFinished {
		return workerapi.FinishResponse{}, nil
	}
	held, err := l.logs.Len(j.ID)
	if err != nil {
		return workerapi.FinishResponse{}, err
	}
	if held < req.LogLines {
		return workerapi.FinishResponse{}, &workerapi.GapError{Job: req.Job, Expected: held, Got: req.LogLines}
	}
	f := store.Finish{Health: store.JobHealth(req.Health), ErrorClass: req.ErrorType, ErrorMsg: req.ErrorMessage}
	if j.State == store.JobCanceling {
		f.Health = store.JobCanceled
	}
	// The finish's results replace those recorded from the log: each
	// keeps the time and log lines of the one it repeats (the nth of its
	// suite and case), as LAVA's record of a result is the log's.
	streamed, err := l.st.Results(ctx, j.ID)
	if err != nil {
		return workerapi.FinishResponse{}, err
	}
	type key struct{ suite, name string }
	seen := map[key][]store.Result{}
	for _, r := range streamed {
		k := key{r.Suite, r.Case}
		seen[k] = append(seen[k], r)
	}
	now := l.now()
	for _, r := range req.Results {
		sr := store.Result{Suite: r.Suite, Case: r.Case, Result: r.Result, Units: r.Units, Logged: now}
		if k := (key{r.Suite, r.Case}); len(seen[k]) > 0 {
			sr.Logged, sr.LogStart, sr.LogEnd = seen[k][0].Logged, seen[k][0].LogStart, seen[k][0].LogEnd
			seen[k] = seen[k][1:]
		}
		if r.Measurement != "" {
			if m, err := strconv.ParseFloat(r.Measurement, 64); err == nil {
				sr.Measurement = &m
			}
		}
		if len(r.Metadata) > 0 {
			b, err := json.Marshal(r.Metadata)
			if err != nil {
				return workerapi.FinishResponse{}, err
			}
			sr.Metadata = string(b)
		}
		f.Results = append(f.Results, sr)
	}
	finishRules(j, &f)
	if err := l.st.FinishJob(ctx, j.ID, f, l.now()); err != nil {
		if errors.Is(err, store.ErrTransition) {
			return workerapi.FinishResponse{}, nil // finished meanwhile (a lost lease)
		}
		return workerapi.FinishResponse{}, err
	}
	l.changed(j.ID, store.JobFinished, j.Health)
	l.mu.Lock()
	delete(l.missing, j.ID)
	l.mu.Unlock()
	l.log.Info("job finished", "job", j.ID, "health", f.Health, "error_type", f.ErrorClass, "worker", worker)
	if j.Group != "" && f.Health == store.JobIncomplete && essential(j) {
		group, err := l.st.GroupJobs(ctx, j.Group)
		if err == nil {
			err = l.cancelJobs(ctx, group)
		}
		if err != nil {
			l.log.Warn("canceling the group of an essential sub-job failed", "job", j.ID, "err", err)
		}
	}
	l.Kick()
	return workerapi.FinishResponse{}, nil
}

// essential reports whether a MultiNode sub-job's role is essential.
func essential(j store.Job) bool {
	v, err := value.DecodeYAML([]byte(j.Definition))
	if err != nil {
		return false
	}
	m, _ := v.(*value.Map)
	e, _ := m.Map("protocols").Map("lava-multinode").Value("essential").(bool)
	return e
}
