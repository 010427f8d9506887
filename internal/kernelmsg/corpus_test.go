package kernelmsg

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/lavacorpus"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/corpus")

// corpusCase is what LAVA 2023.1's parse_failures yields on one log of
// the corpus (run with its own ShellSession over `cat`, as its tests do):
// the kinds in order, the first and last line of the first report, and
// the fatal report that ends the scan.
type corpusCase struct {
	kinds       []Kind
	first, last string // of the first report
	fatalLast   string // last line of the fatal report, if any
}

func rep(k Kind, n int) []Kind { return slices.Repeat([]Kind{k}, n) }

// One entry per file of kernel-logs/: a file without one fails the test,
// so that a new log in the corpus gets its expectations written down.
var corpusCases = map[string]corpusCase{
	"kernel-1.txt": {},
	"kernel-2.txt": {
		kinds: slices.Concat(rep(Warning, 8), []Kind{Bug}, rep(Warning, 5)),
		first: "[    0.421874] ------------[ cut here ]------------",
		last:  "[    0.422973] ---[ end trace da227214a82491b7 ]---",
	},
	// LAVA raises the panic, with the oops before it in its results.
	"kernel-4.txt": {
		kinds:     []Kind{Oops, Panic},
		first:     "[    6.208401] Internal error: Oops: 5 [#1] SMP ARM",
		last:      "[    6.208401] Internal error: Oops: 5 [#1] SMP ARM",
		fatalLast: "[  145.759694] ---[ end Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000200",
	},
	"kernel-5.txt": {},
	"kernel-bug.txt": {
		kinds: rep(Bug, 6),
		first: "[   15.447835] BUG: spinlock lockup suspected on CPU#3, gdbus/2329",
		last:  "[   15.447835] BUG: spinlock lockup suspected on CPU#3, gdbus/2329",
	},
	"kernel-kasan.txt": {
		kinds: []Kind{KASAN},
		first: "[   92.229826] BUG: KASAN: slab-out-of-bounds in kmalloc_oob_right+0x190/0x3b8",
		last:  "[   92.397394] ==================================================================",
	},
	"kernel-kfence.txt": {
		kinds: []Kind{KFENCE},
		first: "[   39.998586] BUG: KFENCE: memory corruption in kfree+0x8c/0x174",
		last:  "[   41.458276] ==================================================================",
	},
	"kernel-lkft.txt": {
		kinds: lkftKinds(),
		first: "[   32.445177] ------------[ cut here ]------------",
		last:  "[   32.780681] ---[ end trace 0000000000000000 ]---",
	},
	"kernel-login-error.txt": {},
	"kernel-many-errors.txt": {
		kinds: []Kind{Oops, Bug, Oops, Bug},
		first: "[   14.446502] ------------[ cut here ]------------",
		last:  "[   36.213248] ---[ end trace 1bd963a5953b065c ]---",
	},
	"kernel-oops.txt": {
		kinds: []Kind{Oops},
		first: "[   14.446502] ------------[ cut here ]------------",
		last:  "[   36.213248] ---[ end trace 1bd963a5953b065c ]---",
	},
	// The panic's end line never comes (the board resets): LAVA 2023.1
	// drops the report at the end of the output and carries on; Basalt
	// keeps it, incomplete, and stops on it, as LAVA's later releases do.
	"kernel-panic-and-reset-overlapped.txt": {
		kinds:     []Kind{Panic},
		first:     "[    5.867574] Kernel panic - not syncing: Fatal exception",
		last:      "CBFS: Found 'fallback/verstage' @0x165e40 size 0x147ec in mcache @0xfef45984",
		fatalLast: "CBFS: Found 'fallback/verstage' @0x165e40 size 0x147ec in mcache @0xfef45984",
	},
	"kernel-panic.txt": {
		kinds:     []Kind{Panic},
		first:     "[    4.946791] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000200",
		last:      "[    5.123884] ---[ end Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000200",
		fatalLast: "[    5.123884] ---[ end Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000200",
	},
}

