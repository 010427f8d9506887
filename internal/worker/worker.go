// Package worker is `basalt worker`: a lab's worker, one per host beside
// its devices. It long-polls its server (internal/workerapi), runs each
// job the server starts with the dispatcher library, several at once, each
// in its own folder, streams each job's log as it is produced and reports
// its results and how it ended.
//
// What it owns, and the guarantees:
//   - A job's log goes to an on-disk spool (jobs/<id>/logs.yaml under the
//     work folder) as the job writes it, one LAVA record per line exactly
//     as `basalt run` writes logs.yaml, and from there to the server in
//     batches by line index. The server's acknowledged count is the only
//     truth about what it holds: after a disconnect, a server restart or
//     a gap the sender resends from there, so no line is lost or
//     repeated, and memory stays bounded however long the server is away.
//   - A job ends with a Finish carrying the whole log's length, sent until
//     the server accepts it; only then are the job's files removed. A
//     worker that stops first (its server away at shutdown, a crash)
//     keeps them, and delivers the rest of the log and the end when it
//     starts again (jobs/<id>/finish.json).
//   - The poll is the heartbeat: it lists the running jobs with their
//     acknowledged counts. A job in the poll's Cancel list is canceled (its
//     cleanup runs) and reported Canceled; a job the server no longer lists
//     is stopped and forgotten (the server ended it).
//   - While the server is unreachable the jobs keep running and the worker
//     keeps retrying with backoff.
//   - When Run's context ends (SIGTERM), polling stops, the running jobs
//     are canceled, their cleanup runs, they are reported, and Run returns.
//   - A job whose log cannot be written ends Incomplete with an
//     Infrastructure error naming the disk problem.
//
// It does not own the protocol (workerapi), running a job (dispatcher) or
// child processes (internal/process reaps every one the dispatcher starts).
package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/basalt-lava/basalt/internal/lxc"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/basalt-lava/basalt/internal/download"
	"github.com/basalt-lava/basalt/internal/hostfiles"
	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/value"
	"github.com/basalt-lava/basalt/internal/workerapi"
)

// Config configures a Worker. URL, Name and Token are required; the zero
// value of every other field works.
type Config struct {
	// URL is the server's base URL; Name and Token identify the worker.
	URL, Name, Token string
	// Version is Basalt's version, sent with every poll and written at the
	// top of every job's log.
	Version string
	// WorkDir holds the jobs' folders (jobs/<id>/); "" means
	// ./basalt-worker.
	WorkDir string
	// KillGrace is how long a job's child process gets between SIGTERM
	// and SIGKILL; zero means process.DefaultGrace.
	KillGrace time.Duration
	// Download bounds what a job downloads and unpacks; nil means
	// download.DefaultLimits.
	Download *download.Limits
	// JobLimits bound the job and device texts (zero: the defaults).
	JobLimits limits.Limits
	// AllowLocalFiles are the folders of this host whose files a job may
	// have read (file:// images, local git repositories); none when
	// empty, since every job field is someone else's (internal/hostfiles).
	AllowLocalFiles []string
	// AllowGitSSH lets jobs' git repositories use ssh, which
	// authenticates with this host's keys; off by default.
	AllowGitSSH bool
	// AllowLXC lets jobs create LXC containers, which are privileged
	// (root on this host): for labs whose submitters are all trusted.
	AllowLXC bool
	// LXCImages is where the lava-lxc download template fetches images
	// (the worker's --lxc-image-server, --lxc-image-ca, --lxc-image-cache).
	LXCImages lxc.ImageSource
	// Vland is the VLAN daemon (host:port) of lava-vland jobs; empty is
	// LAVA's localhost:3080.
	Vland string
	// Dispatcher is the dispatcher configuration its jobs run with
	// (dispatcher_ip, tftp_root: what boards reach this host at, where
	// their TFTP files go); nil: none.
	Dispatcher *value.Map
	// CoordinatorPollDelay is the pause between two polls of the MultiNode
	// coordinator; zero means LAVA's default (1s).
	CoordinatorPollDelay time.Duration
	// PollWait is how long the server may hold a poll; zero means 30s.
	PollWait time.Duration
	// RetryDelay is the pause after a refusal the protocol does not retry
	// (an error status); zero means 5s.
	RetryDelay time.Duration
	// MinBackoff and MaxBackoff bound the wait between retries of a
	// transient failure (workerapi.PeerConfig).
	MinBackoff, MaxBackoff time.Duration
	// ShutdownGrace is how long, once the jobs have stopped at shutdown,
	// delivering their logs and ends may take before the worker gives up
	// (their files are then kept); zero means 30s.
	ShutdownGrace time.Duration
	// Logf receives the worker's own messages (not the jobs' logs); nil
	// discards them.
	Logf func(format string, args ...any)
	// OnConnected is called once, when the first poll succeeds.
	OnConnected func()
}

