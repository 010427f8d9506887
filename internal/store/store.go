// Package store is the lab's database: users and API tokens, device types,
// devices, workers, jobs and their results, behind one Store interface that
// the SQLite (store/sqlite) and PostgreSQL backends implement with the same
// schema and the same SQL where the dialects allow.
//
// Contract shared by every implementation:
//   - every state change runs in one transaction;
//   - a transition from a state the row is not in returns a *TransitionError
//     (errors.Is(err, ErrTransition)), never silent success: the state is
//     checked in the UPDATE's WHERE clause of the same transaction, so two
//     callers racing for the same row cannot both win;
//   - claiming work (ClaimJob) is atomic: N workers claiming at once get each
//     job at most once;
//   - secrets (passwords, API and worker tokens) are stored hashed only.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors the Store methods return, to be checked with errors.Is.
var (
	ErrNotFound   = errors.New("not found")
	ErrExists     = errors.New("already exists")
	ErrTransition = errors.New("invalid state transition")
	ErrAuth       = errors.New("authentication failed")
)

// TransitionError says which row refused which transition and the state it
// was really in.
type TransitionError struct {
	Kind    string // "job" or "device"
	ID      string // job id or device name
	Current string // the state the row was in
	Want    string // what the caller asked for, e.g. "Running"
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("%s %s: cannot go to %s from %s", e.Kind, e.ID, e.Want, e.Current)
}

// Is makes errors.Is(err, ErrTransition) true.
func (e *TransitionError) Is(target error) bool { return target == ErrTransition }

// JobState is LAVA's TestJob.state.
type JobState string

// Job states.
const (
	JobSubmitted  JobState = "Submitted"
	JobScheduling JobState = "Scheduling"
	JobScheduled  JobState = "Scheduled"
	JobRunning    JobState = "Running"
	JobCanceling  JobState = "Canceling"
	JobFinished   JobState = "Finished"
)

// JobHealth is LAVA's TestJob.health.
type JobHealth string

// Job healths.
const (
	JobUnknown    JobHealth = "Unknown"
	JobComplete   JobHealth = "Complete"
	JobIncomplete JobHealth = "Incomplete"
	JobCanceled   JobHealth = "Canceled"
)

// DeviceState is LAVA's Device.state.
type DeviceState string

// Device states.
const (
	DeviceIdle     DeviceState = "Idle"
	DeviceReserved DeviceState = "Reserved"
	DeviceRunning  DeviceState = "Running"
)

// DeviceHealth is LAVA's Device.health.
type DeviceHealth string

// Device healths.
const (
	HealthUnknown     DeviceHealth = "Unknown"
	HealthGood        DeviceHealth = "Good"
	HealthBad         DeviceHealth = "Bad"
	HealthMaintenance DeviceHealth = "Maintenance"
	HealthLooping     DeviceHealth = "Looping"
	HealthRetired     DeviceHealth = "Retired"
)

// WorkerState is LAVA's Worker.state.
type WorkerState string

// Worker states.
const (
	WorkerOnline  WorkerState = "Online"
	WorkerOffline WorkerState = "Offline"
)

// User is an account. The password hash never leaves the store.
type User struct {
	Name      string
	Superuser bool
	Created   time.Time
	Email     string // "" for none (SetUserEmail)
}

// DeviceType holds a type's Jinja2 template and health-check job, and
// what an administrator sets on it (UpdateDeviceType; PutDeviceType
// writes Template and HealthCheck only, a new type gets the defaults).
type DeviceType struct {
	Name        string
	Template    string
	HealthCheck string // job definition YAML, empty for none

	Description string
	Display     bool // default true
	OwnersOnly  bool
	// HealthFrequency is the time between health checks in hours, or in
	// jobs when HealthDenominator is "jobs" (default 24 hours).
	HealthFrequency   int
	HealthDenominator HealthDenominator
	HealthDisabled    bool // no health checks for devices of the type
}

// HealthDenominator is the unit of DeviceType.HealthFrequency.
type HealthDenominator string

// Health denominators (LAVA's health_denominator).
const (
	PerHours HealthDenominator = "hours"
	PerJobs  HealthDenominator = "jobs"
)

// Device is one board.
type Device struct {
	Name       string
	DeviceType string
	Worker     string // empty: not attached
	Dictionary string // Jinja2 text
	Tags       []string
	State      DeviceState
	Health     DeviceHealth

	Description string
	// PhysicalOwner and PhysicalGroup are the user and group that own the
	// board (LAVA's physical_owner, physical_group), "" for none.
	PhysicalOwner string
	PhysicalGroup string
}

// DeviceUpdate names the device fields to change; nil leaves one as is.
type DeviceUpdate struct {
	DeviceType    *string
	Worker        *string // "" detaches the device
	Tags          *[]string
	Description   *string
	PhysicalOwner *string
	PhysicalGroup *string
}

