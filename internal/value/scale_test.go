package value

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/limits"
)

// mappingYAML is a document whose root is a mapping of n distinct keys,
// each with a scalar value: the shape that made parsing quadratic.
func mappingYAML(n int) []byte {
	var b strings.Builder
	b.Grow(n * 16)
	for i := range n {
		fmt.Fprintf(&b, "k%d: %d\n", i, i)
	}
	return []byte(b.String())
}

// finishes fails the test when fn has not returned after limit. It is a
// hang guard, not a measurement: the limit is tens of times what the
// work takes, so only a change of complexity (quadratic where it must be
// linear) or a block trips it, and a failing run does not hang CI.
func finishes(t *testing.T, limit time.Duration, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("still running after %s", limit)
	}
}

// A mapping of 200,000 keys parses in well under a second when each key
// costs the same; a duplicate check that scans the keys seen so far
// makes it take minutes.
func TestParseYAMLLargeMappingIsLinear(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("parses a 3 MB document")
	}
	const n = 200_000
	src := append(mappingYAML(n), "k7: again\n"...)
	var d *Document
	var err error
	finishes(t, 60*time.Second, func() { d, err = ParseYAML(src) })
	if err != nil {
		t.Fatal(err)
	}
	if got := len(d.Root.Keys); got != n+1 {
		t.Errorf("%d keys, want %d", got, n+1)
	}
	want := []Duplicate{{Key: "k7", First: Pos{8, 1}, Then: Pos{n + 1, 1}}}
	if len(d.Duplicates) != 1 || d.Duplicates[0] != want[0] {
		t.Errorf("duplicates = %v, want %v", d.Duplicates, want)
	}
	if v := d.Root.Get("k7"); v == nil || v.Scalar != "again" {
		t.Errorf("Get(k7) = %v, want the last value", v)
	}
	if k := d.Root.KeyNode("k199999"); k == nil || k.Pos != (Pos{n, 1}) {
		t.Errorf("KeyNode(k199999) = %v", k)
	}
	m := d.Root.Value().(*Map)
	if m.Len() != n || m.Value("k7") != "again" || m.Value("k5") != 5 {
		t.Errorf("Value(): %d keys, k7 = %v, k5 = %v", m.Len(), m.Value("k7"), m.Value("k5"))
	}
}

// BenchmarkParseYAMLMapping parses a mapping of 10k, 40k and 300k keys:
// the time per key must not grow with the number of keys.
//
//	go test ./internal/value -run '^$' -bench ParseYAMLMapping -benchtime 1x
func BenchmarkParseYAMLMapping(b *testing.B) {
	for _, n := range []int{10_000, 40_000, 300_000} {
		src := mappingYAML(n)
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				if _, err := ParseYAML(src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// billionLaughs is ten anchors, each a list of ten aliases of the one
// before: 10^10 nodes once expanded, from 500 bytes.
func billionLaughs() []byte {
	var b strings.Builder
	b.WriteString(`a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]` + "\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	return []byte(b.String())
}

func TestParseYAMLLimits(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", 300) + strings.Repeat("]", 300)
	for _, tt := range []struct {
		name, src string
		maxNodes  int
		want      string // the error's message
		limit     bool   // a *limits.Error
	}{
		{"keys", "a: 1\nb: 2\nc: 3\n", 6, "3:4: the YAML document (aliases expanded) is over the limit of 6 nodes (--max-yaml-nodes changes it)", true},
		{"keys at the limit", "a: 1\nb: 2\nc: 3\n", 7, "", false},
		{"items", "[1, 2, 3, 4]", 4, "1:11: the YAML document (aliases expanded) is over the limit of 4 nodes (--max-yaml-nodes changes it)", true},
		{"alias", "a: &x [1, 2, 3]\nb: *x\n", 8, "2:4: the YAML document (aliases expanded) is over the limit of 8 nodes (--max-yaml-nodes changes it)", true},
		{"alias within", "a: &x [1, 2, 3]\nb: *x\n", 12, "", false},
		{"billion laughs", string(billionLaughs()), 0, "6:45: the YAML document (aliases expanded) is over the limit of 1048576 nodes (--max-yaml-nodes changes it)", true},
		{"merge of laughs", string(billionLaughs()) + "b:\n  <<: {x: *a9}\n", 0, "6:45: the YAML document (aliases expanded) is over the limit of 1048576 nodes (--max-yaml-nodes changes it)", true},
		{"alias inside its anchor", "a: &x [1, *x]\n", 0, "1:4: an alias is used inside the anchor it names: the document would be infinite", false},
		{"nesting", deep, 0, "1:258: the YAML document's nesting is over the limit of 256 levels (a fixed limit)", true},
	} {
		_, err := ParseYAMLLimit([]byte(tt.src), tt.maxNodes)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%s: ParseYAMLLimit(%d) error = %q, want %q", tt.name, tt.maxNodes, got, tt.want)
		}
		var le *limits.Error
		if errors.As(err, &le) != tt.limit {
			t.Errorf("%s: %v is a *limits.Error: %v, want %v", tt.name, err, !tt.limit, tt.limit)
		}
	}
}

// An alias is refused before it is expanded: a document of 10^10 nodes
// costs what its 500 bytes do, not the million nodes a count as they
// are built would allow.
func TestParseYAMLRefusesBillionLaughsUpFront(t *testing.T) {
	src := billionLaughs()
	allocs := testing.AllocsPerRun(3, func() {
		if _, err := ParseYAML(src); err == nil {
			t.Fatal("billion laughs parsed")
		}
	})
	if allocs > 20_000 {
		t.Errorf("refusing billion laughs took %.0f allocations, want the document's size (a few thousand)", allocs)
	}
}
