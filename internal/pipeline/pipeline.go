package pipeline

import (
	"context"
	"fmt"
	"strconv"

	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/value"
)

// Pipeline is an ordered list of actions: the job's top level, or the
// internal pipeline of one action.
type Pipeline struct {
	job     *Job
	parent  *Base
	params  *value.Map
	Actions []Action
}

// NewTopPipeline returns an empty top-level pipeline of j, for building a
// job's actions by hand (tests of single actions) instead of with Build.
func NewTopPipeline(j *Job) *Pipeline { return &Pipeline{job: j} }

// Add appends a to the pipeline: it sets the action's level, section,
// parameters (the pipeline's when params is nil, shared, as LAVA shares
// the block's dict), retries and timeouts, and then lets it populate its
// own internal pipeline, so children see their parent's final values.
func (p *Pipeline) Add(a Action, params *value.Map) {
	b := a.ActionBase()
	b.self = a
	b.Job = p.job
	b.parent = p.parent
	p.Actions = append(p.Actions, a)
	if p.parent != nil {
		b.Level = p.parent.Level + "." + strconv.Itoa(len(p.Actions))
		b.Section = p.parent.Section
	} else {
		b.Level = strconv.Itoa(len(p.Actions))
	}
	if params == nil {
		params = p.params
	}
	if params == nil {
		params = value.NewMap()
	}
	b.Params = params
	if b.MaxRetries < 1 {
		b.MaxRetries = 1
	}
	if b.Retry {
		b.setRetries()
	}
	b.setTimeouts()
	a.Populate(params)
}

// setRetries applies failure_retry, repeat and the device's failure_retry
// and boot_retry constants, as LAVA's RetryAction does.
func (b *Base) setRetries() {
	if b.Params.Has("failure_retry") && b.Params.Has("repeat") {
		b.Errorf("unable to use repeat and failure_retry, use a repeat block")
	}
	if n, ok := b.Params.Value("failure_retry").(int); ok {
		b.MaxRetries = n
	} else if b.Device().Has("constants") {
		if v, ok := b.Constant("failure_retry", ""); ok && Truthy(v) {
			if n, ok := ToInt(v); ok && n > b.MaxRetries {
				b.MaxRetries = n
			}
			if v, ok := b.Constant("boot_retry", ""); ok && Truthy(v) && b.Section == "boot" {
				if n, ok := ToInt(v); ok {
					b.MaxRetries = n
				}
			}
		}
	}
	if n, ok := b.Params.Value("failure_retry_interval").(int); ok {
		if n > job.MaxTimeoutSeconds {
			b.Errorf("failure_retry_interval: %d seconds is longer than the maximum, %d seconds", n, job.MaxTimeoutSeconds)
		} else {
			b.RetryInterval = n
		}
	}
	if n, ok := b.Params.Value("repeat").(int); ok {
		b.MaxRetries = n
	}
}

// setTimeouts computes the action and connection timeouts. Lowest
// precedence first, each later source overriding:
//
//	default 30 s; job timeouts.action; device timeouts.actions.<name>;
//	the block's timeout; the parent retry action's timeout divided by its
//	attempts; job timeouts.actions.<name>; the block's timeouts.<name>.
//
// Connection: default 30 s; job timeouts.connection; device
// timeouts.connections.<name>; job timeouts.connections.<name>.
func (b *Base) setTimeouts() {
	b.Timeout = Timeout{job.DefaultActionTimeout, "default"}
	if b.DefaultTimeout > 0 {
		b.Timeout = Timeout{b.DefaultTimeout, b.Name + " default"}
	}
	b.ConnectionTimeout = Timeout{job.DefaultActionTimeout, "default"}
	var jobT, devT *value.Map
	if b.Job != nil {
		jobT = b.Job.Params.Map("timeouts")
		devT = b.Job.Device.Map("timeouts")
	}
	set := func(t *Timeout, v any, source string) {
		s, ok, err := job.TimeoutSeconds(v)
		switch {
		case err != nil:
			// The job checker reports the job's; the device's are
			// only seen here. The value is not used: never a wrap.
			b.Errorf("%s: %v", source, err)
		case ok:
			*t = Timeout{s, source}
		}
	}
	set(&b.Timeout, jobT.Value("action"), "job timeouts.action")
	set(&b.Timeout, devT.Map("actions").Value(b.Name), "device timeouts.actions."+b.Name)
	set(&b.Timeout, b.Params.Value("timeout"), "block timeout")
	if par := b.parent; par != nil && par.MaxRetries > 1 {
		b.Timeout = Timeout{par.Timeout.Seconds / par.MaxRetries,
			fmt.Sprintf("shared by %d attempts of %s %s (%ds)", par.MaxRetries, par.Level, par.Name, par.Timeout.Seconds)}
	}
	set(&b.Timeout, jobT.Map("actions").Value(b.Name), "job timeouts.actions."+b.Name)
	set(&b.Timeout, b.Params.Map("timeouts").Value(b.Name), "block timeouts."+b.Name)

	set(&b.ConnectionTimeout, jobT.Value("connection"), "job timeouts.connection")
	set(&b.ConnectionTimeout, devT.Map("connections").Value(b.Name), "device timeouts.connections."+b.Name)
	set(&b.ConnectionTimeout, jobT.Map("connections").Value(b.Name), "job timeouts.connections."+b.Name)
	set(&b.ConnectionTimeout, b.Params.Value("connection_timeout"), "block connection_timeout")
}

// Validate validates every action of the pipeline.
func (p *Pipeline) Validate() {
	for _, a := range p.Actions {
		a.Validate()
	}
}

// Errors returns every validation problem in the pipeline, depth first,
// each prefixed with the level and name of the action that found it.
func (p *Pipeline) Errors() []string {
	var out []string
	p.Walk(func(a Action) {
		b := a.ActionBase()
		for _, e := range b.errs {
			out = append(out, fmt.Sprintf("%s %s: %s", b.Level, b.Name, e))
		}
	})
	return out
}

// Walk calls fn for every action in the tree, depth first, in order.
func (p *Pipeline) Walk(fn func(Action)) {
	if p == nil {
		return
	}
	for _, a := range p.Actions {
		fn(a)
		a.ActionBase().Pipeline.Walk(fn)
	}
}

// Cleanup cleans up every action, in order, whatever fails; it returns
// the first error.
func (p *Pipeline) Cleanup(ctx context.Context) error {
	var first error
	for _, a := range p.Actions {
		if err := a.Cleanup(ctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Truthy is Python truthiness for LAVA values.
func Truthy(v any) bool { return value.Truthy(v) }

// ToInt converts a number, numeric string or bool as Python int() would.
func ToInt(v any) (int, bool) {
	switch t := v.(type) {
	case int:
		return t, true
	case float64:
		return int(t), true
	case string:
		n, err := strconv.Atoi(t)
		return n, err == nil
	case bool:
		if t {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}