// Worker is one dispatcher host.
type Worker struct {
	Name     string
	State    WorkerState
	LastPing time.Time // zero: never pinged

	Description string
	Health      WorkerHealth
	// JobLimit caps how many of the worker's devices are Reserved or
	// Running at once; 0 is no limit.
	JobLimit int
}

// WorkerHealth is LAVA's Worker.health: only an Active worker's devices
// are given jobs.
type WorkerHealth string

// Worker healths.
const (
	WorkerActive      WorkerHealth = "Active"
	WorkerMaintenance WorkerHealth = "Maintenance"
	WorkerRetired     WorkerHealth = "Retired"
)

// NewJob is what Submit stores; a MultiNode group is several NewJobs with
// the same Group and distinct SubIDs, submitted in one call.
type NewJob struct {
	Definition  string
	Submitter   string
	Priority    int
	DeviceType  string // requested type
	Tags        []string
	HealthCheck bool
	Group       string // MultiNode target_group, empty otherwise
	SubID       int
	Visibility  Visibility // "" is public
	// VisibleGroups: with VisibilityGroup, the groups whose members see it.
	VisibleGroups []string
	// Description is the job's job_name.
	Description string
	// QueueTimeout is timeouts.queue, zero for none.
	QueueTimeout time.Duration
	// MultinodeDefinition is, for a MultiNode sub-job, the whole
	// submission it was split from.
	MultinodeDefinition string
	// Dynamic marks a MultiNode dynamic connection (a role with
	// `connection:`): it has no device type and gets no device; it runs
	// on the worker of the sub-job of its Group whose SubID is HostSubID
	// (its host_role's), which must be in the same Submit and not be
	// dynamic itself.
	Dynamic   bool
	HostSubID int
}

// Visibility is LAVA's job visibility.
type Visibility string

// Visibilities.
const (
	VisibilityPublic   Visibility = "public"
	VisibilityPersonal Visibility = "personal" // the submitter (and superusers)
	VisibilityGroup    Visibility = "group"    // members of VisibleGroups (and superusers)
)

// Job is a stored job.
type Job struct {
	ID            int64
	Definition    string
	State         JobState
	Health        JobHealth
	Priority      int
	Submitter     string
	DeviceType    string
	Tags          []string
	HealthCheck   bool
	Device        string // empty until scheduled
	Group         string
	SubID         int
	Visibility    Visibility
	VisibleGroups []string
	ErrorClass    string
	ErrorMsg      string
	Submitted     time.Time
	Started       time.Time // zero until running
	Ended         time.Time // zero until finished
	// Description, QueueTimeout and MultinodeDefinition are NewJob's.
	Description         string
	QueueTimeout        time.Duration
	MultinodeDefinition string
	// GroupFirst is, for a MultiNode sub-job, the id of its group's first
	// sub-job (sub_id 0): its display id is "GroupFirst.SubID". Zero
	// outside a group.
	GroupFirst int64
	// HostJob is, for a MultiNode dynamic connection (NewJob.Dynamic),
	// the id of its host role's sub-job, whose device's worker runs it;
	// zero for every other job. A dynamic connection's Device stays "".
	HostJob int64
}

// Dynamic reports whether j is a MultiNode dynamic connection.
func (j Job) Dynamic() bool { return j.HostJob != 0 }

// Assignment places one job on one device.
type Assignment struct {
	Job    int64
	Device string
	// Definition, when not empty, replaces the job's definition as it is
	// scheduled (a MultiNode sub-job gets the roles map of its group's
	// job ids, as LAVA's scheduler writes it).
	Definition string
}

// Finish is how a job ended.
type Finish struct {
	Health     JobHealth // Complete, Incomplete or Canceled
	ErrorClass string
	ErrorMsg   string
	// DeviceHealth, when set, is the device's health afterwards (e.g.
	// Unknown after an infrastructure error, so a health check runs first).
	DeviceHealth DeviceHealth
	// DeviceHealthFrom, when not empty, limits DeviceHealth to a device
	// whose health is one of these (a health check makes a Good, Unknown
	// or Bad device Good, and leaves Maintenance set meanwhile alone).
	DeviceHealthFrom []DeviceHealth
	// Results are stored with the finish, in the same transaction, so a
	// finish sent again never stores them twice. When not empty they are
	// the job's whole set and replace any added before (AddResults, as
	// the log streamed).
	Results []Result
}

// HealthCheckStat is what the scheduler needs of a device's health-check
// history.
type HealthCheckStat struct {
	// Last is the submit time of the device's last health check.
	Last time.Time
	// JobsSince counts the other jobs started on the device since Last.
	JobsSince int
}

