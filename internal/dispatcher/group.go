package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/basalt-lava/basalt/internal/coordinator"
	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/multinode"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/protocol"
	"github.com/basalt-lava/basalt/internal/value"
)

// GroupPollDelay is how often the sub-jobs of a group poll the group's
// own coordinator: it is in this process, so polling is cheap, and a
// lava-sync round costs at most one delay.
const GroupPollDelay = 250 * time.Millisecond

// Group is a MultiNode submission split into the sub-jobs LAVA's server
// makes of it, each with its id, to run at once on one machine.
type Group struct {
	// Target is the group's target_group, what the coordinator knows it by.
	Target  string
	Members []*Member
}

// Member is one sub-job of a group. NewGroup fills in what the
// submission says; the front end completes Config (the device, folders,
// readable log) and Sink before RunGroup, which sets Outcome.
type Member struct {
	multinode.SubJob
	// ID is the sub-job's job id.
	ID string
	// Index is the member's place among the instances of its role: n in
	// ROLE-n.
	Index int
	// Config is the sub-job's run configuration. NewGroup sets Job (the
	// sub-job's definition as text, named ROLE-n/job.yaml) and Options
	// (its id, checked as lava-run checks a sub-job); RunGroup sets
	// Coordinator and wraps CancelReason.
	Config RunConfig
	// Sink receives the sub-job's log, files and results.
	Sink Sink
	// Outcome is how the sub-job ended, once RunGroup returns.
	Outcome Outcome
}

// Name is ROLE-n, which tells the instances of a role apart.
func (m *Member) Name() string { return fmt.Sprintf("%s-%d", m.Role, m.Index) }

// Essential reports whether the sub-job's role is essential: when it ends
// incomplete, the whole group is canceled.
func (m *Member) Essential() bool {
	e, _ := m.Definition.Map("protocols").Map(protocol.MultinodeName).Value("essential").(bool)
	return e
}

// NewGroup splits a MultiNode submission as LAVA's server does and
// numbers its sub-jobs from firstID, in the order LAVA numbers them.
func NewGroup(submission *value.Map, firstID int) (*Group, error) {
	subs, err := multinode.Split(submission, multinode.Options{})
	if err != nil {
		return nil, err
	}
	if firstID < 0 {
		return nil, fmt.Errorf("job id %d: a MultiNode group numbers its sub-jobs from a number >= 0", firstID)
	}
	ids := make([]string, len(subs))
	for i := range subs {
		ids[i] = strconv.Itoa(firstID + i)
	}
	multinode.SetRoles(subs, ids)
	g := &Group{}
	seen := map[string]int{}
	for i, s := range subs {
		m := &Member{SubJob: s, ID: ids[i], Index: seen[s.Role]}
		seen[s.Role]++
		def, err := value.EncodeYAML(s.Definition)
		if err != nil {
			return nil, fmt.Errorf("%s: encoding the sub-job: %w", m.Name(), err)
		}
		m.Config.Job = Source{Text: def, Name: m.Name() + "/" + DefaultJobName}
		m.Config.Options = Options{JobID: m.ID, Job: job.Options{Lax: true, SubJob: true}}
		g.Members = append(g.Members, m)
	}
	if len(subs) > 0 {
		g.Target = subs[0].Definition.Map("protocols").Map(protocol.MultinodeName).String("target_group")
	}
	return g, nil
}

// MemberProblem is why one member of a group cannot run.
type MemberProblem struct {
	Member *Member
	// Err is set when the job or the device could not be read.
	Err error
	// Errors are the problems found in the sub-job with its device.
	Errors []job.Diagnostic
}

// GroupError is why RunGroup did not start a group: every problem of
// every member that cannot run.
type GroupError struct {
	Problems []MemberProblem
}

func (e *GroupError) Error() string {
	var names []string
	for _, p := range e.Problems {
		names = append(names, p.Member.Name())
	}
	return fmt.Sprintf("the group was not started: every sub-job must be valid (%s %s not)",
		strings.Join(names, ", "), plural(len(names), "is", "are"))
}

// Check prepares every member with its device, as Run will, and returns
// the problems of those that cannot run (none: the group can start).
func (g *Group) Check() []MemberProblem {
	var out []MemberProblem
	for _, m := range g.Members {
		p, err := PrepareSources(m.Config.Job, m.Config.Device, m.Config.Options)
		switch {
		case err != nil:
			out = append(out, MemberProblem{Member: m, Err: err})
		case !p.Valid():
			out = append(out, MemberProblem{Member: m, Errors: job.Errors(p.Diagnostics)})
		}
	}
	return out
}

