package test_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/results"
	"github.com/basalt-lava/basalt/internal/value"
)

// A guest that prints test cases whose names, units and set names are
// not UTF-8 or hold control characters (run through a real shell and
// lava-test-case) still gets its results written: the cases come escaped
// (\xNN), the log says so, results.yaml reads back and results.xml is
// well-formed.
func TestTestShellResultsAnyBytes(t *testing.T) {
	t.Parallel()
	sj := newShellJob(t, jobYAML(30, ""), testDef{name: "bytes", steps: []string{
		`lava-test-set start "$(printf 'set\377')"`,
		`lava-test-case "$(printf 'bad\377\001name')" --result pass`,
		`lava-test-case speed --result pass --measurement 3 --units "$(printf 'MB\300/s')"`,
		`lava-test-set stop`,
		`lava-test-case "$(printf 'nul\033x')" --result fail`,
	}})
	sess := sj.startShell(t)
	if err := sj.run(t, sess); err != nil {
		t.Fatalf("Run: %v", err)
	}
	var c results.Collector
	sj.mu.Lock()
	for _, r := range sj.results {
		c.Add(r)
	}
	sj.mu.Unlock()
	cases := c.Cases()
	names := map[string]results.Case{}
	for _, k := range cases {
		names[k.Name] = k
	}
	if k, ok := names[`bad\xFF\x01name`]; !ok || k.Set != `set\xFF` {
		t.Errorf("cases %+v: want bad\\xFF\\x01name in set set\\xFF", cases)
	}
	if k, ok := names["speed"]; !ok || k.Units != `MB\xC0/s` {
		t.Errorf("speed: %+v, want units MB\\xC0/s", k)
	}
	if _, ok := names[`nul\x1Bx`]; !ok {
		t.Errorf("cases %+v: want nul\\x1Bx", cases)
	}
	sj.log.Flush()
	if !strings.Contains(sj.human.String(), `results record 0_bytes/bad\xFF\x01name: a value held bytes`) {
		t.Errorf("the log does not say the case was altered:\n%s", sj.human.String())
	}
	y, err := results.YAML(cases)
	if err != nil {
		t.Fatalf("results.yaml: %v", err)
	}
	if _, err := value.DecodeYAML(y); err != nil {
		t.Fatalf("results.yaml does not read back: %v\n%s", err, y)
	}
	var x bytes.Buffer
	if err := results.WriteJUnit(&x, "job", cases); err != nil {
		t.Fatalf("results.xml: %v", err)
	}
	d := xml.NewDecoder(&x)
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("results.xml: %v", err)
		}
	}
}
