package pipeline

// Runnability is implemented by actions that Basalt can build, describe
// and validate but may be unable to run: a method whose running is not
// written yet, or a parameter (a download scheme, say) that the written
// part does not handle. Knowing it when the pipeline is built lets
// `validate` and `run` refuse such a job before anything starts, instead
// of failing halfway on a device.
//
// An action that does not implement Runnability can run: either it
// overrides Run, or Base.Run runs its internal pipeline. A test in
// internal/dispatcher walks every action built from the conformance
// corpus and checks that this holds (no action inherits Base.Run without
// an internal pipeline, a silent success).
type Runnability interface {
	// CannotRun returns why Basalt cannot run this action as built, or
	// "" when it can. It may depend on the parameters, never on the host
	// (a missing host tool is a validation warning, not this).
	CannotRun() string
}

// NotWritten is the reason given by an action whose running Basalt does
// not have yet.
const NotWritten = "running not written yet"

// CannotRun returns why Basalt cannot run a (itself, not its children),
// or "" when it can.
func CannotRun(a Action) string {
	if r, ok := a.(Runnability); ok {
		return r.CannotRun()
	}
	return ""
}

// Unrunnable returns every action of the tree that Basalt cannot run,
// depth first, in order.
func (p *Pipeline) Unrunnable() []Action {
	var out []Action
	p.Walk(func(a Action) {
		if CannotRun(a) != "" {
			out = append(out, a)
		}
	})
	return out
}
