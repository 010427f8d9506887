package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/process"
)

// CleanupTimeout bounds the cleanup that follows every job, failed or
// not (LAVA's CLEANUP_TIMEOUT).
const CleanupTimeout = 300 * time.Second

// Run runs the actions in order, each under its own timeout within ctx
// (so an action never outlives its parent), and returns the connection
// the last action left. It stops at the first error, classified:
//
//   - an action that overran its own timeout fails with its TimeoutClass
//     ("<name> timed out after N seconds");
//   - a test-shell timeout (LAVATimeout) is a Test error, unless the
//     block says timeout: {skip: true}, when a top-level block is left
//     and the job goes on with the next one;
//   - an unclassified error is a Bug.
func (p *Pipeline) Run(ctx context.Context, conn Connection) (Connection, error) {
	for _, a := range p.Actions {
		b := a.ActionBase()
		if err := ctx.Err(); err != nil {
			return conn, contextError(err, p.parent)
		}
		start := time.Now()
		b.logStart()
		actx, cancel := context.WithTimeout(ctx, secondsDuration(b.Timeout.Seconds))
		next, err := conn, b.beforeAction(actx)
		if err == nil {
			next, err = a.Run(actx, conn)
			if perr := b.afterAction(actx, err); err == nil {
				err = perr
			}
		}
		ownTimeout := errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
		cancel()
		b.Ran, b.Duration, b.Err = true, time.Since(start), err
		if next != nil {
			conn = next
		}
		if err == nil {
			b.logEnd(b.Duration, nil)
			continue
		}
		if ownTimeout && (errors.Is(err, context.DeadlineExceeded) || ClassOf(err) == ClassBug) {
			class := b.TimeoutClass
			if class == "" {
				class = ClassJob
			}
			err = &Error{Class: class, Msg: fmt.Sprintf("%s timed out after %d seconds", b.Name, b.Timeout.Seconds)}
		} else if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			err = contextError(ctx.Err(), p.parent)
		}
		b.Err = err
		b.Log().Errorf("%s failed: %v", b.Name, err)
		b.logEnd(b.Duration, err)
		if ClassOf(err) == ClassTimeout {
			if skip, _ := b.Params.Map("timeout").Value("skip").(bool); skip {
				if p.parent == nil {
					if b.Job != nil {
						b.Job.Warnings = append(b.Job.Warnings, fmt.Sprintf("skip_timeout is set for %s: continuing to the next action block", b.Name))
					}
					continue
				}
				return conn, err
			}
			err = &Error{Class: ClassTest, Msg: err.Error(), Err: err}
			b.Err = err
		}
		return conn, err
	}
	return conn, nil
}

// contextError classifies the end of a parent's context: cancellation
// (a signal, a cancelled job) or the parent's deadline.
func contextError(err error, parent *Base) error {
	if errors.Is(err, context.Canceled) {
		return &Error{Class: ClassCanceled, Msg: "the job was canceled", Err: err}
	}
	if parent != nil {
		return JobError("%s timed out after %d seconds", parent.Name, parent.Timeout.Seconds)
	}
	return JobError("the job timed out")
}

// retryable reports whether a failed attempt may be tried again: LAVA
// retries job, infrastructure and test errors, never its own bugs, a
// cancellation or a MultiNode timeout.
func retryable(err error) bool {
	switch ClassOf(err) {
	case ClassJob, ClassInfrastructure, ClassTest:
		return true
	}
	return false
}

