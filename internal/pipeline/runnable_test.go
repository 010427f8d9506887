package pipeline

import "testing"

// notWritten is an action that says Basalt cannot run it.
type notWritten struct{ step }

func (*notWritten) CannotRun() string { return NotWritten }

func TestUnrunnableWalksTheTree(t *testing.T) {
	inner := &notWritten{*newStep("inner")}
	outer := &notWritten{*newStep("outer")}
	j := newJob(nil, newStep("runs"), &retrying{Base: NewBase("R", "retry", "", ""), children: []Action{newStep("child"), inner}}, outer)
	got := j.Pipeline.Unrunnable()
	if len(got) != 2 || got[0] != Action(inner) || got[1] != Action(outer) {
		var names []string
		for _, a := range got {
			names = append(names, a.ActionBase().Level+" "+a.ActionBase().Name)
		}
		t.Fatalf("Unrunnable() = %v, want [2.2 inner, 3 outer]", names)
	}
	if r := CannotRun(newStep("runs")); r != "" {
		t.Errorf("CannotRun of an action without Runnability = %q, want empty", r)
	}
	if r := CannotRun(inner); r != NotWritten {
		t.Errorf("CannotRun = %q, want %q", r, NotWritten)
	}
}
