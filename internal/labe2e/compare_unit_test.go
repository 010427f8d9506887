package labe2e

import (
	"fmt"
	"strings"
	"testing"
)

// The comparisons the lab cases rely on, on logs made up to hold each
// fault they must catch (no QEMU: these run under -short too).
func TestLogComparisons(t *testing.T) {
	rec := func(dt, lvl, msg string) string {
		return fmt.Sprintf("- {dt: '2026-12-07T03:00:%s', lvl: %s, msg: %s}\n", dt, lvl, msg)
	}
	whole := []string{
		rec("00.000001", "info", "'start: 1 deployimages (timeout 00:02:00) [common]'"),
		rec("00.000002", "target", "'[    0.000000] Linux version'"),
		rec("00.000002", "target", "''"),
		rec("00.000002", "target", "''"), // two blank lines of one read: not a repeat
		rec("00.000003", "info", "'end: 1 deployimages (duration 00:00:01) [common]'"),
		rec("00.000004", "results", "{definition: lava, case: deployimages, level: '1', duration: '1.00', result: pass}"),
		rec("00.000005", "results", "{definition: 0_smoke, case: m, result: pass, measurement: 42.5, units: ms}"),
	}
	other := strings.NewReplacer("00:00:01", "00:00:07", "'1.00'", "'7.00'", "Linux version", "Linux version 6").Replace(strings.Join(whole, ""))
	cases := []struct {
		name             string
		log              string
		sameSkeleton     bool
		repeat, repeatAt int
	}{
		{name: "the same log", log: strings.Join(whole, ""), sameSkeleton: true, repeat: -1},
		{name: "another run: durations and the guest's lines differ", log: other, sameSkeleton: true, repeat: -1},
		{name: "a batch stored twice", log: strings.Join(append(append([]string{}, whole[:6]...), whole[4:]...), ""), sameSkeleton: false, repeat: 6, repeatAt: 4},
		{name: "a batch lost", log: strings.Join(append(append([]string{}, whole[:4]...), whole[5:]...), ""), sameSkeleton: false, repeat: -1},
		{name: "another result", log: strings.Replace(strings.Join(whole, ""), "result: pass}", "result: fail}", 1), sameSkeleton: false, repeat: -1},
		{name: "another measurement", log: strings.Replace(strings.Join(whole, ""), "42.5", "42.6", 1), sameSkeleton: false, repeat: -1},
	}
	want := skeleton(parseLog(t, "reference", strings.Join(whole, "")))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log := parseLog(t, tc.name, tc.log)
			if d := diffLines(skeleton(log), want); (d == "") != tc.sameSkeleton {
				t.Errorf("same skeleton: %v, want %v (%s)", d == "", tc.sameSkeleton, d)
			}
			i, j, found := firstRepeat(log)
			if found != (tc.repeat >= 0) || (found && (i != tc.repeat || j != tc.repeatAt)) {
				t.Errorf("firstRepeat = %d, %d, %v; want %d, %d", i, j, found, tc.repeat, tc.repeatAt)
			}
		})
	}
}
