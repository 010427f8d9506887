package proctest

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFindLingerKill(t *testing.T) {
	// A sleep of a duration no other process has on its command line, and
	// a variable only its environment holds.
	marker := fmt.Sprintf("100000.%09d", time.Now().UnixNano()%1e9)
	envMark := "BASALT_PROCTEST_" + strings.ReplaceAll(marker, ".", "_")
	cmd := exec.Command("sleep", marker)
	cmd.Env = append(os.Environ(), envMark+"=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() { cmd.Process.Kill(); <-done }()
	pid := cmd.Process.Pid

	if got := Mentioning(marker); !slices.Equal(got, []int{pid}) {
		t.Errorf("Mentioning(%s) = %v, want [%d]", marker, got, pid)
	}
	if got := Mentioning(envMark); len(got) != 0 {
		t.Errorf("Mentioning reads the environment: %v", got)
	}
	if got := Naming(envMark); !slices.Equal(got, []int{pid}) {
		t.Errorf("Naming(%s) = %v, want [%d]", envMark, got, pid)
	}
	if got := Cmdline(pid); got != "sleep "+marker {
		t.Errorf("Cmdline = %q", got)
	}
	if left := Linger(marker, 200*time.Millisecond); !slices.Equal(left, []int{pid}) {
		t.Errorf("Linger on a running sleep = %v, want [%d]", left, pid)
	}
	Kill([]int{pid})
	<-done
	if left := Linger(marker, 5*time.Second); len(left) != 0 {
		t.Errorf("Linger after Kill = %v, want none", left)
	}
}
