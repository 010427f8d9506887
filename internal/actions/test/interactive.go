package test

import (
	"fmt"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

var interactive = &strategy{
	name: "TestInteractive",
	accepts: func(_, params *value.Map) (bool, string) {
		scripts, ok := params.Get("interactive")
		if !ok {
			return false, `"interactive" not in parameters`
		}
		list, _ := scripts.([]any)
		for _, s := range list {
			m, _ := s.(*value.Map)
			if missing := missingKeys(m, "name", "prompts", "script"); len(missing) > 0 {
				return false, fmt.Sprintf("missing required parameters %v", missing)
			}
		}
		return true, "accepted"
	},
	action: func(*value.Map) pipeline.Action { return NewInteractiveRetry() },
}

func init() { pipeline.Register(interactive) }

// InteractiveRetry is LAVA's TestInteractiveRetry
// (lava-test-interactive-retry).
type InteractiveRetry struct{ pipeline.Base }

var _ pipeline.Action = (*InteractiveRetry)(nil)

// NewInteractiveRetry returns lava-test-interactive-retry.
func NewInteractiveRetry() *InteractiveRetry {
	a := &InteractiveRetry{pipeline.NewBase("TestInteractiveRetry", "lava-test-interactive-retry",
		"Retry wrapper for lava-test-interactive", "Retry support for Lava Test Interactive")}
	a.Retry = true
	return a
}

// Populate adds lava-test-interactive.
func (a *InteractiveRetry) Populate(params *value.Map) {
	a.NewPipeline(params).Add(NewInteractive(), nil)
}

// Interactive is LAVA's TestInteractiveAction (lava-test-interactive):
// sends each script command and matches prompts, successes and failures.
type Interactive struct{ leaf }

// NewInteractive returns lava-test-interactive.
func NewInteractive() *Interactive {
	a := &Interactive{leaf{pipeline.NewBase("TestInteractiveAction", "lava-test-interactive",
		"Executing lava-test-interactive", "Lava Test Interactive")}}
	// LAVA's timeout_exception: LAVATimeoutError.
	a.TimeoutClass = pipeline.ClassTimeout
	return a
}

// failureExceptions are the error classes a failure may raise.
var failureExceptions = map[string]bool{"InfrastructureError": true, "JobError": true, "TestError": true}

// Validate checks each script: a unique name, prompts, and for each step
// a failure exception LAVA knows.
func (a *Interactive) Validate() {
	a.leaf.Validate()
	seen := map[string]bool{}
	for i, s := range a.Params.List("interactive") {
		m, ok := s.(*value.Map)
		if !ok {
			a.Errorf("interactive[%d] must be a map", i)
			continue
		}
		name := m.String("name")
		if seen[name] {
			a.Errorf("interactive test names must be unique: %q", name)
		}
		seen[name] = true
		if len(m.List("prompts")) == 0 {
			a.Errorf("interactive[%d] (%s): 'prompts' must be a non-empty list", i, name)
		}
		// Prompts and messages are regular expressions (Python's re in
		// LAVA; Go's here, which has no backreferences or lookarounds).
		if _, err := compileAll(stringList(m.List("prompts")), "prompt"); err != nil {
			a.Errorf("interactive[%d] (%s): %v", i, name, err)
		}
		for j, st := range m.List("script") {
			step, _ := st.(*value.Map)
			for _, f := range step.List("failures") {
				fm, _ := f.(*value.Map)
				if e, ok := fm.Value("exception").(string); ok && !failureExceptions[e] {
					a.Errorf("interactive[%d].script[%d]: unknown exception %q", i, j, e)
				}
			}
			for _, key := range []string{"failures", "successes"} {
				if _, _, err := messages(step, key); err != nil {
					a.Errorf("interactive[%d].script[%d]: %v", i, j, err)
				}
			}
		}
	}
}
