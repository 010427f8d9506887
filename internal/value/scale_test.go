package value

import (
	"fmt"
	"strings"
	"testing"
	"time"
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
