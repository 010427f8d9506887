// Package testshell turns what lava-test-runner prints on a device's
// console into LAVA results: the <LAVA_SIGNAL_...> lines of the helper
// scripts (STARTRUN, ENDRUN, TESTCASE, TESTSET, TESTREFERENCE,
// TESTRAISE, TESTEVENT, ...), the runner's EXIT and INSTALL_FAIL lines,
// and the lines a test definition's parse pattern matches.
//
// It owns the result shapes and their validation (fixupdict, the four
// result values, measurements, expected test cases) and the loop that
// follows a console until the runner exits. It does not start the runner
// or talk to the device beyond reading: internal/actions/test does that.
package testshell

import (
	"fmt"
	"regexp"

	"github.com/basalt-lava/basalt/internal/value"
)

// Definition is what the parser needs to know about one test definition
// of the overlay: where it came from, for the ENDRUN result, and how to
// read its output.
type Definition struct {
	// Name is the test run name, "<index>_<name>", as STARTRUN gives it.
	Name string
	// Repository is the definition's repository: a URL, or the inline
	// definition itself (a map), reported as it is.
	Repository any
	Path       string
	// Revision is "unspecified" when the job gave none.
	Revision string
	// CommitID is the commit a git definition was checked out at.
	CommitID string
	// Pattern is the parse pattern, nil when the definition has none.
	Pattern *regexp.Regexp
	// Fixup maps the results the test prints to LAVA's; nil means the
	// default (PASS, FAIL, SKIP, UNKNOWN in capitals).
	Fixup map[string]string
	// Expected lists the test cases the definition must report; empty
	// means no check.
	Expected []string
}

// DefaultFixup is LAVA's fixupdict when a definition has no parse block.
var DefaultFixup = map[string]string{"PASS": "pass", "FAIL": "fail", "SKIP": "skip", "UNKNOWN": "unknown"}

// DefinitionFromData reads the namespace data the overlay records for a
// test definition ("test-definition/<name>"): name, repository, path,
// revision, commit_id, parse {pattern, fixupdict} and expected. The
// parse pattern is a Python regular expression; Go's syntax covers the
// common part (named groups included), and one it cannot compile is an
// error naming the definition, as LAVA fails on a pattern it cannot
// compile.
func DefinitionFromData(name string, m *value.Map) (*Definition, error) {
	d := &Definition{Name: name, Revision: "unspecified"}
	if m == nil {
		return d, nil
	}
	d.Repository = m.Value("repository")
	d.Path, _ = m.Value("path").(string)
	if r := m.Value("revision"); r != nil && r != "" {
		d.Revision = fmt.Sprint(r)
	}
	if c := m.Value("commit_id"); c != nil {
		d.CommitID = fmt.Sprint(c)
	}
	for i, e := range m.List("expected") {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("test definition %s: expected[%d] must be a string, not %s", name, i, value.GoString(e))
		}
		d.Expected = append(d.Expected, s)
	}
	parse := m.Map("parse")
	if parse == nil {
		return d, nil
	}
	// LAVA replaces the default fixupdict by the definition's as soon as
	// the definition has a parse block: without a fixupdict there, PASS
	// is no longer mapped to pass.
	d.Fixup = map[string]string{}
	if fx, ok := parse.Get("fixupdict"); ok && fx != nil && fx != "" {
		fm, ok := fx.(*value.Map)
		if !ok {
			return nil, fmt.Errorf("test definition %s: parse.fixupdict must be a map, not %s", name, value.GoString(fx))
		}
		var err error
		fm.Range(func(k string, v any) bool {
			s, ok := v.(string)
			if !ok {
				err = fmt.Errorf("test definition %s: parse.fixupdict[%s] must be a string, not %s", name, k, value.GoString(v))
				return false
			}
			d.Fixup[k] = s
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	pat, ok := parse.Get("pattern")
	if !ok || pat == nil || pat == "" {
		// An empty pattern matches every line at its start and reports
		// nothing: it is no pattern.
		return d, nil
	}
	s, ok := pat.(string)
	if !ok {
		return nil, fmt.Errorf("test definition %s: unrecognised test parse pattern type: %s", name, value.GoString(pat))
	}
	// LAVA compiles with re.M; each line is matched on its own here, so
	// (?m) only matters to a pattern that spans a line's end.
	re, err := regexp.Compile("(?m)" + s)
	if err != nil {
		return nil, fmt.Errorf("test definition %s: error parsing regular expression %q: %v", name, s, err)
	}
	d.Pattern = re
	return d, nil
}
