package value

import (
	"errors"
	"testing"

	"github.com/basalt-lava/basalt/internal/limits"
)

// FuzzParseYAML checks that no document makes ParseYAMLLimit panic, that
// a parsed document holds no more nodes than the limit, that an error
// past a limit is a *limits.Error, and that the key index of large
// mappings answers Get and KeyNode as a scan of the keys does.
//
//	go test ./internal/value -run '^$' -fuzz FuzzParseYAML -fuzztime 60s
func FuzzParseYAML(f *testing.F) {
	for _, s := range []string{
		"a: 1\nb: [1, 2]\nc: {d: e}\n",
		string(mappingYAML(40)) + "k3: again\n<<: {k1: merged, z: 1}\n",
		"a: &x [1, 2]\nb: *x\nc: {<<: [{p: 1}, {q: 2}]}\n",
		"a: &x [1, *x]\n",
		string(billionLaughs()),
		"? [a, b]\n: 1\n? {c: d}\n: 2\n1: x\nnull: y\ntrue: z\n",
	} {
		f.Add([]byte(s), 0)
		f.Add([]byte(s), 30)
	}
	f.Fuzz(func(t *testing.T, data []byte, maxNodes int) {
		if maxNodes < 0 || maxNodes > 1<<16 {
			maxNodes = 1 << 16
		}
		d, err := ParseYAMLLimit(data, maxNodes)
		if err != nil {
			var le *limits.Error
			var se *SyntaxError
			if !errors.As(err, &se) || se.Err != nil && !errors.As(err, &le) {
				t.Fatalf("error %v (%T) is not a *SyntaxError with a *limits.Error cause", err, err)
			}
			return
		}
		limit := maxNodes
		if limit == 0 {
			limit = limits.DefaultYAMLNodes
		}
		if n := countNodes(d.Root); n > limit {
			t.Fatalf("%d nodes parsed, over the limit of %d", n, limit)
		}
		checkIndex(t, d.Root)
	})
}

func countNodes(n *Node) int {
	if n == nil {
		return 0
	}
	c := 1
	for i := range n.Keys {
		c += countNodes(n.Keys[i]) + countNodes(n.Values[i])
	}
	for _, it := range n.Items {
		c += countNodes(it)
	}
	return c
}

// checkIndex compares Get and KeyNode with a scan for the last key of
// each name, in every mapping of the tree.
func checkIndex(t *testing.T, n *Node) {
	if n == nil {
		return
	}
	for i, k := range n.Keys {
		key := k.KeyString()
		last := -1
		for j, k2 := range n.Keys {
			if k2.KeyString() == key {
				last = j
			}
		}
		if n.Get(key) != n.Values[last] || n.KeyNode(key) != n.Keys[last] {
			t.Fatalf("Get(%q) or KeyNode(%q) is not the last entry (%d)", key, key, last)
		}
		checkIndex(t, n.Values[i])
	}
	for _, it := range n.Items {
		checkIndex(t, it)
	}
	if n.Kind == MapNode && (n.Get("\x00absent") != nil || n.KeyNode("\x00absent") != nil) {
		t.Fatal("an absent key was found")
	}
}
