package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/basalt-lava/basalt/internal/board"
)

// runBoard is `basalt board power-on|power-off|reset`: the power switch
// of an emulated board (internal/board), for the power_on_command,
// power_off_command and hard_reset_command of a device dictionary whose
// board is a QEMU process. The board's command line follows `--`.
func runBoard(args []string, stdout, stderr io.Writer) int {
	const synopsis = "basalt board power-on|power-off|reset --state DIR [--settle D] [--grace D] [-- BOARD-COMMAND...]"
	if len(args) == 0 {
		fmt.Fprintf(stderr, "usage: %s\n", synopsis)
		return exitUsage
	}
	verb := args[0]
	fs := newFlagSet("basalt board "+verb, synopsis, stderr)
	var o struct {
		state         string
		settle, grace time.Duration
	}
	fs.StringVar(&o.state, "state", "", "the board's state folder: board.pid and board.log (required)")
	fs.DurationVar(&o.settle, "settle", 500*time.Millisecond, "power-on: how long the board command must keep running to count as powered")
	fs.DurationVar(&o.grace, "grace", 3*time.Second, "power-off: time between SIGTERM and SIGKILL")
	if err := fs.Parse(args[1:]); err != nil {
		return flagStatus(err)
	}
	if o.state == "" {
		fmt.Fprintln(stderr, "basalt board: --state is required")
		return exitUsage
	}
	argv := fs.Args()
	b := &board.Board{Dir: o.state, Settle: o.settle, Grace: o.grace}
	powerOff := func() bool {
		wasOn, err := b.PowerOff()
		if err != nil {
			fmt.Fprintf(stderr, "basalt board: %v\n", err)
			return false
		}
		if wasOn {
			fmt.Fprintf(stdout, "board %s: powered off\n", o.state)
		} else {
			fmt.Fprintf(stdout, "board %s: already off\n", o.state)
		}
		return true
	}
	powerOn := func() bool {
		if len(argv) == 0 {
			fmt.Fprintln(stderr, "basalt board: the board's command line must follow --")
			return false
		}
		already, err := b.PowerOn(argv)
		if err != nil {
			fmt.Fprintf(stderr, "basalt board: %v\n", err)
			return false
		}
		if already {
			fmt.Fprintf(stdout, "board %s: already on\n", o.state)
		} else {
			fmt.Fprintf(stdout, "board %s: powered on\n", o.state)
		}
		return true
	}
	ok := false
	switch verb {
	case "power-on":
		ok = powerOn()
	case "power-off":
		if len(argv) > 0 {
			fmt.Fprintln(stderr, "basalt board power-off: takes no board command")
			return exitUsage
		}
		ok = powerOff()
	case "reset":
		ok = powerOff() && powerOn()
	default:
		fmt.Fprintf(stderr, "basalt board: unknown action %q (power-on, power-off, reset)\n", verb)
		return exitUsage
	}
	if !ok {
		return exitFailed
	}
	return exitOK
}
