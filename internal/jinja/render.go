package jinja

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/basalt-lava/basalt/internal/value"
)

// missing marks a name that its scope will assign but has not yet: it
// reads as undefined and hides any outer value (see analyze.go).
type missingMarker struct{}

var missing = &missingMarker{}

// context is Jinja2's Context: the variables shared by every template of
// one inheritance chain. vars holds top-level assignments; parent holds
// the render variables over the globals; blocks lists, per block name,
// the definitions from the most derived template to the base.
type context struct {
	vars   *value.Map
	parent *value.Map
	blocks map[string][]*blockDef
}

type blockDef struct {
	node *blockNode
	tmpl *template
}

func newContext(vars *value.Map, clone bool) *context {
	parent := globals()
	if vars != nil {
		if clone {
			vars = value.Clone(vars).(*value.Map)
		}
		vars.Range(func(k string, v any) bool { parent.Set(k, v); return true })
	}
	return &context{vars: value.NewMap(), parent: parent, blocks: map[string][]*blockDef{}}
}

// addBlocks registers t's blocks after those already known, as extends
// does; the first definition of a name is the one rendered.
func (c *context) addBlocks(t *template, _ bool) {
	for name, b := range t.blocks {
		c.blocks[name] = append(c.blocks[name], &blockDef{b, t})
	}
}

func (c *context) resolve(name string) any {
	if v, ok := c.vars.Get(name); ok {
		return v
	}
	if v, ok := c.parent.Get(name); ok {
		return v
	}
	return &Undefined{name: name}
}

// rootState belongs to one run of a template's top level; parent is set
// by {% extends %}, after which the top level's output is discarded.
type rootState struct {
	parent *template
}

// frame is one scope at run time.
type frame struct {
	parent   *frame
	vars     map[string]any
	toplevel bool
	tmpl     *template
	ctx      *context
	root     *rootState
	// block is set on a block's own scope, for super().
	block    string
	blockIdx int
}

func (f *frame) child(info *frameInfo) *frame {
	c := &frame{parent: f, vars: map[string]any{}, tmpl: f.tmpl, ctx: f.ctx, root: f.root}
	c.markMissing(info)
	return c
}

func (f *frame) markMissing(info *frameInfo) {
	if info == nil {
		return
	}
	for _, n := range info.missing {
		f.vars[n] = missing
	}
}

func (f *frame) lookup(name string) any {
	for c := f; c != nil; c = c.parent {
		if v, ok := c.vars[name]; ok {
			if v == missing {
				return &Undefined{name: name}
			}
			return v
		}
	}
	switch name {
	case "self":
		return &selfRef{ctx: f.ctx}
	case "super":
		top := f
		for top.parent != nil {
			top = top.parent
		}
		if top.block != "" {
			return superRef(top)
		}
	}
	return f.ctx.resolve(name)
}

// store assigns a name in this scope; at a template's top level the
// context sees it too, which is how a child's {% set %} reaches its
// parent template.
func (f *frame) store(name string, v any) {
	f.vars[name] = v
	if f.toplevel {
		f.ctx.vars.Set(name, v)
	}
}

// output collects rendered text, refusing to grow past max bytes.
// prints, when not nil, collects where each printed value went (only
// the root output tracks them: text rendered into a buffer reaches the
// root through another print).
type output struct {
	strings.Builder
	max    int
	prints *[]Span
}

// print writes s, the printed value of an expression that read names,
// computed from the variables in from.
func (o *output) print(s string, names, from []string) error {
	start := o.Len()
	if err := o.write(s); err != nil {
		return err
	}
	if o.prints != nil && len(s) > 0 {
		*o.prints = append(*o.prints, Span{Start: start, End: o.Len(), Names: names, From: from})
	}
	return nil
}

// exprNames returns the variable names e reads, sorted.
func exprNames(e expr) []string {
	if e == nil {
		return nil
	}
	if f, ok := e.(*filterExpr); ok && f == nil {
		return nil
	}
	sym := newSymbols(nil)
	(&frameVisitor{sym: sym}).expr(e)
	return sortedRefs(sym)
}

