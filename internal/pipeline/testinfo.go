package pipeline

import (
	"fmt"

	"github.com/basalt-lava/basalt/internal/value"
)

// Namespace returns the namespace of a block's parameters, "common" when
// the block has none (Build writes the default in, but actions built in
// tests may not have gone through Build).
func Namespace(params *value.Map) string {
	if ns := params.String("namespace"); ns != "" {
		return ns
	}
	return "common"
}

// testInfo returns the tests of the namespace of params.
func (b *Base) testInfo(params *value.Map) []TestInfo {
	if b.Job == nil {
		return nil
	}
	return b.Job.TestInfo[Namespace(params)]
}

// TestNeedsOverlay reports whether a test in the namespace of params needs
// the LAVA overlay, as LAVA's Action.test_needs_overlay: deploy actions
// add the overlay children only then.
func (b *Base) TestNeedsOverlay(params *value.Map) bool {
	for _, ti := range b.testInfo(params) {
		if ti.Strategy.NeedsOverlay(ti.Params) {
			return true
		}
	}
	return false
}

// TestHasShell reports whether a test in the namespace of params runs a
// shell, as LAVA's Action.test_has_shell: boot actions only wait for a
// shell prompt then.
func (b *Base) TestHasShell(params *value.Map) bool {
	for _, ti := range b.testInfo(params) {
		if ti.Strategy.HasShell(ti.Params) {
			return true
		}
	}
	return false
}

// TestNeedsDeployment reports whether a test in the namespace of params
// needs LAVA's deployment data, as Action.test_needs_deployment.
func (b *Base) TestNeedsDeployment(params *value.Map) bool {
	for _, ti := range b.testInfo(params) {
		if ti.Strategy.NeedsDeploymentData(ti.Params) {
			return true
		}
	}
	return false
}

// TestNeedsCharacterDelay reports whether a test in the namespace of
// params needs the device's character delays.
func (b *Base) TestNeedsCharacterDelay(params *value.Map) bool {
	for _, ti := range b.testInfo(params) {
		if ti.Strategy.NeedsCharacterDelay(ti.Params) {
			return true
		}
	}
	return false
}

// Warnf records a problem that does not make the job invalid (a host tool
// that running will need, say) as a job warning, so that validation still
// writes the description.
func (b *Base) Warnf(format string, args ...any) {
	if b.Job == nil {
		return
	}
	b.Job.Warnings = append(b.Job.Warnings, b.Level+" "+b.Name+": "+fmt.Sprintf(format, args...))
}

// NotImplemented is what Run returns for an action whose running is not
// written yet: a Bug, never a fake success. Such an action says so in
// CannotRun (Runnability), so that dispatcher.Prepare refuses the job
// before it starts; reaching this at run time is a bug.
func NotImplemented(b *Base) error {
	return Bug("%s: running is not implemented yet", b.Name)
}
