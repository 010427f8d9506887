package boot

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/kernelmsg"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// LAVA's messages of login(1), which the login actions also wait for.
const (
	loginIncorrect = "Login incorrect"
	loginTimedOut  = "Login timed out"
)

// defaultKernelStart is LAVA's kernel-start-message when the device has
// none.
const defaultKernelStart = `Linux version [0-9]`

// sessionOf returns the console a boot action works on.
func sessionOf(b *pipeline.Base, conn pipeline.Connection) (*connection.Session, error) {
	s, ok := conn.(*connection.Session)
	if !ok || s == nil {
		return nil, pipeline.JobError("%s: no console connection to the device (got %T)", b.Name, conn)
	}
	return s, nil
}

// compile turns the job's patterns into regular expressions. They are
// Python regular expressions in LAVA; the common subset is the same, and
// what Go lacks (lookarounds, backreferences) is reported, not guessed.
func compile(what string, patterns []string) ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, 0, len(patterns))
	for _, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, pipeline.JobError("%s %q is not a regular expression basalt can use: %v", what, p, err)
		}
		out = append(out, re)
	}
	return out, nil
}

func literal(s string) *regexp.Regexp { return regexp.MustCompile(regexp.QuoteMeta(s)) }

// waitFailed turns an error of Expect into the action's error: the end
// of the console is an infrastructure failure (QEMU died); running out
// of time is left to the run loop, which names the action that timed out.
func waitFailed(ctx context.Context, s *connection.Session, waiting string, err error) error {
	if errors.Is(err, connection.ErrClosed) {
		return consoleClosed(ctx, s, waiting, err)
	}
	return err
}

// remaining formats the time left before ctx's deadline, for the log.
func remaining(ctx context.Context) string {
	dl, ok := ctx.Deadline()
	if !ok {
		return "none"
	}
	s := int(time.Until(dl).Seconds())
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

// Run waits, when a kernel boots, for its first message (or a bootloader
// error the device lists), then logs in with the retries of login-action.
func (a *AutoLogin) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	if a.Booting {
		s, err := sessionOf(&a.Base, conn)
		if err != nil {
			return conn, err
		}
		if err := a.waitKernelStart(ctx, s); err != nil {
			return conn, err
		}
	}
	return a.Base.Run(ctx, conn)
}

func (a *AutoLogin) waitKernelStart(ctx context.Context, s *connection.Session) error {
	start := defaultKernelStart
	if v, ok := a.Params.Map("parameters").Get("kernel-start-message"); ok {
		start, _ = v.(string)
	} else if v, ok := a.Device().Map("constants").Get("kernel-start-message"); ok {
		start, _ = v.(string)
	}
	method := a.Params.String("method")
	if bm, _ := pipeline.DeviceMethods(a.Device(), "boot").Map(method).Map("parameters").Value("boot_message").(string); bm != "" {
		a.Log().Warnf("boot_message is being deprecated in favour of kernel-start-message in constants")
		start = bm
	}
	if start == "" {
		return nil
	}
	patterns := []string{start}
	for _, e := range a.Device().Map("constants").Map(method).List("error-messages") {
		if m, ok := e.(string); ok && m != "" {
			patterns = append(patterns, m)
		}
	}
	res, err := compile("kernel start or error message", patterns)
	if err != nil {
		return err
	}
	a.Log().Debugf("%s: Wait for prompt %q (timeout %s)", a.Name, patterns, remaining(ctx))
	qemu := len(res)
	res = append(res, qemuMessage)
	for {
		m, err := s.Expect(ctx, res...)
		if err != nil {
			return waitFailed(ctx, s, "the kernel to start", err)
		}
		switch {
		case m.Index == 0:
			return nil
		case m.Index == qemu:
			if err := qemuFailed(ctx, s, m); err != nil {
				return err
			}
			// A warning: QEMU goes on. Others are not waited for.
			res = res[:qemu]
		default:
			return pipeline.InfrastructureError("matched a bootloader error message: '%s' (%d)", patterns[m.Index], m.Index)
		}
	}
}

// qemuMessage is how QEMU starts what it says itself on stderr, an error
// on its command line for one, before any guest output.
var qemuMessage = regexp.MustCompile(`qemu-system-[\w.-]+: `)

