package test

import (
	"context"

	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// testShell is LAVA's TestShell strategy: test definitions run by
// lava-test-runner in a shell on the device.
var testShell = &strategy{
	name:     "TestShell",
	priority: -1,
	accepts: func(_, params *value.Map) (bool, string) {
		if params.Has("definitions") {
			return true, "accepted"
		}
		return false, `"definitions" not in parameters`
	},
	action:    func(*value.Map) pipeline.Action { return NewTestShellRetry() },
	overlay:   yes,
	shell:     yes,
	deploy:    yes,
	charDelay: yes,
}

func init() { pipeline.Register(testShell) }

// TestShellRetry is LAVA's TestShellRetry (lava-test-retry).
type TestShellRetry struct{ pipeline.Base }

var _ pipeline.Action = (*TestShellRetry)(nil)

// NewTestShellRetry returns lava-test-retry.
func NewTestShellRetry() *TestShellRetry {
	a := &TestShellRetry{pipeline.NewBase("TestShellRetry", "lava-test-retry",
		"Retry wrapper for lava-test-shell", "Retry support for Lava Test Shell")}
	a.Retry = true
	return a
}

// Populate adds lava-test-shell.
func (a *TestShellRetry) Populate(params *value.Map) {
	a.NewPipeline(params).Add(NewTestShell(), nil)
}

// Run runs lava-test-shell on the live shell of the block's connection
// namespace (connection-namespace, else its own) when it has one, as
// LAVA's test shell takes the namespace's connection rather than the
// last one opened: in a job whose namespaces interleave (an LXC
// container holding tools for a device booted after it), a test of the
// container's namespace runs in the container. Without one, the
// connection passed along is used. (A docker test action runs its
// TestShell on its own container's session: it is not under this.)
func (a *TestShellRetry) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	if own := namespaceShell(&a.Base); own != nil {
		conn = own
	}
	return a.Base.Run(ctx, conn)
}

// namespaceShell returns the live shell of the block's connection
// namespace, or nil.
func namespaceShell(b *pipeline.Base) *connection.Session {
	if b.Job == nil {
		return nil
	}
	ns := b.Namespace()
	if cns, ok := b.Params.Value("connection-namespace").(string); ok && cns != "" {
		ns = cns
	}
	s, ok := b.Job.Runtime.Data(ns, pipeline.DataShell).(*connection.Session)
	if !ok || s == nil {
		return nil
	}
	if exited, _ := s.Exited(); exited {
		return nil
	}
	return s
}

// TestShell is LAVA's TestShellAction (lava-test-shell): starts
// lava-test-runner for the block's stage and parses the signals until it
// exits.
type TestShell struct {
	leaf
	// signals answers MultiNode calls; nil outside a MultiNode test.
	signals multinodeSignals
}

// NewTestShell returns lava-test-shell.
func NewTestShell() *TestShell {
	a := &TestShell{leaf: leaf{pipeline.NewBase("TestShellAction", "lava-test-shell",
		"Executing lava-test-runner", "Lava Test Shell")}}
	// Running out of time is LAVA's LAVATimeoutError: a Test error, or
	// the next block with timeout: {skip: true}.
	a.TimeoutClass = pipeline.ClassTimeout
	return a
}

// Validate checks the block's definitions and lava-signal values.
func (a *TestShell) Validate() {
	a.leaf.Validate()
	validateDefinitions(&a.Base, a.Params)
}

// validateDefinitions checks what the test shell itself reads from each
// definition; the overlay's test-definition action checks the rest.
func validateDefinitions(b *pipeline.Base, params *value.Map) {
	defs, ok := params.Value("definitions").([]any)
	if !ok || len(defs) == 0 {
		b.Errorf("'definitions' must be a non-empty list")
		return
	}
	for i, d := range defs {
		def, ok := d.(*value.Map)
		if !ok {
			b.Errorf("definitions[%d] must be a map", i)
			continue
		}
		if v, ok := def.Get("lava-signal"); ok && v != "kmsg" && v != "stdout" {
			b.Errorf("definitions[%d]: lava-signal must be kmsg or stdout, not %s", i, value.GoString(v))
		}
	}
}