func sortedRefs(sym *symbols) []string {
	names := make([]string, 0, len(sym.refs))
	for n := range sym.refs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (o *output) write(s string) error {
	if o.max > 0 && o.Len()+len(s) > o.max {
		return fmt.Errorf("rendered output exceeds %d bytes", o.max)
	}
	o.WriteString(s)
	return nil
}

type renderer struct {
	env    *Environment
	limits Limits
	depth  int
	steps  int64
	// derived maps a variable assigned by the templates (set, for,
	// with) to every name its value was computed from, when prints are
	// tracked (nil otherwise). Names are not scoped: a name assigned in
	// two scopes keeps both origins, erring towards more.
	derived map[string][]string
}

// readNames returns, when prints are tracked, the names e reads and
// every name those were computed from (the origins), each sorted.
func (r *renderer) readNames(e expr) (names, from []string) {
	if r.derived == nil {
		return nil, nil
	}
	names = exprNames(e)
	for _, n := range names {
		from = append(from, r.derived[n]...)
	}
	sort.Strings(from)
	return names, slices.Compact(from)
}

// origins is names and from together, for derive.
func origins(names, from []string) []string {
	return append(append([]string(nil), names...), from...)
}

// derive records that the names target assigns were computed from names.
func (r *renderer) derive(target expr, names []string) {
	if r.derived == nil || len(names) == 0 {
		return
	}
	for _, t := range targetNames(target) {
		r.derived[t] = append(r.derived[t], names...)
	}
}

// targetNames returns the variables an assignment target binds (for
// ns.attr, the namespace).
func targetNames(e expr) []string {
	switch t := e.(type) {
	case *nameExpr:
		return []string{t.name}
	case *tupleExpr:
		var out []string
		for _, it := range t.items {
			out = append(out, targetNames(it)...)
		}
		return out
	case *attrExpr:
		return targetNames(t.x)
	}
	return nil
}

func (r *renderer) step() error {
	r.steps++
	if r.limits.MaxSteps > 0 && r.steps > r.limits.MaxSteps {
		return fmt.Errorf("template did too much work (more than %d steps)", r.limits.MaxSteps)
	}
	return nil
}

func (r *renderer) enter(f *frame, line int, what string) error {
	r.depth++
	if r.depth > r.limits.MaxDepth {
		return newError(f.tmpl.file, line, "%s nested too deeply (more than %d levels): does a template include, extend or call itself?", what, r.limits.MaxDepth)
	}
	return nil
}

func (r *renderer) leave() { r.depth-- }

// wrap gives err the position of node n in f's template unless it has
// one already.
func wrap(err error, f *frame, line int) error {
	if err == nil {
		return nil
	}
	var te *Error
	if errors.As(err, &te) {
		return err
	}
	return &Error{File: f.tmpl.file, Line: line, Msg: err.Error(), Err: err}
}

func (r *renderer) renderRoot(t *template, ctx *context, w *output) error {
	root := &rootState{}
	f := &frame{vars: map[string]any{}, toplevel: true, tmpl: t, ctx: ctx, root: root}
	f.markMissing(t.frame)
	if err := r.exec(t.body, f, w); err != nil {
		return err
	}
	if root.parent == nil {
		return nil
	}
	if err := r.enter(f, 1, "template "+root.parent.name); err != nil {
		return err
	}
	defer r.leave()
	return r.renderRoot(root.parent, ctx, w)
}

func (r *renderer) exec(body []node, f *frame, w *output) error {
	for _, n := range body {
		if err := r.step(); err != nil {
			return wrap(err, f, n.nodeLine())
		}
		if err := r.execNode(n, f, w); err != nil {
			return wrap(err, f, n.nodeLine())
		}
	}
	return nil
}

func (r *renderer) emit(f *frame, w *output, s string) error {
	if f.root.parent != nil {
		return nil
	}
	return w.write(s)
}

func (r *renderer) execNode(n node, f *frame, w *output) error {
	switch t := n.(type) {
	case *textNode:
		return r.emit(f, w, t.text)
	case *printNode:
		v, err := r.eval(t.expr, f)
		if err != nil {
			return err
		}
		if f.root.parent != nil {
			return nil
		}
		if w.prints == nil {
			return w.write(pyStr(v))
		}
		names, from := r.readNames(t.expr)
		return w.print(pyStr(v), names, from)
	case *setNode:
		v, err := r.eval(t.value, f)
		if err != nil {
			return err
		}
		r.derive(t.target, origins(r.readNames(t.value)))
		return r.assign(t.target, v, f, f)
	case *setBlockNode:
		inner := f.child(t.frame)
		var buf output
		buf.max = r.limits.MaxOutput
		var inPrints []Span
		if r.derived != nil {
			buf.prints = &inPrints
		}
		if err := r.exec(t.body, inner, &buf); err != nil {
			return err
		}
		if r.derived != nil {
			all := origins(r.readNames(t.filter))
			for _, p := range inPrints {
				all = append(all, origins(p.Names, p.From)...)
			}
			r.derive(t.target, all)
		}
		var v any = buf.String()
		if t.filter != nil {
			var err error
			if v, err = r.applyFilterChain(t.filter, v, inner); err != nil {
				return err
			}
		}
		return r.assign(t.target, v, f, f)
	case *ifNode:
		return r.execIf(t, f, w)
	case *forNode:
		return r.execFor(t, f, w)
	case *blockNode:
		if f.root.parent != nil {
			return nil
		}
		return r.renderBlock(t.name, 0, f, w, t.line, t.scoped)
	case *extendsNode:
		if !f.toplevel {
			return fmt.Errorf("cannot use extend from a non top-level scope")
		}
		if f.root.parent != nil {
			return fmt.Errorf("extended multiple times")
		}
		name, err := r.eval(t.template, f)
		if err != nil {
			return err
		}
		pt, err := r.loadTemplate(name, f, t.line)
		if err != nil {
			return err
		}
		f.root.parent = pt
		f.ctx.addBlocks(pt, true)
		return nil
	case *includeNode:
		return r.execInclude(t, f, w)
	case *filterBlockNode:
		inner := f.child(t.frame)
		var buf output
		buf.max = r.limits.MaxOutput
		var inPrints []Span
		if w.prints != nil {
			buf.prints = &inPrints
		}
		if err := r.exec(t.body, inner, &buf); err != nil {
			return err
		}
		v, err := r.applyFilterChain(t.filter, buf.String(), inner)
		if err != nil {
			return err
		}
		if f.root.parent != nil {
			return nil
		}
		// The filtered text is one print that read what the body's
		// prints and the filter's arguments read.
		names, from := r.readNames(t.filter)
		for _, p := range inPrints {
			names = append(names, p.Names...)
			from = append(from, p.From...)
		}
		sort.Strings(names)
		sort.Strings(from)
		return w.print(pyStr(v), slices.Compact(names), slices.Compact(from))
	case *withNode:
		inner := f.child(t.frame)
		for i, tg := range t.targets {
			v, err := r.eval(t.values[i], f)
			if err != nil {
				return err
			}
			r.derive(tg, origins(r.readNames(t.values[i])))
			if err := r.assign(tg, v, inner, f); err != nil {
				return err
			}
		}
		return r.exec(t.body, inner, w)
	}
	return fmt.Errorf("unknown statement %T", n)
}

func (r *renderer) execIf(t *ifNode, f *frame, w *output) error {
	v, err := r.eval(t.test, f)
	if err != nil {
		return err
	}
	if truthy(v) {
		return r.exec(t.body, f, w)
	}
	for _, e := range t.elifs {
		v, err := r.eval(e.test, f)
		if err != nil {
			return wrap(err, f, e.line)
		}
		if truthy(v) {
			return r.exec(e.body, f, w)
		}
	}
	return r.exec(t.else_, f, w)
}

func (r *renderer) execFor(t *forNode, f *frame, w *output) error {
	it, err := r.eval(t.iter, f)
	if err != nil {
		return err
	}
	r.derive(t.target, origins(r.readNames(t.iter)))
	items, err := iterate(it)
	if err != nil {
		return err
	}
	if t.test != nil {
		var kept []any
		for _, item := range items {
			if err := r.step(); err != nil {
				return err
			}
			tf := f.child(t.testFrame)
			if err := r.assign(t.target, item, tf, f); err != nil {
				return err
			}
			ok, err := r.eval(t.test, tf)
			if err != nil {
				return err
			}
			if truthy(ok) {
				kept = append(kept, item)
			}
		}
		items = kept
	} else {
		// The body may change the list it loops over (append); Python's
		// list iterator would see the new items, but Jinja2's loop
		// context has already measured its length. Iterate a copy.
		items = append([]any(nil), items...)
	}
	if len(items) == 0 {
		if len(t.else_) == 0 {
			return nil
		}
		return r.exec(t.else_, f.child(t.elseFrame), w)
	}
	loop := &loopContext{items: items}
	for i, item := range items {
		if err := r.step(); err != nil {
			return err
		}
		loop.index = i
		inner := f.child(t.frame)
		inner.vars["loop"] = loop
		if err := r.assign(t.target, item, inner, f); err != nil {
			return err
		}
		if err := r.exec(t.body, inner, w); err != nil {
			return err
		}
	}
	return nil
}

// renderBlock renders definition idx of the named block into w.
func (r *renderer) renderBlock(name string, idx int, f *frame, w *output, line int, scoped bool) error {
	defs := f.ctx.blocks[name]
	if idx >= len(defs) {
		return fmt.Errorf("block '%s' has no parent block to render", name)
	}
	if err := r.enter(f, line, "block "+name); err != nil {
		return err
	}
	defer r.leave()
	d := defs[idx]
	if d.node.required {
		return fmt.Errorf("required block '%s' not found", name)
	}
	bf := &frame{vars: map[string]any{}, tmpl: d.tmpl, ctx: f.ctx, root: &rootState{}, block: name, blockIdx: idx}
	if scoped {
		bf.parent = f
	}
	bf.markMissing(d.node.frame)
	return r.exec(d.node.body, bf, w)
}

// blockString renders a block to a string, for self.name() and super().
func (r *renderer) blockString(name string, idx int, f *frame) (string, error) {
	var buf output
	buf.max = r.limits.MaxOutput
	if err := r.renderBlock(name, idx, f, &buf, 0, false); err != nil {
		return "", err
	}
	return buf.String(), nil
}

func (r *renderer) loadTemplate(name any, f *frame, line int) (*template, error) {
	s, ok := name.(string)
	if !ok {
		if u, isU := name.(*Undefined); isU {
			return nil, errors.New(u.message())
		}
		return nil, fmt.Errorf("template name must be a string, not %s", pyTypeName(name))
	}
	t, err := r.env.load(s)
	if err != nil {
		var te *Error
		if errors.As(err, &te) {
			return nil, err
		}
		var nf *NotFoundError
		if errors.As(err, &nf) {
			return nil, &Error{File: f.tmpl.file, Line: line, Msg: nf.Error(), Err: err}
		}
		return nil, &Error{File: f.tmpl.file, Line: line, Msg: fmt.Sprintf("loading template %s: %v", s, err), Err: err}
	}
	return t, nil
}

func (r *renderer) execInclude(t *includeNode, f *frame, w *output) error {
	nv, err := r.eval(t.template, f)
	if err != nil {
		return err
	}
	names := []any{nv}
	switch l := nv.(type) {
	case []any:
		names = l
	case Tuple:
		names = l
	}
	var tmpl *template
	var lastErr error
	for _, n := range names {
		tmpl, lastErr = r.loadTemplate(n, f, t.line)
		if lastErr == nil {
			break
		}
		var nf *NotFoundError
		if !errors.As(lastErr, &nf) {
			return lastErr
		}
	}
	if tmpl == nil {
		if t.ignoreMissing {
			return nil
		}
		if lastErr == nil {
			lastErr = fmt.Errorf("no template to include")
		}
		return lastErr
	}
	var ctx *context
	if t.withContext {
		all := value.NewMap()
		f.ctx.parent.Range(func(k string, v any) bool { all.Set(k, v); return true })
		f.ctx.vars.Range(func(k string, v any) bool { all.Set(k, v); return true })
		// Locals of the including scope, innermost last so they win.
		var chain []*frame
		for c := f; c != nil; c = c.parent {
			chain = append(chain, c)
		}
		for i := len(chain) - 1; i >= 0; i-- {
			for k, v := range chain[i].vars {
				if v != missing {
					all.Set(k, v)
				}
			}
		}
		ctx = &context{vars: value.NewMap(), parent: all, blocks: map[string][]*blockDef{}}
	} else {
		ctx = newContext(nil, false)
	}
	ctx.addBlocks(tmpl, false)
	if err := r.enter(f, t.line, "include of "+tmpl.name); err != nil {
		return err
	}
	defer r.leave()
	if f.root.parent != nil {
		var discard output
		discard.max = r.limits.MaxOutput
		return r.renderRoot(tmpl, ctx, &discard)
	}
	return r.renderRoot(tmpl, ctx, w)
}

// assign binds target (a name, a tuple of names, or ns.attr) to v in
// scope f; names in the target's expressions are read from readFrame.
func (r *renderer) assign(target expr, v any, f *frame, readFrame *frame) error {
	switch t := target.(type) {
	case *nameExpr:
		f.store(t.name, v)
		return nil
	case *tupleExpr:
		items, err := iterate(v)
		if err != nil {
			return fmt.Errorf("cannot unpack non-iterable %s object", pyTypeName(v))
		}
		if len(items) > len(t.items) {
			return fmt.Errorf("too many values to unpack (expected %d)", len(t.items))
		}
		if len(items) < len(t.items) {
			return fmt.Errorf("not enough values to unpack (expected %d, got %d)", len(t.items), len(items))
		}
		for i, it := range t.items {
			if err := r.assign(it, items[i], f, readFrame); err != nil {
				return err
			}
		}
		return nil
	case *attrExpr:
		obj, err := r.eval(t.x, readFrame)
		if err != nil {
			return err
		}
		ns, ok := obj.(*namespace)
		if !ok {
			return fmt.Errorf("cannot assign attribute on non-namespace object")
		}
		ns.m.Set(t.name, v)
		return nil
	}
	return fmt.Errorf("cannot assign to %T", target)
}

// selfRef is the template's "self": self.name() renders block name.
type selfRef struct{ ctx *context }

func superRef(top *frame) any {
	name, idx := top.block, top.blockIdx
	if idx+1 >= len(top.ctx.blocks[name]) {
		return &Undefined{hint: fmt.Sprintf("there is no parent block called '%s'.", name)}
	}
	return &callable{name: "super", fn: func(r *renderer, args []any, kw *value.Map) (any, error) {
		return r.blockString(name, idx+1, top)
	}}
}

// loopContext is the "loop" variable inside a for loop.
type loopContext struct {
	items   []any
	index   int
	changed []any
	hasLast bool
}

func (l *loopContext) attr(name string) (any, bool) {
	n := len(l.items)
	switch name {
	case "index":
		return l.index + 1, true
	case "index0":
		return l.index, true
	case "revindex":
		return n - l.index, true
	case "revindex0":
		return n - l.index - 1, true
	case "first":
		return l.index == 0, true
	case "last":
		return l.index == n-1, true
	case "length":
		return n, true
	case "depth":
		return 1, true
	case "depth0":
		return 0, true
	case "previtem":
		if l.index == 0 {
			return &Undefined{hint: "there is no previous item"}, true
		}
		return l.items[l.index-1], true
	case "nextitem":
		if l.index >= n-1 {
			return &Undefined{hint: "there is no next item"}, true
		}
		return l.items[l.index+1], true
	case "cycle":
		return &callable{name: "cycle", fn: func(r *renderer, args []any, kw *value.Map) (any, error) {
			if len(args) == 0 {
				return nil, fmt.Errorf("no items for cycling given")
			}
			return args[l.index%len(args)], nil
		}}, true
	case "changed":
		return &callable{name: "changed", fn: func(r *renderer, args []any, kw *value.Map) (any, error) {
			if l.hasLast && seqEqual(l.changed, args) {
				return false, nil
			}
			l.changed = append([]any(nil), args...)
			l.hasLast = true
			return true, nil
		}}, true
	}
	return nil, false
}
