package power

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"time"

	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/janitor"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/process"
	"github.com/basalt-lava/basalt/internal/shlex"
	"github.com/basalt-lava/basalt/internal/value"
)

// The power and serial-connection layer of a board, as a lab has it: the
// device dictionary's power_on_command, power_off_command,
// hard_reset_command, pre_power_command and pre_os_command (rendered as
// commands.power_on, power_off, hard_reset, pre_power_command,
// pre_os_command) are host commands run on the dispatcher, each line
// shlex-split and run without a shell in a process group of its own
// (runHostCommand), its output in the log; a line that fails or
// outlives the action's timeout is an InfrastructureError, as in LAVA.
// The commands come from the device dictionary, the lab admin's: nothing
// of the job's is ever run on the host. Retries are LAVA's: the boot
// action that holds reset-device (uboot-action, grub-main-action, …) is
// a retrying action, so failure_retry of the job and the device repeats
// the power cycle with the rest of the boot.
//
// The serial console is the dictionary's connection_command
// (commands.connect) or, with connection_list, the commands.connections
// entry tagged primary: connect-device runs it through
// connection.Dial, a session that runs the command again whenever it
// exits and ends only when the board stays unreachable for
// serialReconnectWindow (connection/serial.go). It is the namespace's
// DataConnection, reused by a later connect-device while connected
// (LAVA's "Already connected"), closed by disconnect-device and by
// finalize. connect-shell does the same for a named secondary
// connection.

// serialReconnectWindow is how long a board's console may stay
// unreachable (a power cycle, a restarting serial server) before the
// session ends and the waiting action fails with an InfrastructureError.
const serialReconnectWindow = 30 * time.Second

// dataPowerOffNet holds the janitor entries that power the device off
// should Basalt die before finalize does ([]*janitor.Entry, namespace
// common).
const dataPowerOffNet pipeline.DataKey = "power/janitor-entries"

// armPowerOff lists the device's power_off commands with the janitor
// once the device has been powered: a Basalt killed outright (SIGKILL)
// still powers its board off, as finalize would. The commands are the
// device dictionary's, the lab admin's, never the job's. Finalize's
// power-off withdraws them (disarmPowerOff).
func armPowerOff(b *pipeline.Base) {
	rt := &b.Job.Runtime
	if rt.Data("common", dataPowerOffNet) != nil {
		return
	}
	cmds, _ := deviceCommand(b.Device(), "power_off")
	var entries []*janitor.Entry
	// The helper runs the newest first: listed last to first, they run in
	// the dictionary's order.
	for i := len(cmds) - 1; i >= 0; i-- {
		argv, err := shlex.Split(cmds[i])
		if err != nil || len(argv) == 0 {
			continue
		}
		entries = append(entries, janitor.Add("power-off of the device", argv...))
	}
	rt.SetData("common", dataPowerOffNet, entries)
}

// disarmPowerOff withdraws what armPowerOff listed.
func disarmPowerOff(b *pipeline.Base) {
	rt := &b.Job.Runtime
	entries, _ := rt.Data("common", dataPowerOffNet).([]*janitor.Entry)
	for _, e := range entries {
		e.Done()
	}
	rt.SetData("common", dataPowerOffNet, nil)
}

// CannotRun is empty: PowerOn runs.
func (*PowerOn) CannotRun() string { return "" }

// Run runs the pre-power command, then power_on. A device whose power_on
// is set but empty cannot be powered on: LAVA warns and goes on.
func (a *PowerOn) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	cmds, has := deviceCommand(a.Device(), "power_on")
	if has && len(cmds) == 0 {
		a.Log().Warnf("Unable to power on the device")
		return conn, nil
	}
	pre, _ := deviceCommand(a.Device(), "pre_power_command")
	if len(pre) > 0 {
		a.Log().Infof("Running pre power command")
	}
	if len(cmds) > 0 {
		// Listed before the command runs: a board half powered on is
		// still powered off.
		armPowerOff(&a.Base)
	}
	for _, c := range append(pre, cmds...) {
		if err := runHostCommand(ctx, &a.Base, c); err != nil {
			return conn, commandFailed(ctx, "Unable to power-on: '%s' failed: %v", c, err)
		}
	}
	a.SetResult("success", a.Name)
	return conn, nil
}

// CannotRun is empty: PrePower runs.
func (*PrePower) CannotRun() string { return "" }

// Run runs the device's pre_power_command.
func (a *PrePower) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	return a.runOptional(ctx, conn, &a.Base, "pre_power_command", "Pre power command does not exist", "Running pre power command", "Unable to run pre-power")
}

// CannotRun is empty: PreOs runs.
func (*PreOs) CannotRun() string { return "" }

// Run runs the device's pre_os_command.
func (a *PreOs) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	return (*PrePower)(nil).runOptional(ctx, conn, &a.Base, "pre_os_command", "Pre OS command does not exist", "Running pre OS command", "Unable to run pre-os")
}

