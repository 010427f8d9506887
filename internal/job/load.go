package job

import (
	"errors"
	"fmt"
	"os"

	"github.com/basalt-lava/basalt/internal/value"
)

// Options control how a job is checked. The zero value checks strictly,
// as LAVA's server does when a job is submitted.
type Options struct {
	// Lax accepts unknown keys, as LAVA's dispatcher does (strict=False).
	Lax bool
	// ExtraContext names context variables allowed besides LAVA's
	// CONTEXT_VARIABLES (LAVA's server setting EXTRA_CONTEXT_VARIABLES).
	ExtraContext []string
	// DuplicatesAreErrors turns duplicate-key warnings into errors.
	DuplicatesAreErrors bool
	// SubJob checks a job with a MultiNode target_group as the sub-job
	// LAVA's server hands its dispatcher (one role per action, the role's
	// device_type at the top, the group in the protocol block), which is
	// what `basalt run` receives. Without it such a job gets LAVA's
	// submission verdict: invalid.
	SubJob bool
}

// Job is a loaded job definition.
type Job struct {
	// File is the name used in diagnostics.
	File string
	// Doc is the parsed YAML with positions.
	Doc *value.Document
	// Data is the job as plain values (duplicate keys resolved to the last
	// value, as LAVA does); what the pipeline builder reads.
	Data *value.Map
}

// Parse parses and checks a job definition. file names the source in
// diagnostics. The job is nil only when the YAML cannot be read as a map;
// otherwise it is returned even when diagnostics hold errors, so callers
// decide with HasErrors. Diagnostics are in source order.
func Parse(file string, data []byte, opts Options) (*Job, []Diagnostic) {
	doc, err := value.ParseYAML(data)
	if err != nil {
		d := Diagnostic{File: file, Pos: value.Pos{Line: 1, Col: 1}, Msg: "invalid YAML: " + err.Error(), Severity: Error}
		var se *value.SyntaxError
		if errors.As(err, &se) {
			d.Pos, d.Msg = se.Pos, "invalid YAML: "+se.Msg
		}
		return nil, []Diagnostic{d}
	}
	c := &checker{file: file, opts: opts}
	c.duplicates(doc)
	var job *Job
	switch {
	case doc.Root == nil:
		c.report(Error, value.Pos{Line: 1, Col: 1}, "", "the job definition is empty")
	case doc.Root.Kind != value.MapNode:
		c.errorf(doc.Root, "", "a job definition must be a map, got %s", describe(doc.Root))
	default:
		c.subJob = opts.SubJob && doc.Root.Get("protocols").Get("lava-multinode").Get("target_group") != nil
		c.checkJob(doc.Root)
		m, _ := doc.Root.Value().(*value.Map)
		job = &Job{File: file, Doc: doc, Data: m}
	}
	sortDiagnostics(c.diags)
	return job, c.diags
}

// Load reads and checks the job definition at path. The error is only for
// failing to read the file; problems in the job are diagnostics.
func Load(path string, opts Options) (*Job, []Diagnostic, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading job definition: %w", err)
	}
	j, diags := Parse(path, data, opts)
	return j, diags, nil
}

// duplicates reports every duplicated key. PyYAML silently keeps the last
// value, and LAVA's own sample jobs contain such mistakes, so by default
// they are warnings that point at both places.
func (c *checker) duplicates(doc *value.Document) {
	sev := Warning
	if c.opts.DuplicatesAreErrors {
		sev = Error
	}
	if len(doc.Duplicates) == 0 {
		return
	}
	paths := map[value.Pos]string{}
	var walk func(n *value.Node, path string)
	walk = func(n *value.Node, path string) {
		if n == nil {
			return
		}
		for i, k := range n.Keys {
			p := keyPath(path, k.KeyString())
			paths[k.Pos] = p
			walk(n.Values[i], p)
		}
		for i, it := range n.Items {
			walk(it, indexPath(path, i))
		}
	}
	walk(doc.Root, "")
	for _, d := range doc.Duplicates {
		c.report(sev, d.Then, paths[d.Then], "duplicate key %q (first at %s); LAVA keeps the last value", d.Key, d.First)
	}
}
