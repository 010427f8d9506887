package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/process"
	"github.com/basalt-lava/basalt/internal/value"
)

// step is an action whose run is scripted: it fails with the given
// errors in turn (nil for success), or blocks until its context ends.
type step struct {
	Base
	fails   []error
	block   bool
	runs    int
	cleanup *int32
}

func newStep(name string, fails ...error) *step {
	s := &step{Base: NewBase("Step", name, "scripted step", "scripted step"), fails: fails}
	return s
}

func (s *step) Run(ctx context.Context, conn Connection) (Connection, error) {
	s.runs++
	if s.block {
		<-ctx.Done()
		return conn, ctx.Err()
	}
	if len(s.fails) == 0 {
		return conn, nil
	}
	err := s.fails[0]
	s.fails = s.fails[1:]
	return conn, err
}

func (s *step) Cleanup(ctx context.Context) error {
	if s.cleanup != nil {
		atomic.AddInt32(s.cleanup, 1)
	}
	return nil
}

// retrying is a retry action with scripted children.
type retrying struct {
	Base
	children []Action
}

func (r *retrying) Populate(params *value.Map) {
	p := r.NewPipeline(params)
	for _, c := range r.children {
		p.Add(c, nil)
	}
}

func newJob(params *value.Map, actions ...Action) *Job {
	if params == nil {
		params = value.NewMap()
	}
	j := &Job{Params: value.MapOf("timeouts", value.MapOf("job", value.MapOf("seconds", 5))), Device: value.NewMap(), Timeout: Timeout{5, "test"}}
	top := NewTopPipeline(j)
	for _, a := range actions {
		top.Add(a, params)
	}
	j.Pipeline = top
	return j
}

func TestRunRetriesUntilSuccess(t *testing.T) {
	t.Parallel()
	var cleaned int32
	child := newStep("flaky", InfrastructureError("serial port busy"), JobError("bad prompt"))
	child.cleanup = &cleaned
	r := &retrying{Base: NewBase("Retry", "flaky-retry", "d", "s"), children: []Action{child}}
	r.Retry = true
	r.RetryInterval = 0
	params := value.MapOf("failure_retry", 3)
	j := newJob(params, r)
	if r.MaxRetries != 3 {
		t.Fatalf("MaxRetries = %d, want 3 from failure_retry", r.MaxRetries)
	}
	r.RetryInterval = -1 // no pause in tests
	if err := j.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v, want success on the third attempt", err)
	}
	if child.runs != 3 {
		t.Errorf("child ran %d times, want 3", child.runs)
	}
	// Cleaned after each failed attempt, and once more at the end of the job.
	if cleaned != 3 {
		t.Errorf("child cleaned %d times, want 3", cleaned)
	}
}

func TestRunRetryGivesUpWithLastClass(t *testing.T) {
	t.Parallel()
	child := newStep("always", JobError("a"), TestError("b"))
	r := &retrying{Base: NewBase("Retry", "always-retry", "d", "s"), children: []Action{child}}
	r.Retry = true
	j := newJob(value.MapOf("failure_retry", 2), r)
	r.RetryInterval = -1
	err := j.Run(context.Background())
	if ClassOf(err) != ClassTest || !strings.Contains(err.Error(), "b") {
		t.Errorf("err = %v (class %s), want the last attempt's Test error", err, ClassOf(err))
	}
}

func TestRunRepeatRunsEveryIteration(t *testing.T) {
	t.Parallel()
	child := newStep("repeated", nil, JobError("second fails"), nil)
	r := &retrying{Base: NewBase("Retry", "repeat-block", "d", "s"), children: []Action{child}}
	r.Retry = true
	j := newJob(value.MapOf("repeat", 3), r)
	r.RetryInterval = -1
	err := j.Run(context.Background())
	if child.runs != 3 {
		t.Errorf("child ran %d times, want all 3 repeats", child.runs)
	}
	if ClassOf(err) != ClassJob || !strings.Contains(err.Error(), "retries out of 3 failed") {
		t.Errorf("err = %v, want a Job error summarising the failed repeat", err)
	}
}

func TestRunDoesNotRetryBugs(t *testing.T) {
	t.Parallel()
	child := newStep("buggy", errors.New("nil pointer"), nil)
	r := &retrying{Base: NewBase("Retry", "bug-retry", "d", "s"), children: []Action{child}}
	r.Retry = true
	j := newJob(value.MapOf("failure_retry", 3), r)
	err := j.Run(context.Background())
	if ClassOf(err) != ClassBug || child.runs != 1 {
		t.Errorf("err = %v (class %s) after %d runs, want a Bug after 1 run", err, ClassOf(err), child.runs)
	}
}

func TestRunTimeoutClasses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		class     Class
		skip      bool
		wantClass Class
		wantNext  bool
	}{
		{"action timeout is a job error", "", false, ClassJob, false},
		{"infrastructure timeout", ClassInfrastructure, false, ClassInfrastructure, false},
		{"test shell timeout is a test error", ClassTimeout, false, ClassTest, false},
		{"skipped test shell timeout goes on", ClassTimeout, true, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hung := newStep("hung")
			hung.block = true
			hung.TimeoutClass = tt.class
			next := newStep("next")
			params := value.MapOf("timeout", value.MapOf("seconds", 1, "skip", tt.skip))
			j := newJob(nil)
			top := NewTopPipeline(j)
			top.Add(hung, params)
			top.Add(next, value.NewMap())
			j.Pipeline = top
			err := j.Run(context.Background())
			if ClassOf(err) != tt.wantClass {
				t.Errorf("class = %q (%v), want %q", ClassOf(err), err, tt.wantClass)
			}
			if err != nil && !strings.Contains(err.Error(), "hung timed out after 1 seconds") {
				t.Errorf("err = %v, want it to name the action and its timeout", err)
			}
			if (next.runs == 1) != tt.wantNext {
				t.Errorf("next block ran %d times, want ran=%v", next.runs, tt.wantNext)
			}
		})
	}
}

