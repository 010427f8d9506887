// Package value holds the dynamic values that LAVA's formats are made of:
// the result of loading a job definition or a device configuration, and the
// values a device template computes. Maps keep their insertion order, as
// Python dicts do, because LAVA's behaviour (image order, printed dicts)
// depends on it.
//
// A value is one of: nil, bool, int, float64, string, []any or *Map.
// Nothing else may be stored; the decoders here only produce those types.
package value

import (
	"fmt"
	"sort"
	"strings"
)

// Map is a string-keyed map that remembers the order in which keys were
// first set. The zero value is not usable; call NewMap.
type Map struct {
	keys []string
	vals map[string]any
}

// NewMap returns an empty ordered map.
func NewMap() *Map { return &Map{vals: map[string]any{}} }

// MapOf builds a map from alternating keys and values, in that order.
// It is meant for tests and literals: MapOf("a", 1, "b", "x").
func MapOf(kv ...any) *Map {
	if len(kv)%2 != 0 {
		panic("value.MapOf: odd number of arguments")
	}
	m := NewMap()
	for i := 0; i < len(kv); i += 2 {
		m.Set(kv[i].(string), kv[i+1])
	}
	return m
}

// Len returns the number of keys; a nil map has none.
func (m *Map) Len() int {
	if m == nil {
		return 0
	}
	return len(m.keys)
}

// Keys returns the keys in insertion order. The slice must not be modified.
func (m *Map) Keys() []string {
	if m == nil {
		return nil
	}
	return m.keys
}

// Get returns the value stored under key and whether it was present.
func (m *Map) Get(key string) (any, bool) {
	if m == nil {
		return nil, false
	}
	v, ok := m.vals[key]
	return v, ok
}

// Value returns the value stored under key, or nil.
func (m *Map) Value(key string) any {
	v, _ := m.Get(key)
	return v
}

// Has reports whether key is present.
func (m *Map) Has(key string) bool {
	_, ok := m.Get(key)
	return ok
}

// Set stores v under key. A new key goes last; an existing key keeps its place.
func (m *Map) Set(key string, v any) {
	if _, ok := m.vals[key]; !ok {
		m.keys = append(m.keys, key)
	}
	m.vals[key] = v
}

// SetDefault stores v under key only if the key is absent, and returns the
// value now stored, like Python's dict.setdefault.
func (m *Map) SetDefault(key string, v any) any {
	if old, ok := m.vals[key]; ok {
		return old
	}
	m.Set(key, v)
	return v
}

// Delete removes key, keeping the order of the others.
func (m *Map) Delete(key string) {
	if _, ok := m.vals[key]; !ok {
		return
	}
	delete(m.vals, key)
	for i, k := range m.keys {
		if k == key {
			m.keys = append(m.keys[:i:i], m.keys[i+1:]...)
			break
		}
	}
}

// Range calls fn for each entry in order until fn returns false.
func (m *Map) Range(fn func(key string, v any) bool) {
	if m == nil {
		return
	}
	for _, k := range m.keys {
		if !fn(k, m.vals[k]) {
			return
		}
	}
}

// Copy returns a shallow copy: a new map holding the same values.
func (m *Map) Copy() *Map {
	c := NewMap()
	m.Range(func(k string, v any) bool { c.Set(k, v); return true })
	return c
}

// Map returns the value under key if it is a map, else nil.
func (m *Map) Map(key string) *Map {
	v, _ := m.Value(key).(*Map)
	return v
}

// String returns the value under key if it is a string, else "".
func (m *Map) String(key string) string {
	v, _ := m.Value(key).(string)
	return v
}

// List returns the value under key if it is a list, else nil.
func (m *Map) List(key string) []any {
	v, _ := m.Value(key).([]any)
	return v
}

// Lookup follows a path of keys through nested maps and returns the value
// at its end, or nil and false when any step is missing or not a map.
func (m *Map) Lookup(path ...string) (any, bool) {
	var cur any = m
	for _, k := range path {
		mm, ok := cur.(*Map)
		if !ok || mm == nil {
			return nil, false
		}
		cur, ok = mm.Get(k)
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

// Clone returns a deep copy of v: maps and lists are copied, scalars shared.
func Clone(v any) any {
	switch t := v.(type) {
	case *Map:
		if t == nil {
			return t
		}
		c := NewMap()
		for _, k := range t.keys {
			c.Set(k, Clone(t.vals[k]))
		}
		return c
	case []any:
		c := make([]any, len(t))
		for i, e := range t {
			c[i] = Clone(e)
		}
		return c
	default:
		return v
	}
}

// Equal reports whether a and b hold the same data. Map order is ignored,
// and an int equals a float64 of the same value, as in Python.
func Equal(a, b any) bool {
	switch x := a.(type) {
	case *Map:
		y, ok := b.(*Map)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for _, k := range x.Keys() {
			yv, ok := y.Get(k)
			if !ok || !Equal(x.Value(k), yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case int:
		switch y := b.(type) {
		case int:
			return x == y
		case float64:
			return float64(x) == y
		}
		return false
	case float64:
		switch y := b.(type) {
		case int:
			return x == float64(y)
		case float64:
			return x == y
		}
		return false
	default:
		return a == b
	}
}

// GoString renders v for debugging and test failure messages.
func GoString(v any) string {
	var b strings.Builder
	goString(&b, v)
	return b.String()
}

func goString(b *strings.Builder, v any) {
	switch t := v.(type) {
	case *Map:
		b.WriteString("{")
		for i, k := range t.Keys() {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(b, "%q: ", k)
			goString(b, t.Value(k))
		}
		b.WriteString("}")
	case []any:
		b.WriteString("[")
		for i, e := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			goString(b, e)
		}
		b.WriteString("]")
	case string:
		fmt.Fprintf(b, "%q", t)
	default:
		fmt.Fprintf(b, "%v", t)
	}
}

// SortedKeys returns m's keys sorted, for output that must not depend on
// insertion order.
func SortedKeys(m *Map) []string {
	ks := append([]string(nil), m.Keys()...)
	sort.Strings(ks)
	return ks
}

// Truthy is Python's truthiness: nil, false, zero, "" and empty lists and
// maps are false, everything else true. LAVA's code tests its values so.
func Truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case int:
		return t != 0
	case float64:
		return t != 0
	case string:
		return t != ""
	case []any:
		return len(t) > 0
	case *Map:
		return t.Len() > 0
	}
	return true
}
