package jinja

import "sort"

// Scope analysis, after Jinja2's compiler (idtracking): every scope
// (template root, block, for body, filter block, set block, with) learns
// which names it assigns. A name that a scope assigns before ever reading
// it, and that no enclosing scope knows, starts out "missing" in that
// scope: Jinja2 renders it as undefined there, even when the render
// context has a value, until the assignment runs. Everything else is
// found by walking the scopes outwards and then the context, which gives
// the same values as Jinja2's compiled aliases.

type loadAction int

const (
	loadResolve loadAction = iota
	loadUndefined
	loadAlias
	loadParam
)

type symbols struct {
	parent *symbols
	refs   map[string]loadAction
	stores map[string]bool
}

func newSymbols(parent *symbols) *symbols {
	return &symbols{parent: parent, refs: map[string]loadAction{}, stores: map[string]bool{}}
}

func (s *symbols) find(name string) bool {
	for c := s; c != nil; c = c.parent {
		if _, ok := c.refs[name]; ok {
			return true
		}
	}
	return false
}

func (s *symbols) load(name string) {
	if !s.find(name) {
		s.refs[name] = loadResolve
	}
}

func (s *symbols) store(name string) {
	s.stores[name] = true
	if _, ok := s.refs[name]; ok {
		return
	}
	if s.parent != nil && s.parent.find(name) {
		s.refs[name] = loadAlias
		return
	}
	s.refs[name] = loadUndefined
}

func (s *symbols) param(name string) {
	s.stores[name] = true
	s.refs[name] = loadParam
}

func (s *symbols) copy() *symbols {
	c := newSymbols(s.parent)
	for k, v := range s.refs {
		c.refs[k] = v
	}
	for k := range s.stores {
		c.stores[k] = true
	}
	return c
}

// branchUpdate merges the scopes of an if statement's branches back.
// A name assigned in only some branches must fall back to its outer
// value when another branch runs, so it becomes a resolve or an alias.
func (s *symbols) branchUpdate(branches []*symbols) {
	counts := map[string]int{}
	var order []string
	for _, b := range branches {
		for name := range b.stores {
			if s.stores[name] {
				continue
			}
			if counts[name] == 0 {
				order = append(order, name)
			}
			counts[name]++
		}
	}
	for _, b := range branches {
		for k, v := range b.refs {
			s.refs[k] = v
		}
		for k := range b.stores {
			s.stores[k] = true
		}
	}
	for _, name := range order {
		if counts[name] == len(branches) {
			continue
		}
		if s.parent != nil && s.parent.find(name) {
			s.refs[name] = loadAlias
			continue
		}
		s.refs[name] = loadResolve
	}
}

func (s *symbols) info() *frameInfo {
	fi := &frameInfo{}
	for name, a := range s.refs {
		if a == loadUndefined {
			fi.missing = append(fi.missing, name)
		}
	}
	sort.Strings(fi.missing)
	return fi
}

// frameVisitor records the loads and stores of one scope's own
// statements; it does not enter the bodies of nested scopes.
type frameVisitor struct{ sym *symbols }

func (v *frameVisitor) stmts(body []node) {
	for _, n := range body {
		v.stmt(n)
	}
}

func (v *frameVisitor) stmt(n node) {
	switch t := n.(type) {
	case *printNode:
		v.expr(t.expr)
	case *setNode:
		v.expr(t.value)
		v.target(t.target)
	case *setBlockNode:
		v.target(t.target)
	case *ifNode:
		v.ifStmt(t)
	case *forNode:
		v.expr(t.iter)
	case *extendsNode:
		v.expr(t.template)
	case *includeNode:
		v.expr(t.template)
	case *filterBlockNode:
		v.expr(t.filter)
	case *withNode:
		for _, e := range t.values {
			v.expr(e)
		}
	}
}

func (v *frameVisitor) ifStmt(t *ifNode) {
	v.expr(t.test)
	orig := v.sym
	visit := func(fn func()) *symbols {
		v.sym = orig.copy()
		fn()
		rv := v.sym
		v.sym = orig
		return rv
	}
	body := visit(func() { v.stmts(t.body) })
	elifs := visit(func() {
		for _, e := range t.elifs {
			v.ifStmt(e)
		}
	})
	els := visit(func() { v.stmts(t.else_) })
	v.sym.branchUpdate([]*symbols{body, elifs, els})
}