// qemuGrace is how long QEMU gets to exit after printing a message: an
// error is followed by its exit at once, a warning by nothing.
const qemuGrace = 2 * time.Second

// qemuFailed decides whether QEMU's message m was its last: when QEMU
// exits, the error names its status and what it printed; when it goes
// on, nil.
func qemuFailed(ctx context.Context, s *connection.Session, m *connection.Match) error {
	if s.Done() == nil {
		return nil
	}
	select {
	case <-s.Done():
	case <-ctx.Done():
		return nil
	case <-time.After(qemuGrace):
		return nil
	}
	// QEMU has exited, so all it printed is in the console: collect it up
	// to the end of the output (pieces of lines still arriving when the
	// message matched are joined as they come).
	said := m.Before + m.Groups[0]
	var rest []string
	for len(rest) < 20 {
		r, err := s.Expect(ctx, anyText)
		if err != nil {
			break
		}
		rest = append(rest, r.Groups[0])
	}
	if len(rest) > 0 {
		said += rest[0]
		rest = rest[1:]
	}
	_, perr := s.Exited()
	return pipeline.InfrastructureError("QEMU exited (%s) before the kernel started: %s",
		exitStatus(perr), strings.Join(append([]string{said}, rest...), "; "))
}

var anyText = regexp.MustCompile(`.+`)

// CannotRun is empty: Login runs (below), although it embeds leaf.
func (*Login) CannotRun() string { return "" }

// Run logs in as LAVA's LoginAction does: it waits for the login prompt
// (or, without auto_login, the shell prompt) while collecting kernel
// messages, sends the credentials, waits for the shell prompt and runs
// the login commands. The session's prompts are the job's afterwards.
func (a *Login) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	s, err := sessionOf(&a.Base, conn)
	if err != nil {
		return conn, err
	}
	promptText := promptStrings(a.Params)
	prompts, err := compile("prompt", promptText)
	if err != nil {
		return conn, err
	}
	var failure *regexp.Regexp
	if f := a.Params.String("failure_message"); f != "" {
		a.Log().Infof("Checking for user specified failure message: %s", f)
		fr, err := compile("failure_message", []string{f})
		if err != nil {
			return conn, err
		}
		failure = fr[0]
	}
	incorrect, timedOut := literal(loginIncorrect), literal(loginTimedOut)
	al, _ := a.Params.Value("auto_login").(*value.Map)
	if al == nil || al.Len() == 0 {
		a.Log().Debugf("No login prompt set.")
		m, err := a.watch(ctx, s, prompts, failure, timedOut, incorrect)
		if err != nil {
			return conn, err
		}
		if m == timedOut || m == incorrect {
			return conn, pipeline.JobError("auto_login not enabled but image requested login details.")
		}
		s.Prompts = promptText
		a.SetData(DataShell, s)
		return s, nil
	}

	a.Log().Infof("Waiting for the login prompt")
	lp, err := compile("login_prompt", []string{fmt.Sprint(al.Value("login_prompt"))})
	if err != nil {
		return conn, err
	}
	m, err := a.watch(ctx, s, prompts, failure, lp[0], incorrect)
	if err != nil {
		return conn, err
	}
	if m == incorrect {
		a.Log().Warnf("Login incorrect message matched before the login prompt. " +
			"Please check that the login prompt is correct. Retrying login...")
	}
	user := fmt.Sprint(al.Value("username"))
	a.Log().Debugf("Sending username %s", user)
	if err := s.SendLine(user); err != nil {
		return conn, consoleClosed(ctx, s, "the username to be sent", err)
	}
	if al.Has("password_prompt") {
		a.Log().Infof("Waiting for password prompt")
		pp, err := compile("password_prompt", []string{fmt.Sprint(al.Value("password_prompt"))})
		if err != nil {
			return conn, err
		}
		// A misspelt password prompt shows as login(1) giving up.
		m, err := s.Expect(ctx, append(append([]*regexp.Regexp{}, prompts...), pp[0], timedOut)...)
		if err != nil {
			return conn, waitFailed(ctx, s, "the password prompt", err)
		}
		if m.Index == len(prompts)+1 {
			return conn, pipeline.JobError("Password prompt not matched, please update the job definition with the correct one.")
		}
		a.Log().Debugf("Sending password")
		if err := s.SendLine(fmt.Sprint(al.Value("password"))); err != nil {
			return conn, consoleClosed(ctx, s, "the password to be sent", err)
		}
	}
	m2, err := s.Expect(ctx, append(append([]*regexp.Regexp{}, prompts...), incorrect, timedOut)...)
	if err != nil {
		return conn, waitFailed(ctx, s, "the shell prompt after login", err)
	}
	switch m2.Index {
	case len(prompts):
		return conn, pipeline.JobError(loginIncorrect)
	case len(prompts) + 1:
		return conn, pipeline.JobError(loginTimedOut)
	}
	if cmds, ok := al.Value("login_commands").([]any); ok {
		a.Log().Debugf("Running login commands")
		for _, c := range cmds {
			if err := s.SendLine(fmt.Sprint(c)); err != nil {
				return conn, consoleClosed(ctx, s, "a login command to be sent", err)
			}
			if _, err := s.Expect(ctx, prompts...); err != nil {
				return conn, waitFailed(ctx, s, "the prompt after a login command", err)
			}
		}
	}
	s.Prompts = promptText
	a.SetData(DataShell, s)
	return s, nil
}

