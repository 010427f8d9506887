package jinja

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"unicode/utf8"

	"github.com/basalt-lava/basalt/internal/value"
)

// undefinedError is Jinja2's UndefinedError: an undefined value was used
// in a way that needs a real one.
func undefinedError(u *Undefined) error { return errors.New(u.message()) }

func (r *renderer) eval(e expr, f *frame) (any, error) {
	v, err := r.eval1(e, f)
	if err != nil {
		return nil, wrap(err, f, e.nodeLine())
	}
	return v, nil
}

func (r *renderer) evalList(es []expr, f *frame) ([]any, error) {
	out := make([]any, len(es))
	for i, e := range es {
		v, err := r.eval(e, f)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (r *renderer) eval1(e expr, f *frame) (any, error) {
	switch t := e.(type) {
	case *constExpr:
		return t.val, nil
	case *nameExpr:
		return f.lookup(t.name), nil
	case *tupleExpr:
		items, err := r.evalList(t.items, f)
		return Tuple(items), err
	case *listExpr:
		items, err := r.evalList(t.items, f)
		if items == nil && err == nil {
			items = []any{}
		}
		return items, err
	case *dictExpr:
		m := value.NewMap()
		for i, ke := range t.keys {
			k, err := r.eval(ke, f)
			if err != nil {
				return nil, err
			}
			v, err := r.eval(t.vals[i], f)
			if err != nil {
				return nil, err
			}
			ks, err := mapKey(k)
			if err != nil {
				return nil, err
			}
			m.Set(ks, v)
		}
		return m, nil
	case *binExpr:
		a, err := r.eval(t.left, f)
		if err != nil {
			return nil, err
		}
		switch t.op {
		case "and":
			if !truthy(a) {
				return a, nil
			}
			return r.eval(t.right, f)
		case "or":
			if truthy(a) {
				return a, nil
			}
			return r.eval(t.right, f)
		}
		b, err := r.eval(t.right, f)
		if err != nil {
			return nil, err
		}
		return binop(t.op, a, b, r.limits.MaxOutput)
	case *unaryExpr:
		x, err := r.eval(t.x, f)
		if err != nil {
			return nil, err
		}
		return unop(t.op, x)
	case *compareExpr:
		a, err := r.eval(t.first, f)
		if err != nil {
			return nil, err
		}
		for i, op := range t.ops {
			b, err := r.eval(t.rest[i], f)
			if err != nil {
				return nil, err
			}
			ok, err := compare(op, a, b)
			if err != nil {
				return nil, err
			}
			if !ok {
				return false, nil
			}
			a = b
		}
		return true, nil
	case *condExpr:
		c, err := r.eval(t.test, f)
		if err != nil {
			return nil, err
		}
		if truthy(c) {
			return r.eval(t.yes, f)
		}
		if t.no == nil {
			return &Undefined{hint: fmt.Sprintf("the inline if-expression on line %d evaluated to false and no else section was defined.", t.line)}, nil
		}
		return r.eval(t.no, f)
	case *attrExpr:
		x, err := r.eval(t.x, f)
		if err != nil {
			return nil, err
		}
		return getattr(x, t.name)
	case *itemExpr:
		x, err := r.eval(t.x, f)
		if err != nil {
			return nil, err
		}
		if s, ok := t.key.(*sliceExpr); ok {
			return r.slice(x, s, f)
		}
		k, err := r.eval(t.key, f)
		if err != nil {
			return nil, err
		}
		return getitem(x, k)
	case *callExpr:
		fn, err := r.eval(t.fn, f)
		if err != nil {
			return nil, err
		}
		args, kw, err := r.evalArgs(&t.callArgs, f)
		if err != nil {
			return nil, err
		}
		return r.call(fn, args, kw)
	case *filterExpr:
		var x any
		if t.x != nil {
			var err error
			if x, err = r.eval(t.x, f); err != nil {
				return nil, err
			}
		}
		return r.applyFilter(t, x, f)
	case *testExpr:
		x, err := r.eval(t.x, f)
		if err != nil {
			return nil, err
		}
		test, ok := tests[t.name]
		if !ok {
			return nil, fmt.Errorf("no test named '%s' found", t.name)
		}
		args, kw, err := r.evalArgs(&t.callArgs, f)
		if err != nil {
			return nil, err
		}
		return test(x, args, kw)
	case *sliceExpr:
		return nil, fmt.Errorf("slice outside of a subscript")
	}
	return nil, fmt.Errorf("unknown expression %T", e)
}

func mapKey(k any) (string, error) {
	switch t := k.(type) {
	case string:
		return t, nil
	case nil, bool, int, float64:
		// value.Map keys are strings; a literal non-string key keeps
		// its printed form.
		return pyStr(t), nil
	case *Undefined:
		return "", undefinedError(t)
	}
	return "", fmt.Errorf("unhashable type: '%s'", pyTypeName(k))
}

func (r *renderer) evalArgs(a *callArgs, f *frame) ([]any, *value.Map, error) {
	args, err := r.evalList(a.args, f)
	if err != nil {
		return nil, nil, err
	}
	var kw *value.Map
	if len(a.kwNames) > 0 || a.dynKwargs != nil {
		kw = value.NewMap()
	}
	for i, name := range a.kwNames {
		v, err := r.eval(a.kwVals[i], f)
		if err != nil {
			return nil, nil, err
		}
		kw.Set(name, v)
	}
	if a.dynArgs != nil {
		v, err := r.eval(a.dynArgs, f)
		if err != nil {
			return nil, nil, err
		}
		more, err := iterate(v)
		if err != nil {
			return nil, nil, err
		}
		args = append(args, more...)
	}
	if a.dynKwargs != nil {
		v, err := r.eval(a.dynKwargs, f)
		if err != nil {
			return nil, nil, err
		}
		m, ok := v.(*value.Map)
		if !ok {
			return nil, nil, fmt.Errorf("argument after ** must be a mapping, not %s", pyTypeName(v))
		}
		m.Range(func(k string, v any) bool { kw.Set(k, v); return true })
	}
	return args, kw, nil
}

func (r *renderer) call(fn any, args []any, kw *value.Map) (any, error) {
	switch t := fn.(type) {
	case *callable:
		if err := r.step(); err != nil {
			return nil, err
		}
		return t.fn(r, args, kw)
	case *Undefined:
		return nil, undefinedError(t)
	}
	return nil, fmt.Errorf("'%s' object is not callable", pyTypeName(fn))
}

func (r *renderer) applyFilter(t *filterExpr, x any, f *frame) (any, error) {
	fl, ok := filters[t.name]
	if !ok {
		return nil, fmt.Errorf("no filter named '%s' found", t.name)
	}
	args, kw, err := r.evalArgs(&t.callArgs, f)
	if err != nil {
		return nil, err
	}
	if err := r.step(); err != nil {
		return nil, err
	}
	return fl(r, x, args, kw)
}

// applyFilterChain applies a filter block's chain (innermost first) to
// the rendered body.
func (r *renderer) applyFilterChain(t *filterExpr, body any, f *frame) (any, error) {
	var chain []*filterExpr
	for e := expr(t); e != nil; {
		fe, ok := e.(*filterExpr)
		if !ok {
			break
		}
		chain = append(chain, fe)
		e = fe.x
	}
	v := body
	for i := len(chain) - 1; i >= 0; i-- {
		var err error
		v, err = r.applyFilter(chain[i], v, f)
		if err != nil {
			return nil, wrap(err, f, chain[i].line)
		}
	}
	return v, nil
}

func unop(op string, x any) (any, error) {
	switch op {
	case "not":
		return !truthy(x), nil
	}
	if u, ok := x.(*Undefined); ok {
		return nil, undefinedError(u)
	}
	switch t := x.(type) {
	case bool:
		i, _ := intOf(t)
		if op == "-" {
			return -i, nil
		}
		return i, nil
	case int:
		if op == "-" {
			if t == math.MinInt {
				return -float64(t), nil
			}
			return -t, nil
		}
		return t, nil
	case float64:
		if op == "-" {
			return -t, nil
		}
		return t, nil
	}
	return nil, fmt.Errorf("bad operand type for unary %s: '%s'", op, pyTypeName(x))
}

func unsupported(op string, a, b any) error {
	return fmt.Errorf("unsupported operand type(s) for %s: '%s' and '%s'", op, pyTypeName(a), pyTypeName(b))
}

// binop applies a Python arithmetic operator (or Jinja2's "~").
func binop(op string, a, b any, maxLen int) (any, error) {
	if op == "~" {
		s := pyStr(a) + pyStr(b)
		if maxLen > 0 && len(s) > maxLen {
			return nil, fmt.Errorf("string too long")
		}
		return s, nil
	}
	if u, ok := a.(*Undefined); ok {
		return nil, undefinedError(u)
	}
	if u, ok := b.(*Undefined); ok {
		return nil, undefinedError(u)
	}
	ai, aInt := intOf(a)
	bi, bInt := intOf(b)
	af, aNum := numeric(a)
	bf, bNum := numeric(b)
	if aNum && bNum {
		return arith(op, ai, bi, aInt && bInt, af, bf)
	}
	switch op {
	case "+":
		switch x := a.(type) {
		case string:
			if y, ok := b.(string); ok {
				if maxLen > 0 && len(x)+len(y) > maxLen {
					return nil, fmt.Errorf("string too long")
				}
				return x + y, nil
			}
			return nil, fmt.Errorf("can only concatenate str (not \"%s\") to str", pyTypeName(b))
		case []any:
			if y, ok := b.([]any); ok {
				out := make([]any, 0, len(x)+len(y))
				return append(append(out, x...), y...), nil
			}
			return nil, fmt.Errorf("can only concatenate list (not \"%s\") to list", pyTypeName(b))
		case Tuple:
			if y, ok := b.(Tuple); ok {
				out := make(Tuple, 0, len(x)+len(y))
				return append(append(out, x...), y...), nil
			}
			return nil, fmt.Errorf("can only concatenate tuple (not \"%s\") to tuple", pyTypeName(b))
		}
	case "*":
		if aInt && !bNum {
			return repeat(b, ai, maxLen)
		}
		if bInt && !aNum {
			return repeat(a, bi, maxLen)
		}
	case "%":
		if s, ok := a.(string); ok {
			return percentFormat(s, b)
		}
	}
	return nil, unsupported(op, a, b)
}

func repeat(v any, n int, maxLen int) (any, error) {
	if n < 0 {
		n = 0
	}
	size := 0
	switch t := v.(type) {
	case string:
		size = len(t)
	case []any:
		size = len(t)
	case Tuple:
		size = len(t)
	default:
		return nil, fmt.Errorf("can't multiply sequence by non-int of type '%s'", pyTypeName(v))
	}
	if size > 0 && maxLen > 0 && n > maxLen/size {
		return nil, fmt.Errorf("result of repetition too large")
	}
	switch t := v.(type) {
	case string:
		return strings.Repeat(t, n), nil
	case []any:
		out := make([]any, 0, len(t)*n)
		for i := 0; i < n; i++ {
			out = append(out, t...)
		}
		return out, nil
	default:
		tt := v.(Tuple)
		out := make(Tuple, 0, len(tt)*n)
		for i := 0; i < n; i++ {
			out = append(out, tt...)
		}
		return out, nil
	}
}

var errIntOverflow = errors.New("integer result too large for this engine")

func arith(op string, ai, bi int, ints bool, af, bf float64) (any, error) {
	switch op {
	case "+":
		if ints {
			s := ai + bi
			if (s > ai) != (bi > 0) {
				return nil, errIntOverflow
			}
			return s, nil
		}
		return af + bf, nil
	case "-":
		if ints {
			s := ai - bi
			if (s < ai) != (bi > 0) {
				return nil, errIntOverflow
			}
			return s, nil
		}
		return af - bf, nil
	case "*":
		if ints {
			if ai != 0 && bi != 0 {
				p := ai * bi
				if p/bi != ai || (ai == -1 && bi == math.MinInt) || (bi == -1 && ai == math.MinInt) {
					return nil, errIntOverflow
				}
				return p, nil
			}
			return 0, nil
		}
		return af * bf, nil
	case "/":
		if bf == 0 {
			return nil, fmt.Errorf("division by zero")
		}
		return af / bf, nil
	case "//":
		if ints {
			if bi == 0 {
				return nil, fmt.Errorf("integer division or modulo by zero")
			}
			if ai == math.MinInt && bi == -1 {
				return nil, errIntOverflow
			}
			q := ai / bi
			if (ai%bi != 0) && ((ai < 0) != (bi < 0)) {
				q--
			}
			return q, nil
		}
		if bf == 0 {
			return nil, fmt.Errorf("float floor division by zero")
		}
		return math.Floor(af / bf), nil
	case "%":
		if ints {
			if bi == 0 {
				return nil, fmt.Errorf("integer division or modulo by zero")
			}
			if bi == -1 {
				return 0, nil
			}
			m := ai % bi
			if m != 0 && ((m < 0) != (bi < 0)) {
				m += bi
			}
			return m, nil
		}
		if bf == 0 {
			return nil, fmt.Errorf("float modulo")
		}
		m := math.Mod(af, bf)
		if m != 0 && ((m < 0) != (bf < 0)) {
			m += bf
		}
		return m, nil
	case "**":
		if ints && bi >= 0 {
			return intPow(ai, bi)
		}
		if af == 0 && bf < 0 {
			return nil, fmt.Errorf("0.0 cannot be raised to a negative power")
		}
		return math.Pow(af, bf), nil
	}
	return nil, fmt.Errorf("unknown operator %s", op)
}

// intPow is Python's int ** non-negative int.
func intPow(base, exp int) (any, error) {
	switch base {
	case 0:
		if exp == 0 {
			return 1, nil
		}
		return 0, nil
	case 1:
		return 1, nil
	case -1:
		if exp%2 == 0 {
			return 1, nil
		}
		return -1, nil
	}
	if exp > 64 {
		return nil, errIntOverflow
	}
	r := new(big.Int).Exp(big.NewInt(int64(base)), big.NewInt(int64(exp)), nil)
	if !r.IsInt64() {
		return nil, errIntOverflow
	}
	return int(r.Int64()), nil
}

// compare evaluates one comparison operator.
func compare(op string, a, b any) (bool, error) {
	switch op {
	case "eq":
		return pyEqual(a, b), nil
	case "ne":
		return !pyEqual(a, b), nil
	case "in":
		return contains(b, a)
	case "notin":
		ok, err := contains(b, a)
		return !ok, err
	}
	c, err := order(a, b, op)
	if err != nil {
		return false, err
	}
	switch op {
	case "lt":
		return c < 0, nil
	case "lteq":
		return c <= 0, nil
	case "gt":
		return c > 0, nil
	default:
		return c >= 0, nil
	}
}

var opSymbols = map[string]string{"lt": "<", "lteq": "<=", "gt": ">", "gteq": ">="}

// order compares a and b as Python's < does, returning -1, 0 or 1.
// Mixed types are an error, as in Python 3.
func order(a, b any, op string) (int, error) {
	if u, ok := a.(*Undefined); ok {
		return 0, undefinedError(u)
	}
	if u, ok := b.(*Undefined); ok {
		return 0, undefinedError(u)
	}
	if af, ok := numeric(a); ok {
		if bf, ok := numeric(b); ok {
			ai, aInt := intOf(a)
			bi, bInt := intOf(b)
			if aInt && bInt {
				return cmpInt(ai, bi), nil
			}
			switch {
			case af < bf:
				return -1, nil
			case af > bf:
				return 1, nil
			case af == bf:
				return 0, nil
			}
			// NaN: every ordering is false; 2 makes all four false
			// except != handled elsewhere.
			return 2, nil
		}
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), nil
		}
	case []any:
		if y, ok := b.([]any); ok {
			return orderSeq(x, y, op)
		}
	case Tuple:
		if y, ok := b.(Tuple); ok {
			return orderSeq(x, y, op)
		}
	}
	return 0, fmt.Errorf("'%s' not supported between instances of '%s' and '%s'", opSymbols[op], pyTypeName(a), pyTypeName(b))
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func orderSeq(x, y []any, op string) (int, error) {
	for i := 0; i < len(x) && i < len(y); i++ {
		if pyEqual(x[i], y[i]) {
			continue
		}
		return order(x[i], y[i], op)
	}
	return cmpInt(len(x), len(y)), nil
}

// contains is Python's "item in container".
func contains(container, item any) (bool, error) {
	switch c := container.(type) {
	case string:
		s, ok := item.(string)
		if !ok {
			if u, isU := item.(*Undefined); isU {
				return false, undefinedError(u)
			}
			return false, fmt.Errorf("'in <string>' requires string as left operand, not %s", pyTypeName(item))
		}
		return strings.Contains(c, s), nil
	case *value.Map:
		switch k := item.(type) {
		case string:
			return c.Has(k), nil
		case []any, *value.Map:
			return false, fmt.Errorf("unhashable type: '%s'", pyTypeName(item))
		}
		return false, nil
	case *dictView:
		if c.kind == viewKeys {
			return contains(c.m, item)
		}
	case *Undefined:
		return false, nil
	}
	items, err := iterate(container)
	if err != nil {
		return false, fmt.Errorf("argument of type '%s' is not iterable", pyTypeName(container))
	}
	for _, it := range items {
		if pyEqual(it, item) {
			return true, nil
		}
	}
	return false, nil
}

// getattr is the sandbox's attribute lookup: a method or attribute of
// the object first, then an item of the same name, else undefined.
func getattr(obj any, name string) (any, error) {
	if u, ok := obj.(*Undefined); ok {
		return nil, undefinedError(u)
	}
	if strings.HasPrefix(name, "_") {
		// The sandbox hides private and dunder attributes.
		return &Undefined{name: name, obj: obj, hasObj: true, hint: fmt.Sprintf("access to attribute '%s' of '%s' object is unsafe.", name, pyTypeName(obj))}, nil
	}
	if m := method(obj, name); m != nil {
		return m, nil
	}
	switch t := obj.(type) {
	case *value.Map:
		if v, ok := t.Get(name); ok {
			return v, nil
		}
	case *loopContext:
		if v, ok := t.attr(name); ok {
			return v, nil
		}
	case *namespace:
		if v, ok := t.m.Get(name); ok {
			return v, nil
		}
	case *selfRef:
		if len(t.ctx.blocks[name]) > 0 {
			return blockCallable(t.ctx, name), nil
		}
	case float64:
		switch name {
		case "real":
			return t, nil
		case "imag":
			return 0.0, nil
		}
	case int:
		switch name {
		case "real", "numerator":
			return t, nil
		case "imag":
			return 0, nil
		case "denominator":
			return 1, nil
		}
	}
	return &Undefined{name: name, obj: obj, hasObj: true}, nil
}

func blockCallable(ctx *context, name string) *callable {
	return &callable{name: name, fn: func(r *renderer, args []any, kw *value.Map) (any, error) {
		f := &frame{vars: map[string]any{}, ctx: ctx, root: &rootState{}, tmpl: ctx.blocks[name][0].tmpl}
		return r.blockString(name, 0, f)
	}}
}

// getitem is obj[key], falling back to an attribute for string keys and
// to undefined, as Jinja2's Environment.getitem does.
func getitem(obj, key any) (any, error) {
	if u, ok := obj.(*Undefined); ok {
		return nil, undefinedError(u)
	}
	switch t := obj.(type) {
	case *value.Map:
		if k, ok := key.(string); ok {
			if v, ok := t.Get(k); ok {
				return v, nil
			}
		}
	case []any:
		if v, ok := index(t, key); ok {
			return v, nil
		}
	case Tuple:
		if v, ok := index(t, key); ok {
			return v, nil
		}
	case string:
		if i, ok := intOf(key); ok {
			n := utf8.RuneCountInString(t)
			if i < 0 {
				i += n
			}
			if i >= 0 && i < n {
				return string([]rune(t)[i]), nil
			}
		}
	case *selfRef:
		if k, ok := key.(string); ok && len(t.ctx.blocks[k]) > 0 {
			return blockCallable(t.ctx, k), nil
		}
	case *loopContext, *namespace:
		if k, ok := key.(string); ok {
			return getattr(obj, k)
		}
	}
	if k, ok := key.(string); ok {
		if m := method(obj, k); m != nil && !strings.HasPrefix(k, "_") {
			return m, nil
		}
		return &Undefined{name: k, obj: obj, hasObj: true}, nil
	}
	return &Undefined{obj: obj, hasObj: true, hint: fmt.Sprintf("%s has no element %s", pyRepr(typeDesc(obj)), pyRepr(key))}, nil
}

func index(l []any, key any) (any, bool) {
	i, ok := intOf(key)
	if !ok {
		return nil, false
	}
	if i < 0 {
		i += len(l)
	}
	if i < 0 || i >= len(l) {
		return nil, false
	}
	return l[i], true
}

func (r *renderer) slice(x any, s *sliceExpr, f *frame) (any, error) {
	var bounds [3]*int
	for i, e := range []expr{s.start, s.stop, s.step} {
		if e == nil {
			continue
		}
		v, err := r.eval(e, f)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		n, ok := intOf(v)
		if !ok {
			if u, isU := v.(*Undefined); isU {
				return nil, undefinedError(u)
			}
			return nil, fmt.Errorf("slice indices must be integers or None or have an __index__ method")
		}
		bounds[i] = &n
	}
	return sliceValue(x, bounds[0], bounds[1], bounds[2])
}

// sliceValue is Python's x[start:stop:step].
func sliceValue(x any, start, stop, step *int) (any, error) {
	var items []any
	var runes []rune
	n := 0
	switch t := x.(type) {
	case []any:
		items, n = t, len(t)
	case Tuple:
		items, n = t, len(t)
	case string:
		runes = []rune(t)
		n = len(runes)
	case *Undefined:
		return nil, undefinedError(t)
	default:
		return nil, fmt.Errorf("'%s' object is not subscriptable", pyTypeName(x))
	}
	st := 1
	if step != nil {
		st = *step
	}
	if st == 0 {
		return nil, fmt.Errorf("slice step cannot be zero")
	}
	norm := func(p *int, def int, lo, hi int) int {
		if p == nil {
			return def
		}
		v := *p
		if v < 0 {
			v += n
			if v < lo {
				v = lo
			}
		} else if v > hi {
			v = hi
		}
		return v
	}
	var idx []int
	if st > 0 {
		a, b := norm(start, 0, 0, n), norm(stop, n, 0, n)
		for i := a; i < b; i += st {
			idx = append(idx, i)
		}
	} else {
		a, b := norm(start, n-1, -1, n-1), norm(stop, -1, -1, n-1)
		for i := a; i > b; i += st {
			idx = append(idx, i)
		}
	}
	switch x.(type) {
	case string:
		var sb strings.Builder
		for _, i := range idx {
			sb.WriteRune(runes[i])
		}
		return sb.String(), nil
	case Tuple:
		out := make(Tuple, len(idx))
		for k, i := range idx {
			out[k] = items[i]
		}
		return out, nil
	}
	out := make([]any, len(idx))
	for k, i := range idx {
		out[k] = items[i]
	}
	return out, nil
}
