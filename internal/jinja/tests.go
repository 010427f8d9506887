package jinja

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/basalt-lava/basalt/internal/value"
)

// testFunc implements one "is" test.
type testFunc func(v any, args []any, kw *value.Map) (any, error)

var tests map[string]testFunc

func test0(name string, fn func(v any) bool) testFunc {
	return func(v any, args []any, kw *value.Map) (any, error) {
		if _, err := bindArgs(name, args, kw, nil, nil); err != nil {
			return nil, err
		}
		return fn(v), nil
	}
}

func test1(name, arg string, fn func(v, other any) (bool, error)) testFunc {
	return func(v any, args []any, kw *value.Map) (any, error) {
		a, err := bindArgs(name, args, kw, []string{arg}, []any{reqMarker})
		if err != nil {
			return nil, err
		}
		return fn(v, a[0])
	}
}

func cmpTest(name, op string) testFunc {
	return test1(name, "other", func(v, other any) (bool, error) { return compare(op, v, other) })
}

func init() {
	isString := func(v any) bool { _, ok := v.(string); return ok }
	tests = map[string]testFunc{
		"defined":   test0("defined", func(v any) bool { _, u := v.(*Undefined); return !u }),
		"undefined": test0("undefined", func(v any) bool { _, u := v.(*Undefined); return u }),
		"none":      test0("none", func(v any) bool { return v == nil }),
		"boolean":   test0("boolean", func(v any) bool { _, ok := v.(bool); return ok }),
		"true":      test0("true", func(v any) bool { return v == true }),
		"false":     test0("false", func(v any) bool { return v == false }),
		"integer":   test0("integer", func(v any) bool { _, ok := v.(int); return ok }),
		"float":     test0("float", func(v any) bool { _, ok := v.(float64); return ok }),
		"number":    test0("number", func(v any) bool { _, ok := numeric(v); return ok }),
		"string":    test0("string", isString),
		"mapping":   test0("mapping", func(v any) bool { _, ok := v.(*value.Map); return ok }),
		"sequence": test0("sequence", func(v any) bool {
			switch v.(type) {
			case string, []any, Tuple, *value.Map:
				return true
			}
			return false
		}),
		"iterable": test0("iterable", isIterable),
		"callable": test0("callable", func(v any) bool { _, ok := v.(*callable); return ok }),
		"lower": test0("lower", func(v any) bool {
			s := pyStr(v)
			return casedIs(s, unicode.IsLower, unicode.IsUpper)
		}),
		"upper": test0("upper", func(v any) bool {
			s := pyStr(v)
			return casedIs(s, unicode.IsUpper, unicode.IsLower)
		}),
		"escaped": test0("escaped", func(v any) bool { return false }),
		"odd": test0("odd", func(v any) bool {
			i, ok := intOf(v)
			return ok && i%2 != 0
		}),
		"even": test0("even", func(v any) bool {
			i, ok := intOf(v)
			return ok && i%2 == 0
		}),
		"divisibleby": test1("divisibleby", "num", func(v, n any) (bool, error) {
			r, err := binop("%", v, n, 0)
			if err != nil {
				return false, err
			}
			return pyEqual(r, 0), nil
		}),
		"sameas": test1("sameas", "other", func(v, other any) (bool, error) { return sameAs(v, other), nil }),
		"in":     test1("in", "seq", func(v, seq any) (bool, error) { return contains(seq, v) }),
		"filter": test0("filter", func(v any) bool {
			s, ok := v.(string)
			_, known := filters[s]
			return ok && known
		}),
		"test": test0("test", func(v any) bool {
			s, ok := v.(string)
			_, known := tests[s]
			return ok && known
		}),
		"eq": cmpTest("eq", "eq"), "ne": cmpTest("ne", "ne"),
		"lt": cmpTest("lt", "lt"), "le": cmpTest("le", "lteq"),
		"gt": cmpTest("gt", "gt"), "ge": cmpTest("ge", "gteq"),
	}
	for alias, name := range map[string]string{"==": "eq", "equalto": "eq", "!=": "ne", "<": "lt", "lessthan": "lt", "<=": "le", ">": "gt", "greaterthan": "gt", ">=": "ge"} {
		tests[alias] = tests[name]
	}
}

// sameAs approximates Python's "is": singletons and small ints by value,
// containers by identity.
func sameAs(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case int:
		y, ok := b.(int)
		return ok && x == y && x >= -5 && x <= 256
	case *value.Map:
		y, ok := b.(*value.Map)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		return ok && len(x) == len(y) && (len(x) == 0 && x != nil && y != nil && reflect.ValueOf(x).Pointer() == reflect.ValueOf(y).Pointer() || len(x) > 0 && &x[0] == &y[0])
	case *Undefined, *callable, *namespace, *loopContext, *dictView:
		return a == b
	}
	return false
}

