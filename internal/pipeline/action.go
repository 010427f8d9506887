// Package pipeline owns the shape of a job: the Action interface, nested
// pipelines and their levels (1, 1.1, 1.3.2), timeouts and where each one
// comes from, retries, strategy selection, error classes and the describe
// form LAVA writes to description.yaml. It knows nothing about any
// particular deploy, boot or test method: those live under
// internal/actions and register their strategies here.
package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/value"
)

// Connection is a live session with the device (a console, a shell over
// SSH, …). The pipeline only passes it along: an action may return a new
// connection that replaces the current one for the actions after it.
type Connection interface {
	Close() error
}

// Action is one step of a job. Implementations embed Base (through
// NewBase) which provides every method; they override what they need.
// The accessor is ActionBase, not Base: a method named like the embedded
// field would be shadowed by the field, and no embedding type would
// implement Action.
//
// The contract:
//   - Populate is called once, when the action is added to a pipeline,
//     after its level, parameters, retries and timeouts are set; it builds
//     the internal pipeline, if any, with NewPipeline.
//   - Validate checks parameters and the host without side effects and
//     records every problem with Errorf; the base validates the children.
//   - Run does the work under ctx (whose deadline is the action's timeout)
//     and returns the connection to use next (or nil to keep the current).
//   - Cleanup must be safe to call whether or not Run ran or failed, and
//     more than once.
type Action interface {
	ActionBase() *Base
	Populate(params *value.Map)
	Validate()
	Run(ctx context.Context, conn Connection) (Connection, error)
	Cleanup(ctx context.Context) error
}

// Timeout is a duration in whole seconds and what set it, so that
// `basalt validate` can explain every effective timeout.
type Timeout struct {
	Seconds int
	Source  string
}

// Base holds what every action has. It implements Action with the default
// behaviour: no internal pipeline of its own making, validate and run and
// clean up the children.
type Base struct {
	// Class is the LAVA class this action corresponds to, shown in
	// description.yaml so LAVA users recognise the tree.
	Class       string
	Name        string
	Description string
	Summary     string
	Section     string
	Level       string

	Timeout           Timeout
	ConnectionTimeout Timeout
	MaxRetries        int
	// Retry marks a retrying action (LAVA's RetryAction): failure_retry,
	// repeat and the device's failure_retry constant set its MaxRetries,
	// and its children share its timeout between the attempts.
	Retry bool
	// RetryInterval is the pause between attempts, in seconds.
	RetryInterval int
	// DefaultTimeout, when set, replaces the 30 s default for this kind
	// of action (LAVA gives bootloader commands and dd their own), seconds.
	DefaultTimeout int
	// TimeoutClass is the class of the error when the action runs out of
	// time (LAVA's timeout_exception); empty means Job.
	TimeoutClass Class

	// Outcome of the last run, for the job's results.
	Duration time.Duration
	Err      error
	Ran      bool

	// Results are what the action reports about its run (LAVA's
	// action.results): the extra of its case in the lava suite.
	Results *value.Map

	// URL is set on actions that download; describe shows it.
	URL string

	Params   *value.Map
	Job      *Job
	Pipeline *Pipeline
	parent   *Base
	self     Action
	errs     []string
}

// NewBase returns the base for an action of the given LAVA class and name.
func NewBase(class, name, description, summary string) Base {
	return Base{Class: class, Name: name, Description: description, Summary: summary, MaxRetries: 1}
}

// ActionBase returns b itself; it lets embedding types satisfy Action.
func (b *Base) ActionBase() *Base { return b }

// Populate does nothing: an action without children.
func (b *Base) Populate(*value.Map) {}

// Validate checks the action's own fields, then its children.
func (b *Base) Validate() {
	switch {
	case b.Name == "":
		b.Errorf("action has no name set")
	case strings.ContainsAny(b.Name, " _"):
		b.Errorf("use - instead of spaces or _ in action names: %s", b.Name)
	}
	if b.Retry && b.Pipeline == nil {
		b.Errorf("retry action %s has no internal pipeline", b.Name)
	}
	if b.Pipeline != nil {
		b.Pipeline.Validate()
	}
}

// Run runs the internal pipeline, if any; a retrying action runs it
// again on failure (failure_retry) or as many times as asked (repeat).
func (b *Base) Run(ctx context.Context, conn Connection) (Connection, error) {
	if b.Pipeline == nil {
		return conn, nil
	}
	if b.Retry {
		return b.runRetry(ctx, conn)
	}
	return b.Pipeline.Run(ctx, conn)
}

// Cleanup cleans up the children.
func (b *Base) Cleanup(ctx context.Context) error {
	if b.Pipeline == nil {
		return nil
	}
	return b.Pipeline.Cleanup(ctx)
}

// Errorf records a validation problem of this action.
func (b *Base) Errorf(format string, args ...any) {
	b.errs = append(b.errs, fmt.Sprintf(format, args...))
}

// Errors returns this action's own validation problems.
func (b *Base) Errors() []string { return b.errs }

// Parent returns the action whose internal pipeline holds this one.
func (b *Base) Parent() *Base { return b.parent }

// Device returns the device configuration of the job.
func (b *Base) Device() *value.Map {
	if b.Job == nil {
		return nil
	}
	return b.Job.Device
}

// NewPipeline creates this action's internal pipeline, whose actions get
// params unless Add is given others.
func (b *Base) NewPipeline(params *value.Map) *Pipeline {
	p := &Pipeline{job: b.Job, parent: b, params: params}
	b.Pipeline = p
	return p
}

// Constant looks up a value as LAVA's get_constant does: the block's
// deployment_data first, then the device's constants (under prefix when
// prefix is not empty). ok is false when it is nowhere.
func (b *Base) Constant(key, prefix string) (any, bool) {
	if dd := b.Params.Map("deployment_data"); dd != nil {
		if v, ok := dd.Get(key); ok {
			return v, true
		}
	}
	consts := b.Device().Map("constants")
	if prefix != "" {
		consts = consts.Map(prefix)
	}
	return consts.Get(key)
}
