// Package workerapi is the worker ↔ server protocol of a Basalt lab: the
// versioned wire types, the Peer a worker uses to talk to its server, and
// NewHandler, the server's side, which decodes, bounds and authenticates
// requests and hands them to a Server.
//
// It owns the wire format and its guarantees (bounded bodies, bearer-token
// authentication, idempotent Log and Finish, transient errors retried). It
// owns no state: what a job is, where its log lives and when a lease runs
// out belong to the Server implementation and to the worker.
//
// The protocol is JSON over HTTP, every request a POST under PathPrefix:
//
//	POST /api/worker/v1/poll    PollRequest   → PollResponse
//	POST /api/worker/v1/log     LogRequest    → LogResponse
//	POST /api/worker/v1/finish  FinishRequest → FinishResponse
//	POST /api/worker/v1/file    FileRequest   → FileResponse  (a job's published files; added within v1, see FilePath)
//
// The path is Basalt's own rather than LAVA's /scheduler/internal/v1/...:
// the messages differ from LAVA's (one poll carries the whole job, the log
// is sent by the worker and acknowledged by index), so a LAVA lava-worker
// pointed at a Basalt server gets a plain 404 instead of a reply it would
// misread. The version is in the path so that a v2 can be served beside v1
// while workers are upgraded.
//
// Every request carries "Authorization: Bearer <worker token>" and
// "Basalt-Worker: <worker name>"; a request whose body names another worker
// is refused.
package workerapi

import (
	"errors"
	"fmt"
	"time"
)

// PathPrefix is where the protocol is served. The "v1" changes only with
// an incompatible change of the messages.
const PathPrefix = "/api/worker/v1/"

// The endpoints, under PathPrefix.
const (
	PollPath   = PathPrefix + "poll"
	LogPath    = PathPrefix + "log"
	FinishPath = PathPrefix + "finish"
)

// WorkerHeader names the worker a request comes from; the bearer token in
// Authorization proves it.
const WorkerHeader = "Basalt-Worker"

// Limits on what the handler reads and the Peer sends. They are fixed: a
// worker splits a log into batches under them, and the other messages are
// small (a job definition and its rendered device configuration are
// bounded at submission well under MaxResponseBytes).
const (
	// MaxRequestBytes bounds a Poll or Finish request body.
	MaxRequestBytes = 1 << 20
	// MaxLogRequestBytes bounds a Log request body.
	MaxLogRequestBytes = 8 << 20
	// MaxLogLines bounds the lines in one Log request.
	MaxLogLines = 10000
	// MaxWait bounds how long a Poll is held; a longer PollRequest.Wait is
	// cut to it.
	MaxWait = 60 * time.Second
	// MaxResponseBytes bounds a reply the Peer reads (a Poll reply carries
	// job definitions and device configurations).
	MaxResponseBytes = 64 << 20
)

// JobID is a job's id, as the server numbers them (LAVA's TestJob id; a
// MultiNode role has its own).
type JobID int64

// PollRequest is a worker's heartbeat and its request for work. The poll
// is held by the server up to Wait (at most MaxWait) until there is
// something to start or cancel.
type PollRequest struct {
	// Worker is the worker's name; it must match the Basalt-Worker header.
	Worker string `json:"worker"`
	// Version is the worker's Basalt version; the server decides what a
	// mismatch means.
	Version string `json:"version"`
	// Running lists the jobs the worker is running, each with the number of
	// log lines the server has acknowledged, so a server that restarted or
	// lost replies can see what the worker has and has not delivered.
	Running []RunningJob `json:"running"`
	// WaitMS is how long the server may hold the poll, in milliseconds;
	// zero asks for an immediate answer. Above MaxWait it is cut.
	WaitMS int64 `json:"wait_ms"`
}

// Wait is WaitMS as a duration, cut to [0, MaxWait].
func (r PollRequest) Wait() time.Duration {
	if r.WaitMS <= 0 {
		return 0
	}
	if r.WaitMS > MaxWait.Milliseconds() {
		return MaxWait
	}
	return time.Duration(r.WaitMS) * time.Millisecond
}

// RunningJob is one job the worker runs.
type RunningJob struct {
	Job JobID `json:"job"`
	// LogAcked is the number of log lines the server has acknowledged.
	LogAcked int64 `json:"log_acked"`
	// Canceling is true once the worker has started to cancel the job.
	Canceling bool `json:"canceling,omitempty"`
}

// PollResponse is what the server wants of the worker.
type PollResponse struct {
	// Start lists the jobs to start, whole (there is no second fetch).
	Start []StartJob `json:"start"`
	// Cancel lists the jobs to cancel; the worker runs their cleanup and
	// reports them with Finish. An id the worker does not know is reported
	// with Finish as canceled, so the server can close it.
	Cancel []JobID `json:"cancel"`
	// Running lists the jobs the server thinks this worker runs. A job the
	// worker runs and the server does not list is gone from the server
	// (deleted, or ended by a lost lease): the worker stops it.
	Running []JobID `json:"running"`
	// LeaseMS is how long, in milliseconds from this reply, the worker's
	// lease lasts: a worker that does not poll again within it goes
	// offline and its jobs end with an infrastructure error. It is
	// relative so that clock skew between hosts does not matter.
	LeaseMS int64 `json:"lease_ms"`
	// LeaseDeadline is the same deadline on the server's clock, for logs.
	LeaseDeadline time.Time `json:"lease_deadline"`
}

