package power

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/process"
	"github.com/basalt-lava/basalt/internal/shlex"
	"github.com/basalt-lava/basalt/internal/value"
)

// dataConnection is where a boot action keeps the live console of its
// namespace (boot.DataConnection; LAVA's shared/shared/connection), and
// dataShell the console on which it reached a shell (boot.DataShell).
const (
	dataConnection  = pipeline.DataConnection
	dataShell       = pipeline.DataShell
	dataQemuSession = pipeline.DataQemuSession
)

// poweroffWait is how long a guest gets to power off once asked, before
// QEMU is stopped: LAVA listens that long to what the guest prints
// after "poweroff".
const poweroffWait = 5 * time.Second

// Run powers the device off and closes every console, as LAVA's
// FinalizeAction does: it runs even after a failure, so its own
// failures are logged rather than returned.
func (a *Finalize) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	if _, err := a.Base.Run(ctx, conn); err != nil {
		a.Log().Errorf("Failed to run '%s': %v", a.Name, err)
	}
	if conn != nil {
		conn.Close()
	}
	return conn, nil
}

// Cleanup runs the finalize steps when the job ended before reaching
// them (a failure, a timeout, a cancellation): the device is powered off
// and no console is left open. Consoles are closed again, harmlessly,
// whatever happened.
func (a *Finalize) Cleanup(ctx context.Context) error {
	if a.Job == nil {
		return nil
	}
	if !a.Ran {
		a.Ran = true
		a.Run(ctx, nil)
	}
	closeConsoles(ctx, a.ActionBase(), false)
	return a.Base.Cleanup(ctx)
}

// namespaces lists the namespaces of the job's blocks, "common" first.
func namespaces(j *pipeline.Job) []string {
	out := []string{"common"}
	for _, item := range j.Params.List("actions") {
		blk, _ := item.(*value.Map)
		for _, k := range blk.Keys() {
			ns := pipeline.Namespace(blk.Map(k))
			if !slices.Contains(out, ns) {
				out = append(out, ns)
			}
		}
	}
	return out
}

// closeConsoles closes the console of every namespace; log says whether
// to say so (LAVA's "Finalising connection" line). A guest that reached
// a shell is asked to power off first.
func closeConsoles(ctx context.Context, b *pipeline.Base, log bool) {
	for _, ns := range namespaces(b.Job) {
		c, ok := b.Job.Runtime.Data(ns, dataConnection).(pipeline.Connection)
		if !ok || c == nil {
			if log {
				b.Log().Debugf("No connection for namespace %s", ns)
			}
			continue
		}
		if log {
			b.Log().Infof("Finalising connection for namespace '%s'", ns)
		}
		powerOffGuest(ctx, b, ns, c)
		if err := c.Close(); err != nil {
			b.Log().Warnf("closing the connection of namespace '%s': %v", ns, err)
		}
	}
}

// CannotRun is empty: ReadFeedback runs (below), although it embeds leaf.
func (*ReadFeedback) CannotRun() string { return "" }

// guestConsole is a console on a guest's process (QEMU's).
type guestConsole interface {
	SendLine(line string) error
	// Done is closed when the process has exited; nil without one.
	Done() <-chan struct{}
}

// powerOffGuest sends "poweroff" to a QEMU guest still running that
// reached a shell on this console, and gives it poweroffWait to end, as LAVA's
// QEMU session does when it finalises: the guest syncs and unmounts its
// disks (an ext4 root file system) rather than losing power mid-write.
func powerOffGuest(ctx context.Context, b *pipeline.Base, ns string, c pipeline.Connection) {
	rt := &b.Job.Runtime
	if rt.Data(ns, dataShell) != c || rt.Data(ns, dataQemuSession) != c {
		return
	}
	g, ok := c.(guestConsole)
	if !ok || g.Done() == nil {
		return
	}
	select {
	case <-g.Done():
		return
	case <-ctx.Done():
		return
	default:
	}
	start := time.Now()
	if err := g.SendLine("poweroff"); err != nil {
		return
	}
	t := time.NewTimer(poweroffWait)
	defer t.Stop()
	select {
	case <-g.Done():
		b.Log().Debugf("The guest powered off in %.1fs", time.Since(start).Seconds())
	case <-t.C:
		b.Log().Debugf("The guest did not power off within %s: stopping it", poweroffWait)
	case <-ctx.Done():
	}
}

// Run finalises, in the finalize pipeline, the connection of every
// namespace; elsewhere it has nothing to do. LAVA first listens
// for a moment to what they still print; a Basalt console logs its
// output as it arrives, so there is nothing left to read. A guest with a
// shell is asked to power off, as LAVA does; then closing stops and
// reaps QEMU.
func (a *ReadFeedback) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	if a.Job != nil && a.finalize {
		closeConsoles(ctx, &a.Base, true)
	}
	return conn, nil
}

// CannotRun is empty: PowerOff runs (below), although it embeds leaf.
func (*PowerOff) CannotRun() string { return "" }

// Run runs the device's power_off commands on the dispatcher. A device
// without commands (QEMU, whose power is the process finalize stops) has
// nothing to run.
func (a *PowerOff) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	if !a.Device().Has("commands") {
		return conn, nil
	}
	cmds, _ := deviceCommand(a.Device(), "power_off")
	for _, c := range cmds {
		if err := runHostCommand(ctx, &a.Base, c); err != nil {
			return conn, pipeline.InfrastructureError("Unable to power-off: '%s' failed: %v", c, err)
		}
	}
	// Powered off: the janitor's copy is no longer needed.
	disarmPowerOff(&a.Base)
	a.SetResult("status", "success")
	return conn, nil
}

// runHostCommand runs one command line of the device configuration, split
// as LAVA splits it (shlex, no shell), in a process group of its own that
// is killed and reaped when ctx ends. Its output goes to the log.
func runHostCommand(ctx context.Context, b *pipeline.Base, line string) error {
	argv, err := shlex.Split(line)
	if err != nil {
		return err
	}
	if len(argv) == 0 {
		return errors.New("empty command")
	}
	b.Log().Debugf("Calling: '%s'", shlex.Join(argv))
	start := time.Now()
	out := process.NewLineWriter(func(l string) { b.Log().Debugf("output: %s", l) })
	err = process.Run(ctx, process.Spec{Argv: argv, Stdout: out, Stderr: out, KeepGroup: true})
	out.Flush()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	code, _ := process.IsExit(err)
	b.Log().Debugf("Returned %v in %s seconds", code, time.Since(start).Round(time.Millisecond))
	return err
}