// watch is LAVA's check_kernel_messages: it waits for one of the job's
// prompts, the failure message or the extra patterns, collecting the
// kernel's reports on the way (unless the block sets
// ignore_kernel_messages), and returns the pattern that matched (one of
// extra, or nil for a job prompt). The reports go to the results as
// LAVA's kernel-messages case; a fatal one (a panic) or the failure
// message ends the job with a JobError.
func (a *Login) watch(ctx context.Context, s *connection.Session, prompts []*regexp.Regexp, failure *regexp.Regexp, extra ...*regexp.Regexp) (*regexp.Regexp, error) {
	all := append([]*regexp.Regexp{}, prompts...)
	failureAt := -1
	if failure != nil {
		failureAt = len(all)
		all = append(all, failure)
	}
	all = append(all, extra...)
	kernel := !pipeline.Truthy(a.Params.Value("ignore_kernel_messages"))
	if kernel {
		a.Log().Infof("Parsing kernel messages")
	}
	w := &kernelmsg.Watch{Prompts: all, Kernel: kernel, Found: func(m kernelmsg.Message) {
		if m.Fatal {
			a.Log().Errorf("%s kernel '%s'", a.Name, m.Kind)
		} else {
			a.Log().Warnf("%s: kernel '%s'", a.Name, m.Kind)
		}
	}}
	a.Log().Debugf("[%s] Waiting for messages, (timeout %s)", a.Name, remaining(ctx))
	start := time.Now()
	out, err := w.Wait(ctx, s)

	var list []any
	for _, m := range out.Messages {
		list = append(list, value.MapOf("kind", string(m.Kind), "message", m.Text))
	}
	result := "pass"
	var halt error
	switch {
	case out.Fatal != nil:
		result = "fail"
		halt = pipeline.JobError("%s", out.Fatal.Text)
	case err == nil && failureAt >= 0 && out.Prompt == failureAt:
		result = "fail"
		msg := fmt.Sprintf("Matched job-specific failure message: '%s'", failure)
		a.Log().Errorf("%s %s", a.Name, msg)
		list = append(list, value.MapOf("message", "kernel-messages"))
		halt = pipeline.JobError("%s", msg)
	}
	// LAVA records the case when the wait ends; a wait cut short by its
	// time limit still reports what it found.
	if err == nil || halt != nil || len(list) > 0 {
		if list == nil {
			list = []any{}
		}
		a.Log().Result(value.MapOf(
			"definition", "lava",
			"namespace", a.Namespace(),
			"case", "kernel-messages",
			"level", a.Level,
			"duration", fmt.Sprintf("%.02f", time.Since(start).Seconds()),
			"result", result,
			"extra", value.MapOf("extra", list),
		))
	}
	if len(out.Messages) == 0 {
		a.SetResult("success", "No kernel warnings or errors detected.")
	} else {
		a.Log().Warnf("Kernel warnings or errors detected.")
		a.SetResult("fail", list)
	}
	if halt != nil {
		return nil, halt
	}
	if err != nil {
		return nil, waitFailed(ctx, s, "the login or shell prompt", err)
	}
	if out.Prompt < len(prompts) {
		return nil, nil
	}
	return all[out.Prompt], nil
}