// globals are the names every template sees unless the context hides
// them: Jinja2's default globals that make sense in a sandbox.
func globals() *value.Map {
	m := value.NewMap()
	m.Set("range", &callable{name: "range", fn: globalRange})
	m.Set("dict", &callable{name: "dict", fn: func(r *renderer, args []any, kw *value.Map) (any, error) {
		out := value.NewMap()
		if len(args) > 1 {
			return nil, fmt.Errorf("dict expected at most 1 argument, got %d", len(args))
		}
		if len(args) == 1 {
			if _, err := dictMethods["update"](r, out, args, nil); err != nil {
				return nil, err
			}
		}
		kw.Range(func(k string, v any) bool { out.Set(k, v); return true })
		return out, nil
	}})
	m.Set("namespace", &callable{name: "namespace", fn: func(r *renderer, args []any, kw *value.Map) (any, error) {
		ns := &namespace{m: value.NewMap()}
		for _, a := range args {
			if am, ok := a.(*value.Map); ok {
				am.Range(func(k string, v any) bool { ns.m.Set(k, v); return true })
			}
		}
		kw.Range(func(k string, v any) bool { ns.m.Set(k, v); return true })
		return ns, nil
	}})
	return m
}

// maxRange is the sandbox's limit on range() (Jinja2's MAX_RANGE).
const maxRange = 100000

func globalRange(r *renderer, args []any, kw *value.Map) (any, error) {
	if kw.Len() > 0 {
		return nil, fmt.Errorf("range() takes no keyword arguments")
	}
	var n [3]int
	for i, a := range args {
		if i > 2 {
			return nil, fmt.Errorf("range expected at most 3 arguments, got %d", len(args))
		}
		v, ok := intOf(a)
		if !ok {
			if u, isU := a.(*Undefined); isU {
				return nil, undefinedError(u)
			}
			return nil, fmt.Errorf("'%s' object cannot be interpreted as an integer", pyTypeName(a))
		}
		n[i] = v
	}
	start, stop, step := 0, 0, 1
	switch len(args) {
	case 0:
		return nil, fmt.Errorf("range expected at least 1 argument, got 0")
	case 1:
		stop = n[0]
	case 2:
		start, stop = n[0], n[1]
	default:
		start, stop, step = n[0], n[1], n[2]
	}
	if step == 0 {
		return nil, fmt.Errorf("range() arg 3 must not be zero")
	}
	count := 0
	if step > 0 && stop > start {
		count = (stop - start + step - 1) / step
	} else if step < 0 && stop < start {
		count = (start - stop - step - 1) / -step
	}
	if count > maxRange {
		return nil, fmt.Errorf("range too big. The sandbox blocks ranges larger than MAX_RANGE (%d)", maxRange)
	}
	out := make([]any, count)
	for i := range out {
		out[i] = start + i*step
	}
	return out, nil
}

// toJSON is the tojson filter: json.dumps with sorted keys, then the
// HTML-sensitive characters escaped.
func toJSON(v any, indent any) (any, error) {
	ind := ""
	if indent != nil {
		switch t := indent.(type) {
		case string:
			ind = t
		default:
			n, ok := intOf(t)
			if !ok {
				return nil, fmt.Errorf("indent must be an int or a string")
			}
			ind = strings.Repeat(" ", max(n, 0))
		}
	}
	var b strings.Builder
	if err := writeJSON(&b, v, indent != nil, ind, 0); err != nil {
		return nil, err
	}
	return strings.NewReplacer("<", `\u003c`, ">", `\u003e`, "&", `\u0026`, "'", `\u0027`).Replace(b.String()), nil
}