// Result is one test case result.
type Result struct {
	// ID is the store's key of the result (LAVA's TestCase id); set by
	// Results, ignored when adding.
	ID          int64
	Suite       string
	Case        string
	Result      string // pass, fail, skip, unknown
	Measurement *float64
	Units       string
	Metadata    string // YAML or JSON text, as sent
	// Logged is when the server recorded the result (LAVA's
	// TestCase.logged); zero when unknown.
	Logged time.Time
	// LogStart and LogEnd are the range of log lines (indexes from 0)
	// the test case covers (LAVA's start_log_line, end_log_line); nil
	// when unknown.
	LogStart, LogEnd *int64
}

// JobFilter selects jobs; zero fields match everything.
type JobFilter struct {
	States []JobState
	Worker string // jobs on devices of this worker
	Limit  int

	// REST v0.2's filters and ordering (restfilter.go): every condition
	// must hold; Order is "" (NewestFirst's id order) or one of
	// JobOrders.
	Conds []JobCond
	Order string

	// The selections of LAVA's job lists (scheduler.jobs.list/queue).
	Healths     []JobHealth
	DeviceTypes []string  // requested device type among these
	Device      string    // jobs placed on this device
	Group       string    // the sub-jobs of this MultiNode group
	EndedAfter  time.Time // non-zero: ended at or after this time
	Offset      int       // skip this many matching jobs (with the order below)
	NewestFirst bool      // order by id descending (LAVA's "-id"); default ascending

	Submitter string // jobs submitted by this user
	// Viewer, when not nil, keeps only the jobs this user may see (Visible's
	// rules, in the query, so that pages and counts stay right); nil
	// applies no visibility rule (the lab's own reads).
	Viewer *Viewer

	// The web job lists' selections (joblist.go).
	HealthCheck         *bool    // non-nil: health checks only (true) or none (false)
	ErrorClasses        []string // error_class among these
	DescriptionContains string   // description contains it, ignoring case (or, a number, the job id is it)
	// WithoutDefinitions leaves Definition and MultinodeDefinition empty
	// (a page of rows need not read up to a megabyte per job).
	WithoutDefinitions bool
}

// Viewer is who looks at a job list: the zero Viewer is anonymous.
type Viewer struct {
	Name      string
	Superuser bool
}

// ViewerOf is the Viewer of a user (anonymous for the zero User).
func ViewerOf(u User) *Viewer { return &Viewer{Name: u.Name, Superuser: u.Superuser} }

// Token is one of a user's API tokens; its secret is not kept.
type Token struct {
	ID          int64
	Description string
	Created     time.Time
}

// DeviceCheck is the lab's remembered check of a device's configuration:
// Key identifies what the answer depends on (the lab's business), Problem
// is empty when the configuration is valid.
type DeviceCheck struct {
	Device, Key, Problem string
}

