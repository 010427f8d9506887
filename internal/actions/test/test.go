// Package test holds the test strategies (test shell, MultiNode test
// shell, interactive, monitors, services, docker test shell). Each says,
// as LAVA's LavaTest classes do, whether its tests need the overlay, a
// shell, the OS's deployment data and the character delays, which the
// deploy and boot actions of the same namespace ask before adding their
// children. It registers its strategies with internal/pipeline in init.
package test

import (
	"context"
	"sort"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// leaf is an action whose running is not written yet: validate and run
// refuse a job holding one (CannotRun), so its Run is never reached.
type leaf struct{ pipeline.Base }

// CannotRun says that Basalt cannot run this action yet.
func (*leaf) CannotRun() string { return pipeline.NotWritten }

func (l *leaf) Run(_ context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	return conn, pipeline.NotImplemented(&l.Base)
}

// strategy is one test strategy: LAVA's LavaTest subclass. The needs*
// functions take the test block's parameters; nil means false.
type strategy struct {
	name      string
	priority  int
	accepts   func(device, params *value.Map) (bool, string)
	action    func(params *value.Map) pipeline.Action
	overlay   func(params *value.Map) bool
	shell     func(params *value.Map) bool
	deploy    func(params *value.Map) bool
	charDelay func(params *value.Map) bool
}

var _ pipeline.TestStrategy = (*strategy)(nil)

func (s *strategy) Name() string                             { return s.name }
func (s *strategy) Section() string                          { return "test" }
func (s *strategy) Priority() int                            { return s.priority }
func (s *strategy) Action(params *value.Map) pipeline.Action { return s.action(params) }
func (s *strategy) Accepts(device, params *value.Map) (bool, string) {
	return s.accepts(device, params)
}
func (s *strategy) NeedsOverlay(p *value.Map) bool        { return call(s.overlay, p) }
func (s *strategy) HasShell(p *value.Map) bool            { return call(s.shell, p) }
func (s *strategy) NeedsDeploymentData(p *value.Map) bool { return call(s.deploy, p) }
func (s *strategy) NeedsCharacterDelay(p *value.Map) bool { return call(s.charDelay, p) }

func call(f func(*value.Map) bool, p *value.Map) bool { return f != nil && f(p) }

func yes(*value.Map) bool { return true }

// warnMissingTool records a job warning when a host tool is missing.
func warnMissingTool(b *pipeline.Base, tool string) { b.WarnMissingTool(tool) }

// missingKeys returns the keys m lacks, sorted, as LAVA lists them.
func missingKeys(m *value.Map, keys ...string) []string {
	var out []string
	for _, k := range keys {
		if !m.Has(k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
