// Package xmlrpc owns the XML-RPC wire format that LAVA's clients (lavacli,
// KernelCI, SQUAD, all built on Python's xmlrpc.client) speak at /RPC2:
// decoding a <methodCall> into Go values, encoding a <methodResponse> or a
// <fault>, and a small http.Handler that dispatches method names to
// registered Go functions with Python-style introspection and multicall.
//
// It decides nothing about authentication, users or LAVA's methods: the
// Basic-auth user and token are handed to the method through the context
// (see Credentials) and the caller decides.
//
// Values, decoded (what a method receives in params):
//
//	<int>, <i4>, <i8>          int64 (error beyond int64)
//	<boolean>                  bool ("0" or "1" only)
//	<string>, untyped text     string
//	<double>                   float64
//	<dateTime.iso8601>         time.Time in UTC
//	<base64>                   []byte
//	<struct>                   map[string]any (duplicate names refused)
//	<array>                    []any
//	<nil/>                     nil
//
// Values, encoded (what a method may return): the types above, plus int,
// int32 and the other integer kinds, float32, *Fault, Struct (members in
// order, as Python dicts keep them; a map's keys are written sorted), and
// slices of strings, ints, maps or Structs. Integers within int32 are
// written <int>; larger ones <i8>, which Python's xmlrpc.client reads
// (LAVA's Python server could not send them at all: its marshaller raises
// OverflowError "int exceeds XML-RPC limits"). Times are written as LAVA
// writes them, YYYYMMDDTHH:MM:SS in UTC, without fraction or zone.
package xmlrpc

import (
	"fmt"
	"time"
)

// Member is one name/value pair of a Struct.
type Member struct {
	Name  string
	Value any
}

// Struct is an XML-RPC struct whose members are encoded in the given order,
// which lets a reply keep the key order a LAVA user sees printed by lavacli
// (Python dicts keep insertion order).
type Struct []Member

// Get returns the value of the first member named name.
func (s Struct) Get(name string) (any, bool) {
	for _, m := range s {
		if m.Name == name {
			return m.Value, true
		}
	}
	return nil, false
}

// Fault codes used by this package, as LAVA's linaro_django_xmlrpc uses them.
const (
	CodeInvalidRequest  = -32600 // the request could not be decoded
	CodeMethodNotFound  = -32601 // no method of that name
	CodeInvalidParams   = -32602 // bad system.* parameters
	CodeInternalError   = -32603 // any error of a method that is not a *Fault
	CodeBadRequest      = 400
	CodeAuthRequired    = 401
	CodeForbidden       = 403
	CodeNotFound        = 404
	CodeInternalGeneric = 500
)

// Fault is an XML-RPC fault. A method returning a *Fault (directly or
// wrapped) makes the reply a <fault> with its code and string; Python's
// client raises xmlrpc.client.Fault(Code, String).
type Fault struct {
	Code   int
	String string
}

// Faultf builds a *Fault with a formatted string.
func Faultf(code int, format string, args ...any) *Fault {
	return &Fault{Code: code, String: fmt.Sprintf(format, args...)}
}

func (f *Fault) Error() string { return fmt.Sprintf("<Fault %d: %q>", f.Code, f.String) }

// timeLayout is how LAVA (Python's xmlrpc.client) writes dateTime.iso8601.
const timeLayout = "20060102T15:04:05"

// parseTime accepts what Python's xmlrpc.client writes and the dashed
// ISO 8601 form other clients use, with an optional zone (converted to UTC;
// without one the time is taken as UTC, as LAVA's server runs in UTC).
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{
		"20060102T15:04:05", "2006-01-02T15:04:05",
		"20060102T15:04:05Z07:00", "2006-01-02T15:04:05Z07:00",
		"2006-01-02T15:04:05.999999999Z07:00", "20060102T150405",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad dateTime.iso8601 %q (want YYYYMMDDTHH:MM:SS)", s)
}