// checkChar is what LAVA sends to get a fresh prompt from a shell: a
// comment, harmless whatever the shell is doing.
const checkChar = "#"

// CannotRun is empty: ExpectShell runs (below), although it embeds leaf.
func (*ExpectShell) CannotRun() string { return "" }

// Run sends an empty line and waits for the job's prompt, as LAVA's
// force-prompt wait does: half the time, then up to six times a "#" line
// and a tenth of the time, in case kernel messages garbled the prompt.
func (a *ExpectShell) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	s, ok := conn.(*connection.Session)
	if !ok || s == nil {
		return conn, pipeline.JobError("No connection available.")
	}
	text := promptStrings(a.Params)
	prompts, err := compile("prompt", text)
	if err != nil {
		return conn, err
	}
	s.Prompts = text
	a.Log().Debugf("Forcing a shell prompt, looking for %q", text)
	if err := s.SendLine(""); err != nil {
		return conn, consoleClosed(ctx, s, "the shell prompt", err)
	}
	if err := forcePromptWait(ctx, &a.Base, s, prompts); err != nil {
		return conn, err
	}
	a.SetData(DataShell, s)
	return s, nil
}

// forcePromptWait is LAVA's force_prompt_wait.
func forcePromptWait(ctx context.Context, b *pipeline.Base, s *connection.Session, prompts []*regexp.Regexp) error {
	dl, ok := ctx.Deadline()
	if !ok {
		_, err := s.Expect(ctx, prompts...)
		return waitFailed(ctx, s, "the shell prompt", err)
	}
	total := time.Until(dl)
	part := total / 2
	for tries := 0; ; tries++ {
		wctx, cancel := context.WithTimeout(ctx, part)
		_, err := s.Expect(wctx, prompts...)
		cancel()
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case !errors.Is(err, context.DeadlineExceeded):
			return waitFailed(ctx, s, "the shell prompt", err)
		case tries == 6:
			return pipeline.JobError("wait for prompt timed out")
		}
		b.Log().Warnf("%s: Sending %s in case of corruption. Connection timeout %s, retry in %s",
			b.Name, checkChar, total.Round(time.Second), (total / 10).Round(time.Second))
		part = total / 10
		if err := s.SendLine(checkChar); err != nil {
			return consoleClosed(ctx, s, "the shell prompt", err)
		}
	}
}

// CannotRun is empty: ExportDeviceEnv runs (below), although it embeds leaf.
func (*ExportDeviceEnv) CannotRun() string { return "" }

// Run exports the env_dut variables in the device's shell file and
// sources it, as LAVA does; without env_dut (basalt run has none yet)
// there is nothing to do.
func (a *ExportDeviceEnv) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	env, _ := a.Data(pipeline.DataEnvDict).(*value.Map)
	if conn == nil || env == nil || env.Len() == 0 {
		return conn, nil
	}
	s, err := sessionOf(&a.Base, conn)
	if err != nil {
		return conn, err
	}
	prompts, err := compile("prompt", promptStrings(a.Params))
	if err != nil {
		return conn, err
	}
	shellFile := a.DataString(pipeline.DataEnvShellFile)
	var lines []string
	env.Range(func(k string, v any) bool {
		lines = append(lines, fmt.Sprintf(`echo export %s=\'%v\' >> %s`, k, v, shellFile))
		return true
	})
	if shellFile != "" {
		lines = append(lines, ". "+shellFile)
	}
	for _, l := range lines {
		if err := s.SendLine(l); err != nil {
			return conn, consoleClosed(ctx, s, "the device environment to be sent", err)
		}
		if _, err := s.Expect(ctx, prompts...); err != nil {
			return conn, waitFailed(ctx, s, "the shell prompt", err)
		}
	}
	return s, nil
}
