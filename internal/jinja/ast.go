package jinja

// Statement nodes. Every node records the template line it starts on,
// so a runtime error can name it.

type node interface{ nodeLine() int }

type pos struct{ line int }

func (p pos) nodeLine() int { return p.line }

type textNode struct {
	pos
	text string
}

type printNode struct {
	pos
	expr expr
}

type setNode struct {
	pos
	target expr // nameExpr, tupleExpr of names, or attrExpr on a namespace
	value  expr
}

type setBlockNode struct {
	pos
	target expr
	filter *filterExpr // optional chain applied to the body, innermost node nil
	body   []node
	frame  *frameInfo
}

type ifNode struct {
	pos
	test  expr
	body  []node
	elifs []*ifNode
	else_ []node
}

type forNode struct {
	pos
	target    expr
	iter      expr
	test      expr // optional loop filter ("for x in y if z")
	body      []node
	else_     []node
	recursive bool
	frame     *frameInfo // body scope
	elseFrame *frameInfo
	testFrame *frameInfo
}

type blockNode struct {
	pos
	name     string
	body     []node
	scoped   bool
	required bool
	frame    *frameInfo
}

type extendsNode struct {
	pos
	template expr
}

type includeNode struct {
	pos
	template      expr
	ignoreMissing bool
	withContext   bool
}

type filterBlockNode struct {
	pos
	filter *filterExpr // chain whose innermost node is nil: the body
	body   []node
	frame  *frameInfo
}

type withNode struct {
	pos
	targets []expr
	values  []expr
	body    []node
	frame   *frameInfo
}

// Expression nodes.

type expr interface{ nodeLine() int }

type constExpr struct {
	pos
	val any
}

type nameExpr struct {
	pos
	name string
}

type tupleExpr struct {
	pos
	items []expr
}

type listExpr struct {
	pos
	items []expr
}

type dictExpr struct {
	pos
	keys, vals []expr
}

type binExpr struct {
	pos
	op          string // + - * / // % ** ~ and or
	left, right expr
}

type unaryExpr struct {
	pos
	op string // - + not
	x  expr
}

type compareExpr struct {
	pos
	first expr
	ops   []string // eq ne lt lteq gt gteq in notin
	rest  []expr
}

type condExpr struct {
	pos
	test, yes, no expr // no may be nil
}

type attrExpr struct {
	pos
	x    expr
	name string
}

type itemExpr struct {
	pos
	x   expr
	key expr
}

type sliceExpr struct {
	pos
	start, stop, step expr // each may be nil
}

type callArgs struct {
	args      []expr
	kwNames   []string
	kwVals    []expr
	dynArgs   expr
	dynKwargs expr
}

type callExpr struct {
	pos
	fn expr
	callArgs
}

type filterExpr struct {
	pos
	x    expr // nil inside a filter block or set block: the body
	name string
	callArgs
}

type testExpr struct {
	pos
	x    expr
	name string
	callArgs
}

// frameInfo is what scope analysis learned about one scope: the names
// that start out as "missing" (known to be assigned in the scope but not
// yet), which Jinja2 renders as undefined even when the context has them.
type frameInfo struct {
	missing []string
}
