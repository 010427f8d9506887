package labtest

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// ChildTest runs the test run (a name: "TestX") of this test binary again
// as a child (-test.short, -test.v), env added to its environment, in a
// process group of its own, so that a SIGKILL to the child reaches the
// test binary alone (as `go test -timeout` or a CI runner kills one). It
// reads the child's output until a line starting with prefix, which the
// child prints once it has started what the test watches, and returns
// the rest of that line and kill, which sends the child SIGKILL. The
// test fails, with the child's standard error, when no such line comes.
// The child is killed and waited for when the test ends.
func ChildTest(t testing.TB, run, prefix string, env ...string) (rest string, kill func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+run+"$", "-test.short", "-test.v")
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if r, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			return r, func() { cmd.Process.Signal(syscall.SIGKILL) }
		}
	}
	t.Fatalf("the child test %s printed no %q line:\n%s", run, prefix, stderr.String())
	return "", nil
}
