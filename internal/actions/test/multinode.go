package test

import (
	"context"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// multinodeSub is the strategy whose needs a MultiNode test block has:
// monitors, interactive and docker keep theirs, definitions are a shell.
func multinodeSub(params *value.Map) pipeline.TestStrategy {
	switch {
	case params.Has("monitors"):
		return monitor
	case params.Has("interactive"):
		return interactive
	case params.Has("docker"):
		return dockerTest
	}
	return testShell
}

// multinodeTest is LAVA's MultinodeTestShell: a test block with a role in
// a MultiNode group. It outranks the plain test shell; it only sees the
// lava-multinode protocol once Build has merged the job's protocols into
// the block, so when test info is gathered the plain strategies answer.
var multinodeTest = &strategy{
	name:     "MultinodeTestShell",
	priority: 2,
	accepts: func(_, params *value.Map) (bool, string) {
		if !params.Has("role") {
			return false, `"role" not in parameters`
		}
		mn, ok := params.Value("lava-multinode").(*value.Map)
		if !ok {
			return false, "lava-multinode was not in parameters"
		}
		if !mn.Has("target_group") {
			return false, `"target_group" was not in parameters for lava-multinode`
		}
		return true, "accepted"
	},
	action: func(params *value.Map) pipeline.Action {
		if params.Has("monitors") || params.Has("interactive") {
			return multinodeSub(params).Action(params)
		}
		return NewMultinodeTest()
	},
	overlay:   func(p *value.Map) bool { return multinodeSub(p).NeedsOverlay(p) },
	shell:     func(p *value.Map) bool { return multinodeSub(p).HasShell(p) },
	deploy:    func(p *value.Map) bool { return multinodeSub(p).NeedsDeploymentData(p) },
	charDelay: func(p *value.Map) bool { return multinodeSub(p).NeedsCharacterDelay(p) },
}

func init() { pipeline.Register(multinodeTest) }

// MultinodeTest is LAVA's MultinodeTestAction (multinode-test): the test
// shell with the MultiNode calls of the helper scripts (lava-send,
// lava-wait, lava-wait-all, lava-sync) answered through the job's
// lava-multinode protocol. Unlike the plain test shell it does not retry.
type MultinodeTest struct{ TestShell }

// NewMultinodeTest returns multinode-test.
func NewMultinodeTest() *MultinodeTest {
	a := &MultinodeTest{TestShell{leaf{pipeline.NewBase("MultinodeTestAction", "multinode-test",
		"Executing lava-test-runner", "Multinode Lava Test Shell")}, nil}}
	a.TimeoutClass = pipeline.ClassTimeout
	return a
}

// Validate checks the definitions and the MultiNode protocol's role.
func (a *MultinodeTest) Validate() {
	a.leaf.Validate()
	validateDefinitions(&a.Base, a.Params)
	mn := a.Params.Map("lava-multinode")
	if mn.String("role") == "" {
		a.Errorf("multinode test without a role in the lava-multinode protocol")
	}
}

// multinodeSignals is what the test shell needs of the job's
// lava-multinode protocol (internal/protocol.Multinode).
type multinodeSignals interface {
	Signal(ctx context.Context, api string, args []string) (reply string, err error)
}

// Run runs the test shell with the MultiNode calls answered.
func (a *MultinodeTest) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	sig, ok := a.Job.Protocol("lava-multinode").(multinodeSignals)
	if !ok {
		return conn, pipeline.JobError("Invalid job - missing protocol: %s needs the lava-multinode protocol, which this run has not set up", a.Name)
	}
	a.signals = sig
	return a.TestShell.Run(ctx, conn)
}