// GroupConfig is how RunGroup runs a group.
type GroupConfig struct {
	// Coordinator is the coordinator the sub-jobs use; nil starts one in
	// this process on 127.0.0.1, for the group alone, polled every
	// PollDelay (GroupPollDelay when zero).
	Coordinator *protocol.Settings
	PollDelay   time.Duration
	// Started, when set, is called once every member is checked and the
	// coordinator is there, just before the sub-jobs start; it may
	// complete the members (open their sinks). An error stops the group
	// before any sub-job starts, and RunGroup returns it (after closing
	// the sinks already set, as it does when a member has none).
	Started func(coordinator protocol.Settings) error
	// Ended, when set, is called in the member's goroutine as soon as it
	// ends (m.Outcome is set), before an essential failure cancels the
	// others.
	Ended func(m *Member)
	// EssentialFailed, when set, is called when a member of an essential
	// role ended incomplete, just before the others are canceled.
	EssentialFailed func(m *Member)
}

// essentialFailure is why a group's other sub-jobs were canceled.
type essentialFailure struct {
	m *Member
}

func (e *essentialFailure) Error() string {
	return fmt.Sprintf("essential role %s (job %s) ended incomplete: %s error: %s",
		e.m.Role, e.m.ID, e.m.Outcome.ErrorType(), e.m.Outcome.Message)
}

// RunGroup runs every member of g at once, as LAVA's server schedules a
// group, against cfg's coordinator or one of its own. Every member is
// checked first (Check): when one cannot run, none starts and the error
// is a *GroupError, since the others would wait for it until they time
// out. When a member of an essential role ends incomplete (not canceled),
// the others are canceled, as LAVA's server cancels the group; every
// member still cleans up and hands its results to its sink. The error is
// only for a group that did not start; how each member ended is in its
// Outcome.
func RunGroup(ctx context.Context, g *Group, cfg GroupConfig) error {
	if len(g.Members) == 0 {
		return errors.New("the group has no sub-jobs")
	}
	if problems := g.Check(); len(problems) > 0 {
		return &GroupError{Problems: problems}
	}
	settings, stop, err := groupCoordinator(cfg)
	if err != nil {
		return err
	}
	defer stop()
	if cfg.Started != nil {
		if err := cfg.Started(settings); err != nil {
			closeSinks(g)
			return err
		}
	}
	for _, m := range g.Members {
		if m.Sink == nil {
			closeSinks(g)
			return fmt.Errorf("%s: no sink for the sub-job's output", m.Name())
		}
	}

	cancels := make([]context.CancelCauseFunc, len(g.Members))
	ctxs := make([]context.Context, len(g.Members))
	for i := range g.Members {
		ctxs[i], cancels[i] = context.WithCancelCause(ctx)
	}
	var wg sync.WaitGroup
	for i, m := range g.Members {
		mcfg := m.Config
		mctx := ctxs[i]
		mcfg.Coordinator = func() (protocol.Settings, error) { return settings, nil }
		outer := m.Config.CancelReason
		mcfg.CancelReason = func() string {
			var ef *essentialFailure
			if cause := context.Cause(mctx); errors.As(cause, &ef) {
				return ef.Error()
			}
			if outer != nil {
				return outer()
			}
			return ""
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cancels[i](nil)
			m.Outcome = Run(mctx, mcfg, m.Sink)
			if cfg.Ended != nil {
				cfg.Ended(m)
			}
			if m.Essential() && !m.Outcome.Completed() && m.Outcome.Class != pipeline.ClassCanceled {
				if cfg.EssentialFailed != nil {
					cfg.EssentialFailed(m)
				}
				cause := &essentialFailure{m}
				for j := range g.Members {
					if j != i {
						cancels[j](cause)
					}
				}
			}
		}()
	}
	wg.Wait()
	return nil
}

// closeSinks closes the sinks of a group that will not run.
func closeSinks(g *Group) {
	for _, m := range g.Members {
		if m.Sink != nil {
			m.Sink.Close()
		}
	}
}

// groupCoordinator returns the settings the sub-jobs use and a function
// that stops the group's own coordinator, when it started one.
func groupCoordinator(cfg GroupConfig) (protocol.Settings, func(), error) {
	if cfg.Coordinator != nil {
		return *cfg.Coordinator, func() {}, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return protocol.Settings{}, nil, fmt.Errorf("starting the group's coordinator: %w", err)
	}
	srv := coordinator.NewServer(coordinator.Options{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	delay := GroupPollDelay
	if cfg.PollDelay > 0 {
		delay = cfg.PollDelay
	}
	stop := func() {
		srv.Close()
		<-done
	}
	return protocol.Settings{Addr: l.Addr().String(), PollDelay: delay, Blocksize: 4096}, stop, nil
}