func (v *frameVisitor) target(e expr) {
	switch t := e.(type) {
	case *nameExpr:
		v.sym.store(t.name)
	case *tupleExpr:
		for _, it := range t.items {
			v.target(it)
		}
	case *attrExpr: // namespace attribute: reads the namespace
		v.expr(t.x)
	}
}

func (v *frameVisitor) param(e expr) {
	switch t := e.(type) {
	case *nameExpr:
		v.sym.param(t.name)
	case *tupleExpr:
		for _, it := range t.items {
			v.param(it)
		}
	}
}

func (v *frameVisitor) exprs(es []expr) {
	for _, e := range es {
		v.expr(e)
	}
}

func (v *frameVisitor) args(a *callArgs) {
	v.exprs(a.args)
	v.exprs(a.kwVals)
	v.expr(a.dynArgs)
	v.expr(a.dynKwargs)
}

func (v *frameVisitor) expr(e expr) {
	switch t := e.(type) {
	case nil:
	case *nameExpr:
		v.sym.load(t.name)
	case *tupleExpr:
		v.exprs(t.items)
	case *listExpr:
		v.exprs(t.items)
	case *dictExpr:
		v.exprs(t.keys)
		v.exprs(t.vals)
	case *binExpr:
		v.expr(t.left)
		v.expr(t.right)
	case *unaryExpr:
		v.expr(t.x)
	case *compareExpr:
		v.expr(t.first)
		v.exprs(t.rest)
	case *condExpr:
		v.expr(t.test)
		v.expr(t.yes)
		v.expr(t.no)
	case *attrExpr:
		v.expr(t.x)
	case *itemExpr:
		v.expr(t.x)
		v.expr(t.key)
	case *sliceExpr:
		v.expr(t.start)
		v.expr(t.stop)
		v.expr(t.step)
	case *callExpr:
		v.expr(t.fn)
		v.args(&t.callArgs)
	case *filterExpr:
		if t.x != nil {
			v.expr(t.x)
		}
		v.args(&t.callArgs)
	case *testExpr:
		v.expr(t.x)
		v.args(&t.callArgs)
	}
}

func analyzeTemplate(t *template) error {
	root := newSymbols(nil)
	(&frameVisitor{root}).stmts(t.body)
	t.frame = root.info()
	analyzeInner(root, t.body)
	return nil
}

// analyzeInner finds the scopes nested in body (looking through if
// branches, which share their scope) and analyses each with sym as the
// enclosing scope.
func analyzeInner(sym *symbols, body []node) {
	for _, n := range body {
		switch t := n.(type) {
		case *ifNode:
			analyzeIf(sym, t)
		case *forNode:
			loop := newSymbols(sym)
			fv := &frameVisitor{loop}
			fv.param(t.target)
			loop.param("loop")
			fv.stmts(t.body)
			t.frame = loop.info()
			analyzeInner(loop, t.body)
			if t.test != nil {
				test := newSymbols(sym)
				tv := &frameVisitor{test}
				tv.param(t.target)
				tv.expr(t.test)
				t.testFrame = test.info()
			}
			els := newSymbols(sym)
			(&frameVisitor{els}).stmts(t.else_)
			t.elseFrame = els.info()
			analyzeInner(els, t.else_)
		case *blockNode:
			b := newSymbols(nil)
			(&frameVisitor{b}).stmts(t.body)
			t.frame = b.info()
			analyzeInner(b, t.body)
		case *filterBlockNode:
			f := newSymbols(sym)
			fv := &frameVisitor{f}
			fv.stmts(t.body)
			fv.expr(t.filter)
			t.frame = f.info()
			analyzeInner(f, t.body)
		case *setBlockNode:
			s := newSymbols(sym)
			(&frameVisitor{s}).stmts(t.body)
			t.frame = s.info()
			analyzeInner(s, t.body)
		case *withNode:
			w := newSymbols(sym)
			wv := &frameVisitor{w}
			for _, tg := range t.targets {
				wv.target(tg)
			}
			wv.stmts(t.body)
			t.frame = w.info()
			analyzeInner(w, t.body)
		}
	}
}

func analyzeIf(sym *symbols, t *ifNode) {
	analyzeInner(sym, t.body)
	for _, e := range t.elifs {
		analyzeIf(sym, e)
	}
	analyzeInner(sym, t.else_)
}
