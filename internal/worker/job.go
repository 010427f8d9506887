package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/basalt-lava/basalt/internal/coordinator"
	"github.com/basalt-lava/basalt/internal/dispatcher"
	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/protocol"
	"github.com/basalt-lava/basalt/internal/workerapi"
)

// The files of a job's folder, jobs/<id>/ under the work folder.
const (
	jobFile    = "job.yaml"
	deviceFile = "device.yaml"
	tmpDir     = "tmp"
	outputDir  = "output"
)

// runningJob is one job the worker holds, from its StartJob to the
// server's acceptance of its Finish (or its end on the server).
type runningJob struct {
	w     *Worker
	id    workerapi.JobID
	dir   string
	start workerapi.StartJob

	ctx    context.Context // the dispatcher's: canceled to stop the job
	cancel context.CancelFunc
	reason atomic.Value // string: why ctx was canceled

	spool *spool
	// base is the server's index of the spool's line 0: the lines the
	// server held for the job before this run (StartJob.LogAcked). Only
	// the sender changes it (and next, which only it reads).
	base      atomic.Int64
	next      int64
	acked     atomic.Int64 // lines the server holds (its index)
	canceling atomic.Bool
	// gone: the server no longer has the job; nothing more is sent.
	gone atomic.Bool
	// ended: the dispatcher's run is over.
	ended atomic.Bool
	// reported: the server accepted the job's Finish.
	reported atomic.Bool
	goneCtx  context.Context // canceled when gone: ends the sender's calls
	setGone  context.CancelFunc
}

// stop cancels the job with a reason, once: later reasons are ignored.
func (j *runningJob) stop(reason string, canceling bool) {
	j.reason.CompareAndSwap(nil, reason)
	if canceling {
		j.canceling.Store(true)
	}
	j.cancel()
}

func (j *runningJob) cancelReason() string {
	s, _ := j.reason.Load().(string)
	return s
}

// markGone stops the job and everything it sends: the server ended it.
func (j *runningJob) markGone(why string) {
	if j.reported.Load() || j.gone.Swap(true) {
		return
	}
	if !j.ended.Load() {
		j.w.logf("job %d: %s: stopping it, its log and results are not sent", j.id, why)
	}
	j.stop(why, false)
	j.setGone()
}

// status is what the poll tells the server of the job.
func (j *runningJob) status() workerapi.RunningJob {
	return workerapi.RunningJob{Job: j.id, LogAcked: j.acked.Load(), Canceling: j.canceling.Load()}
}

// run runs the job and reports it; it returns once the server has its
// end (or no longer wants it, or the worker gives up at shutdown).
func (j *runningJob) run(runs *sync.WaitGroup) {
	defer j.w.forget(j)
	sendDone := make(chan error, 1)
	deliverCtx, stopDeliver := mergeCancel(j.w.deliverCtx, j.goneCtx)
	defer stopDeliver()

	out, timedOut, spoolErr := j.execute(sendDone, deliverCtx)
	j.ended.Store(true)
	runs.Done()
	req := finishRequest(j.id, out, spoolErr, timedOut)
	req.LogLines = j.base.Load()
	if j.spool != nil {
		n, _ := j.spool.lines()
		req.LogLines = j.base.Load() + n
	}
	j.w.logf("job %d: %s%s; delivering its log (%d lines) and results", j.id, req.Health, suffix(req.ErrorMessage), req.LogLines)
	if j.spool != nil {
		if err := j.savePending(req); err != nil {
			j.w.logf("job %d: %v", j.id, err)
		}
		if err := <-sendDone; err != nil && !j.gone.Load() {
			j.w.logf("job %d: %v", j.id, err)
		}
	}
	j.report(deliverCtx, req)
}

// report sends the job's end, then removes its files; a job the server
// no longer has is only removed. When the worker gives up (ctx ends at
// shutdown) the files are kept, for the next worker process to deliver.
func (j *runningJob) report(ctx context.Context, req workerapi.FinishRequest) {
	if j.gone.Load() {
		j.removeFiles()
		return
	}
	j.uploadFiles(ctx)
	if err := j.finish(ctx, req); err != nil {
		if !j.gone.Load() {
			j.w.logf("job %d: not reported: %v; its files are kept in %s for the worker's next start", j.id, err, j.dir)
			if j.spool != nil {
				j.spool.release()
			}
			return
		}
	} else {
		j.reported.Store(true)
		j.w.logf("job %d: reported %s", j.id, req.Health)
	}
	j.removeFiles()
}

