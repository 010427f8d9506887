package command

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/process"
	"github.com/basalt-lava/basalt/internal/value"
)

// Run runs the command's `do` on the dispatcher. The command lines come
// from the device configuration, which the lab's administrator writes:
// the job only names one. They run with /bin/sh -c so that an
// administrator may write pipes and redirections. A command that fails
// is the lab's problem (InfrastructureError), as is one that runs out of
// time: its process group is killed and reaped.
func (a *Action) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	name, _ := a.Params.Value("name").(string)
	do, _, err := a.commands()
	if err != nil {
		return conn, err
	}
	a.Log().Infof("Running user command '%s'", name)
	a.ran = true
	for _, c := range do {
		if err := runCommand(ctx, a.Log(), c); err != nil {
			return conn, err
		}
	}
	return conn, nil
}

// Cleanup runs the command's `undo`, once, if `do` ran: whatever the job
// did in between, the device is left as the administrator wants it.
func (a *Action) Cleanup(ctx context.Context) error {
	if !a.ran {
		a.Log().Debugf("Skipping %s 'undo' as 'do' was not called", a.Name)
		return nil
	}
	a.ran = false
	_, undo, err := a.commands()
	if err != nil || undo == "" {
		return err
	}
	a.Log().Infof("Running cleanup for user command '%s'", a.Params.String("name"))
	// The undo gets the action's own time, within the cleanup's.
	if a.Timeout.Seconds > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(a.Timeout.Seconds)*time.Second)
		defer cancel()
	}
	return runCommand(ctx, a.Log(), undo)
}

// commands returns the named command's do lines and undo line: a user
// command's do and undo strings, or a built-in command (a string or a
// list of them, as device dictionaries write hard_reset).
func (a *Action) commands() (do []string, undo string, err error) {
	name, _ := a.Params.Value("name").(string)
	cmds := a.Device().Map("commands")
	var v any
	if isBuiltin(name) {
		v = cmds.Value(name)
	} else {
		cmd := cmds.Map("users").Map(name)
		if cmd == nil {
			return nil, "", pipeline.JobError("unknown user command '%s'", name)
		}
		v = cmd.Value("do")
		if u, ok := cmd.Get("undo"); ok {
			if undo, ok = u.(string); !ok {
				return nil, "", pipeline.ConfigurationError("user command %q is invalid: 'undo' should be a string", name)
			}
		}
	}
	switch t := v.(type) {
	case string:
		do = []string{t}
	case []any:
		for _, c := range t {
			s, ok := c.(string)
			if !ok {
				return nil, "", pipeline.ConfigurationError("command %q is invalid: %s is not a string", name, value.GoString(c))
			}
			do = append(do, s)
		}
	default:
		return nil, "", pipeline.ConfigurationError("command %q is not defined for this device", name)
	}
	return do, undo, nil
}

func isBuiltin(name string) bool { return slices.Contains(builtins, name) }

// runCommand runs command with /bin/sh -c (it comes from the device
// configuration, not the job) as a child process (internal/process),
// logging its output as it comes (">> line", LAVA's form), and returns
// an InfrastructureError when it fails. When ctx ends first, ctx's error
// is returned, wrapped, for the run loop to classify.
func runCommand(ctx context.Context, log *joblog.Logger, command string) error {
	log.Debugf("Calling: '/bin/sh' '-c' '%s'", command)
	start := time.Now()
	out := process.NewLineWriter(func(line string) { log.Debugf(">> %s", line) })
	// KeepGroup: what the command starts in the background is its own
	// business once it has exited, as with LAVA.
	werr := process.Run(ctx, process.Spec{Argv: []string{"/bin/sh", "-c", command}, Stdout: out, Stderr: out, KeepGroup: true})
	out.Flush()
	if ctx.Err() != nil && errors.Is(werr, ctx.Err()) {
		log.Errorf("Timed out after %d seconds", int(time.Since(start).Seconds()))
		return fmt.Errorf("%q did not finish: %w", command, werr)
	}
	code, exited := process.IsExit(werr)
	switch {
	case werr == nil:
		log.Debugf("Returned 0 in %d seconds", int(time.Since(start).Seconds()))
		return nil
	case exited:
		log.Debugf("Returned %d in %d seconds", code, int(time.Since(start).Seconds()))
		if code < 0 {
			return pipeline.InfrastructureError("%q was killed by %v", command, werr)
		}
		return pipeline.InfrastructureError("%q failed with exit code %d", command, code)
	}
	return pipeline.InfrastructureError("unable to run %q: %v", command, werr)
}
