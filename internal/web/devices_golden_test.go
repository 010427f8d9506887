package web

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// updateGolden reports whether the tests run with -update (the flag is
// defined once for package web, by the job page's tests).
func updateGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if updateGolden() {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to write it)", err, t.Name())
	}
	if diff := cmp.Diff(got, string(want)); diff != "" {
		t.Errorf("%s differs (-got +want; go test -update rewrites it):\n%s", path, diff)
	}
}

// TestGoldenFragments pins the markup the browser helper and LAVA users
// read: the device page's properties and a known plot.
func TestGoldenFragments(t *testing.T) {
	ts := newTestSite(t)
	body := ts.get(t, "/scheduler/device/qemu-01", "").Body.String()
	props := regexp.MustCompile(`(?s)<dl class="props" id="device-props">.*?</dl>`).FindString(body)
	golden(t, "device-props.html", props+"\n")
	pts := []plotPoint{
		{Label: "3", URL: "/results/3/0_perf/speed", Value: 12.5, Result: "pass"},
		{Label: "4", URL: "/results/4/0_perf/speed", Value: 9, Result: "fail"},
		{Label: "7.1", URL: "/results/7.1/0_perf/speed", Value: 14.25, Result: "pass", Current: true},
	}
	golden(t, "plot.svg", string(plotSVG(pts, "MB/s"))+"\n")
}
