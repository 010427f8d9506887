package jinja

import (
	"errors"
	"fmt"
	"sync"

	"github.com/basalt-lava/basalt/internal/value"
)

// Error is any failure to load, parse or render a template. File and
// Line say where: the template file and the 1-based line of the tag or
// expression at fault.
type Error struct {
	File string
	Line int
	Msg  string
	// Err is the underlying error, if any (a *NotFoundError for a
	// missing template).
	Err error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

func newError(file string, line int, format string, args ...any) *Error {
	return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// NotFoundError says that no loader folder holds the named template.
type NotFoundError struct{ Name string }

func (e *NotFoundError) Error() string { return fmt.Sprintf("template not found: %s", e.Name) }

// Limits bound the work one Render call may do, so that a runaway
// template (one that includes or extends itself, or loops over huge
// ranges) ends with an error instead of exhausting the machine.
type Limits struct {
	// MaxDepth bounds nested template renders: extends chains,
	// includes and block calls. Python's recursion limit plays this role
	// in Jinja2.
	MaxDepth int
	// MaxOutput bounds the bytes of any one rendered string.
	MaxOutput int
	// MaxSteps bounds loop iterations and statements executed.
	MaxSteps int64
}

// DefaultLimits are generous for device templates (the largest renders
// a few kilobytes in a few thousand steps).
var DefaultLimits = Limits{MaxDepth: 64, MaxOutput: 64 << 20, MaxSteps: 10_000_000}

// Environment renders templates from one loader with LAVA's settings:
// sandboxed, trim_blocks on, lstrip_blocks off, no autoescaping,
// undefined values printing as empty strings, and LAVA's filters
// shlex_quote, yaml_quote and qemu_guest_fs_interface registered.
// It is safe for concurrent use.
type Environment struct {
	loader Loader
	Limits Limits

	mu    sync.Mutex
	cache map[string]*template
}

// NewEnvironment returns an environment that loads templates with loader.
func NewEnvironment(loader Loader) *Environment {
	return &Environment{loader: loader, Limits: DefaultLimits, cache: map[string]*template{}}
}

// Render renders the named template with vars as the render context
// (vars may be nil). The caller's values are not modified, even by
// templates that call mutating methods such as list.append.
func (e *Environment) Render(name string, vars *value.Map) (out string, err error) {
	out, _, err = e.render(name, vars, false)
	return out, err
}

// Span is a range of bytes [Start, End) of rendered output that one
// print wrote. Names are the variables its expression reads; From are
// the variables those were computed from by {% set %}, {% for %} or
// {% with %} in the templates (names are not scoped: a name assigned in
// two scopes keeps both origins). Both sorted; a filter block's are
// what its filters and the prints of its body read.
type Span struct {
	Start, End int
	Names      []string
	From       []string
}

// RenderPrints is Render that also returns where each printed value
// went in the output, in order: one Span per {{ expression }} and per
// {% filter %} block that printed something, with everything the
// expression computed (a variable, a filter's result, a block rendered
// through self.name() or super()). Text written literally by the
// templates is outside every span. A caller that knows which values
// came from an untrusted source uses the spans to find where they may
// have landed (internal/device does, for the job's context).
func (e *Environment) RenderPrints(name string, vars *value.Map) (string, []Span, error) {
	return e.render(name, vars, true)
}

func (e *Environment) render(name string, vars *value.Map, track bool) (out string, prints []Span, err error) {
	defer func() {
		// The engine returns errors rather than panicking; this is the
		// last line of defence for an engine bug on hostile input.
		if r := recover(); r != nil {
			prints = nil
			if _, ok := r.(tooLarge); ok {
				out, err = "", &Error{File: name, Msg: fmt.Sprintf("a value is too large to print (more than %d bytes)", maxPrinted)}
				return
			}
			out, err = "", &Error{File: name, Msg: fmt.Sprintf("internal error: %v", r)}
		}
	}()
	t, err := e.load(name)
	if err != nil {
		var te *Error
		if errors.As(err, &te) {
			return "", nil, err
		}
		return "", nil, &Error{File: name, Msg: err.Error(), Err: err}
	}
	r := &renderer{env: e, limits: e.Limits}
	if r.limits == (Limits{}) {
		r.limits = DefaultLimits
	}
	ctx := newContext(vars, true)
	ctx.addBlocks(t, false)
	var w output
	w.max = r.limits.MaxOutput
	if track {
		w.prints = &prints
		r.derived = map[string][]string{}
	}
	if err := r.renderRoot(t, ctx, &w); err != nil {
		return "", nil, err
	}
	return w.String(), prints, nil
}

// Repr is Python's repr() of v as the engine prints it: how a string
// inside a printed list or mapping appears in the output.
func Repr(v any) string { return pyRepr(v) }

// load returns the parsed template, from the cache when possible.
func (e *Environment) load(name string) (*template, error) {
	e.mu.Lock()
	t, ok := e.cache[name]
	e.mu.Unlock()
	if ok {
		return t, nil
	}
	if e.loader == nil {
		return nil, &NotFoundError{Name: name}
	}
	src, file, err := e.loader.Load(name)
	if err != nil {
		return nil, err
	}
	if file == "" {
		file = name
	}
	t, err = parse(name, file, src)
	if err != nil {
		return nil, err
	}
	if err := checkNames(t); err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.cache[name] = t
	e.mu.Unlock()
	return t, nil
}