// pendingFile holds, once a job has ended, what the server is still to
// be told: the Finish and the server's index of the spool's first line.
// A worker that stops before the server has them (a server away at
// shutdown, a crash) delivers them when it starts again.
const pendingFile = "finish.json"

type pending struct {
	Base   int64                   `json:"base"`
	Finish workerapi.FinishRequest `json:"finish"`
}

func (j *runningJob) savePending(req workerapi.FinishRequest) error {
	b, err := json.Marshal(pending{Base: j.base.Load(), Finish: req})
	if err != nil {
		return err
	}
	tmp := filepath.Join(j.dir, pendingFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("keeping the job's end for a restart: %w", err)
	}
	return os.Rename(tmp, filepath.Join(j.dir, pendingFile))
}

// redeliver delivers the log and end of a job an earlier worker process
// ran and could not report: from where the server's log ends, then the
// Finish.
func (j *runningJob) redeliver(req workerapi.FinishRequest) {
	defer j.w.forget(j)
	ctx, stop := mergeCancel(j.w.deliverCtx, j.goneCtx)
	defer stop()
	n, _ := j.spool.lines()
	j.w.logf("job %d: delivering its log (%d lines) and end (%s), left by an earlier run", j.id, j.base.Load()+n, req.Health)
	// An empty batch at the spool's start asks how much the server holds.
	acked, err := j.w.peer.Log(ctx, j.id, j.base.Load(), nil)
	var gap *workerapi.GapError
	switch {
	case err == nil:
		j.setAcked(acked)
	case errors.As(err, &gap):
		j.setAcked(gap.Expected)
	case errors.Is(err, workerapi.ErrUnknownJob):
		j.markGone("the server no longer knows the job")
	}
	if err == nil || gap != nil {
		if err := j.send(ctx); err != nil && !j.gone.Load() {
			j.w.logf("job %d: %v", j.id, err)
		}
	}
	j.report(ctx, req)
}

func suffix(msg string) string {
	if msg == "" {
		return ""
	}
	return " (" + msg + ")"
}

func (j *runningJob) removeFiles() {
	if j.spool != nil {
		j.spool.release()
	}
	if err := os.RemoveAll(j.dir); err != nil {
		j.w.logf("job %d: removing %s: %v", j.id, j.dir, err)
	}
}

// execute prepares the job's folder and spool, starts the sender and
// runs the job with the dispatcher. A folder or spool that cannot be made
// ends the job at once, incomplete with an infrastructure error.
func (j *runningJob) execute(sendDone chan<- error, deliverCtx context.Context) (out dispatcher.Outcome, timedOut time.Duration, spoolErr error) {
	fail := func(err error) (dispatcher.Outcome, time.Duration, error) {
		o := dispatcher.Outcome{Outcome: pipeline.OutcomeOf(pipeline.InfrastructureError("%v", err))}
		return o, 0, err
	}
	os.RemoveAll(j.dir) // a folder left by an earlier worker process
	if err := os.MkdirAll(filepath.Join(j.dir, outputDir), 0o755); err != nil {
		return fail(fmt.Errorf("creating the job's folder: %w", err))
	}
	for name, text := range map[string]string{jobFile: j.start.Definition, deviceFile: j.start.Device} {
		if err := os.WriteFile(filepath.Join(j.dir, name), []byte(text), 0o644); err != nil {
			return fail(fmt.Errorf("writing %s: %w", name, err))
		}
	}
	sp, err := j.w.createSpool(filepath.Join(j.dir, SpoolFile), func(err error) {
		j.stop("the worker cannot keep the job's log: "+err.Error(), false)
	})
	if err != nil {
		return fail(err)
	}
	j.spool = sp
	go func() { sendDone <- j.send(deliverCtx) }()

	ctx := j.ctx
	if t := j.start.Timeout(); t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	cfg := dispatcher.RunConfig{
		Job:    dispatcher.Source{Text: []byte(j.start.Definition), Name: jobFile},
		Device: dispatcher.Source{Text: []byte(j.start.Device), Name: deviceFile},
		// lava-run's checks, as `basalt run` makes them: the server
		// checked the job at submission.
		Options: dispatcher.Options{JobID: strconv.FormatInt(int64(j.id), 10), Job: job.Options{Lax: true, SubJob: true}, Limits: j.w.cfg.JobLimits,
			LocalFiles: j.w.localFiles},
		Intro:        fmt.Sprintf("basalt worker %s: job %d (%s)", j.w.cfg.Name, j.id, j.w.cfg.Version),
		TmpDir:       filepath.Join(j.dir, tmpDir),
		ProcessGrace: j.w.cfg.KillGrace,
		OutputDir:    filepath.Join(j.dir, outputDir),
		CancelReason: func() string {
			if r := j.cancelReason(); r != "" {
				return r
			}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Sprintf("the job timeout of %s set by the server ran out", j.start.Timeout())
			}
			return ""
		},
		Coordinator: j.coordinator,
		Configure:   j.w.cfg.LXCImages.Configure,
		Vland:       j.w.cfg.Vland,
		Dispatcher:  j.w.cfg.Dispatcher,
	}
	out = j.runDispatcher(ctx, cfg, sp)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && j.ctx.Err() == nil {
		timedOut = j.start.Timeout()
	}
	return out, timedOut, sp.failure()
}

