package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/logstore"
)

// The synthetic log is what the benchmark's figures rest on: every record
// must pass the server's record check (the log store's Append refuses a
// batch holding one bad record), it must mix LAVA's levels and actions
// as a real log does, and a seed must give the same bytes every time
// (the same log for Basalt and for LAVA).
func TestRecordsAcceptedAndMixed(t *testing.T) {
	logs, err := logstore.Open(t.TempDir(), logstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	g := newGen(1)
	levels := map[string]int{}
	var starts, ends int
	var index int64
	for index < 20000 {
		batch := make([]string, 500)
		for i := range batch {
			batch[i] = g.next()
			r := batch[i]
			levels[level(r)]++
			if strings.Contains(r, `"msg": "start: `) {
				starts++
			}
			if strings.Contains(r, `"msg": "end: `) {
				ends++
			}
		}
		held, err := logs.Append(1, index, batch)
		if err != nil {
			t.Fatalf("records %d..%d: %v", index, index+500, err)
		}
		index = held
	}
	for _, l := range []string{"info", "debug", "target", "input", "feedback", "results", "warning", "error"} {
		if levels[l] == 0 {
			t.Errorf("no %s record in 20,000 (levels %v)", l, levels)
		}
	}
	if starts < 8 || ends < 6 {
		t.Errorf("%d action start and %d end records; want the deploy's and boot's", starts, ends)
	}
	if _, err := logs.Append(1, index, []string{tailRecord(7, time.Now()), lastFillRecord(index, g.t)}); err != nil {
		t.Fatalf("tail and last records refused: %v", err)
	}
}

func TestWriteFileDeterministic(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	const size = 3 << 20
	la, na, err := writeFile(a, newGen(5), size)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := writeFile(b, newGen(5), size); err != nil {
		t.Fatal(err)
	}
	x, _ := os.ReadFile(a)
	y, _ := os.ReadFile(b)
	if string(x) != string(y) {
		t.Fatal("the same seed gave two different logs")
	}
	if int64(len(x)) != na || na > size+200 || na < size-1000 {
		t.Errorf("wrote %d bytes (reported %d) for %d asked", len(x), na, size)
	}
	sc := bufio.NewScanner(strings.NewReader(string(x)))
	sc.Buffer(nil, 1<<20)
	var lines int64
	var last string
	for sc.Scan() {
		lines++
		last = sc.Text()
	}
	if lines != la || !strings.Contains(last, "BASALT-FILL-END") {
		t.Errorf("%d lines (reported %d), last %q", lines, la, last)
	}
}

func level(r string) string {
	_, after, _ := strings.Cut(r, `"lvl": "`)
	l, _, _ := strings.Cut(after, `"`)
	return l
}
