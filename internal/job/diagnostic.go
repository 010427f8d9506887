package job

import (
	"fmt"
	"sort"

	"github.com/basalt-lava/basalt/internal/value"
)

// Severity says whether a diagnostic makes the job invalid.
type Severity int

const (
	// Error makes the job invalid.
	Error Severity = iota
	// Warning is reported but leaves the job valid.
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Diagnostic is one problem found in a job definition.
type Diagnostic struct {
	File string
	Pos  value.Pos
	// Path is the key path of the offending node in LAVA's style:
	// "actions[2].test.definitions[0].name". Empty for the whole document.
	Path     string
	Msg      string
	Severity Severity
	// StrictOnly marks a warning of the default mode: a finding of
	// lava_common's strict job schema that a LAVA server does not enforce
	// on submission (Options.Strict makes it an error).
	StrictOnly bool
}

// String formats the diagnostic as FILE:LINE:COL: PATH: MESSAGE, with
// "warning: " before the message of a warning, so editors can jump to it.
func (d Diagnostic) String() string {
	s := fmt.Sprintf("%s:%d:%d: ", d.File, d.Pos.Line, d.Pos.Col)
	if d.Pos.Line == 0 {
		// A problem of the whole file (a device configuration has no
		// positions once rendered).
		s = d.File + ": "
	}
	if d.Path != "" {
		s += d.Path + ": "
	}
	if d.Severity == Warning {
		s += "warning: "
	}
	return s + d.Msg
}

// StrictOnlyCount counts the default mode's strict-schema warnings.
func StrictOnlyCount(diags []Diagnostic) int {
	n := 0
	for _, d := range diags {
		if d.StrictOnly {
			n++
		}
	}
	return n
}

// HasErrors reports whether any diagnostic is an error.
func HasErrors(diags []Diagnostic) bool {
	for _, d := range diags {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Errors returns only the error diagnostics.
func Errors(diags []Diagnostic) []Diagnostic {
	var out []Diagnostic
	for _, d := range diags {
		if d.Severity == Error {
			out = append(out, d)
		}
	}
	return out
}

// sortDiagnostics puts diagnostics in source order; checks run area by
// area, but a reader fixes a file from top to bottom.
func sortDiagnostics(diags []Diagnostic) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Pos, diags[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}
