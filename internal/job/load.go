package job

import (
	"errors"
	"fmt"

	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/value"
)

// Options control how a job is checked. The zero value gives a LAVA
// server's verdict on a submission, with lava_common's strict-schema
// findings as warnings (see the package doc for the three modes).
type Options struct {
	// Lax checks as Basalt's dispatcher does: lava_common's job schema
	// with unknown keys allowed (its strict=False), and no submission
	// check. What `basalt run` and `validate --lax` use.
	Lax bool
	// Strict makes lava_common's strict-schema findings errors: the
	// submission check plus the strict schema, what `validate --strict`
	// uses. Ignored when Lax is set.
	Strict bool
	// Dispatch says the job then goes to a dispatcher (`validate
	// --device`): in the default mode, what the dispatcher's check (Lax)
	// refuses is an error too, since no pipeline can be built from it;
	// the strict schema's unknown keys stay warnings.
	Dispatch bool
	// ExtraContext names context variables allowed besides LAVA's
	// CONTEXT_VARIABLES (LAVA's server setting EXTRA_CONTEXT_VARIABLES).
	ExtraContext []string
	// DuplicatesAreErrors turns duplicate-key warnings into errors.
	DuplicatesAreErrors bool
	// SubJob checks a job with a MultiNode target_group as the sub-job
	// LAVA's server hands its dispatcher (one role per action, the role's
	// device_type at the top, the group in the protocol block), which is
	// what `basalt run` receives. Such a job is not a submission: the
	// submission check is skipped and, in the default mode, the
	// dispatcher's check decides. Without SubJob such a job gets LAVA's
	// submission verdict: invalid.
	SubJob bool
	// Limits bound the job file Load reads and the nodes of the YAML
	// document; the zero value is the defaults.
	Limits limits.Limits
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
	doc, err := value.ParseYAMLLimit(data, opts.Limits.Nodes())
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
		subJob := opts.SubJob && doc.Root.Get("protocols").Get("lava-multinode").Get("target_group") != nil
		c.diags = append(c.diags, check(file, doc.Root, opts, subJob)...)
		m, _ := doc.Root.Value().(*value.Map)
		job = &Job{File: file, Doc: doc, Data: m}
	}
	sortDiagnostics(c.diags)
	return job, c.diags
}

// check runs the checks of opts' mode on a job's root map and returns
// what they found: in the default mode, the submission check's errors (and
// with Dispatch or for a sub-job the lax schema's), then the strict
// schema's other findings as warnings; with Strict, the strict schema's
// and the submission check's, all errors; with Lax, the lax schema's
// alone. A finding about a place that an error
// already covers (the same key path or one inside it) is left out, so a
// problem is reported once.
func check(file string, root *value.Node, opts Options, subJob bool) []Diagnostic {
	schema := func(lax bool) []Diagnostic {
		o := opts
		o.Lax = lax
		c := &checker{file: file, opts: o, subJob: subJob}
		c.checkJob(root)
		return c.diags
	}
	if opts.Lax {
		return schema(true)
	}
	var errs []Diagnostic
	if !subJob {
		c := &checker{file: file, opts: Options{ExtraContext: opts.ExtraContext}}
		c.checkSubmission(root)
		errs = c.diags
	}
	strict := schema(false)
	if opts.Strict {
		// lava_common's messages are the more precise; the server's
		// own rules add what the schema does not check.
		return append(strict, uncovered(errs, strict)...)
	}
	if opts.Dispatch || subJob {
		lax := schema(true)
		errs = append(errs, uncovered(lax, errs)...)
		strict = uncovered(strict, lax)
	}
	warnings := uncovered(strict, errs)
	for i := range warnings {
		warnings[i].Severity = Warning
		warnings[i].StrictOnly = true
	}
	return append(errs, warnings...)
}

// uncovered returns the diagnostics of ds that are about no place an
// error of errs is about (its key path, or a path inside it). Each
// diagnostic's path is cut before each "." and "[" and the pieces looked
// up, so the cost grows with the diagnostics, not with their product (a
// job can hold many thousands of findings).
func uncovered(ds, errs []Diagnostic) []Diagnostic {
	paths := make(map[string]bool, len(errs))
	for _, e := range errs {
		paths[e.Path] = true
	}
	var out []Diagnostic
	for _, d := range ds {
		covered := paths[d.Path]
		for i := 0; i < len(d.Path) && !covered; i++ {
			if c := d.Path[i]; c == '.' || c == '[' {
				covered = paths[d.Path[:i]]
			}
		}
		if !covered {
			out = append(out, d)
		}
	}
	return out
}

// Load reads and checks the job definition at path. The error is only for
// failing to read the file, which must be a regular file within
// opts.Limits (a *limits.Error, a *limits.NotRegularError); problems in
// the job are diagnostics.
func Load(path string, opts Options) (*Job, []Diagnostic, error) {
	data, err := opts.Limits.Job().Read(path)
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