// runOptional is the run of pre-power-command and pre-os-command: an
// empty command is a warning, none at all nothing to do.
func (*PrePower) runOptional(ctx context.Context, conn pipeline.Connection, b *pipeline.Base, key, missing, running, failed string) (pipeline.Connection, error) {
	cmds, has := deviceCommand(b.Device(), key)
	if has && len(cmds) == 0 {
		b.Log().Warnf("%s", missing)
		return conn, nil
	}
	if len(cmds) > 0 {
		b.Log().Infof("%s", running)
	}
	for _, c := range cmds {
		if err := runHostCommand(ctx, b, c); err != nil {
			return conn, commandFailed(ctx, "%s: '%s' failed: %v", failed, c, err)
		}
	}
	b.SetResult("success", b.Name)
	return conn, nil
}

// CannotRun is empty: PDUReboot runs.
func (*PDUReboot) CannotRun() string { return "" }

// Run runs the device's hard_reset command lines.
func (a *PDUReboot) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	cmds, _ := deviceCommand(a.Device(), "hard_reset")
	if len(cmds) == 0 {
		return conn, pipeline.InfrastructureError("Hard reset required but not defined.")
	}
	armPowerOff(&a.Base)
	for _, c := range cmds {
		if err := runHostCommand(ctx, &a.Base, c); err != nil {
			return conn, commandFailed(ctx, "Unable to reboot: '%s' failed: %v", c, err)
		}
	}
	a.SetResult("status", "success")
	return conn, nil
}

// commandFailed is the InfrastructureError of a power command; a
// command cut by the action's timeout is left to the timeout handling,
// which names the action.
func commandFailed(ctx context.Context, format string, args ...any) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return pipeline.InfrastructureError(format, args...)
}

// defaultRebootCommands is LAVA's REBOOT_COMMAND_LIST: what
// send-reboot-commands sends when neither job nor device names any.
var defaultRebootCommands = []string{"reboot", "reboot -n", "reboot -nf"}

// CannotRun is empty: SendRebootCommands runs.
func (*SendRebootCommands) CannotRun() string { return "" }

// Run sends the job's soft_reboot commands (or the device's, or LAVA's
// defaults) on the console and waits for the shutdown message; not
// seeing it is a JobError ("Soft reboot failed."), as in LAVA.
func (a *SendRebootCommands) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	s := consoleOf(&a.Base, conn)
	if s == nil {
		return conn, pipeline.InfrastructureError("send-reboot-commands: no console to send the reboot commands on")
	}
	var cmds []string
	switch {
	case a.Params.Has("soft_reboot"):
		cmds = stringList(a.Params.Value("soft_reboot"))
	default:
		if c, _ := deviceCommand(a.Device(), "soft_reboot"); len(c) > 0 {
			cmds = c
		} else {
			a.Log().Warnf("No soft reboot command defined in the test job. Using defaults.")
			cmds = defaultRebootCommands
		}
	}
	msg := a.Params.Map("parameters").String("shutdown-message")
	if msg == "" {
		if v, ok := a.Constant("shutdown-message", ""); ok {
			msg, _ = v.(string)
		}
	}
	if msg == "" {
		msg = "The system is going down for reboot NOW"
	}
	re, err := regexp.Compile(msg)
	if err != nil {
		return conn, pipeline.ConfigurationError("shutdown-message %q is not a regular expression: %v", msg, err)
	}
	for _, c := range cmds {
		if err := s.SendLine(c); err != nil {
			return conn, pipeline.InfrastructureError("send-reboot-commands: %v", err)
		}
	}
	wctx, cancel := connectionTimeout(ctx, &a.Base)
	defer cancel()
	if _, err := s.Expect(wctx, re); err != nil {
		if errors.Is(err, connection.ErrClosed) {
			return conn, pipeline.InfrastructureError("Connection closed: %v", err)
		}
		return conn, pipeline.JobError("Soft reboot failed.")
	}
	a.SetResult("commands", toAny(cmds))
	return conn, nil
}

