package pipeline

import (
	"context"
	"errors"
)

// Protocol is a job-level protocol (LAVA's Protocol: lava-multinode):
// set up before the first action runs, consulted around each action so
// that the action a block's `protocols:` entry names makes its call, and
// finalised after the job's cleanup whatever happened.
type Protocol interface {
	// Name is the protocol's key in the job: "lava-multinode".
	Name() string
	// SetUp runs before the first action: joining a MultiNode group,
	// waiting for a delayed start.
	SetUp(ctx context.Context) error
	// BeforeAction makes the calls a block's protocols entry names for
	// the action, at the start of its run (before its children run).
	BeforeAction(ctx context.Context, a *Base) error
	// AfterAction makes the calls made at the end of the action's run
	// (lava-start by the action that lets the other roles start); err is
	// how the action ended.
	AfterAction(ctx context.Context, a *Base, err error) error
	// Finalise leaves the protocol (clearing the MultiNode group); it
	// runs after the job's cleanup, on the cleanup's context.
	Finalise(ctx context.Context) error
}

// Protocol returns the job's protocol of that name, or nil.
func (j *Job) Protocol(name string) Protocol {
	for _, p := range j.Protocols {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// setUpProtocols sets up every protocol in order, stopping at the first
// that fails.
func (j *Job) setUpProtocols(ctx context.Context) error {
	for _, p := range j.Protocols {
		if err := p.SetUp(ctx); err != nil {
			return err
		}
	}
	return nil
}

// finaliseProtocols finalises every protocol, even after one failed.
func (j *Job) finaliseProtocols(ctx context.Context) error {
	var errs []error
	for _, p := range j.Protocols {
		if err := p.Finalise(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// beforeAction and afterAction are the run loop's calls into the job's
// protocols around one action.
func (b *Base) beforeAction(ctx context.Context) error {
	if b.Job == nil {
		return nil
	}
	for _, p := range b.Job.Protocols {
		if err := p.BeforeAction(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

func (b *Base) afterAction(ctx context.Context, err error) error {
	if b.Job == nil {
		return nil
	}
	for _, p := range b.Job.Protocols {
		if perr := p.AfterAction(ctx, b, err); perr != nil {
			return perr
		}
	}
	return nil
}
