package web

import (
	"strings"
	"testing"
)

// The timeline is built from start/end records: nested levels, a run
// without its end drawn to the last time logged, LAVA's 85% warning;
// the SVG draws top-level actions and their children of a second or
// more, in percent of the width.
func TestTimeline(t *testing.T) {
	t.Parallel()
	lines := []string{
		record(0, "info", "start: 1 deployimages (timeout 00:00:10) [common]"),
		record(1, "info", "start: 1.1 download-retry (timeout 00:00:10) [common]"),
		record(1, "info", "end: 1.1 download-retry (duration 00:00:00) [common]"),
		record(9, "info", "end: 1 deployimages (duration 00:00:09) [common]"),
		record(9, "info", "end: 1.2 validate (duration 00:00:00) [common]"),
		record(10, "target", "start: not an action, not info"),
		record(10, "info", "start: 2 boot-image-retry (timeout 00:05:00) [common]"),
		record(12, "info", "start: 2.1 boot-qemu-image (timeout 00:05:00) [common]"),
		record(30, "target", "still booting"),
	}
	sc := tlScan{open: map[string]int{}}
	for i, l := range lines {
		sc.add(int64(i), []byte(l))
	}
	sc.last = tlTime("2026-12-07T02:00:30.000000+00:00")
	if len(sc.actions) != 4 {
		t.Fatalf("%d actions: %+v", len(sc.actions), sc.actions)
	}
	a := sc.actions[0]
	if a.Level != "1" || a.Name != "deployimages" || !a.Ended || a.Duration().Seconds() != 9 || !tlNearTimeout(a) {
		t.Errorf("deployimages: %+v", a)
	}
	if b := sc.actions[3]; b.Level != "2.1" || b.Ended || b.StartLine != 7 {
		t.Errorf("boot-qemu-image: %+v", b)
	}
	tv := tlRender("5", sc.actions, sc.last, true)
	svg := string(tv.SVG)
	for _, want := range []string{
		`<svg id="timeline"`,
		`<g class="tl-row tl-deploy tl-near-timeout" data-level="1"><text class="tl-label" x="2" y="19">1 deployimages · 9 s</text><rect class="tl-bar" x="0.000%" y="23" width="30.000%"`,
		`<g class="tl-row tl-boot tl-open" data-level="2">`,
		`<g class="tl-row tl-boot tl-child tl-open" data-level="2.1"><text class="tl-label" x="14"`,
		"2.1 boot-qemu-image · running, 18 s",
		">30 s</text></g></svg>",
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q:\n%s", want, svg)
		}
	}
	if strings.Contains(svg, "download-retry") {
		t.Error("a child under a second is drawn")
	}
	table := string(tv.Table)
	if !strings.Contains(table, `<tr class="tl-near-timeout"><td><a href="/scheduler/job/5?start=0#L0">1</a>`) || !strings.Contains(table, "not ended") {
		t.Errorf("table:\n%s", table)
	}
	if tv.Total != "30 s" {
		t.Errorf("total %q", tv.Total)
	}
	if empty := tlRender("5", nil, sc.last, true); !empty.Empty || empty.SVG != "" {
		t.Errorf("no actions: %+v", empty)
	}
}

func TestTlLevelLess(t *testing.T) {
	t.Parallel()
	for _, c := range [][2]string{{"1", "2"}, {"1.9", "1.10"}, {"1", "1.1"}, {"2.1", "10"}} {
		if !tlLevelLess(c[0], c[1]) || tlLevelLess(c[1], c[0]) {
			t.Errorf("%s < %s wrong", c[0], c[1])
		}
	}
}