// connectionTimeout bounds one wait on the console by the action's
// connection timeout, when it has one.
func connectionTimeout(ctx context.Context, b *pipeline.Base) (context.Context, context.CancelFunc) {
	if b.ConnectionTimeout.Seconds > 0 {
		return context.WithTimeout(ctx, time.Duration(b.ConnectionTimeout.Seconds)*time.Second)
	}
	return context.WithCancel(ctx)
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// consoleOf returns the session an action works on: the connection it
// was handed, else its namespace's.
func consoleOf(b *pipeline.Base, conn pipeline.Connection) *connection.Session {
	if s, ok := conn.(*connection.Session); ok && s != nil {
		return s
	}
	if s, ok := b.Data(dataConnection).(*connection.Session); ok {
		return s
	}
	return nil
}

// connectionNamespace is the namespace whose connection connect-device
// and disconnect-device use: the block's connection-namespace, else its
// own.
func connectionNamespace(b *pipeline.Base) string {
	if ns := b.Params.String("connection-namespace"); ns != "" {
		return ns
	}
	return b.Namespace()
}

// primaryConnect returns the primary connection command line and its
// tags: commands.connect (deprecated, still what most dictionaries
// render from connection_command), else the connections entry tagged
// primary.
func primaryConnect(device *value.Map) (line string, tags []string) {
	cmds := device.Map("commands")
	if s, ok := cmds.Value("connect").(string); ok && s != "" {
		return s, nil
	}
	cmds.Map("connections").Range(func(_ string, v any) bool {
		c, _ := v.(*value.Map)
		t := stringList(c.Value("tags"))
		if slices.Contains(t, "primary") {
			line, tags = c.String("connect"), t
			return false
		}
		return true
	})
	return line, tags
}

// dial starts the serial session for a connection command line.
func dial(ctx context.Context, b *pipeline.Base, line string) (*connection.Session, error) {
	argv, err := shlex.Split(line)
	if err != nil || len(argv) == 0 {
		return nil, pipeline.ConfigurationError("invalid connection command %q: %v", line, err)
	}
	opts := connection.Options{Log: b.Log(), StripEscapes: true, StopGrace: process.GraceFrom(ctx)}
	if ms, ok := pipeline.ToInt(b.Device().Map("character_delays").Value("boot")); ok && ms > 0 {
		opts.CharDelay = time.Duration(ms) * time.Millisecond
	}
	s, err := connection.Dial(argv, opts, connection.Reconnect{Window: serialReconnectWindow, Debugf: b.Log().Debugf})
	if err != nil {
		return nil, pipeline.InfrastructureError("unable to run the connection command '%s': %v", line, err)
	}
	if v, ok := b.Constant("default-shell-prompt", ""); ok {
		if p, _ := v.(string); p != "" {
			s.Prompts = []string{p}
		}
	}
	return s, nil
}

// CannotRun is empty: ConnectDevice runs.
func (*ConnectDevice) CannotRun() string { return "" }

// Run connects the primary serial console, or keeps the one already
// connected in the namespace.
func (a *ConnectDevice) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	ns := connectionNamespace(&a.Base)
	rt := &a.Job.Runtime
	if s, ok := rt.Data(ns, dataConnection).(*connection.Session); ok && s != nil {
		if !sessionEnded(s) {
			a.Log().Debugf("Already connected")
			a.SetData(dataConnection, s)
			return s, nil
		}
		a.Log().Warnf("Dead connection, reconnecting")
		s.Close()
	} else if a.Params.String("connection-namespace") != "" {
		return conn, pipeline.JobError("Unable to reuse connection from namespace '%s'", ns)
	}
	line, _ := primaryConnect(a.Device())
	if line == "" {
		return conn, pipeline.ConfigurationError("unable to identify primary connection command")
	}
	a.Log().Infof("[%s] %s Connecting to device using '%s'", ns, a.Name, line)
	s, err := dial(ctx, &a.Base, line)
	if err != nil {
		return conn, err
	}
	rt.SetData(ns, dataConnection, s)
	a.SetData(dataConnection, s)
	return s, nil
}

// sessionEnded reports whether a session's output has ended for good.
func sessionEnded(s *connection.Session) bool { return s.Ended() }

// CannotRun is empty: DisconnectDevice runs.
func (*DisconnectDevice) CannotRun() string { return "" }

// Run closes the namespace's console.
func (a *DisconnectDevice) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	ns := connectionNamespace(&a.Base)
	rt := &a.Job.Runtime
	c, ok := rt.Data(ns, dataConnection).(pipeline.Connection)
	if !ok || c == nil {
		a.Log().Debugf("Not connected, no need to disconnect.")
		return conn, nil
	}
	a.Log().Debugf("Stopping connection")
	c.Close()
	rt.SetData(ns, dataConnection, nil)
	if conn == c {
		conn = nil
	}
	return conn, nil
}

// CannotRun is empty: ConnectShell runs.
func (*ConnectShell) CannotRun() string { return "" }

// Run connects the named secondary console and forces a prompt with an
// empty line (no character a login prompt could take as a user name).
func (a *ConnectShell) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	c := a.Device().Map("commands").Map("connections").Map(a.Hardware)
	line := c.String("connect")
	if line == "" {
		return conn, pipeline.ConfigurationError("unable to identify connection command hardware %q", a.Hardware)
	}
	ns := a.Namespace()
	if s, ok := a.Data(dataConnection).(*connection.Session); ok && s != nil && !sessionEnded(s) {
		a.Log().Debugf("Already connected")
		return s, nil
	}
	a.Log().Infof("[%s] %s Connecting to shell using '%s'", ns, a.Name, line)
	s, err := dial(ctx, &a.Base, line)
	if err != nil {
		return conn, err
	}
	a.SetData(dataConnection, s)
	a.Log().Debugf("Forcing a prompt")
	if err := s.SendLine(""); err != nil {
		return s, pipeline.InfrastructureError("connect-shell: %v", err)
	}
	return s, nil
}
