package labtest

import (
	"fmt"
	"os"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

// TestReaperEndsGroupsOfKilledTest kills (SIGKILL) a test binary that
// started a process with StartProc (a `sleep`, which would outlive it),
// as `go test -timeout` or a CI runner would, and checks that the reaper
// ended it; and that a process a test ended itself is not signalled by
// the reaper at its normal end.
func TestReaperEndsGroupsOfKilledTest(t *testing.T) {
	if os.Getenv("BASALT_LABTEST_CHILD") == "1" {
		t.Skip("the child's own run of this test")
	}
	// A sleep of a duration no other process has on its command line.
	marker := fmt.Sprintf("100000.%09d", time.Now().UnixNano()%1e9)
	_, kill := ChildTest(t, "TestReaperChild", "STARTED",
		"BASALT_LABTEST_CHILD=1", "BASALT_LABTEST_MARKER="+marker, "TMPDIR="+t.TempDir())
	if len(ProcessesMentioning(marker)) == 0 {
		t.Fatalf("the child's process (%s) is not running", marker)
	}
	kill()
	WaitFor(t, 20*time.Second, "the killed test's process gone", func() bool {
		return len(ProcessesMentioning(marker)) == 0
	})
}

// TestReaperChild is the child of TestReaperEndsGroupsOfKilledTest.
func TestReaperChild(t *testing.T) {
	if os.Getenv("BASALT_LABTEST_CHILD") != "1" {
		t.Skip("run by TestReaperEndsGroupsOfKilledTest")
	}
	StartProc(t, "sleeper", t.TempDir(), "sleep", os.Getenv("BASALT_LABTEST_MARKER"))
	fmt.Println("STARTED")
	select {}
}
