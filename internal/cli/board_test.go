package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// basalt board, the power switch a device dictionary's power commands
// run: usage errors, a power cycle, a board that does not power on.
func TestBoardCommand(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "board")
	run := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := Main(append([]string{"board"}, args...), &out, &out)
		return code, out.String()
	}
	t.Cleanup(func() { run("power-off", "--state", state) })
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{nil, exitUsage, "usage: basalt board"},
		{[]string{"power-on", "--", "sleep", "60"}, exitUsage, "--state is required"},
		{[]string{"explode", "--state", state}, exitUsage, `unknown action "explode"`},
		{[]string{"power-on", "--state", state}, exitFailed, "must follow --"},
		{[]string{"power-off", "--state", state, "--", "x"}, exitUsage, "takes no board command"},
		{[]string{"power-off", "--state", state}, exitOK, "already off"},
		{[]string{"power-on", "--state", state, "--settle", "50ms", "--", "sleep", "60"}, exitOK, "powered on"},
		{[]string{"power-on", "--state", state, "--", "sleep", "60"}, exitOK, "already on"},
		{[]string{"reset", "--state", state, "--settle", "50ms", "--", "sleep", "61"}, exitOK, "powered off"},
		{[]string{"power-off", "--state", state}, exitOK, "powered off"},
		{[]string{"power-on", "--state", state, "--", "sh", "-c", "echo no firmware; exit 1"}, exitFailed, "did not power on"},
	} {
		code, out := run(tt.args...)
		if code != tt.code || !strings.Contains(out, tt.want) {
			t.Errorf("basalt board %q: exit %d, %q; want %d with %q", tt.args, code, out, tt.code, tt.want)
		}
	}
	if _, err := os.Stat(filepath.Join(state, "board.pid")); err == nil {
		t.Error("board.pid left after power-off")
	}
}
