package dispatcher

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/pipeline"
)

// unrunnableMsg is the text every "cannot run" diagnostic holds, so that
// tools counting them (the breadth figure) need not parse more.
const unrunnableMsg = "cannot run in Basalt yet"

// addUnrunnableErrors reports, as one error per job block, every action
// of the built pipeline that Basalt cannot run (pipeline.Runnability):
// the block's top action and method, then each such action with its
// level and why. A job that validates is then one Basalt can run to the
// end, and `run` refuses the others before anything starts.
func (p *Prepared) addUnrunnableErrors() {
	for _, top := range p.Pipeline.Pipeline.Actions {
		tb := top.ActionBase()
		// Grouped by reason, then by action name: a fastboot deploy
		// flashes six images with the same two actions.
		var reasons []string
		names := map[string][]string{}
		levels := map[string][]string{}
		note := func(a pipeline.Action) {
			r := pipeline.CannotRun(a)
			if r == "" {
				return
			}
			b := a.ActionBase()
			if _, seen := names[r]; !seen {
				reasons = append(reasons, r)
			}
			key := r + "\x00" + b.Name
			if len(levels[key]) == 0 {
				names[r] = append(names[r], b.Name)
			}
			levels[key] = append(levels[key], b.Level)
		}
		note(top)
		tb.Pipeline.Walk(note)
		if len(reasons) == 0 {
			continue
		}
		var parts []string
		for _, r := range reasons {
			var acts []string
			for _, n := range names[r] {
				lv := levels[r+"\x00"+n]
				s := lv[0] + " " + n
				if len(lv) > 1 {
					s += fmt.Sprintf(" (and %d more)", len(lv)-1)
				}
				acts = append(acts, s)
			}
			parts = append(parts, r+": "+strings.Join(acts, ", "))
		}
		d := job.Diagnostic{File: p.Job.File, Severity: job.Error,
			Msg: fmt.Sprintf("%s %s: %s %s (%s)", tb.Level, tb.Name, blockMethod(tb), unrunnableMsg, strings.Join(parts, "; "))}
		idx, _ := strconv.Atoi(tb.Level)
		if n, section := p.blockNode(idx - 1); n != nil && section != "" {
			d.Pos = n.Pos
			d.Path = fmt.Sprintf("actions[%d].%s", idx-1, section)
		}
		p.Diagnostics = append(p.Diagnostics, d)
	}
}

// blockMethod says which method a top-level action implements, in the
// job's words: "deploy to tftp", "boot method u-boot", "test monitors".
func blockMethod(b *pipeline.Base) string {
	switch b.Section {
	case "deploy":
		return "deploy to " + fmt.Sprint(b.Params.Value("to"))
	case "boot":
		return "boot method " + fmt.Sprint(b.Params.Value("method"))
	case "test":
		for _, k := range []string{"monitors", "interactive", "services", "docker"} {
			if b.Params.Has(k) {
				return "test " + k
			}
		}
		return "test definitions"
	case "command":
		return "command " + fmt.Sprint(b.Params.Value("name"))
	}
	return b.Section
}
