// Package webe2e drives Basalt's web pages in a real headless Chromium
// (Debian's chromium, over the DevTools protocol with chromedp) against
// a real lab: `basalt server` and `basalt worker` processes with QEMU
// devices (internal/labtest). It logs in through the login page, submits
// a QEMU job, watches its log grow on the job page while it runs, reads
// the results and the pipeline description, the device page and its
// dictionary and the lists, and writes full-page screenshots of every
// page at a phone's width (375 px) and a desktop's (1440 px), checking
// at each that the document does not scroll sideways and its main
// headings are visible. The screenshots go to the test's artifact
// folder under `go test -artifacts`, else build/webe2e/TEST (logged).
//
// It also checks notify callbacks through real processes: a receiver on
// 127.0.0.1 gets KernelCI's JSON for a QEMU job, and a receiver that
// hangs or refuses does not hold the scheduler up.
//
// The browser runs in a process group of its own, killed when the test
// ends and by labtest's reaper when the test binary dies first.
//
// The cases with a lab boot QEMU and skip under -short; the browser's
// own cases need only Chromium. Without Chromium, QEMU or the fixtures
// they skip saying what is missing, except under BASALT_E2E=1 (make
// test, so CI), where that is a failure.
package webe2e

import (
	"testing"

	"github.com/basalt-lava/basalt/internal/labtest"
)

func TestMain(m *testing.M) { labtest.Main(m) }
