package job

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// bigJob is a valid job with one mapping of n keys in the place shape
// names: "context" (n unknown context variables: an error each from the
// submission check and from the schema), "top" (n unknown top-level
// keys: strict-schema findings) or "metadata" (n free-form entries).
func bigJob(shape string, n int) []byte {
	var b strings.Builder
	b.Grow(n * 20)
	b.WriteString("device_type: qemu\njob_name: big\nvisibility: public\ntimeouts:\n  job:\n    minutes: 5\n")
	b.WriteString("actions:\n- boot:\n    method: qemu\n    media: tmpfs\n    timeout:\n      minutes: 5\n    prompts: ['# ']\n")
	switch shape {
	case "top":
		for i := range n {
			fmt.Fprintf(&b, "k%d: %d\n", i, i)
		}
	default:
		fmt.Fprintf(&b, "%s:\n", shape)
		for i := range n {
			fmt.Fprintf(&b, "  k%d: v%d\n", i, i)
		}
	}
	return []byte(b.String())
}

// finishes fails the test when fn has not returned after limit: a hang
// guard with tens of times the margin the work needs, so that only a
// quadratic step trips it, and a failing run does not hang CI.
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

// A job with 100,000 keys in one mapping is checked in every mode with a
// cost that grows with the keys, not their square: each finding is kept
// once, and every one is reported.
func TestParseLargeMappingIsLinear(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("checks 2 MB jobs")
	}
	const n = 100_000
	for _, tt := range []struct {
		shape string
		opts  Options
		// findings is how many diagnostics are about the keys.
		errs, warnings int
	}{
		{"context", Options{}, n, 0},
		{"context", Options{Strict: true}, n, 0},
		{"top", Options{}, n, 0},
		{"top", Options{Strict: true}, n, 0},
		{"metadata", Options{}, 0, 0},
	} {
		name := fmt.Sprintf("%s/%+v", tt.shape, tt.opts)
		src := bigJob(tt.shape, n)
		var diags []Diagnostic
		finishes(t, 90*time.Second, func() { _, diags = Parse("big.yaml", src, tt.opts) })
		if got := len(Errors(diags)); got != tt.errs {
			t.Errorf("%s: %d errors, want %d; first: %v", name, got, tt.errs, first(diags))
		}
		if got := len(diags) - len(Errors(diags)); got != tt.warnings {
			t.Errorf("%s: %d warnings, want %d; first: %v", name, got, tt.warnings, first(diags))
		}
	}
}

func first(diags []Diagnostic) string {
	if len(diags) == 0 {
		return "none"
	}
	return diags[0].String()
}

// BenchmarkParse checks jobs with 10k, 40k and 300k keys in one mapping,
// in the default mode (submission check plus strict schema):
//
//	go test ./internal/job -run '^$' -bench 'Parse/' -benchtime 1x
func BenchmarkParse(b *testing.B) {
	for _, shape := range []string{"metadata", "context", "top"} {
		for _, n := range []int{10_000, 40_000, 300_000} {
			src := bigJob(shape, n)
			b.Run(fmt.Sprintf("%s/keys=%d", shape, n), func(b *testing.B) {
				b.SetBytes(int64(len(src)))
				for b.Loop() {
					if j, _ := Parse("big.yaml", src, Options{}); j == nil {
						b.Fatal("no job")
					}
				}
			})
		}
	}
}
