package labe2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/labtest"
	"github.com/basalt-lava/basalt/internal/value"
)

// What "the results and log `basalt run` writes" means for a job the lab
// ran, and how it is compared.
//
// The same job run twice never gives the same bytes: every record has its
// own time, the guest's kernel prints its own timings and a varying
// number of lines, downloads report their speed, actions their duration,
// and paths hold temporary names. What must be the same, because it is
// what the dispatcher decided and what the guest reported, is compared:
//
//   - the results: every results record of the log, in order, as
//     (definition, case, result, level, measurement, units). Not compared:
//     duration and extra (times, sizes, the overlay's uuids) and, for
//     lava/job, nothing is left out (its error_type and error_msg are
//     compared when present);
//   - the log's skeleton: every action's "start: LEVEL NAME" and
//     "end: LEVEL NAME" record, in order (the timeout and namespace of a
//     start kept, the duration of an end dropped), interleaved with the
//     results records as above. A lost, repeated or reordered batch of log
//     lines changes it, as does a different pipeline;
//   - lavacli's `results JOB --yaml`: the (suite, name, result) of every
//     case, as a multiset, against the results of `basalt run`.
//
// The lab's log is also checked as a whole against itself: what
// `jobs logs --raw` follows while the job runs is record for record what
// `jobs logs --raw --no-follow` reads once it finished.

// reference is what `basalt run` wrote for one job.
type reference struct {
	log     []*value.Map
	results []*value.Map // the "results" records' msg
}

var references struct {
	sync.Mutex
	m map[string]*reference
}

// referenceRun runs `basalt run` on the job with the e2e device, once per
// definition for the package.
func referenceRun(t *testing.T, definition string) *reference {
	t.Helper()
	references.Lock()
	defer references.Unlock()
	if r, ok := references.m[definition]; ok {
		return r
	}
	dir, err := os.MkdirTemp("", "basalt-labe2e-ref-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	job := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(job, []byte(definition), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out := filepath.Join(dir, "out")
	cmd := exec.CommandContext(ctx, labtest.Basalt, "run", job, "--device", filepath.Join(labtest.Root, "internal", "e2e", "testdata", "device.jinja2"),
		"--output-dir", out, "--tmp-dir", filepath.Join(dir, "tmp"))
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("basalt run (the reference): %v\n%s", err, labtest.LastLines(string(b), 40))
	}
	logs, err := os.ReadFile(filepath.Join(out, "logs.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r := &reference{log: parseLog(t, "basalt run's logs.yaml", string(logs))}
	r.results = resultsOf(r.log)
	if references.m == nil {
		references.m = map[string]*reference{}
	}
	references.m[definition] = r
	return r
}

// parseLog reads a LAVA log (logs.yaml, or lavacli's `jobs logs --raw`):
// a YAML list of {dt, lvl, msg} records.
func parseLog(t *testing.T, what, s string) []*value.Map {
	t.Helper()
	if strings.TrimSpace(s) == "" {
		return nil
	}
	v, err := value.DecodeYAML([]byte(s))
	if err != nil {
		t.Fatalf("%s does not parse as YAML: %v", what, err)
	}
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("%s is not a list: %T", what, v)
	}
	var recs []*value.Map
	for i, e := range list {
		m, ok := e.(*value.Map)
		if !ok || !m.Has("dt") || !m.Has("lvl") || !m.Has("msg") {
			t.Fatalf("%s: record %d is not a {dt, lvl, msg} map: %s", what, i, value.GoString(e))
		}
		recs = append(recs, m)
	}
	return recs
}

func resultsOf(log []*value.Map) []*value.Map {
	var rs []*value.Map
	for _, r := range log {
		if r.String("lvl") == "results" {
			if m := r.Map("msg"); m != nil {
				rs = append(rs, m)
			}
		}
	}
	return rs
}

var marker = regexp.MustCompile(`^(start|end): ([0-9.]+) (\S+)( \(timeout [0-9:]+\))?`)

// resultKey is a results record as compared (see the top of this file).
func resultKey(m *value.Map) string {
	s := fmt.Sprintf("result %s/%s = %s", m.String("definition"), m.String("case"), m.String("result"))
	for _, k := range []string{"level", "measurement", "units"} {
		if v, ok := m.Get(k); ok {
			s += fmt.Sprintf(" %s=%v", k, v)
		}
	}
	if m.String("definition") == "lava" && m.String("case") == "job" {
		for _, k := range []string{"error_type", "error_msg"} {
			if v, ok := m.Get(k); ok {
				s += fmt.Sprintf(" %s=%v", k, v)
			}
		}
	}
	return s
}

// skeleton is the part of a log compared with the reference's.
func skeleton(log []*value.Map) []string {
	var s []string
	for _, r := range log {
		switch r.String("lvl") {
		case "results":
			if m := r.Map("msg"); m != nil {
				s = append(s, resultKey(m))
			}
		case "info":
			msg, _ := r.Value("msg").(string)
			if m := marker.FindStringSubmatch(msg); m != nil {
				s = append(s, m[1]+": "+m[2]+" "+m[3]+m[4])
			}
		}
	}
	return s
}

// recordKey is a record with everything.
func recordKey(r *value.Map) string {
	return r.String("dt") + " " + r.String("lvl") + " " + value.GoString(r.Value("msg"))
}

// firstRepeat finds a record that appears again after other records:
// what a batch of lines stored twice looks like. Identical records next
// to each other are not repeats: the dispatcher stamps every line of one
// console read with the same time, so two blank lines a guest prints
// together are two identical records.
func firstRepeat(log []*value.Map) (i, j int, found bool) {
	last := map[string]int{}
	for i, r := range log {
		k := recordKey(r)
		if j, ok := last[k]; ok && i-j > 1 {
			return i, j, true
		}
		last[k] = i
	}
	return 0, 0, false
}

// noRepeats fails when firstRepeat finds one.
func noRepeats(t *testing.T, what string, log []*value.Map) {
	t.Helper()
	if i, j, found := firstRepeat(log); found {
		t.Errorf("%s: record %d repeats record %d: %s", what, i, j, recordKey(log[i]))
	}
}

// diffLines shows where two lists of lines first differ.
func diffLines(got, want []string) string {
	n := len(got)
	if len(want) < n {
		n = len(want)
	}
	i := 0
	for i < n && got[i] == want[i] {
		i++
	}
	if i == len(got) && i == len(want) {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d lines vs %d, first difference at %d:\n", len(got), len(want), i)
	for j := max(0, i-3); j < i+5 && (j < len(got) || j < len(want)); j++ {
		g, w := "(none)", "(none)"
		if j < len(got) {
			g = got[j]
		}
		if j < len(want) {
			w = want[j]
		}
		mark := " "
		if g != w {
			mark = "!"
		}
		fmt.Fprintf(&b, "%s %4d got:  %s\n       want: %s\n", mark, j, g, w)
	}
	return b.String()
}

// caseKeys is the multiset of (suite, name, result) of result cases.
func caseKeys(cases []*value.Map, suite, name string) map[string]int {
	m := map[string]int{}
	for _, c := range cases {
		m[fmt.Sprintf("%s.%s [%s]", c.String(suite), c.String(name), c.String("result"))]++
	}
	return m
}