// Store is the lab's database. Methods are safe for concurrent use.
type Store interface {
	Close() error

	// What administrators change (admin.go).
	Admin
	// E-mail addresses and sent notifications (notify.go).
	Notifications
	// Remote artifact tokens, kept in clear (remotetokens.go).
	RemoteTokens

	// What the web job lists read (joblist.go).
	Lists

	// Users and API tokens. CreateToken stores SHA-256 of the secret: an
	// empty secret makes a random one, returned once.
	CreateUser(ctx context.Context, name, password string, superuser bool) (User, error)
	User(ctx context.Context, name string) (User, error)
	Users(ctx context.Context) ([]User, error)
	CheckPassword(ctx context.Context, name, password string) (User, error)
	CreateToken(ctx context.Context, user, secret, description string) (string, error)
	Authenticate(ctx context.Context, user, secret string) (User, error)
	// TokenUser is the owner of a token given alone (REST's
	// "Authorization: Token <secret>"); ErrAuth when no user holds it.
	TokenUser(ctx context.Context, secret string) (User, error)
	// Tokens lists a user's tokens, oldest first.
	Tokens(ctx context.Context, user string) ([]Token, error)
	// DeleteToken removes one of user's tokens; ErrNotFound when user
	// has no token with that id.
	DeleteToken(ctx context.Context, user string, id int64) error

	// Groups: CreateGroup is idempotent; UserGroups lists a user's groups.
	CreateGroup(ctx context.Context, name string) error
	AddGroupMember(ctx context.Context, group, user string) error
	UserGroups(ctx context.Context, user string) ([]string, error)

	// Device types: PutDeviceType creates or replaces.
	PutDeviceType(ctx context.Context, dt DeviceType) error
	DeviceType(ctx context.Context, name string) (DeviceType, error)
	DeviceTypes(ctx context.Context) ([]DeviceType, error)

	// Workers: CreateWorker returns the worker's token (random when
	// secret is empty), stored hashed.
	CreateWorker(ctx context.Context, name, secret string) (string, error)
	AuthenticateWorker(ctx context.Context, name, secret string) (Worker, error)
	Worker(ctx context.Context, name string) (Worker, error)
	Workers(ctx context.Context) ([]Worker, error)
	// PingWorker records a heartbeat and sets the worker Online.
	PingWorker(ctx context.Context, name string, at time.Time) error
	SetWorkerState(ctx context.Context, name string, state WorkerState) error

	// Devices: new devices are Idle with health Unknown.
	CreateDevice(ctx context.Context, d Device) error
	Device(ctx context.Context, name string) (Device, error)
	Devices(ctx context.Context) ([]Device, error)
	SetDictionary(ctx context.Context, device, dictionary string) error
	SetDeviceHealth(ctx context.Context, device string, health DeviceHealth) error
	// UpdateDevice changes the fields set in u.
	UpdateDevice(ctx context.Context, device string, u DeviceUpdate) error

	// Removal, for administration: a row still referenced (a device type
	// with devices, a device or user with jobs) is refused.
	DeleteUser(ctx context.Context, name string) error
	DeleteDeviceType(ctx context.Context, name string) error
	DeleteWorker(ctx context.Context, name string) error
	DeleteDevice(ctx context.Context, name string) error

	// Jobs. Submit stores all jobs (one MultiNode group) in one transaction,
	// state Submitted, ids in the order given; each job of a group gets
	// GroupFirst, the id of the group's lowest sub_id.
	Submit(ctx context.Context, jobs []NewJob) ([]int64, error)
	Job(ctx context.Context, id int64) (Job, error)
	Jobs(ctx context.Context, f JobFilter) ([]Job, error)
	// CountJobs counts the jobs f selects, ignoring its Limit and Offset.
	CountJobs(ctx context.Context, f JobFilter) (int, error)
	// Schedule moves every job Submitted/Scheduling → Scheduled and every
	// device Idle → Reserved, all or none (a MultiNode group is placed
	// whole or not at all). An assignment without a Device schedules a
	// dynamic connection (HostJob set), which takes no device; any other
	// job refuses it.
	Schedule(ctx context.Context, as []Assignment) error
	// ClaimJob atomically takes one Scheduled job on a device of worker and
	// moves it to Running (device Reserved → Running); or a Scheduled
	// dynamic connection whose host job is Scheduled or Running on a
	// device of worker (no device changes). ok is false when there is
	// nothing to claim.
	ClaimJob(ctx context.Context, worker string, now time.Time) (job Job, ok bool, err error)
	// CancelJob: Submitted/Scheduling/Scheduled → Finished Canceled (a
	// reserved device back to Idle); Running → Canceling. Others refuse.
	CancelJob(ctx context.Context, id int64, now time.Time) (JobState, error)
	// FinishJob: Scheduled/Running/Canceling → Finished, device → Idle.
	FinishJob(ctx context.Context, id int64, f Finish, now time.Time) error
	// ScheduleHealthCheck stores a health-check job already Scheduled on
	// device and reserves the device (Idle → Reserved), in one
	// transaction (LAVA creates health checks scheduled).
	ScheduleHealthCheck(ctx context.Context, j NewJob, device string) (int64, error)
	// Queue returns the Submitted jobs by id, without their definitions
	// (Definition and MultinodeDefinition empty): a scheduling pass's
	// snapshot.
	Queue(ctx context.Context) ([]Job, error)
	// GroupJobs returns the jobs of a MultiNode group by sub_id.
	GroupJobs(ctx context.Context, group string) ([]Job, error)
	// SubJob returns sub-job sub of the group whose GroupFirst is first
	// (LAVA's "first.sub" job id).
	SubJob(ctx context.Context, first int64, sub int) (Job, error)
	// HealthCheckStats returns, by device, its health-check history; a
	// device that never had a health check is absent.
	HealthCheckStats(ctx context.Context) (map[string]HealthCheckStat, error)

	// Device configuration checks the lab remembers across restarts:
	// DeviceChecks returns them by device; PutDeviceChecks creates or
	// replaces them in one transaction, skipping a device that no longer
	// exists.
	DeviceChecks(ctx context.Context) (map[string]DeviceCheck, error)
	PutDeviceChecks(ctx context.Context, cs []DeviceCheck) error

	// Results.
	AddResults(ctx context.Context, job int64, rs []Result) error
	Results(ctx context.Context, job int64) ([]Result, error)
	// TestCase returns one result by its id and the id of its job;
	// ErrNotFound when there is none.
	TestCase(ctx context.Context, id int64) (job int64, r Result, err error)
	// CaseHistory returns one test case's results across the most
	// recent jobs matching q (history.go), newest job first.
	CaseHistory(ctx context.Context, q CaseHistoryQuery) ([]CasePoint, error)
}