func writeJSON(b *strings.Builder, v any, pretty bool, ind string, depth int) error {
	if depth > 100 {
		return fmt.Errorf("circular reference detected")
	}
	if b.Len() > maxPrinted {
		panic(tooLarge{})
	}
	sep := ", "
	if pretty {
		sep = ","
	}
	newline := func(d int) {
		if pretty {
			b.WriteString("\n" + strings.Repeat(ind, d))
		}
	}
	switch t := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(t))
	case int:
		b.WriteString(strconv.Itoa(t))
	case float64:
		switch {
		case math.IsNaN(t):
			b.WriteString("NaN")
		case math.IsInf(t, 1):
			b.WriteString("Infinity")
		case math.IsInf(t, -1):
			b.WriteString("-Infinity")
		default:
			b.WriteString(formatFloat(t))
		}
	case string:
		writeJSONString(b, t)
	case []any, Tuple:
		var items []any
		if l, ok := t.([]any); ok {
			items = l
		} else {
			items = t.(Tuple)
		}
		if len(items) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i, e := range items {
			if i > 0 {
				b.WriteString(sep)
			}
			newline(depth + 1)
			if err := writeJSON(b, e, pretty, ind, depth+1); err != nil {
				return err
			}
		}
		newline(depth)
		b.WriteByte(']')
	case *value.Map:
		if t.Len() == 0 {
			b.WriteString("{}")
			return nil
		}
		keys := append([]string(nil), t.Keys()...)
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(sep)
			}
			newline(depth + 1)
			writeJSONString(b, k)
			b.WriteString(": ")
			if err := writeJSON(b, t.Value(k), pretty, ind, depth+1); err != nil {
				return err
			}
		}
		newline(depth)
		b.WriteByte('}')
	default:
		return fmt.Errorf("object of type %s is not JSON serializable", pyTypeName(v))
	}
	return nil
}

func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r < 0x20 || (r >= 0x7f && r < 0x10000):
				if r < 0x7f || r > 0x7f {
					fmt.Fprintf(b, `\u%04x`, r)
				} else {
					b.WriteRune(r)
				}
			case r >= 0x10000:
				r -= 0x10000
				fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// checkNames reports filters and tests the environment does not know,
// as Jinja2's compiler does, except inside if statements, where Jinja2
// waits until the branch runs.
func checkNames(t *template) error {
	var err error
	var walk func(e expr, soft bool)
	check := func(kind, name string, line int, soft bool) {
		if err != nil || soft {
			return
		}
		known := false
		if kind == "filter" {
			_, known = filters[name]
		} else {
			_, known = tests[name]
		}
		if !known {
			err = newError(t.file, line, "No %s named '%s'.", kind, name)
		}
	}
	exprs := func(es []expr, soft bool) {
		for _, e := range es {
			walk(e, soft)
		}
	}
	args := func(a *callArgs, soft bool) {
		exprs(a.args, soft)
		exprs(a.kwVals, soft)
		walk(a.dynArgs, soft)
		walk(a.dynKwargs, soft)
	}
	walk = func(e expr, soft bool) {
		switch x := e.(type) {
		case *tupleExpr:
			exprs(x.items, soft)
		case *listExpr:
			exprs(x.items, soft)
		case *dictExpr:
			exprs(x.keys, soft)
			exprs(x.vals, soft)
		case *binExpr:
			walk(x.left, soft)
			walk(x.right, soft)
		case *unaryExpr:
			walk(x.x, soft)
		case *compareExpr:
			walk(x.first, soft)
			exprs(x.rest, soft)
		case *condExpr:
			walk(x.test, soft)
			walk(x.yes, soft)
			walk(x.no, soft)
		case *attrExpr:
			walk(x.x, soft)
		case *itemExpr:
			walk(x.x, soft)
			walk(x.key, soft)
		case *sliceExpr:
			walk(x.start, soft)
			walk(x.stop, soft)
			walk(x.step, soft)
		case *callExpr:
			walk(x.fn, soft)
			args(&x.callArgs, soft)
		case *filterExpr:
			check("filter", x.name, x.line, soft)
			if x.x != nil {
				walk(x.x, soft)
			}
			args(&x.callArgs, soft)
		case *testExpr:
			check("test", x.name, x.line, soft)
			walk(x.x, soft)
			args(&x.callArgs, soft)
		}
	}
	var stmts func(body []node, soft bool)
	var ifStmt func(n *ifNode)
	ifStmt = func(n *ifNode) {
		walk(n.test, true)
		stmts(n.body, true)
		for _, e := range n.elifs {
			ifStmt(e)
		}
		stmts(n.else_, true)
	}
	stmts = func(body []node, soft bool) {
		for _, n := range body {
			switch x := n.(type) {
			case *printNode:
				walk(x.expr, soft)
			case *setNode:
				walk(x.value, soft)
			case *setBlockNode:
				if x.filter != nil {
					walk(x.filter, false)
				}
				stmts(x.body, false)
			case *ifNode:
				ifStmt(x)
			case *forNode:
				walk(x.iter, soft)
				walk(x.test, false)
				stmts(x.body, false)
				stmts(x.else_, false)
			case *blockNode:
				stmts(x.body, false)
			case *extendsNode:
				walk(x.template, soft)
			case *includeNode:
				walk(x.template, soft)
			case *filterBlockNode:
				walk(x.filter, false)
				stmts(x.body, false)
			case *withNode:
				exprs(x.values, soft)
				stmts(x.body, false)
			}
		}
	}
	stmts(t.body, false)
	return err
}
