package job

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"

	"github.com/basalt-lava/basalt/internal/value"
)

// checker collects diagnostics for one document. The schema_*.go files
// add one method per area of LAVA's schema; each checks what it can and
// carries on, so that every problem is reported in one pass.
type checker struct {
	file  string
	opts  Options
	diags []Diagnostic
	// subJob is set for a MultiNode sub-job as LAVA's server writes it
	// for the dispatcher (protocols.lava-multinode.target_group): its
	// actions' role is one name, device_type is at the top, and the
	// protocol block holds the group (target_group, role, group_size …)
	// rather than the submitted roles.
	subJob bool
}

func (c *checker) report(sev Severity, pos value.Pos, path, format string, args ...any) {
	c.diags = append(c.diags, Diagnostic{File: c.file, Pos: pos, Path: path, Msg: fmt.Sprintf(format, args...), Severity: sev})
}

func (c *checker) errorf(n *value.Node, path, format string, args ...any) {
	c.report(Error, n.Pos, path, format, args...)
}

var plainKeyRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// keyPath extends a key path the way LAVA users write one:
// actions[2].deploy.images.rootfs; keys that are not plain words are
// quoted so the path stays unambiguous.
func keyPath(path, key string) string {
	if !plainKeyRe.MatchString(key) {
		return fmt.Sprintf("%s[%q]", path, key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func indexPath(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// describe names a node's type for messages: "a string (\"x\")", "a map".
func describe(n *value.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case value.MapNode:
		return "a map"
	case value.ListNode:
		return "a list"
	}
	switch v := n.Scalar.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprintf("a boolean (%v)", v)
	case int:
		return fmt.Sprintf("an integer (%d)", v)
	case float64:
		return fmt.Sprintf("a number (%v)", v)
	case string:
		if len(v) > 40 {
			v = v[:37] + "..."
		}
		return fmt.Sprintf("a string (%q)", v)
	}
	return "a value"
}

// fields is a view on a map node being checked. Every key the schema
// knows is looked up through opt or req, which also records it as
// allowed; finish then reports whatever is left as unknown (strict mode),
// naming what was allowed. A duplicated key is seen with its last value,
// as LAVA sees it.
type fields struct {
	c       *checker
	n       *value.Node
	path    string
	allowed map[string]bool
}

// mapAt returns a view on n, or nil after reporting an error when n is
// not a map.
func (c *checker) mapAt(n *value.Node, path string) *fields {
	if n == nil {
		return nil
	}
	if n.Kind != value.MapNode {
		c.errorf(n, path, "expected a map, got %s", describe(n))
		return nil
	}
	return &fields{c: c, n: n, path: path, allowed: map[string]bool{}}
}

func (f *fields) has(key string) bool { return f.n.KeyNode(key) != nil }

// opt returns the value of an optional key (nil when absent).
func (f *fields) opt(key string) *value.Node {
	f.allowed[key] = true
	return f.n.Get(key)
}

// req returns the value of a required key, reporting it when missing.
func (f *fields) req(key string) *value.Node {
	f.allowed[key] = true
	v := f.n.Get(key)
	if v == nil && f.n.KeyNode(key) == nil {
		f.c.errorf(f.n, f.sub(key), "missing required key %q", key)
	}
	return v
}

func (f *fields) sub(key string) string { return keyPath(f.path, key) }

// keys returns the distinct keys in source order with their last value.
func (f *fields) keys() (keys []*value.Node, vals []*value.Node) {
	seen := map[string]int{}
	for i, k := range f.n.Keys {
		s := k.KeyString()
		if j, ok := seen[s]; ok {
			vals[j] = f.n.Values[i]
			continue
		}
		seen[s] = len(keys)
		keys = append(keys, k)
		vals = append(vals, f.n.Values[i])
	}
	return keys, vals
}

// rest returns the keys that were not looked up, with their values; for
// schemas whose other keys follow a pattern (image names, roles).
func (f *fields) rest() (keys []*value.Node, vals []*value.Node) {
	ks, vs := f.keys()
	for i, k := range ks {
		if !f.allowed[k.KeyString()] {
			keys = append(keys, k)
			vals = append(vals, vs[i])
		}
	}
	return keys, vals
}

// allow marks a key as known without checking it.
func (f *fields) allow(keys ...string) {
	for _, k := range keys {
		f.allowed[k] = true
	}
}

// finish reports unknown keys in strict mode.
func (f *fields) finish() {
	if f == nil || f.c.opts.Lax {
		return
	}
	ks, _ := f.keys()
	allowed := "" // built once: a map can hold thousands of unknown keys
	for _, k := range ks {
		if !f.allowed[k.KeyString()] {
			if allowed == "" {
				allowed = f.allowedList()
			}
			f.c.errorf(k, f.sub(k.KeyString()), "unknown key %q (allowed: %s)", k.KeyString(), allowed)
		}
	}
}

func (f *fields) allowedList() string {
	l := make([]string, 0, len(f.allowed))
	for k := range f.allowed {
		l = append(l, k)
	}
	sort.Strings(l)
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

// Scalar checks. Each takes a possibly nil node (an absent optional key)
// and does nothing for nil. Python's isinstance rules are followed where
// they matter to LAVA users: a quoted "10" is a string, 10 is not.

func (c *checker) str(n *value.Node, path string) (string, bool) {
	if n == nil {
		return "", false
	}
	s, ok := n.Scalar.(string)
	if n.Kind != value.ScalarNode || !ok {
		c.errorf(n, path, "expected a string, got %s", describe(n))
		return "", false
	}
	return s, true
}

// strLen checks a string's length in characters, as Python counts them.
func (c *checker) strLen(n *value.Node, path string, minLen, maxLen int) {
	s, ok := c.str(n, path)
	if !ok {
		return
	}
	l := len([]rune(s))
	switch {
	case l < minLen && minLen == 1:
		c.errorf(n, path, "must not be empty")
	case l < minLen:
		c.errorf(n, path, "must be at least %d characters long", minLen)
	case maxLen > 0 && l > maxLen:
		c.errorf(n, path, "is %d characters long, at most %d allowed", l, maxLen)
	}
}

func (c *checker) nonEmptyStr(n *value.Node, path string) { c.strLen(n, path, 1, 0) }

func (c *checker) boolean(n *value.Node, path string) {
	if n == nil {
		return
	}
	if _, ok := n.Scalar.(bool); n.Kind != value.ScalarNode || !ok {
		c.errorf(n, path, "expected true or false, got %s", describe(n))
	}
}

// integer checks an integer ≥ minV (no lower bound when minV is
// math.MinInt). Booleans are refused although Python would take True as
// 1: nobody means "repeat: yes".
func (c *checker) integer(n *value.Node, path string, minV int) (int, bool) {
	if n == nil {
		return 0, false
	}
	v, ok := n.Scalar.(int)
	if n.Kind != value.ScalarNode || !ok {
		if minV == math.MinInt {
			c.errorf(n, path, "expected an integer, got %s", describe(n))
		} else {
			c.errorf(n, path, "expected an integer ≥ %d, got %s", minV, describe(n))
		}
		return 0, false
	}
	if v < minV {
		c.errorf(n, path, "expected an integer ≥ %d, got %d", minV, v)
		return v, false
	}
	return v, true
}

// oneOf checks a string against a fixed set of values.
func (c *checker) oneOf(n *value.Node, path string, allowed ...string) {
	if n == nil {
		return
	}
	if s, ok := n.Scalar.(string); ok && n.Kind == value.ScalarNode {
		for _, a := range allowed {
			if s == a {
				return
			}
		}
	}
	c.errorf(n, path, "expected %s, got %s", alternatives(allowed), describe(n))
}

// alternatives formats allowed values: "a", "a or b", "one of a, b or c".
func alternatives(allowed []string) string {
	switch len(allowed) {
	case 1:
		return fmt.Sprintf("%q", allowed[0])
	case 2:
		return allowed[0] + " or " + allowed[1]
	}
	return "one of " + strings.Join(allowed[:len(allowed)-1], ", ") + " or " + allowed[len(allowed)-1]
}

func (c *checker) matches(n *value.Node, path string, re *regexp.Regexp, what string) {
	s, ok := c.str(n, path)
	if ok && !re.MatchString(s) {
		c.errorf(n, path, "%q is not a valid %s (must match %s)", s, what, re)
	}
}

// list returns a list node's items, reporting anything else.
func (c *checker) list(n *value.Node, path string) []*value.Node {
	if n == nil {
		return nil
	}
	if n.Kind != value.ListNode {
		c.errorf(n, path, "expected a list, got %s", describe(n))
		return nil
	}
	return n.Items
}

func (c *checker) strList(n *value.Node, path string) {
	for i, it := range c.list(n, path) {
		c.str(it, indexPath(path, i))
	}
}

func (c *checker) nonEmptyStrList(n *value.Node, path string) {
	for i, it := range c.list(n, path) {
		c.nonEmptyStr(it, indexPath(path, i))
	}
}

// strOrStrList accepts "x" or ["x", "y"] (LAVA's Any(str, [str])).
func (c *checker) strOrStrList(n *value.Node, path string) {
	if n == nil {
		return
	}
	if n.Kind == value.ListNode {
		c.strList(n, path)
		return
	}
	if _, ok := n.Scalar.(string); !ok || n.Kind != value.ScalarNode {
		c.errorf(n, path, "expected a string or a list of strings, got %s", describe(n))
	}
}

// anyMap accepts any map (LAVA's dict).
func (c *checker) anyMap(n *value.Node, path string) {
	if n != nil && n.Kind != value.MapNode {
		c.errorf(n, path, "expected a map, got %s", describe(n))
	}
}

// strKeyMap checks that a map's keys are strings ({str: object}).
func (c *checker) strKeyMap(n *value.Node, path string) {
	if n == nil {
		return
	}
	if n.Kind != value.MapNode {
		c.errorf(n, path, "expected a map, got %s", describe(n))
		return
	}
	for _, k := range n.Keys {
		if _, ok := k.Scalar.(string); k.Kind != value.ScalarNode || !ok {
			c.errorf(k, keyPath(path, k.KeyString()), "keys must be strings, got %s", describe(k))
		}
	}
}

func nodeString(n *value.Node) string {
	if n == nil || n.Kind != value.ScalarNode {
		return ""
	}
	s, _ := n.Scalar.(string)
	return s
}