func TestRunCancelCleansUp(t *testing.T) {
	t.Parallel()
	var cleaned int32
	hung := newStep("hung")
	hung.block = true
	hung.cleanup = &cleaned
	j := newJob(value.MapOf("timeout", value.MapOf("minutes", 1)), hung)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	err := j.Run(ctx)
	if ClassOf(err) != ClassCanceled {
		t.Errorf("err = %v (class %s), want Canceled", err, ClassOf(err))
	}
	if cleaned != 1 {
		t.Errorf("cleanup ran %d times after cancel, want 1", cleaned)
	}
	if o := OutcomeOf(err); o.Result != "fail" || o.Class != ClassCanceled {
		t.Errorf("outcome = %+v", o)
	}
}

// graceStep records the grace period its children would get.
type graceStep struct {
	Base
	run, cleanup time.Duration
}

func (g *graceStep) Run(ctx context.Context, conn Connection) (Connection, error) {
	g.run = process.GraceFrom(ctx)
	return conn, nil
}

func (g *graceStep) Cleanup(ctx context.Context) error {
	g.cleanup = process.GraceFrom(ctx)
	return nil
}

// The runtime's grace period reaches the child processes of actions, in
// their run and in their cleanup.
func TestRunHandsProcessGraceToActions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		set, want time.Duration
	}{{0, process.DefaultGrace}, {42 * time.Second, 42 * time.Second}} {
		g := &graceStep{Base: NewBase("Step", "grace", "grace", "grace")}
		j := newJob(nil, g)
		j.Runtime.ProcessGrace = tc.set
		if err := j.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if g.run != tc.want || g.cleanup != tc.want {
			t.Errorf("ProcessGrace %v: actions saw %v in Run, %v in Cleanup; want %v", tc.set, g.run, g.cleanup, tc.want)
		}
	}
}

func TestTimeoutPrecedence(t *testing.T) {
	t.Parallel()
	// Each row adds one more source; the last one present wins, in
	// LAVA's order.
	jobT := value.MapOf("action", value.MapOf("seconds", 11),
		"actions", value.MapOf("named", value.MapOf("seconds", 44)))
	devT := value.MapOf("actions", value.MapOf("named", value.MapOf("seconds", 22)))
	tests := []struct {
		name   string
		job    *value.Map
		dev    *value.Map
		block  *value.Map
		want   int
		source string
	}{
		{"default", value.NewMap(), value.NewMap(), value.NewMap(), 30, "default"},
		{"job action", value.MapOf("action", value.MapOf("seconds", 11)), value.NewMap(), value.NewMap(), 11, "job timeouts.action"},
		{"device named beats job action", value.MapOf("action", value.MapOf("seconds", 11)), devT, value.NewMap(), 22, "device timeouts.actions.named"},
		{"block beats device named", value.NewMap(), devT, value.MapOf("timeout", value.MapOf("seconds", 33)), 33, "block timeout"},
		{"job named beats block", jobT, devT, value.MapOf("timeout", value.MapOf("seconds", 33)), 44, "job timeouts.actions.named"},
		{"block named beats all", jobT, devT, value.MapOf("timeout", value.MapOf("seconds", 33), "timeouts", value.MapOf("named", value.MapOf("minutes", 1))), 60, "block timeouts.named"},
	}
	for _, tt := range tests {
		j := &Job{Params: value.MapOf("timeouts", tt.job), Device: value.MapOf("timeouts", tt.dev)}
		a := newStep("named")
		NewTopPipeline(j).Add(a, tt.block)
		if a.Timeout.Seconds != tt.want || a.Timeout.Source != tt.source {
			t.Errorf("%s: timeout = %d (%s), want %d (%s)", tt.name, a.Timeout.Seconds, a.Timeout.Source, tt.want, tt.source)
		}
	}
}

func TestLevelsAndRetrySplit(t *testing.T) {
	t.Parallel()
	inner := newStep("inner")
	r := &retrying{Base: NewBase("Retry", "outer", "d", "s"), children: []Action{newStep("first"), inner}}
	r.Retry = true
	j := newJob(value.MapOf("failure_retry", 4, "timeout", value.MapOf("minutes", 2)), newStep("zero"), r)
	if r.Level != "2" || inner.Level != "2.2" {
		t.Errorf("levels = %s, %s; want 2 and 2.2", r.Level, inner.Level)
	}
	if inner.Timeout.Seconds != 30 || !strings.Contains(inner.Timeout.Source, "4 attempts") {
		t.Errorf("inner timeout = %+v, want 120/4 = 30 shared by 4 attempts", inner.Timeout)
	}
	_ = j
}

func TestDefaultTimeoutOfAnActionKind(t *testing.T) {
	t.Parallel()
	j := &Job{Params: value.NewMap(), Device: value.NewMap()}
	a := newStep("slow-kind")
	a.DefaultTimeout = 180
	b := newStep("slow-kind-overridden")
	b.DefaultTimeout = 180
	top := NewTopPipeline(j)
	top.Add(a, value.NewMap())
	top.Add(b, value.MapOf("timeout", value.MapOf("minutes", 1)))
	if a.Timeout.Seconds != 180 || b.Timeout.Seconds != 60 {
		t.Errorf("timeouts = %d, %d; want the kind's 180 when nothing overrides it, and the block's 60", a.Timeout.Seconds, b.Timeout.Seconds)
	}
}