// runDispatcher is dispatcher.Run, except that a panic ends this job as
// a Bug instead of the worker and every other job with it.
func (j *runningJob) runDispatcher(ctx context.Context, cfg dispatcher.RunConfig, sp *spool) (out dispatcher.Outcome) {
	defer func() {
		if p := recover(); p != nil {
			j.w.logf("job %d: the dispatcher panicked: %v\n%s", j.id, p, debug.Stack())
			sp.close()
			out = dispatcher.Outcome{Outcome: pipeline.Outcome{Result: "fail", Class: pipeline.ClassBug,
				Message: fmt.Sprintf("the dispatcher panicked: %v", p)}}
		}
	}()
	return dispatcher.Run(ctx, cfg, jobSink{spool: sp, dir: cfg.OutputDir})
}

// coordinator gives a MultiNode sub-job the coordinator the server named.
func (j *runningJob) coordinator() (protocol.Settings, error) {
	addr := j.start.Coordinator
	if addr == "" {
		return protocol.Settings{}, pipeline.ConfigurationError("the job is part of a MultiNode group, but the server named no coordinator")
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return protocol.Settings{}, pipeline.ConfigurationError("the server's coordinator %q: expected HOST:PORT", addr)
	}
	d := coordinator.DefaultConfig()
	s := protocol.Settings{Addr: addr, PollDelay: d.PollDelay, Blocksize: d.Blocksize}
	if j.w.cfg.CoordinatorPollDelay > 0 {
		s.PollDelay = j.w.cfg.CoordinatorPollDelay
	}
	return s, nil
}

