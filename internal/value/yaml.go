package value

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/basalt-lava/basalt/internal/limits"
)

// Pos is a 1-based line and column in a source file.
type Pos struct {
	Line, Col int
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Kind says what a Node holds.
type Kind int

// The kinds of YAML node.
const (
	ScalarNode Kind = iota
	MapNode
	ListNode
)

// Node is one node of a YAML document with its position, so that checks
// can name the line and column of whatever they complain about.
type Node struct {
	Kind Kind
	Pos  Pos
	// Scalar is the resolved value of a scalar node (nil, bool, int,
	// float64 or string), using the YAML 1.1 rules PyYAML applies, so a
	// job means the same thing to Basalt as to LAVA.
	Scalar any
	// Quoted is true for a quoted or block scalar, which is always a string.
	Quoted bool
	// Keys and Values are a map node's entries in source order;
	// duplicate keys are kept here (see Duplicates).
	Keys   []*Node
	Values []*Node
	// Items are a list node's entries.
	Items []*Node

	// index maps each key's text to its last place in Keys, so that Get
	// and KeyNode cost the same however large the mapping is. ParseYAML
	// builds it for large mappings; it covers Keys[:indexed], and a node
	// whose Keys grew since (or was built by hand) is searched in full.
	index   map[string]int
	indexed int
}

// indexFrom is the number of keys from which a mapping gets an index: a
// scan of a few keys is cheaper than a map, and most mappings are small.
const indexFrom = 16

// Duplicate records a map key that appears twice in one mapping.
type Duplicate struct {
	Key         string
	First, Then Pos
}

// KeyString returns the text of a map key node as LAVA would see the key.
func (n *Node) KeyString() string {
	if n.Kind != ScalarNode {
		return fmt.Sprint(n.Value())
	}
	switch s := n.Scalar.(type) {
	case string:
		return s
	case nil:
		return "None"
	case bool:
		if s {
			return "True"
		}
		return "False"
	default:
		return fmt.Sprint(s)
	}
}

// Get returns the value node under key in a map node (the last one when
// the key is duplicated, as PyYAML keeps the last), or nil.
func (n *Node) Get(key string) *Node {
	if i := n.find(key); i >= 0 {
		return n.Values[i]
	}
	return nil
}

// KeyNode returns the key node for key in a map node (the last one when
// the key is duplicated), or nil.
func (n *Node) KeyNode(key string) *Node {
	if i := n.find(key); i >= 0 {
		return n.Keys[i]
	}
	return nil
}

// find returns the place in Keys of key's last occurrence, or -1.
func (n *Node) find(key string) int {
	if n == nil || n.Kind != MapNode {
		return -1
	}
	if n.index != nil && n.indexed == len(n.Keys) {
		if i, ok := n.index[key]; ok {
			return i
		}
		return -1
	}
	for i := len(n.Keys) - 1; i >= 0; i-- {
		if n.Keys[i].KeyString() == key {
			return i
		}
	}
	return -1
}

// addKey appends an entry to a map node being built, keeping its index
// (from indexFrom keys on) up to date.
func (n *Node) addKey(k, v *Node, key string) {
	n.Keys = append(n.Keys, k)
	n.Values = append(n.Values, v)
	switch {
	case n.index != nil && n.indexed == len(n.Keys)-1:
		n.index[key] = len(n.Keys) - 1
		n.indexed = len(n.Keys)
	case n.index == nil && len(n.Keys) >= indexFrom:
		n.index = make(map[string]int, 2*len(n.Keys))
		for i, k := range n.Keys {
			n.index[k.KeyString()] = i
		}
		n.indexed = len(n.Keys)
	}
}

// Value converts the node to a plain value: *Map, []any or a scalar.
// For duplicated keys the last value wins and the first position is kept.
func (n *Node) Value() any {
	if n == nil {
		return nil
	}
	switch n.Kind {
	case MapNode:
		m := NewMap()
		for i, k := range n.Keys {
			m.Set(k.KeyString(), n.Values[i].Value())
		}
		return m
	case ListNode:
		l := make([]any, len(n.Items))
		for i, it := range n.Items {
			l[i] = it.Value()
		}
		return l
	default:
		return n.Scalar
	}
}

// Document is a parsed YAML document.
type Document struct {
	Root       *Node
	Duplicates []Duplicate
}

// SyntaxError is a YAML error with its position.
type SyntaxError struct {
	Pos Pos
	Msg string
	// Err is the cause when there is one: a *limits.Error for a
	// document over a limit.
	Err error
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s: %s", e.Pos, e.Msg) }

// Unwrap returns the cause, if any.
func (e *SyntaxError) Unwrap() error { return e.Err }

// ParseYAML parses one YAML document with the default node limit
// (limits.DefaultYAMLNodes); see ParseYAMLLimit.
func ParseYAML(data []byte) (*Document, error) {
	return ParseYAMLLimit(data, limits.DefaultYAMLNodes)
}

// ParseYAMLLimit parses one YAML document. An empty document has a nil
// Root.
//
// The document may hold at most maxNodes nodes (keys, values and list
// items) once its aliases are expanded, and nest at most limits.YAMLDepth
// deep; past either the error is a *SyntaxError whose Err is a
// *limits.Error. The nodes are counted before anything is built, each
// anchor sized once, so "billion laughs" is refused at the alias that
// goes past the limit for the cost of its text. yaml.v3's own alias
// checks do not apply to its node API, which this uses; the text itself
// is bounded by the caller (limits.File).
//
// The parser is yaml.v3's node API: it keeps positions and duplicate keys,
// and parses LAVA's rendered device files correctly (go-yaml/goccy v1.19
// folds a mapping into a preceding empty "- " entry). Scalars are then
// resolved here with PyYAML's YAML 1.1 rules.
func ParseYAMLLimit(data []byte, maxNodes int) (d *Document, err error) {
	defer func() {
		// yaml.v3 panics on a few malformed inputs; a job file is untrusted.
		if r := recover(); r != nil {
			d, err = nil, &SyntaxError{Pos: Pos{1, 1}, Msg: fmt.Sprintf("malformed YAML (%v)", r)}
		}
		if se, ok := err.(*SyntaxError); ok {
			placeBadByte(data, se)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if err == io.EOF {
			return &Document{}, nil
		}
		return nil, convertSyntaxError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		if err != nil {
			return nil, convertSyntaxError(err)
		}
		return nil, &SyntaxError{Pos: Pos{extra.Line, extra.Column}, Msg: "expected a single document in the stream"}
	}
	d = &Document{}
	if maxNodes <= 0 {
		maxNodes = limits.DefaultYAMLNodes
	}
	c := &converter{doc: d, maxNodes: maxNodes}
	body := &root
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return d, nil
		}
		body = root.Content[0]
	}
	if err := c.count(body); err != nil {
		return nil, err
	}
	c.nodes = 0 // convert counts again, as a backstop
	n, err := c.convert(body, 0)
	if err != nil {
		return nil, err
	}
	d.Root = n
	return d, nil
}

// DecodeYAML parses a YAML document into a plain value, with the
// default node limit.
func DecodeYAML(data []byte) (any, error) {
	return DecodeYAMLLimit(data, limits.DefaultYAMLNodes)
}

// DecodeYAMLLimit is DecodeYAML with at most maxNodes nodes, as
// ParseYAMLLimit.
func DecodeYAMLLimit(data []byte, maxNodes int) (any, error) {
	d, err := ParseYAMLLimit(data, maxNodes)
	if err != nil {
		return nil, err
	}
	return d.Root.Value(), nil
}

var errPosRe = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)`)

func convertSyntaxError(err error) error {
	msg := err.Error()
	first := strings.SplitN(msg, "\n", 2)[0]
	if m := errPosRe.FindStringSubmatch(first); m != nil {
		line := 1
		if m[1] != "" {
			line, _ = strconv.Atoi(m[1])
		}
		return &SyntaxError{Pos: Pos{line, 1}, Msg: m[2]}
	}
	return &SyntaxError{Pos: Pos{1, 1}, Msg: first}
}

type converter struct {
	doc      *Document
	nodes    int
	maxNodes int
	// sizes memoises expandedSize for anchored nodes (those aliases
	// lead to).
	sizes map[*yaml.Node]int
}

// limitError is the *SyntaxError for a document over a limit.
func limitError(pos Pos, le *limits.Error) error {
	return &SyntaxError{Pos: pos, Msg: le.Error(), Err: le}
}

func (c *converter) tooManyNodes(pos Pos) error {
	return limitError(pos, &limits.Error{What: "YAML document (aliases expanded)", Limit: fmt.Sprintf("%d nodes", c.maxNodes), Flag: limits.YAMLNodesFlag})
}

// inProgress marks an anchored node whose size is being counted:
// meeting it again means an alias inside its own anchor.
const inProgress = -1

// count walks the document in the order convert builds it, adding one
// for each node and, for an alias, the nodes it repeats, and fails at the
// first node past the limit, so that nothing is built for a document
// that is over it. Each anchor's size is counted once.
func (c *converter) count(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		s, err := c.expandedSize(n.Alias)
		if err != nil {
			return err
		}
		c.nodes += 1 + s
	} else {
		c.nodes++
	}
	if c.nodes > c.maxNodes {
		return c.tooManyNodes(Pos{n.Line, n.Column})
	}
	if n.Kind != yaml.AliasNode {
		for _, ch := range n.Content {
			if err := c.count(ch); err != nil {
				return err
			}
		}
	}
	return nil
}

// expandedSize returns how many nodes n stands for once its aliases are
// expanded, or maxNodes+1 when that is more. An alias used inside the
// anchor it names is an error: it would expand without end.
func (c *converter) expandedSize(n *yaml.Node) (int, error) {
	if n.Anchor != "" {
		if s, ok := c.sizes[n]; ok {
			if s == inProgress {
				return 0, &SyntaxError{Pos: Pos{n.Line, n.Column}, Msg: "an alias is used inside the anchor it names: the document would be infinite"}
			}
			return s, nil
		}
		if c.sizes == nil {
			c.sizes = map[*yaml.Node]int{}
		}
		c.sizes[n] = inProgress
	}
	size := 1
	children := n.Content
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		children = []*yaml.Node{n.Alias}
	}
	for _, ch := range children {
		s, err := c.expandedSize(ch)
		if err != nil {
			return 0, err
		}
		if size += s; size > c.maxNodes {
			size = c.maxNodes + 1
			break
		}
	}
	if n.Anchor != "" {
		c.sizes[n] = size
	}
	return size, nil
}

func (c *converter) convert(n *yaml.Node, depth int) (*Node, error) {
	pos := Pos{n.Line, n.Column}
	if depth > limits.YAMLDepth {
		return nil, limitError(pos, &limits.Error{What: "YAML document's nesting", Limit: fmt.Sprintf("%d levels", limits.YAMLDepth)})
	}
	c.nodes++
	if c.nodes > c.maxNodes {
		return nil, c.tooManyNodes(pos)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return &Node{Kind: ScalarNode, Pos: pos}, nil
		}
		return c.convert(n.Content[0], depth+1)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, &SyntaxError{Pos: pos, Msg: "unknown alias " + n.Value}
		}
		return c.convert(n.Alias, depth+1)
	case yaml.MappingNode:
		out := &Node{Kind: MapNode, Pos: pos}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := c.addPair(out, n.Content[i], n.Content[i+1], depth); err != nil {
				return nil, err
			}
		}
		return out, nil
	case yaml.SequenceNode:
		out := &Node{Kind: ListNode, Pos: pos}
		for _, it := range n.Content {
			v, err := c.convert(it, depth+1)
			if err != nil {
				return nil, err
			}
			out.Items = append(out.Items, v)
		}
		return out, nil
	case yaml.ScalarNode:
		switch {
		case n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0:
			return &Node{Kind: ScalarNode, Pos: pos, Scalar: n.Value, Quoted: true}, nil
		case n.Tag == "!!str" && n.Style&yaml.TaggedStyle != 0:
			return &Node{Kind: ScalarNode, Pos: pos, Scalar: n.Value, Quoted: true}, nil
		}
		return &Node{Kind: ScalarNode, Pos: pos, Scalar: ResolvePlain(n.Value)}, nil
	}
	return nil, &SyntaxError{Pos: pos, Msg: "unsupported YAML construct"}
}

func (c *converter) addPair(out *Node, kn, vn *yaml.Node, depth int) error {
	if kn.Kind == yaml.ScalarNode && kn.Value == "<<" && kn.Style == 0 {
		v, err := c.convert(vn, depth+1)
		if err != nil {
			return err
		}
		var srcs []*Node
		switch v.Kind {
		case MapNode:
			srcs = []*Node{v}
		case ListNode:
			srcs = v.Items
		}
		for _, s := range srcs {
			if s.Kind != MapNode {
				return &SyntaxError{Pos: v.Pos, Msg: "a merge key needs a mapping or a list of mappings"}
			}
			for i, k := range s.Keys {
				if key := k.KeyString(); out.find(key) < 0 {
					out.addKey(k, s.Values[i], key)
				}
			}
		}
		return nil
	}
	k, err := c.convert(kn, depth+1)
	if err != nil {
		return err
	}
	v, err := c.convert(vn, depth+1)
	if err != nil {
		return err
	}
	key := k.KeyString()
	if prev := out.KeyNode(key); prev != nil {
		c.doc.Duplicates = append(c.doc.Duplicates, Duplicate{Key: key, First: prev.Pos, Then: k.Pos})
	}
	out.addKey(k, v, key)
	return nil
}

var (
	intRe   = regexp.MustCompile(`^[-+]?(0b[0-1_]+|0[0-7_]+|(0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|[1-9][0-9_]*(:[0-5]?[0-9])+)$`)
	floatRe = regexp.MustCompile(`^([-+]?([0-9][0-9_]*)?\.[0-9.]*([eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$`)
)

// ResolvePlain gives a plain (unquoted) scalar the type PyYAML's YAML 1.1
// resolver would: null, bool (yes/no/on/off too), int (with 0b, 0x, octal
// and sexagesimal forms) or float; anything else stays a string.
func ResolvePlain(s string) any {
	switch s {
	case "", "~", "null", "Null", "NULL":
		return nil
	case "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON":
		return true
	case "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF":
		return false
	}
	// Only text starting with a digit, a sign or a dot can be a number;
	// most scalars are words, so skip the regular expressions for them.
	if c := s[0]; !(c >= '0' && c <= '9') && c != '-' && c != '+' && c != '.' {
		return s
	}
	if intRe.MatchString(s) {
		if v, ok := parseInt11(s); ok {
			return v
		}
	}
	if floatRe.MatchString(s) {
		if v, ok := parseFloat11(s); ok {
			return v
		}
	}
	return s
}

func parseInt11(s string) (int, bool) {
	t := strings.ReplaceAll(s, "_", "")
	sign := 1
	if t != "" && (t[0] == '-' || t[0] == '+') {
		if t[0] == '-' {
			sign = -1
		}
		t = t[1:]
	}
	var v int64
	var err error
	switch {
	case t == "0":
		return 0, true
	case strings.HasPrefix(t, "0b"):
		v, err = strconv.ParseInt(t[2:], 2, 64)
	case strings.HasPrefix(t, "0x"):
		v, err = strconv.ParseInt(t[2:], 16, 64)
	case strings.HasPrefix(t, "0"):
		v, err = strconv.ParseInt(t[1:], 8, 64)
	case strings.Contains(t, ":"):
		for _, part := range strings.Split(t, ":") {
			d, e := strconv.ParseInt(part, 10, 64)
			if e != nil {
				return 0, false
			}
			v = v*60 + d
		}
	default:
		v, err = strconv.ParseInt(t, 10, 64)
	}
	if err != nil {
		return 0, false
	}
	return sign * int(v), true
}

func parseFloat11(s string) (float64, bool) {
	t := strings.ReplaceAll(s, "_", "")
	switch strings.ToLower(strings.TrimLeft(t, "+-")) {
	case ".inf":
		if strings.HasPrefix(t, "-") {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	case ".nan":
		return math.NaN(), true
	}
	if strings.Contains(t, ":") {
		sign := 1.0
		if t[0] == '-' || t[0] == '+' {
			if t[0] == '-' {
				sign = -1
			}
			t = t[1:]
		}
		var v float64
		for _, part := range strings.Split(t, ":") {
			d, e := strconv.ParseFloat(part, 64)
			if e != nil {
				return 0, false
			}
			v = v*60 + d
		}
		return sign * v, true
	}
	v, err := strconv.ParseFloat(t, 64)
	return v, err == nil
}
