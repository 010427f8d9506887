package test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/testshell"
	"github.com/basalt-lava/basalt/internal/value"
)

// DefaultShellPrompt is the device's default-shell-prompt when its
// configuration has none: the prompt the test shell waits for when no
// boot action set one.
const DefaultShellPrompt = "lava-test: # "

// checkChar is what LAVA sends to make a shell print its prompt: a
// comment, so that it does nothing else.
const checkChar = "#"

// exitStatus is the line a checked command prints after it: `$?` is
// expanded by the device's shell, so the echo of the command line itself
// never matches.
var exitStatus = regexp.MustCompile(`<LAVA_SIGNAL_RETRUNCODE (\d+)>`)

// CannotRun is empty: TestShell runs (below), although it embeds leaf.
func (*TestShell) CannotRun() string { return "" }

// Run starts lava-test-runner for the block's stage in the device's
// shell and follows it until it exits, reporting every result as it
// arrives, as LAVA's TestShellAction does:
//
//  1. make the shell print its prompt (send "#", wait);
//  2. run the boot's pre-commands (mounting the overlay disk), each
//     checked: a command that fails ends the job with its exit status;
//  3. export SHELL, source the overlay's environment (checked);
//  4. start <results-dir>/bin/lava-test-runner <results-dir>/<stage>
//     and follow the console until <LAVA_TEST_RUNNER EXIT>.
//
// When the action's time runs out it fails with LAVATimeout (a Test
// error unless the block says timeout: {skip: true}); the results
// reported so far stay, the run in progress is reported failed, and the
// device may still be running the test: later actions close it.
func (a *TestShell) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	start := time.Now()
	sess, ok := conn.(*connection.Session)
	if !ok || sess == nil {
		a.Log().Errorf("No connection to the DUT, Check that a boot action precede test actions")
		return conn, pipeline.JobError("No connection to the DUT")
	}
	log := a.Log()
	if skip, _ := a.Params.Map("timeout").Value("skip").(bool); skip {
		log.Infof("The timeout has 'skip' enabled. If this test action block times out, the job will continue at the next action block.")
	}
	log.Debugf("Using namespace: %s", a.Namespace())
	prompts, err := a.prompts(sess)
	if err != nil {
		return conn, err
	}
	resultsDir := a.DataString(pipeline.DataResultsDir)
	if resultsDir == "" {
		return conn, pipeline.JobError("Nothing to run. Maybe the 'deploy' stage is missing, otherwise this is a bug which should be reported.")
	}
	stage, ok := a.Params.Value("stage").(int)
	if !ok {
		return conn, pipeline.Bug("test block without a stage number: %s", value.GoString(a.Params.Value("stage")))
	}

	sh := &shell{a: a, sess: sess, prompts: prompts}
	// Whatever the boot left unread is history: the prompt that answers
	// the check character must be a new one.
	sess.Flush()
	if err := sh.send(checkChar); err != nil {
		return conn, a.ended(ctx, err, start, "while waiting for the shell prompt")
	}
	if err := sh.waitPrompt(ctx); err != nil {
		return conn, a.ended(ctx, err, start, "while waiting for the shell prompt")
	}
	if err := a.preCommands(ctx, sh); err != nil {
		return conn, a.ended(ctx, err, start, "while running the pre-commands")
	}
	log.Debugf("Using %s", resultsDir)
	if cmd := a.testShellCommand(); cmd != "" {
		if err := sh.run(ctx, "export SHELL="+cmd, false); err != nil {
			return conn, a.ended(ctx, err, start, "while setting up the shell")
		}
	}
	// Through `command` a missing file is an error the shell reports with
	// a status: a special built-in's error would abort the command line
	// before the status is printed.
	if err := sh.run(ctx, "command . "+resultsDir+"/environment", true); err != nil {
		return conn, a.ended(ctx, err, start, "while setting up the shell")
	}

	cfg := testshell.Config{
		Namespace:  a.Namespace(),
		Stage:      stage,
		Definition: a.definition,
		Result:     log.Result,
		Log:        log,
	}
	if a.signals != nil {
		cfg.MultiNode = a.signals.Signal
		cfg.Send = sh.send
	}
	p := testshell.New(cfg)
	// The runner's output is the test's: one line of it is all that the
	// dispatcher needs to see before following the signals.
	if err := sh.send(fmt.Sprintf("%s/bin/lava-test-runner %s/%d", resultsDir, resultsDir, stage)); err != nil {
		return conn, a.ended(ctx, err, start, "while starting lava-test-runner")
	}
	if dl, ok := ctx.Deadline(); ok {
		log.Infof("Test shell timeout: %ds", int(time.Until(dl).Round(time.Second).Seconds()))
	}
	err = p.Follow(ctx, sess)
	running := p.Running()
	p.Finish()
	if err != nil {
		where := "while lava-test-runner was running"
		if running != "" {
			where = "during " + running
		}
		return conn, a.ended(ctx, err, start, where)
	}
	if errs := p.Errors(); len(errs) > 0 {
		return conn, pipeline.TestError("%s", strings.Join(errs, "; "))
	}
	return conn, nil
}

// ended classifies an error that stopped the test shell. The end of the
// action's time is LAVA's LAVATimeoutError, raised by the innermost
// action whoever set the deadline; it is returned as such so that the run
// loop applies `timeout: skip` or makes it a Test error.
func (a *TestShell) ended(ctx context.Context, err error, start time.Time, where string) error {
	if ctx.Err() == nil || !errors.Is(err, ctx.Err()) {
		return err
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return err // a cancellation: the run loop says so
	}
	a.Log().Errorf("%s timed out %s", a.Name, where)
	return &pipeline.Error{Class: pipeline.ClassTimeout,
		Msg: fmt.Sprintf("%s timed out after %d seconds", a.Name, int(time.Since(start).Seconds()))}
}