// Worker runs a lab worker; see the package documentation.
type Worker struct {
	cfg     Config
	peer    *workerapi.Peer
	jobsDir string
	jobCtx  context.Context // the jobs' contexts derive from it
	// localFiles is the host-access policy of every job.
	localFiles *hostfiles.Policy

	// deliverCtx bounds what the jobs send; canceled ShutdownGrace after
	// the jobs stopped at shutdown.
	deliverCtx   context.Context
	stopDelivery context.CancelFunc

	mu       sync.Mutex
	jobs     map[workerapi.JobID]*runningJob
	unknown  map[workerapi.JobID]bool // cancels of unknown jobs being answered
	stopping bool
	runs     sync.WaitGroup // jobs' dispatcher runs
	all      sync.WaitGroup // jobs until reported, and other reports

	// pollFailed: a poll failed since the last one that went through.
	pollFailed atomic.Bool

	// createSpool makes a job's spool (tests make one that fails).
	createSpool func(path string, onFailure func(error)) (*spool, error)
}

// New checks cfg and returns its Worker.
func New(cfg Config) (*Worker, error) {
	if cfg.WorkDir == "" {
		cfg.WorkDir = "basalt-worker"
	}
	if cfg.PollWait <= 0 {
		cfg.PollWait = 30 * time.Second
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = 5 * time.Second
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 30 * time.Second
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	w := &Worker{cfg: cfg, jobs: map[workerapi.JobID]*runningJob{}, unknown: map[workerapi.JobID]bool{}, createSpool: createSpool}
	peer, err := workerapi.NewPeer(workerapi.PeerConfig{URL: cfg.URL, Worker: cfg.Name, Token: cfg.Token, Version: cfg.Version,
		MinBackoff: cfg.MinBackoff, MaxBackoff: cfg.MaxBackoff, OnRetry: w.onRetry})
	if err != nil {
		return nil, err
	}
	w.peer = peer
	w.localFiles, err = hostfiles.New(hostfiles.Options{Dirs: cfg.AllowLocalFiles, GitSSH: cfg.AllowGitSSH, LXC: cfg.AllowLXC,
		Host: "worker", Flag: "the worker's --allow-local-files"})
	if err != nil {
		return nil, err
	}
	if len(cfg.AllowLocalFiles) > 0 && w.localFiles.Contains(cfg.WorkDir) {
		// Other jobs' definitions, logs and downloads live there.
		return nil, fmt.Errorf("--allow-local-files %s: a folder jobs may read must not hold the worker's --work-dir %s", w.localFiles.Allowed(), cfg.WorkDir)
	}
	dl := download.DefaultLimits()
	if cfg.Download != nil {
		dl = *cfg.Download
	}
	w.jobCtx = download.WithLimits(context.Background(), dl)
	w.deliverCtx, w.stopDelivery = context.WithCancel(context.Background())
	w.jobsDir = filepath.Join(cfg.WorkDir, "jobs")
	return w, nil
}

func (w *Worker) logf(format string, args ...any) { w.cfg.Logf(format, args...) }

// onRetry logs a transient failure: the first of a run of them, then one
// in ten, so that a server away for an hour does not flood the log.
func (w *Worker) onRetry(path string, attempt int, err error) {
	if path == workerapi.PollPath {
		w.pollFailed.Store(true)
	}
	if attempt == 1 || attempt%10 == 0 {
		w.logf("%v (attempt %d, retrying)", err, attempt)
	}
}

// Run polls the server and runs the jobs it gives until ctx ends, then
// cancels the running jobs, reports them and returns. context.Cause(ctx)
// names why in the jobs' logs ("the worker is shutting down: SIGTERM").
// The error is for a worker that never reached its server because it was
// refused (a wrong name or token) or cannot use its work folder.
func (w *Worker) Run(ctx context.Context) error {
	unlock, err := w.lockWorkDir()
	if err != nil {
		return err
	}
	defer unlock()
	if err := w.prepareWorkDir(); err != nil {
		return err
	}
	connected := false
	// The first poll is answered at once, so that the worker knows (and
	// says) it is connected without waiting for work.
	var wait time.Duration
	for ctx.Err() == nil {
		resp, err := w.peer.Poll(ctx, w.running(), wait)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if !connected && errors.Is(err, workerapi.ErrUnauthorized) {
				w.shutdown(ctx)
				return fmt.Errorf("%s refused the worker %q: %w", w.cfg.URL, w.cfg.Name, err)
			}
			w.pollFailed.Store(true)
			w.logf("polling: %v; retrying in %s", err, w.cfg.RetryDelay)
			sleep(ctx, w.cfg.RetryDelay)
			continue
		}
		if !connected {
			connected = true
			w.pollFailed.Store(false)
			if w.cfg.OnConnected != nil {
				w.cfg.OnConnected()
			}
		} else if w.pollFailed.Swap(false) {
			w.logf("connected to %s again", w.cfg.URL)
		}
		// A poll held for most of the lease would let it run out when
		// the reply is slow to come back: hold it a third of the lease
		// at most.
		wait = w.cfg.PollWait
		if l := resp.Lease() / 3; l > 0 && l < wait {
			wait = l
		}
		w.apply(resp)
	}
	w.shutdown(ctx)
	return nil
}

