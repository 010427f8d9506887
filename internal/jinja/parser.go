package jinja

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// maxNesting bounds how deeply expressions and statements may nest, so a
// hostile template cannot exhaust the stack while being parsed.
const maxNesting = 200

// template is a parsed template.
type template struct {
	name   string
	file   string
	body   []node
	blocks map[string]*blockNode
	frame  *frameInfo // root scope
	// hasExtends tells whether the root contains an extends tag; output of
	// such a template after the tag is discarded.
	hasExtends bool
}

type parser struct {
	toks   []token
	i      int
	file   string
	depth  int
	blocks map[string]*blockNode
	// stack of open statement tags, for the "expected endif" message.
	open []string
}

func parse(name, file, src string) (*template, error) {
	toks, err := tokenize(src, file)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, file: file, blocks: map[string]*blockNode{}}
	body, err := p.subparse(nil)
	if err != nil {
		return nil, err
	}
	t := &template{name: name, file: file, body: body, blocks: p.blocks}
	for _, n := range body {
		if _, ok := n.(*extendsNode); ok {
			t.hasExtends = true
		}
	}
	if err := analyzeTemplate(t); err != nil {
		return nil, err
	}
	return t, nil
}

func (p *parser) cur() token { return p.toks[p.i] }

func (p *parser) peek() token {
	if p.i+1 < len(p.toks) {
		return p.toks[p.i+1]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if p.i < len(p.toks)-1 {
		p.i++
	}
	return t
}

func (p *parser) failf(line int, format string, args ...any) error {
	return newError(p.file, line, format, args...)
}

func (p *parser) isOp(op string) bool {
	t := p.cur()
	return t.kind == tokOp && t.val == op
}

func (p *parser) isName(name string) bool {
	t := p.cur()
	return t.kind == tokName && t.val == name
}

func (p *parser) skipOp(op string) bool {
	if p.isOp(op) {
		p.next()
		return true
	}
	return false
}

func (p *parser) skipName(name string) bool {
	if p.isName(name) {
		p.next()
		return true
	}
	return false
}

func (p *parser) unexpected(t token, want string) error {
	if t.kind == tokEOF {
		return p.failf(t.line, "unexpected end of template, expected '%s'.", want)
	}
	return p.failf(t.line, "expected token '%s', got %s", want, t.describe())
}

func (p *parser) expectOp(op string) (token, error) {
	if !p.isOp(op) {
		return token{}, p.unexpected(p.cur(), op)
	}
	return p.next(), nil
}

func (p *parser) expectKind(k tokenKind) (token, error) {
	if p.cur().kind != k {
		return token{}, p.unexpected(p.cur(), k.String())
	}
	return p.next(), nil
}

func (p *parser) expectName(name string) (token, error) {
	if !p.isName(name) {
		return token{}, p.unexpected(p.cur(), name)
	}
	return p.next(), nil
}

func (p *parser) enter(line int) error {
	p.depth++
	if p.depth > maxNesting {
		return p.failf(line, "template nested too deeply (more than %d levels)", maxNesting)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// subparse parses statements until a block tag whose name is one of end
// (left as the current token) or the end of input.
func (p *parser) subparse(end []string) ([]node, error) {
	var body []node
	for {
		t := p.cur()
		switch t.kind {
		case tokEOF:
			return body, nil
		case tokData:
			p.next()
			body = append(body, &textNode{pos{t.line}, t.val})
		case tokVarBegin:
			p.next()
			e, err := p.parseTuple(false, true, nil, false)
			if err != nil {
				return nil, err
			}
			if _, err := p.expectKind(tokVarEnd); err != nil {
				return nil, err
			}
			body = append(body, &printNode{pos{t.line}, e})
		case tokBlockBegin:
			p.next()
			if c := p.cur(); c.kind == tokName {
				for _, e := range end {
					if c.val == e {
						return body, nil
					}
				}
			}
			n, err := p.parseStatement()
			if err != nil {
				return nil, err
			}
			body = append(body, n)
			if _, err := p.expectKind(tokBlockEnd); err != nil {
				return nil, err
			}
		default:
			return nil, p.failf(t.line, "unexpected %s", t.describe())
		}
	}
}

// parseStatements parses the body of a statement up to one of end.
func (p *parser) parseStatements(end []string, dropNeedle bool) ([]node, error) {
	p.skipOp(":")
	if _, err := p.expectKind(tokBlockEnd); err != nil {
		return nil, err
	}
	body, err := p.subparse(end)
	if err != nil {
		return nil, err
	}
	if p.cur().kind == tokEOF {
		return nil, p.failEOF(end)
	}
	if dropNeedle {
		p.next()
	}
	return body, nil
}

func (p *parser) failEOF(end []string) error {
	quoted := make([]string, len(end))
	for i, e := range end {
		quoted[i] = "'" + e + "'"
	}
	msg := "Unexpected end of template. Jinja was looking for the following tags: " + strings.Join(quoted, " or ") + "."
	if len(p.open) > 0 {
		msg += fmt.Sprintf(" The innermost block that needs to be closed is '%s'.", p.open[len(p.open)-1])
	}
	return p.failf(p.cur().line, "%s", msg)
}

func (p *parser) parseStatement() (node, error) {
	t := p.cur()
	if t.kind != tokName {
		return nil, p.failf(t.line, "tag name expected")
	}
	if err := p.enter(t.line); err != nil {
		return nil, err
	}
	defer p.leave()
	p.open = append(p.open, t.val)
	defer func() { p.open = p.open[:len(p.open)-1] }()
	switch t.val {
	case "set":
		return p.parseSet()
	case "if":
		return p.parseIf()
	case "for":
		return p.parseFor()
	case "block":
		return p.parseBlock()
	case "extends":
		p.next()
		e, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		return &extendsNode{pos{t.line}, e}, nil
	case "include":
		return p.parseInclude()
	case "filter":
		p.next()
		f, err := p.parseFilter(nil, true)
		if err != nil {
			return nil, err
		}
		body, err := p.parseStatements([]string{"endfilter"}, true)
		if err != nil {
			return nil, err
		}
		return &filterBlockNode{pos: pos{t.line}, filter: f.(*filterExpr), body: body}, nil
	case "with":
		return p.parseWith()
	case "print":
		p.next()
		e, err := p.parseTuple(false, true, nil, false)
		if err != nil {
			return nil, err
		}
		return &printNode{pos{t.line}, e}, nil
	case "macro", "call", "import", "from", "autoescape":
		return nil, p.failf(t.line, "the '%s' tag is not supported by this engine", t.val)
	}
	if len(p.open) > 1 {
		return nil, p.failf(t.line, "Encountered unknown tag '%s'. Jinja was looking for the end of the '%s' block.", t.val, p.open[len(p.open)-2])
	}
	return nil, p.failf(t.line, "Encountered unknown tag '%s'.", t.val)
}

func (p *parser) parseSet() (node, error) {
	line := p.next().line
	target, err := p.parseAssignTarget(true, nil, true)
	if err != nil {
		return nil, err
	}
	if p.skipOp("=") {
		v, err := p.parseTuple(false, true, nil, false)
		if err != nil {
			return nil, err
		}
		return &setNode{pos{line}, target, v}, nil
	}
	var f *filterExpr
	if p.isOp("|") {
		fe, err := p.parseFilter(nil, false)
		if err != nil {
			return nil, err
		}
		f = fe.(*filterExpr)
	}
	body, err := p.parseStatements([]string{"endset"}, true)
	if err != nil {
		return nil, err
	}
	return &setBlockNode{pos: pos{line}, target: target, filter: f, body: body}, nil
}

func (p *parser) parseIf() (node, error) {
	result := &ifNode{pos: pos{p.next().line}}
	n := result
	for {
		test, err := p.parseTuple(false, false, nil, false)
		if err != nil {
			return nil, err
		}
		n.test = test
		n.body, err = p.parseStatements([]string{"elif", "else", "endif"}, false)
		if err != nil {
			return nil, err
		}
		t := p.next()
		if t.val == "elif" {
			n = &ifNode{pos: pos{p.cur().line}}
			result.elifs = append(result.elifs, n)
			continue
		}
		if t.val == "else" {
			result.else_, err = p.parseStatements([]string{"endif"}, true)
			if err != nil {
				return nil, err
			}
		}
		return result, nil
	}
}

func (p *parser) parseFor() (node, error) {
	line := p.next().line
	target, err := p.parseAssignTarget(true, []string{"in"}, false)
	if err != nil {
		return nil, err
	}
	if _, err := p.expectName("in"); err != nil {
		return nil, err
	}
	iter, err := p.parseTuple(false, false, []string{"recursive"}, false)
	if err != nil {
		return nil, err
	}
	f := &forNode{pos: pos{line}, target: target, iter: iter}
	if p.skipName("if") {
		f.test, err = p.parseExpression(true)
		if err != nil {
			return nil, err
		}
	}
	f.recursive = p.skipName("recursive")
	if f.recursive {
		return nil, p.failf(line, "recursive loops are not supported by this engine")
	}
	f.body, err = p.parseStatements([]string{"endfor", "else"}, false)
	if err != nil {
		return nil, err
	}
	if p.next().val == "else" {
		f.else_, err = p.parseStatements([]string{"endfor"}, true)
		if err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (p *parser) parseBlock() (node, error) {
	line := p.next().line
	nt, err := p.expectKind(tokName)
	if err != nil {
		return nil, err
	}
	b := &blockNode{pos: pos{line}, name: nt.val}
	b.scoped = p.skipName("scoped")
	b.required = p.skipName("required")
	if p.isOp("-") {
		return nil, p.failf(p.cur().line, "Block names in Jinja have to be valid Python identifiers and may not contain hyphens, use an underscore instead.")
	}
	if _, dup := p.blocks[b.name]; dup {
		return nil, p.failf(line, "block '%s' defined twice", b.name)
	}
	p.blocks[b.name] = b
	b.body, err = p.parseStatements([]string{"endblock"}, true)
	if err != nil {
		return nil, err
	}
	p.skipName(b.name)
	return b, nil
}

func (p *parser) parseInclude() (node, error) {
	line := p.next().line
	e, err := p.parseExpression(true)
	if err != nil {
		return nil, err
	}
	n := &includeNode{pos: pos{line}, template: e, withContext: true}
	if p.isName("ignore") && p.peek().kind == tokName && p.peek().val == "missing" {
		n.ignoreMissing = true
		p.next()
		p.next()
	}
	if (p.isName("with") || p.isName("without")) && p.peek().kind == tokName && p.peek().val == "context" {
		n.withContext = p.next().val == "with"
		p.next()
	}
	return n, nil
}

func (p *parser) parseWith() (node, error) {
	line := p.next().line
	w := &withNode{pos: pos{line}}
	for p.cur().kind != tokBlockEnd {
		if len(w.targets) > 0 {
			if _, err := p.expectOp(","); err != nil {
				return nil, err
			}
		}
		t, err := p.parseAssignTarget(false, nil, false)
		if err != nil {
			return nil, err
		}
		if _, err := p.expectOp("="); err != nil {
			return nil, err
		}
		v, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		w.targets = append(w.targets, t)
		w.values = append(w.values, v)
	}
	body, err := p.parseStatements([]string{"endwith"}, true)
	if err != nil {
		return nil, err
	}
	w.body = body
	return w, nil
}

var reservedNames = map[string]bool{"true": true, "false": true, "none": true, "True": true, "False": true, "None": true}

func (p *parser) parseAssignTarget(withTuple bool, extraEnd []string, withNamespace bool) (expr, error) {
	if withNamespace && p.cur().kind == tokName && p.peek().kind == tokOp && p.peek().val == "." {
		nt := p.next()
		p.next()
		attr, err := p.expectKind(tokName)
		if err != nil {
			return nil, err
		}
		return &attrExpr{pos{nt.line}, &nameExpr{pos{nt.line}, nt.val}, attr.val}, nil
	}
	var target expr
	var err error
	if withTuple {
		target, err = p.parseTuple(true, true, extraEnd, false)
	} else {
		target, err = p.parsePrimary()
	}
	if err != nil {
		return nil, err
	}
	if !canAssign(target) {
		kind := "expression"
		switch target.(type) {
		case *constExpr:
			kind = "const"
		case *listExpr:
			kind = "list"
		case *dictExpr:
			kind = "dict"
		}
		return nil, p.failf(target.nodeLine(), "can't assign to '%s'", kind)
	}
	return target, nil
}

func canAssign(e expr) bool {
	switch t := e.(type) {
	case *nameExpr:
		return !reservedNames[t.name]
	case *tupleExpr:
		for _, it := range t.items {
			if !canAssign(it) {
				return false
			}
		}
		return true
	}
	return false
}

func (p *parser) isTupleEnd(extraEnd []string) bool {
	t := p.cur()
	if t.kind == tokVarEnd || t.kind == tokBlockEnd || (t.kind == tokOp && t.val == ")") {
		return true
	}
	if t.kind == tokName {
		for _, e := range extraEnd {
			if t.val == e {
				return true
			}
		}
	}
	return false
}

func (p *parser) parseTuple(simplified, withCondexpr bool, extraEnd []string, explicitParens bool) (expr, error) {
	line := p.cur().line
	var items []expr
	isTuple := false
	for {
		if len(items) > 0 {
			if _, err := p.expectOp(","); err != nil {
				return nil, err
			}
		}
		if p.isTupleEnd(extraEnd) {
			break
		}
		var e expr
		var err error
		switch {
		case simplified:
			e, err = p.parsePrimary()
		default:
			e, err = p.parseExpression(withCondexpr)
		}
		if err != nil {
			return nil, err
		}
		items = append(items, e)
		if p.isOp(",") {
			isTuple = true
		} else {
			break
		}
		line = p.cur().line
	}
	if !isTuple {
		if len(items) > 0 {
			return items[0], nil
		}
		if !explicitParens {
			return nil, p.failf(p.cur().line, "Expected an expression, got %s", p.cur().describe())
		}
	}
	return &tupleExpr{pos{line}, items}, nil
}

func (p *parser) parseExpression(withCondexpr bool) (expr, error) {
	if err := p.enter(p.cur().line); err != nil {
		return nil, err
	}
	defer p.leave()
	if withCondexpr {
		return p.parseCondexpr()
	}
	return p.parseOr()
}

func (p *parser) parseCondexpr() (expr, error) {
	line := p.cur().line
	e1, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	for p.skipName("if") {
		e2, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		var e3 expr
		if p.skipName("else") {
			if err := p.enter(line); err != nil {
				return nil, err
			}
			e3, err = p.parseCondexpr()
			p.leave()
			if err != nil {
				return nil, err
			}
		}
		e1 = &condExpr{pos{line}, e2, e1, e3}
		line = p.cur().line
	}
	return e1, nil
}

func (p *parser) parseOr() (expr, error) {
	line := p.cur().line
	left, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.skipName("or") {
		right, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		left = &binExpr{pos{line}, "or", left, right}
		line = p.cur().line
	}
	return left, nil
}

func (p *parser) parseAnd() (expr, error) {
	line := p.cur().line
	left, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for p.skipName("and") {
		right, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		left = &binExpr{pos{line}, "and", left, right}
		line = p.cur().line
	}
	return left, nil
}

func (p *parser) parseNot() (expr, error) {
	if p.isName("not") {
		line := p.next().line
		if err := p.enter(line); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{pos{line}, "not", x}, nil
	}
	return p.parseCompare()
}

var compareOps = map[string]string{"==": "eq", "!=": "ne", "<": "lt", "<=": "lteq", ">": "gt", ">=": "gteq"}

func (p *parser) parseCompare() (expr, error) {
	line := p.cur().line
	first, err := p.parseMath1()
	if err != nil {
		return nil, err
	}
	c := &compareExpr{pos: pos{line}, first: first}
	for {
		t := p.cur()
		var op string
		switch {
		case t.kind == tokOp && compareOps[t.val] != "":
			p.next()
			op = compareOps[t.val]
		case p.isName("in"):
			p.next()
			op = "in"
		case p.isName("not") && p.peek().kind == tokName && p.peek().val == "in":
			p.next()
			p.next()
			op = "notin"
		}
		if op == "" {
			break
		}
		e, err := p.parseMath1()
		if err != nil {
			return nil, err
		}
		c.ops = append(c.ops, op)
		c.rest = append(c.rest, e)
	}
	if len(c.ops) == 0 {
		return first, nil
	}
	return c, nil
}

func (p *parser) parseMath1() (expr, error) {
	line := p.cur().line
	left, err := p.parseConcat()
	if err != nil {
		return nil, err
	}
	for p.isOp("+") || p.isOp("-") {
		op := p.next().val
		right, err := p.parseConcat()
		if err != nil {
			return nil, err
		}
		left = &binExpr{pos{line}, op, left, right}
		line = p.cur().line
	}
	return left, nil
}

func (p *parser) parseConcat() (expr, error) {
	line := p.cur().line
	left, err := p.parseMath2()
	if err != nil {
		return nil, err
	}
	for p.skipOp("~") {
		right, err := p.parseMath2()
		if err != nil {
			return nil, err
		}
		left = &binExpr{pos{line}, "~", left, right}
	}
	return left, nil
}

func (p *parser) parseMath2() (expr, error) {
	line := p.cur().line
	left, err := p.parsePow()
	if err != nil {
		return nil, err
	}
	for p.isOp("*") || p.isOp("/") || p.isOp("//") || p.isOp("%") {
		op := p.next().val
		right, err := p.parsePow()
		if err != nil {
			return nil, err
		}
		left = &binExpr{pos{line}, op, left, right}
		line = p.cur().line
	}
	return left, nil
}

func (p *parser) parsePow() (expr, error) {
	line := p.cur().line
	left, err := p.parseUnary(true)
	if err != nil {
		return nil, err
	}
	for p.skipOp("**") {
		right, err := p.parseUnary(true)
		if err != nil {
			return nil, err
		}
		left = &binExpr{pos{line}, "**", left, right}
		line = p.cur().line
	}
	return left, nil
}

func (p *parser) parseUnary(withFilter bool) (expr, error) {
	t := p.cur()
	var n expr
	var err error
	if err := p.enter(t.line); err != nil {
		return nil, err
	}
	defer p.leave()
	switch {
	case t.kind == tokOp && (t.val == "-" || t.val == "+"):
		p.next()
		x, err := p.parseUnary(false)
		if err != nil {
			return nil, err
		}
		n = &unaryExpr{pos{t.line}, t.val, x}
	default:
		n, err = p.parsePrimary()
		if err != nil {
			return nil, err
		}
	}
	n, err = p.parsePostfix(n)
	if err != nil {
		return nil, err
	}
	if withFilter {
		return p.parseFilterExpr(n)
	}
	return n, nil
}

func (p *parser) parsePrimary() (expr, error) {
	t := p.cur()
	switch t.kind {
	case tokName:
		p.next()
		switch t.val {
		case "true", "True":
			return &constExpr{pos{t.line}, true}, nil
		case "false", "False":
			return &constExpr{pos{t.line}, false}, nil
		case "none", "None":
			return &constExpr{pos{t.line}, nil}, nil
		}
		return &nameExpr{pos{t.line}, t.val}, nil
	case tokString:
		p.next()
		s := t.val
		for p.cur().kind == tokString {
			s += p.next().val
		}
		return &constExpr{pos{t.line}, s}, nil
	case tokInt:
		p.next()
		v, err := strconv.ParseInt(t.val, 10, 64)
		if err != nil {
			// Python integers have no limit; a float keeps the magnitude.
			f, _ := new(big.Float).SetString(t.val)
			fv, _ := f.Float64()
			return &constExpr{pos{t.line}, fv}, nil
		}
		return &constExpr{pos{t.line}, int(v)}, nil
	case tokFloat:
		p.next()
		v, err := strconv.ParseFloat(t.val, 64)
		if err != nil {
			v = math.Inf(1)
		}
		return &constExpr{pos{t.line}, v}, nil
	case tokOp:
		switch t.val {
		case "(":
			p.next()
			if err := p.enter(t.line); err != nil {
				return nil, err
			}
			defer p.leave()
			e, err := p.parseTuple(false, true, nil, true)
			if err != nil {
				return nil, err
			}
			if _, err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return e, nil
		case "[":
			return p.parseList()
		case "{":
			return p.parseDict()
		}
	}
	if t.kind == tokEOF || t.kind == tokVarEnd || t.kind == tokBlockEnd {
		return nil, p.failf(t.line, "unexpected %s", t.describe())
	}
	return nil, p.failf(t.line, "unexpected %s", t.describe())
}

func (p *parser) parseList() (expr, error) {
	t := p.next()
	if err := p.enter(t.line); err != nil {
		return nil, err
	}
	defer p.leave()
	l := &listExpr{pos: pos{t.line}}
	for !p.isOp("]") {
		if len(l.items) > 0 {
			if _, err := p.expectOp(","); err != nil {
				return nil, err
			}
		}
		if p.isOp("]") {
			break
		}
		e, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		l.items = append(l.items, e)
	}
	if _, err := p.expectOp("]"); err != nil {
		return nil, err
	}
	return l, nil
}

func (p *parser) parseDict() (expr, error) {
	t := p.next()
	if err := p.enter(t.line); err != nil {
		return nil, err
	}
	defer p.leave()
	d := &dictExpr{pos: pos{t.line}}
	for !p.isOp("}") {
		if len(d.keys) > 0 {
			if _, err := p.expectOp(","); err != nil {
				return nil, err
			}
		}
		if p.isOp("}") {
			break
		}
		k, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		if _, err := p.expectOp(":"); err != nil {
			return nil, err
		}
		v, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		d.keys = append(d.keys, k)
		d.vals = append(d.vals, v)
	}
	if _, err := p.expectOp("}"); err != nil {
		return nil, err
	}
	return d, nil
}

func (p *parser) parsePostfix(n expr) (expr, error) {
	for {
		var err error
		switch {
		case p.isOp(".") || p.isOp("["):
			n, err = p.parseSubscript(n)
		case p.isOp("("):
			n, err = p.parseCall(n)
		default:
			return n, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (p *parser) parseFilterExpr(n expr) (expr, error) {
	for {
		var err error
		switch {
		case p.isOp("|"):
			n, err = p.parseFilter(n, false)
		case p.isName("is"):
			n, err = p.parseTest(n)
		case p.isOp("("):
			n, err = p.parseCall(n)
		default:
			return n, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (p *parser) parseSubscript(n expr) (expr, error) {
	t := p.next()
	if t.val == "." {
		a := p.next()
		switch a.kind {
		case tokName:
			return &attrExpr{pos{t.line}, n, a.val}, nil
		case tokInt:
			v, _ := strconv.Atoi(a.val)
			return &itemExpr{pos{t.line}, n, &constExpr{pos{a.line}, v}}, nil
		}
		return nil, p.failf(a.line, "expected name or number")
	}
	if err := p.enter(t.line); err != nil {
		return nil, err
	}
	defer p.leave()
	var args []expr
	for !p.isOp("]") {
		if len(args) > 0 {
			if _, err := p.expectOp(","); err != nil {
				return nil, err
			}
		}
		a, err := p.parseSubscribed()
		if err != nil {
			return nil, err
		}
		args = append(args, a)
	}
	if _, err := p.expectOp("]"); err != nil {
		return nil, err
	}
	if len(args) == 1 {
		return &itemExpr{pos{t.line}, n, args[0]}, nil
	}
	return &itemExpr{pos{t.line}, n, &tupleExpr{pos{t.line}, args}}, nil
}

func (p *parser) parseSubscribed() (expr, error) {
	line := p.cur().line
	var parts [3]expr
	if p.isOp(":") {
		p.next()
	} else {
		e, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		if !p.isOp(":") {
			return e, nil
		}
		p.next()
		parts[0] = e
	}
	var err error
	if !p.isOp("]") && !p.isOp(",") && !p.isOp(":") {
		if parts[1], err = p.parseExpression(true); err != nil {
			return nil, err
		}
	}
	if p.skipOp(":") {
		if !p.isOp("]") && !p.isOp(",") {
			if parts[2], err = p.parseExpression(true); err != nil {
				return nil, err
			}
		}
	}
	return &sliceExpr{pos{line}, parts[0], parts[1], parts[2]}, nil
}

func (p *parser) parseCall(n expr) (expr, error) {
	line := p.cur().line
	a, err := p.parseCallArgs()
	if err != nil {
		return nil, err
	}
	return &callExpr{pos{line}, n, a}, nil
}

func (p *parser) parseCallArgs() (callArgs, error) {
	var a callArgs
	t, err := p.expectOp("(")
	if err != nil {
		return a, err
	}
	if err := p.enter(t.line); err != nil {
		return a, err
	}
	defer p.leave()
	bad := func() error { return p.failf(t.line, "invalid syntax for function call expression") }
	needComma := false
	for !p.isOp(")") {
		if needComma {
			if _, err := p.expectOp(","); err != nil {
				return a, err
			}
			if p.isOp(")") {
				break
			}
		}
		switch {
		case p.isOp("*"):
			if a.dynArgs != nil || a.dynKwargs != nil {
				return a, bad()
			}
			p.next()
			if a.dynArgs, err = p.parseExpression(true); err != nil {
				return a, err
			}
		case p.isOp("**"):
			if a.dynKwargs != nil {
				return a, bad()
			}
			p.next()
			if a.dynKwargs, err = p.parseExpression(true); err != nil {
				return a, err
			}
		case p.cur().kind == tokName && p.peek().kind == tokOp && p.peek().val == "=":
			if a.dynKwargs != nil {
				return a, bad()
			}
			key := p.next().val
			p.next()
			v, err := p.parseExpression(true)
			if err != nil {
				return a, err
			}
			a.kwNames = append(a.kwNames, key)
			a.kwVals = append(a.kwVals, v)
		default:
			if a.dynArgs != nil || a.dynKwargs != nil || len(a.kwNames) > 0 {
				return a, bad()
			}
			v, err := p.parseExpression(true)
			if err != nil {
				return a, err
			}
			a.args = append(a.args, v)
		}
		needComma = true
	}
	_, err = p.expectOp(")")
	return a, err
}

func (p *parser) parseFilter(n expr, startInline bool) (expr, error) {
	for p.isOp("|") || startInline {
		if !startInline {
			p.next()
		}
		t, err := p.expectKind(tokName)
		if err != nil {
			return nil, err
		}
		name := t.val
		for p.isOp(".") {
			p.next()
			nt, err := p.expectKind(tokName)
			if err != nil {
				return nil, err
			}
			name += "." + nt.val
		}
		f := &filterExpr{pos: pos{t.line}, x: n, name: name}
		if p.isOp("(") {
			if f.callArgs, err = p.parseCallArgs(); err != nil {
				return nil, err
			}
		}
		n = f
		startInline = false
	}
	return n, nil
}

func (p *parser) parseTest(n expr) (expr, error) {
	t := p.next()
	negated := p.skipName("not")
	nt, err := p.expectKind(tokName)
	if err != nil {
		return nil, err
	}
	name := nt.val
	for p.isOp(".") {
		p.next()
		nt, err := p.expectKind(tokName)
		if err != nil {
			return nil, err
		}
		name += "." + nt.val
	}
	te := &testExpr{pos: pos{t.line}, x: n, name: name}
	c := p.cur()
	switch {
	case p.isOp("("):
		if te.callArgs, err = p.parseCallArgs(); err != nil {
			return nil, err
		}
	case (c.kind == tokName || c.kind == tokString || c.kind == tokInt || c.kind == tokFloat || (c.kind == tokOp && (c.val == "(" || c.val == "[" || c.val == "{"))) &&
		!(c.kind == tokName && (c.val == "else" || c.val == "or" || c.val == "and")):
		if c.kind == tokName && c.val == "is" {
			return nil, p.failf(c.line, "You cannot chain multiple tests with is")
		}
		arg, err := p.parsePrimary()
		if err != nil {
			return nil, err
		}
		if arg, err = p.parsePostfix(arg); err != nil {
			return nil, err
		}
		te.args = []expr{arg}
	}
	if negated {
		return &unaryExpr{pos{t.line}, "not", te}, nil
	}
	return te, nil
}
