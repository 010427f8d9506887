package lavarpc

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/basalt-lava/basalt/internal/xmlrpc"
)

// params are a call's positional parameters, padded with nil up to the
// method's maximum: a missing optional argument reads as its default, as
// Python's default arguments do.
type params []any

// method is a handler with its argument count and help.
type method func(ctx context.Context, p params) (any, error)

// reg registers fn under name, taking min to max positional arguments
// (LAVA's signature; outside it the call is Fault -32603, LAVA's TypeError).
func (a *api) reg(name string, min, max int, help string, fn method) {
	a.rpc.RegisterMethod(name, xmlrpc.Method{
		Help: help,
		Func: func(ctx context.Context, raw []any) (any, error) {
			if err := xmlrpc.CheckArgs(name, raw, min, max); err != nil {
				return nil, err
			}
			p := make(params, max)
			copy(p, raw)
			return fn(ctx, p)
		},
	})
}

// argError is LAVA's answer to an argument of a type the method cannot use
// (a Python TypeError or ValueError inside the method: -32603).
func argError(i int, want string, v any) error {
	return xmlrpc.Faultf(xmlrpc.CodeInternalError,
		"Internal Server Error (contact server administrator for details): argument %d must be %s, not %s", i+1, want, typeName(v))
}

// typeName names an XML-RPC value's type as Python would.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case string:
		return "str"
	case int64:
		return "int"
	case bool:
		return "bool"
	case float64:
		return "float"
	case []byte:
		return "bytes"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// str is argument i as text: a string as is, a number in decimal (a
// hostname or job id sent as <int>), nil as "".
func (p params) str(i int) string {
	switch v := p[i].(type) {
	case nil:
		return ""
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case []byte:
		return string(v)
	default:
		return fmt.Sprint(v)
	}
}

// optStr is argument i as text, and false when it is nil (Python None).
func (p params) optStr(i int) (string, bool) {
	if p[i] == nil {
		return "", false
	}
	return p.str(i), true
}

// text is argument i as a string or bytes (a file's content), or an error.
func (p params) text(i int) (string, error) {
	switch v := p[i].(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	default:
		return "", argError(i, "str", v)
	}
}

// int is argument i as an integer, def when nil.
func (p params) int(i int, def int64) (int64, error) {
	switch v := p[i].(type) {
	case nil:
		return def, nil
	case int64:
		return v, nil
	case bool:
		if v {
			return 1, nil
		}
		return 0, nil
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int64(v), nil
		}
	}
	return 0, argError(i, "int", p[i])
}

// bool is argument i with Python's truthiness, def when nil.
func (p params) bool(i int, def bool) bool {
	switch v := p[i].(type) {
	case nil:
		return def
	case bool:
		return v
	case int64:
		return v != 0
	case float64:
		return v != 0
	case string:
		return v != ""
	case []any:
		return len(v) > 0
	case map[string]any:
		return len(v) > 0
	default:
		return true
	}
}

// Faults with LAVA's codes.
func notFound(format string, args ...any) error {
	return xmlrpc.Faultf(xmlrpc.CodeNotFound, format, args...)
}

func forbidden(format string, args ...any) error {
	return xmlrpc.Faultf(xmlrpc.CodeForbidden, format, args...)
}

func badRequest(format string, args ...any) error {
	return xmlrpc.Faultf(xmlrpc.CodeBadRequest, format, args...)
}