// runRetry is LAVA's RetryAction: with failure_retry the children run
// until they succeed, at most MaxRetries times; with repeat they run
// MaxRetries times whatever happens. Between attempts the children are
// cleaned up and the action pauses RetryInterval seconds (1 by default),
// unless no time would be left.
func (b *Base) runRetry(ctx context.Context, conn Connection) (Connection, error) {
	repeat := b.Params.Has("repeat")
	interval := time.Second
	switch {
	case b.RetryInterval > 0:
		interval = time.Duration(b.RetryInterval) * time.Second
	case b.RetryInterval < 0: // no pause at all (tests)
		interval = 0
	}
	var lastErr error
	attempts, noTime := 0, false
	for attempts < b.MaxRetries {
		attempts++
		next, err := b.Pipeline.Run(ctx, conn)
		if err == nil {
			if next != nil {
				conn = next
			}
			if !repeat {
				return conn, nil
			}
			continue
		}
		if !retryable(err) {
			return conn, err
		}
		lastErr = err
		b.logf("%s failed: %d of %d attempts. '%v'", b.Name, attempts, b.MaxRetries, err)
		b.cleanupChildren(ctx)
		if attempts == b.MaxRetries {
			return conn, err
		}
		if dl, ok := ctx.Deadline(); ok && time.Now().Add(interval).After(dl) {
			noTime = true
			break
		}
		select {
		case <-ctx.Done():
			return conn, contextError(ctx.Err(), b)
		case <-time.After(interval):
		}
		b.Pipeline.Walk(func(a Action) { a.ActionBase().errs = nil })
		b.logf("retrying: %s %s", b.Level, b.Name)
	}
	if lastErr == nil {
		return conn, nil
	}
	msg := fmt.Sprintf("%d retries out of %d failed for %s", attempts, b.MaxRetries, b.Name)
	if noTime {
		msg = fmt.Sprintf("no time left for the remaining %d retries: increase the block timeout or decrease the named action timeout. %s",
			b.MaxRetries-attempts, msg)
	}
	return conn, &Error{Class: ClassOf(lastErr), Msg: msg, Err: lastErr}
}

// cleanupChildren cleans up after a failed attempt, on a context of its
// own so that it runs even when the attempt timed out.
func (b *Base) cleanupChildren(ctx context.Context) {
	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
	defer cancel()
	if err := b.Pipeline.Cleanup(gctx); err != nil {
		b.logf("cleanup after %s failed: %v", b.Name, err)
	}
}

func (b *Base) logf(format string, args ...any) {
	b.Log().Warnf(format, args...)
	if b.Job != nil && b.Job.Logf != nil {
		b.Job.Logf(format, args...)
	}
}

// Run runs the job's pipeline under the job timeout, then always cleans
// up every action (finalize included) on a separate grace context, so
// that cleanup happens after a timeout, a failure or a cancellation. It
// returns the error that ended the job, nil when it completed.
func (j *Job) Run(ctx context.Context) error {
	ctx = process.WithGrace(ctx, j.Runtime.ProcessGrace)
	jctx, cancel := context.WithTimeout(ctx, secondsDuration(j.Timeout.Seconds))
	err := j.setUpProtocols(jctx)
	if err != nil && jctx.Err() != nil {
		err = contextError(jctx.Err(), nil)
	}
	if err == nil {
		_, err = j.Pipeline.Run(jctx, nil)
	}
	if err != nil && errors.Is(jctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil && ClassOf(err) != ClassTest {
		err = JobError("the job timed out after %d seconds (%s)", j.Timeout.Seconds, job.FormatDuration(j.Timeout.Seconds))
	}
	cancel()
	if err == nil && ctx.Err() != nil {
		err = contextError(ctx.Err(), nil)
	}
	gctx, gcancel := context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
	defer gcancel()
	if cerr := j.Pipeline.Cleanup(gctx); cerr != nil && err == nil {
		err = &Error{Class: ClassInfrastructure, Msg: "failed to clean up after the job", Err: cerr}
	}
	if perr := j.finaliseProtocols(gctx); perr != nil && err == nil {
		err = perr
	}
	return err
}

// Outcome is how a job ended, as LAVA's lava-run reports it: result
// "pass" or "fail", and for a failure the error class and message.
type Outcome struct {
	Result  string
	Class   Class
	Message string
}

// OutcomeOf returns the outcome of a job that ended with err.
func OutcomeOf(err error) Outcome {
	if err == nil {
		return Outcome{Result: "pass"}
	}
	return Outcome{Result: "fail", Class: ClassOf(err), Message: err.Error()}
}