// lockWorkDir takes the work folder for this worker: a second worker on
// the same folder would remove the first one's jobs as leftovers.
func (w *Worker) lockWorkDir() (unlock func(), err error) {
	if err := os.MkdirAll(w.cfg.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("work folder: %w", err)
	}
	path := filepath.Join(w.cfg.WorkDir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("work folder: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("work folder %s is in use by another basalt worker", w.cfg.WorkDir)
		}
		return nil, fmt.Errorf("work folder: locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// prepareWorkDir creates jobs/ and looks at what an earlier worker
// process left there: a job that ended but was not reported is delivered
// again (its log from where the server's ends, then its end); anything
// else is removed (a job that was still running is the server's to end
// when the lease runs out).
func (w *Worker) prepareWorkDir() error {
	if err := os.MkdirAll(w.jobsDir, 0o755); err != nil {
		return fmt.Errorf("work folder: %w", err)
	}
	entries, err := os.ReadDir(w.jobsDir)
	if err != nil {
		return fmt.Errorf("work folder: %w", err)
	}
	for _, e := range entries {
		p := filepath.Join(w.jobsDir, e.Name())
		if id, err := strconv.ParseInt(e.Name(), 10, 64); err == nil && e.IsDir() {
			err := w.recoverJob(workerapi.JobID(id), p)
			if err == nil {
				continue
			}
			if !errors.Is(err, os.ErrNotExist) {
				w.logf("job %d: %v", id, err)
			}
		}
		w.logf("removing %s, left by an earlier run", p)
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("work folder: %w", err)
		}
	}
	return nil
}

// recoverJob takes up a job an earlier process ran and did not report.
func (w *Worker) recoverJob(id workerapi.JobID, dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, pendingFile))
	if err != nil {
		return err
	}
	var p pending
	if err := json.Unmarshal(b, &p); err != nil || p.Finish.Job != id {
		return fmt.Errorf("%s: not the end of job %d (%v)", pendingFile, id, err)
	}
	sp, err := openSpool(filepath.Join(dir, SpoolFile))
	if err != nil {
		return err
	}
	goneCtx, setGone := context.WithCancel(context.Background())
	j := &runningJob{w: w, id: id, dir: dir, ctx: context.Background(), cancel: func() {}, goneCtx: goneCtx, setGone: setGone,
		spool: sp}
	j.base.Store(p.Base)
	j.ended.Store(true)
	j.acked.Store(p.Base)
	w.mu.Lock()
	w.jobs[id] = j
	w.mu.Unlock()
	w.all.Add(1)
	go func() {
		defer w.all.Done()
		defer setGone()
		j.redeliver(p.Finish)
	}()
	return nil
}