// send delivers the spool's lines as they reach the disk, until the
// spool is closed and every line is acknowledged, or ctx ends.
func (j *runningJob) send(ctx context.Context) error {
	for {
		n, closed := j.spool.lines()
		if j.next < n {
			if err := j.sendBatch(ctx); err != nil {
				return err
			}
			continue
		}
		if closed {
			return nil
		}
		select {
		case <-j.spool.changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// maxBatchLines and maxBatchBytes bound one Log request below the
// protocol's limits, so that memory stays small however far behind the
// sender is.
const (
	maxBatchLines = 2000
	maxBatchBytes = 1 << 20
)

// sendBatch sends one batch from j.next and moves j.next to what the
// server acknowledged. A gap moves it back to where the server's log
// ends; a job the server does not know is gone.
func (j *runningJob) sendBatch(ctx context.Context) error {
	lines, err := j.spool.read(j.next, maxBatchLines, maxBatchBytes)
	if err != nil {
		return err
	}
	if len(lines) == 0 {
		return nil
	}
	if n := workerapi.LogBatch(lines); n == 0 {
		// A record no request can carry (joblog bounds records far
		// below this, so only a bug gets here): a notice takes its place.
		lines = []string{fmt.Sprintf(`- {"dt": "%s", "lvl": "error", "msg": "basalt worker: a log record of %d bytes was too large to send"}`,
			time.Now().UTC().Format("2006-01-02T15:04:05.000000")+"+00:00", len(lines[0]))}
	} else {
		lines = lines[:n]
	}
	for {
		acked, err := j.w.peer.Log(ctx, j.id, j.base.Load()+j.next, lines)
		var gap *workerapi.GapError
		switch {
		case err == nil:
			j.setAcked(acked)
			return nil
		case errors.As(err, &gap):
			j.w.logf("job %d: the server holds %d log lines, resending from there", j.id, gap.Expected)
			j.setAcked(gap.Expected)
			return nil
		case errors.Is(err, workerapi.ErrUnknownJob):
			// The server's reason, when it ended the job itself (its
			// log over the server's limit, for one).
			j.markGone(fmt.Sprintf("the server no longer knows the job (%v)", err))
			return err
		case ctx.Err() != nil:
			return fmt.Errorf("sending the log: %w", err)
		}
		// A refusal the Peer does not retry (a 4xx that is not the
		// protocol's): try again later rather than lose the log.
		j.w.logf("job %d: sending log lines from %d: %v; retrying", j.id, j.base.Load()+j.next, err)
		if !sleep(ctx, j.w.cfg.RetryDelay) {
			return ctx.Err()
		}
	}
}

// setAcked records that the server holds acked lines and resends from
// there. A server holding less than the lines before this run (it lost
// them) takes this run's log from where its own ends; one holding more
// than the spool (it cannot, unless it lost track) gets the spool's end.
func (j *runningJob) setAcked(acked int64) {
	if acked < j.base.Load() {
		j.base.Store(acked)
	}
	j.next = acked - j.base.Load()
	if n, _ := j.spool.lines(); j.next > n {
		j.w.logf("job %d: the server claims %d log lines, the worker has %d", j.id, acked, j.base.Load()+n)
		j.next = n
	}
	j.acked.Store(acked)
}

// finish reports the job's end until the server accepts it: a gap in the
// server's log is filled first, transient failures are retried (by the
// Peer), refusals retried after a pause. It fails only when ctx ends
// (the worker gave up at shutdown) or the server does not know the job.
func (j *runningJob) finish(ctx context.Context, req workerapi.FinishRequest) error {
	for {
		err := j.w.peer.Finish(ctx, req)
		var gap *workerapi.GapError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &gap) && j.spool != nil:
			j.w.logf("job %d: the server holds %d of %d log lines, resending from there", j.id, gap.Expected, req.LogLines)
			j.setAcked(gap.Expected)
			if err := j.send(ctx); err != nil {
				return err
			}
			req.LogLines = j.base.Load() + j.next
			continue
		case errors.Is(err, workerapi.ErrUnknownJob):
			j.markGone("the server no longer knows the job")
			return err
		case ctx.Err() != nil:
			return err
		}
		j.w.logf("job %d: reporting its end: %v; retrying", j.id, err)
		if !sleep(ctx, j.w.cfg.RetryDelay) {
			return ctx.Err()
		}
	}
}

// jobSink is the dispatcher's Sink of a worker's job: records go to the
// spool as the job writes them (the line DirSink writes to logs.yaml,
// joblog's own formatting, byte for byte); published files go to the
// job's output folder, which goes with the job.
type jobSink struct {
	spool *spool
	dir   string
}

var _ dispatcher.Sink = jobSink{}

func (s jobSink) Log(rec joblog.Record) { s.spool.add(rec.Line) }

func (s jobSink) File(name string, data []byte) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
		return fmt.Errorf("published file %q: not a plain file name", name)
	}
	return os.WriteFile(filepath.Join(s.dir, name), data, 0o644)
}

// Results keeps nothing: the worker reports the outcome Run returns.
func (s jobSink) Results(dispatcher.Outcome) error { return nil }

func (s jobSink) Close() error { return s.spool.close() }

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// mergeCancel is a context canceled when either a or b is.
func mergeCancel(a, b context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(a)
	stop := context.AfterFunc(b, cancel)
	return ctx, func() { stop(); cancel() }
}