// Lease is LeaseMS as a duration.
func (r PollResponse) Lease() time.Duration { return time.Duration(r.LeaseMS) * time.Millisecond }

// StartJob is everything a worker needs to run one job, the facts LAVA's
// worker fetches from /scheduler/internal/v1/jobs/<id>/.
type StartJob struct {
	Job JobID `json:"job"`
	// Definition is the job's YAML, as the dispatcher reads it.
	Definition string `json:"definition"`
	// Device is the device configuration rendered for this job (the
	// dictionary through its device-type template with the job's context).
	Device string `json:"device"`
	// Dispatcher is the worker's dispatcher configuration (LAVA's
	// dispatcher.yaml), "" for none.
	Dispatcher string `json:"dispatcher,omitempty"`
	// Env and EnvDUT are LAVA's env.yaml and env-dut.yaml, "" for none.
	Env    string `json:"env,omitempty"`
	EnvDUT string `json:"env_dut,omitempty"`
	// TimeoutMS is the job's overall timeout in milliseconds, zero for the
	// definition's own.
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
	// Coordinator is the MultiNode coordinator's address (host:port), ""
	// for a job outside a MultiNode group.
	Coordinator string `json:"coordinator,omitempty"`
	// LogAcked is the number of log lines the server already holds for the
	// job (non-zero when a job is restarted on a worker that lost it).
	LogAcked int64 `json:"log_acked,omitempty"`
}

// Timeout is TimeoutMS as a duration.
func (s StartJob) Timeout() time.Duration { return time.Duration(s.TimeoutMS) * time.Millisecond }

// LogRequest delivers log lines Index, Index+1, ... of a job. Lines the
// server already holds are skipped, so sending the same batch twice stores
// it once; a batch starting past the server's end is refused with a
// *GapError naming where to resend from.
type LogRequest struct {
	Worker string `json:"worker"`
	Job    JobID  `json:"job"`
	// Index is the 0-based index of Lines[0] in the job's log.
	Index int64 `json:"index"`
	// Lines are log records, one per element, without the newline (LAVA's
	// YAML lines: "- {dt: ..., lvl: ..., msg: ...}").
	Lines []string `json:"lines"`
}

// LogResponse acknowledges a job's log.
type LogResponse struct {
	// Acked is the number of lines the server holds: every line below it
	// is stored, and the worker may forget them.
	Acked int64 `json:"acked"`
}

// Health is how a job ended, LAVA's TestJob health.
type Health string

// The healths a worker reports.
const (
	Complete   Health = "Complete"
	Incomplete Health = "Incomplete"
	Canceled   Health = "Canceled"
)

// FinishRequest ends a job. Sending it again changes nothing.
type FinishRequest struct {
	Worker string `json:"worker"`
	Job    JobID  `json:"job"`
	Health Health `json:"health"`
	// ErrorType is LAVA's error class for an Incomplete job
	// ("Infrastructure", "Job", "Test", "Bug", "Configuration", "Canceled",
	// "LAVATimeout", "MultinodeTimeout"), "" otherwise.
	ErrorType string `json:"error_type,omitempty"`
	// ErrorMessage is the error that ended the job.
	ErrorMessage string `json:"error_message,omitempty"`
	// LogLines is the length of the job's whole log. A server holding fewer
	// lines refuses the finish with a *GapError, so a job never closes with
	// its log incomplete.
	LogLines int64 `json:"log_lines"`
	// Results are the job's test results, as the dispatcher recorded them.
	Results []Result `json:"results,omitempty"`
}

// Result is one test case result (LAVA's TestCase).
type Result struct {
	Suite       string            `json:"suite"`
	Case        string            `json:"case"`
	Result      string            `json:"result"`
	Measurement string            `json:"measurement,omitempty"`
	Units       string            `json:"units,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
}

// FinishResponse acknowledges a finish.
type FinishResponse struct{}

// errorReply is the body of every refusal.
type errorReply struct {
	Error string `json:"error"`
	// Code classifies the refusals a worker acts on: "gap",
	// "unknown_job", "unauthorized"; "" for the others. The Peer trusts it
	// rather than the status alone, so a proxy's 404 page is not taken for
	// a deleted job.
	Code string `json:"code,omitempty"`
	// Expected is set with a gap: the index the server expects next.
	Expected *int64 `json:"expected,omitempty"`
}

// ErrUnknownJob is returned for a job the server does not know or that is
// not this worker's. The worker stops the job (LAVA: the job was deleted).
var ErrUnknownJob = errors.New("unknown job")

// ErrUnauthorized is what Server.Authenticate returns for a bad worker
// name or token; the handler answers 401 without saying which.
var ErrUnauthorized = errors.New("unauthorized worker")

// GapError refuses log lines that start past the server's end, or a
// finish whose log the server does not hold whole. The worker resends from
// Expected.
type GapError struct {
	Job JobID
	// Expected is the number of lines the server holds: the index to
	// resend from.
	Expected int64
	// Got is the index the request started at (Log) or the log length it
	// claimed (Finish).
	Got int64
}

func (e *GapError) Error() string {
	return fmt.Sprintf("job %d: log gap: the server holds %d lines, the request is at %d (resend from %d)", e.Job, e.Expected, e.Got, e.Expected)
}

// StatusError is a refusal the Peer does not retry: the HTTP status and
// the server's message.
type StatusError struct {
	Path    string
	Code    int
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: HTTP %d: %s", e.Path, e.Code, e.Message)
}