// running is the poll's list of jobs.
func (w *Worker) running() []workerapi.RunningJob {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]workerapi.RunningJob, 0, len(w.jobs))
	for _, j := range w.jobs {
		out = append(out, j.status())
	}
	return out
}

// apply does what a poll's answer asks: start, cancel, and stop the jobs
// the server no longer lists.
func (w *Worker) apply(resp workerapi.PollResponse) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopping {
		return
	}
	for _, s := range resp.Start {
		if _, ok := w.jobs[s.Job]; ok {
			continue // a start repeated (a reply lost on the way)
		}
		w.startLocked(s)
	}
	for _, id := range resp.Cancel {
		if j, ok := w.jobs[id]; ok {
			if !j.canceling.Load() {
				w.logf("job %d: canceled on the server", id)
			}
			j.stop("canceled on the server", true)
			continue
		}
		if !w.unknown[id] { // once at a time, however often it is asked
			w.unknown[id] = true
			w.all.Add(1)
			go w.finishUnknown(id)
		}
	}
	listed := make(map[workerapi.JobID]bool, len(resp.Running))
	for _, id := range resp.Running {
		listed[id] = true
	}
	for id, j := range w.jobs {
		if !listed[id] && !j.reported.Load() {
			j.markGone("the server no longer lists the job")
		}
	}
}

func (w *Worker) startLocked(s workerapi.StartJob) {
	ctx, cancel := context.WithCancel(w.jobCtx)
	goneCtx, setGone := context.WithCancel(context.Background())
	j := &runningJob{w: w, id: s.Job, start: s, dir: filepath.Join(w.jobsDir, strconv.FormatInt(int64(s.Job), 10)),
		ctx: ctx, cancel: cancel, goneCtx: goneCtx, setGone: setGone}
	j.base.Store(s.LogAcked)
	j.acked.Store(s.LogAcked)
	w.jobs[s.Job] = j
	w.logf("job %d: starting", s.Job)
	w.runs.Add(1)
	w.all.Add(1)
	go func() {
		defer w.all.Done()
		defer setGone()
		defer cancel()
		j.run(&w.runs)
	}()
}

// forget drops a job that has been reported (or given up).
func (w *Worker) forget(j *runningJob) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.jobs[j.id] == j {
		delete(w.jobs, j.id)
	}
}

// finishUnknown answers a cancel for a job the worker does not run, as
// the protocol asks: reported canceled, so that the server can close it.
func (w *Worker) finishUnknown(id workerapi.JobID) {
	defer w.all.Done()
	defer func() {
		w.mu.Lock()
		delete(w.unknown, id)
		w.mu.Unlock()
	}()
	err := w.peer.Finish(w.deliverCtx, workerapi.FinishRequest{Job: id, Health: workerapi.Canceled, ErrorType: "Canceled",
		ErrorMessage: "canceled on the server; the worker was not running the job"})
	if err != nil && !errors.Is(err, workerapi.ErrUnknownJob) {
		w.logf("job %d: reporting a cancel of a job the worker does not run: %v", id, err)
	}
}

// shutdown cancels every job, waits for their cleanup, and gives their
// reports ShutdownGrace to get through.
func (w *Worker) shutdown(ctx context.Context) {
	reason := "the worker is shutting down"
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		reason += ": " + c.Error()
	}
	w.mu.Lock()
	w.stopping = true
	for _, j := range w.jobs {
		if !j.ended.Load() {
			w.logf("job %d: canceling (%s)", j.id, reason)
		}
		j.stop(reason, true)
	}
	w.mu.Unlock()
	w.runs.Wait()
	t := time.AfterFunc(w.cfg.ShutdownGrace, w.stopDelivery)
	w.all.Wait()
	t.Stop()
	w.stopDelivery()
}