// prompts returns the shell prompts to wait for: the boot's, or the
// device's default-shell-prompt, which then becomes the session's.
func (a *TestShell) prompts(sess *connection.Session) ([]*regexp.Regexp, error) {
	if len(sess.Prompts) == 0 {
		p := DefaultShellPrompt
		if v, ok := a.Constant("default-shell-prompt", ""); ok {
			if s, ok := v.(string); ok && s != "" {
				p = s
			}
		}
		sess.Prompts = []string{p}
		a.Log().Debugf("Setting default test shell prompt %s", p)
	}
	out := make([]*regexp.Regexp, 0, len(sess.Prompts))
	for _, p := range sess.Prompts {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, pipeline.JobError("invalid shell prompt %q: %v", p, err)
		}
		out = append(out, re)
	}
	return out, nil
}

// preCommandsDone is the namespace data that remembers on which console
// the pre-commands ran: a retry or a second test block on the same boot
// must not mount the overlay disk twice (the second mount fails), while
// a new boot, with a new console, needs them again.
const preCommandsDone = pipeline.DataPreCommandsDone

// preCommands runs the commands the boot left for the test shell (the
// mount of the overlay disk), each checked.
func (a *TestShell) preCommands(ctx context.Context, sh *shell) error {
	if a.Data(preCommandsDone) == sh.sess {
		return nil
	}
	var cmds []string
	switch v := a.Data(pipeline.DataPreCommands).(type) {
	case []string:
		cmds = v
	case []any:
		for _, c := range v {
			s, ok := c.(string)
			if !ok {
				return pipeline.Bug("pre-command %s is not a string", value.GoString(c))
			}
			cmds = append(cmds, s)
		}
	}
	for _, c := range cmds {
		if err := sh.run(ctx, c, true); err != nil {
			return err
		}
	}
	a.SetData(preCommandsDone, sh.sess)
	return nil
}

// testShellCommand returns LAVA's lava_test_sh_cmd for the namespace:
// the last deploy of the namespace's deployment data, else the device's
// posix constant. The overlay's helpers were written for that shell, and
// lava-test-runner runs run.sh with $SHELL.
func (a *TestShell) testShellCommand() string {
	ns := a.Namespace()
	cmd := ""
	if a.Job != nil {
		for _, item := range a.Job.Params.List("actions") {
			blk, _ := item.(*value.Map)
			dp := blk.Map("deploy")
			if dp == nil || pipeline.Namespace(dp) != ns {
				continue
			}
			cmd, _ = dp.Map("deployment_data").Value("lava_test_sh_cmd").(string)
		}
	}
	if cmd == "" {
		if v, ok := a.Device().Map("constants").Map("posix").Value("lava_test_sh_cmd").(string); ok {
			cmd = v
		}
	}
	return cmd
}

// definition returns what the overlay recorded about a test run.
func (a *TestShell) definition(name string) (*testshell.Definition, error) {
	m, _ := a.Data(pipeline.DataTestDefinition(name)).(*value.Map)
	if m == nil {
		return nil, nil
	}
	return testshell.DefinitionFromData(name, m)
}

// shell sends commands to the device's shell and waits for its prompt.
type shell struct {
	a       *TestShell
	sess    *connection.Session
	prompts []*regexp.Regexp
}

func (s *shell) send(line string) error {
	if err := s.sess.SendLine(line); err != nil {
		return pipeline.InfrastructureError("unable to write to the device's console: %v", err)
	}
	return nil
}

// run sends cmd and waits for the prompt; with check, it makes the shell
// print cmd's exit status first and fails the job unless it is 0.
func (s *shell) run(ctx context.Context, cmd string, check bool) error {
	line := cmd
	if check {
		line += `; printf "<LAVA_SIGNAL_RETRUNCODE $?>\n"`
	}
	if err := s.send(line); err != nil {
		return err
	}
	if check {
		m, err := s.expect(ctx, exitStatus)
		if err != nil {
			if errors.Is(err, errPromptTimeout) {
				return pipeline.JobError("%q did not finish on the device within the connection timeout", cmd)
			}
			return err
		}
		if code := m.Groups[1]; code != "0" {
			return pipeline.JobError("%q failed on the device with exit status %s: the test shell cannot start", cmd, code)
		}
	}
	return s.waitPrompt(ctx)
}

var errPromptTimeout = errors.New("wait for prompt timed out")

// waitPrompt waits for one of the prompts for at most the connection
// timeout: a shell that does not answer in that time is the job's
// problem (a wrong prompt, most likely), as with LAVA.
func (s *shell) waitPrompt(ctx context.Context) error {
	_, err := s.expect(ctx, s.prompts...)
	if errors.Is(err, errPromptTimeout) {
		return pipeline.JobError("wait for prompt timed out")
	}
	return err
}

func (s *shell) expect(ctx context.Context, patterns ...*regexp.Regexp) (*connection.Match, error) {
	wctx := ctx
	if t := s.a.ConnectionTimeout.Seconds; t > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, time.Duration(t)*time.Second)
		defer cancel()
	}
	m, err := s.sess.Expect(wctx, patterns...)
	switch {
	case err == nil:
		return m, nil
	case errors.Is(err, connection.ErrClosed):
		return nil, &pipeline.Error{Class: pipeline.ClassInfrastructure, Msg: "the device's console closed", Err: err}
	case ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
		return nil, errPromptTimeout
	}
	return nil, err
}