// lkftKinds: 134 reports, all warnings but the four oopses LAVA finds at
// these positions.
func lkftKinds() []Kind {
	k := rep(Warning, 134)
	for _, i := range lkftOops {
		k[i] = Oops
	}
	return k
}

var lkftOops = []int{3, 14, 22, 32}

func corpusFiles(t *testing.T) []string {
	dir := filepath.Join(lavacorpus.Require(t, "kernel-logs"), "kernel-logs")
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no logs in %s: %v", dir, err)
	}
	return files
}

func kinds(msgs []Message) []Kind {
	var out []Kind
	for _, m := range msgs {
		out = append(out, m.Kind)
	}
	return out
}

func lines(s string) []string { return strings.Split(s, "\n") }

func TestScanCorpus(t *testing.T) {
	for _, f := range corpusFiles(t) {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			want, ok := corpusCases[name]
			if !ok {
				t.Fatalf("no expectations for %s: add it to corpusCases", name)
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got := Scan(string(data))
			if !slices.Equal(kinds(got), want.kinds) {
				t.Fatalf("kinds %v, want %v", kinds(got), want.kinds)
			}
			if want.first != "" {
				l := lines(got[0].Text)
				if l[0] != want.first || l[len(l)-1] != want.last {
					t.Errorf("first report runs %q … %q, want %q … %q", l[0], l[len(l)-1], want.first, want.last)
				}
			}
			for i, m := range got {
				last := i == len(got)-1
				if m.Fatal != (last && want.fatalLast != "") {
					t.Errorf("report %d (%s): fatal %v", i, m.Kind, m.Fatal)
				}
			}
			if want.fatalLast != "" {
				l := lines(got[len(got)-1].Text)
				if l[len(l)-1] != want.fatalLast {
					t.Errorf("fatal report ends %q, want %q", l[len(l)-1], want.fatalLast)
				}
			}
			golden(t, name, got)
		})
	}
}

// golden compares the reports, text and all, with testdata/corpus.
func golden(t *testing.T, name string, msgs []Message) {
	t.Helper()
	var b strings.Builder
	for i, m := range msgs {
		fmt.Fprintf(&b, "=== %d %s fatal=%v complete=%v\n%s\n", i, m.Kind, m.Fatal, m.Complete, m.Text)
	}
	path := filepath.Join("testdata", "corpus", strings.TrimSuffix(name, ".txt")+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if b.String() != string(want) {
		t.Errorf("reports differ from %s (go test -update rewrites it)", path)
	}
}

// Watch on a real console (cat of the log) finds the same reports, in
// the same order, as Scan on the lines: same kinds, and each live report
// begins and ends like the full one (a line split between two reads of
// the pipe may be cut short).
func TestWatchCorpus(t *testing.T) {
	for _, f := range corpusFiles(t) {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want := Scan(string(data))
			s, err := connection.Start([]string{"cat", f}, connection.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			w := &Watch{Kernel: true, Prompts: []*regexp.Regexp{regexp.MustCompile(`this prompt never comes`)}}
			out, err := w.Wait(ctx, s)
			if want := len(want) > 0 && want[len(want)-1].Fatal && want[len(want)-1].Complete; want {
				if err != nil || out.Fatal == nil {
					t.Fatalf("a complete panic must end the wait without error: %v, fatal %v", err, out.Fatal)
				}
			} else if !errors.Is(err, connection.ErrClosed) {
				t.Fatalf("wait ended with %v, want the end of the output", err)
			}
			if !slices.Equal(kinds(out.Messages), kinds(want)) {
				t.Fatalf("kinds %v, want %v", kinds(out.Messages), kinds(want))
			}
			for i, m := range out.Messages {
				live, full := lines(m.Text), lines(want[i].Text)
				if !strings.HasPrefix(full[0], live[0]) || live[0] == "" {
					t.Errorf("report %d starts %q, the full one %q", i, live[0], full[0])
				}
				if m.Complete && !strings.HasPrefix(full[len(full)-1], live[len(live)-1]) {
					t.Errorf("report %d ends %q, the full one %q", i, live[len(live)-1], full[len(full)-1])
				}
			}
		})
	}
}
