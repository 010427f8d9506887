package test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/protocol"
	"github.com/basalt-lava/basalt/internal/value"
)

// Run runs lava-test-interactive on the live shell of the block's
// connection namespace when it has one, as the test shell does.
func (a *InteractiveRetry) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	if own := namespaceShell(&a.Base); own != nil {
		conn = own
	}
	return a.Base.Run(ctx, conn)
}

// CannotRun is empty: Interactive runs (below), although it embeds leaf.
func (*Interactive) CannotRun() string { return "" }

// interactiveMultinode is what the MultiNode steps of a script
// (lava-send, lava-wait, lava-wait-all, lava-sync) need of the job's
// lava-multinode protocol (internal/protocol.Multinode).
type interactiveMultinode interface {
	Send(ctx context.Context, id string, message map[string]any, timeout time.Duration) error
	Wait(ctx context.Context, id string, timeout time.Duration) (protocol.Messages, error)
	WaitAll(ctx context.Context, id, role string, timeout time.Duration) (protocol.Messages, error)
	Sync(ctx context.Context, id string, timeout time.Duration) error
}

// Run plays each script of the block on the device's shell, as LAVA's
// TestInteractiveAction does. For each step it sends the command (its
// {LABEL}s replaced: SERVER_IP, JOB_ID, the bootloader's substitutions,
// values received by lava-wait and the named groups of a success) and
// waits for a prompt, a failure or a success message, all regular
// expressions:
//   - a prompt passes the step, unless successes were expected;
//   - a failure fails it, and raises the failure's exception when it
//     names one;
//   - a success passes it (and waits for the prompt unless
//     wait_for_prompt is false).
//
// A step with a name is a test case of suite <stage>_<script name>; an
// unnamed step that fails ends the job with a Test error. Each script is
// a result of the lava suite, pass when all its steps ran. The wait has
// no limit of its own: the block's timeout ends it (LAVA's connection
// timeout only paces its wait loop). Unlike LAVA, the output received
// before a command is sent is dropped (see step).
func (a *Interactive) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	sess, ok := conn.(*connection.Session)
	if !ok || sess == nil {
		return conn, pipeline.InfrastructureError("Connection closed")
	}
	log := a.Log()
	if skip, _ := a.Params.Map("timeout").Value("skip").(bool); skip {
		log.Infof("The timeout has 'skip' enabled. If this test action block times out, the job will continue at the next action block.")
	}
	log.Debugf("Using namespace: %s", a.Namespace())
	stage, ok := a.Params.Value("stage").(int)
	if !ok {
		return conn, pipeline.Bug("test block without a stage number: %s", value.GoString(a.Params.Value("stage")))
	}
	subs := a.substitutions()
	for _, s := range a.Params.List("interactive") {
		script, _ := s.(*value.Map)
		suite := fmt.Sprintf("%d_%s", stage, script.String("name"))
		start := time.Now()
		run := &interactiveRun{a: a, sess: sess, suite: suite, subs: subs, report: map[string]string{}}
		err := run.script(ctx, script)
		res := value.NewMap()
		res.Set("definition", "lava")
		res.Set("case", suite)
		res.Set("result", "fail")
		if err == nil {
			res.Set("result", "pass")
			if expected := stringList(script.List("expected")); len(expected) > 0 {
				run.handleExpected(expected)
			}
		}
		res.Set("duration", fmt.Sprintf("%.02f", time.Since(start).Seconds()))
		log.Result(res)
		if err != nil {
			return conn, a.ended(ctx, err, start)
		}
	}
	return conn, nil
}

// ended classifies an error that stopped a script: the end of the
// block's time is LAVA's LAVATimeoutError.
func (a *Interactive) ended(ctx context.Context, err error, start time.Time) error {
	if ctx.Err() == nil || !errors.Is(err, ctx.Err()) || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return err
	}
	a.Log().Errorf("%s timed out", a.Name)
	return &pipeline.Error{Class: pipeline.ClassTimeout,
		Msg: fmt.Sprintf("%s timed out after %d seconds", a.Name, int(time.Since(start).Seconds()))}
}

// substitutionsKey is the namespace data where the bootloader's
// overlay leaves its substitutions ({KERNEL_ADDR} …), LAVA's
// bootloader-overlay/u-boot/substitutions.
const substitutionsKey = "bootloader-overlay/u-boot/substitutions"

// substitutions are the {LABEL}s a command may hold at the start.
func (a *Interactive) substitutions() map[string]string {
	subs := map[string]string{}
	switch v := a.Data(substitutionsKey).(type) {
	case map[string]string:
		for k, x := range v {
			subs[k] = x
		}
	case *value.Map:
		v.Range(func(k string, x any) bool {
			if s, ok := x.(string); ok {
				subs[k] = s
			}
			return true
		})
	}
	if _, ok := subs["{SERVER_IP}"]; !ok {
		subs["{SERVER_IP}"] = serverIP(a.Job)
	}
	if a.Job != nil {
		subs["{JOB_ID}"] = fmt.Sprint(a.Job.ID)
	}
	return subs
}

// serverIP is the address the device reaches the dispatcher at: the
// dispatcher configuration's dispatcher_ip, else the address of the
// interface that routes outwards (a UDP "connection" sends nothing).
func serverIP(j *pipeline.Job) string {
	if j != nil {
		if ip := j.Params.Map("dispatcher").String("dispatcher_ip"); ip != "" {
			return ip
		}
	}
	if c, err := net.Dial("udp4", "192.0.2.1:9"); err == nil {
		defer c.Close()
		if ua, ok := c.LocalAddr().(*net.UDPAddr); ok {
			return ua.IP.String()
		}
	}
	return "127.0.0.1"
}

// substitute replaces every label of subs in s, as LAVA's substitute
// does (labels with an empty value are left), in a fixed order.
func substitute(s string, subs map[string]string) string {
	keys := make([]string, 0, len(subs))
	for k := range subs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v := subs[k]; v != "" {
			s = strings.ReplaceAll(s, k, v)
		}
	}
	return s
}

// interactiveRun is one script being played.
type interactiveRun struct {
	a      *Interactive
	sess   *connection.Session
	suite  string
	subs   map[string]string
	report map[string]string // test case → result, for expected
}

// script plays the steps of one script.
func (r *interactiveRun) script(ctx context.Context, script *value.Map) error {
	prompts, err := compileAll(stringList(script.List("prompts")), "prompt")
	if err != nil {
		return err
	}
	// The script's prompts become the connection's, as in LAVA: a test
	// shell after the block waits for them.
	r.sess.Prompts = stringList(script.List("prompts"))
	discardEcho := script.String("echo") == "discard"
	expected := stringList(script.List("expected"))
	for _, st := range script.List("script") {
		step, _ := st.(*value.Map)
		if step == nil {
			return pipeline.JobError("%s: a script step must be a map", r.suite)
		}
		done, err := r.multinode(ctx, step)
		if err != nil {
			return err
		}
		if done {
			continue
		}
		if err := r.step(ctx, step, prompts, discardEcho, expected); err != nil {
			return err
		}
	}
	return nil
}

// multinode runs a step that is a delay or a MultiNode call; done is
// false for any other step.
func (r *interactiveRun) multinode(ctx context.Context, step *value.Map) (done bool, err error) {
	log := r.a.Log()
	if d, ok := step.Value("delay").(int); ok {
		log.Infof("Delaying for %ds", d)
		select {
		case <-time.After(time.Duration(d) * time.Second):
		case <-ctx.Done():
			return true, ctx.Err()
		}
		return true, nil
	}
	var call string
	for _, k := range []string{"lava-send", "lava-wait", "lava-wait-all", "lava-sync"} {
		if step.Has(k) {
			call = k
			break
		}
	}
	if call == "" {
		return false, nil
	}
	mn, ok := r.a.Job.Protocol(protocol.MultinodeName).(interactiveMultinode)
	if !ok {
		return true, pipeline.JobError("%s: %s needs the lava-multinode protocol, which this job does not use", r.suite, call)
	}
	timeout := time.Duration(r.a.Timeout.Seconds) * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	arg := substitute(fmt.Sprint(step.Value(call)), r.subs)
	parts := strings.Fields(arg)
	if len(parts) == 0 {
		return true, pipeline.JobError("%s: %s needs a message id", r.suite, call)
	}
	switch call {
	case "lava-send":
		payload := map[string]any{}
		for _, p := range parts[1:] {
			k, v, found := strings.Cut(p, "=")
			if !found {
				return true, pipeline.JobError("%s: lava-send %s: %q is not key=value", r.suite, parts[0], p)
			}
			payload[k] = v
		}
		if err := mn.Send(ctx, parts[0], payload, timeout); err != nil {
			return true, err
		}
		log.Infof("send result: %s sent", parts[0])
	case "lava-wait":
		msgs, err := mn.Wait(ctx, parts[0], timeout)
		if err != nil {
			return true, err
		}
		log.Infof("wait result: %v", msgs)
		r.received(msgs)
	case "lava-wait-all":
		if len(parts) > 2 {
			return true, pipeline.JobError("lava-wait-all expects 1 or 2 params, got: %v", parts)
		}
		role := ""
		if len(parts) == 2 {
			k, v, _ := strings.Cut(parts[1], "=")
			if k != "role" {
				return true, pipeline.JobError("lava-wait-all 2nd param must be role=<rolename>, got: %s", k)
			}
			role = v
		}
		msgs, err := mn.WaitAll(ctx, parts[0], role, timeout)
		if err != nil {
			return true, err
		}
		log.Infof("wait-all result: %v", msgs)
		r.received(msgs)
	case "lava-sync":
		if err := mn.Sync(ctx, parts[0], timeout); err != nil {
			return true, err
		}
		log.Infof("sync result: %s", parts[0])
	}
	return true, nil
}

// received makes the values of MultiNode messages substitutions.
func (r *interactiveRun) received(msgs protocol.Messages) {
	senders := make([]string, 0, len(msgs))
	for s := range msgs {
		senders = append(senders, s)
	}
	sort.Strings(senders)
	for _, s := range senders {
		for k, v := range msgs[s] {
			r.subs["{"+k+"}"] = v
		}
	}
}

// step sends one command and matches what the device answers.
func (r *interactiveRun) step(ctx context.Context, step *value.Map, prompts []*regexp.Regexp, discardEcho bool, expected []string) (err error) {
	log := r.a.Log()
	failures, failureMsgs, err := messages(step, "failures")
	if err != nil {
		return err
	}
	successes, _, err := messages(step, "successes")
	if err != nil {
		return err
	}
	name, named := step.Value("name").(string)
	start := time.Now()
	result := "fail"
	defer func() {
		if !named {
			return
		}
		if len(expected) > 0 {
			result = r.unexpected(expected, name, result)
		}
		res := value.NewMap()
		res.Set("definition", r.suite)
		res.Set("case", name)
		res.Set("result", result)
		res.Set("duration", fmt.Sprintf("%.02f", time.Since(start).Seconds()))
		log.Result(res)
		r.report[name] = result
	}()

	var command string
	if c, ok := step.Value("command").(string); ok {
		command = substitute(c, r.subs)
		log.Infof("Sending '%s'", command)
		// What the device printed before the command is not its
		// answer: a prompt left over (the boot's forced one, a step's
		// that did not wait for it) would otherwise answer it, and
		// every step after would read the answer of the one before.
		r.sess.Flush()
		if err := r.sess.SendLine(command); err != nil {
			return pipeline.InfrastructureError("Connection closed: %v", err)
		}
		if discardEcho {
			// The echo of the command line, not a prompt or message
			// that it holds.
			if _, err := r.expect(ctx, regexp.MustCompile(regexp.QuoteMeta(command))); err != nil {
				return err
			}
		}
	} else {
		log.Infof("Sending nothing, waiting")
	}
	patterns := append(append(append([]*regexp.Regexp{}, prompts...), failures...), successes...)
	m, err := r.expect(ctx, patterns...)
	if err != nil {
		return err
	}
	switch {
	case m.Index < len(prompts):
		if len(successes) > 0 {
			log.Errorf("Matched a prompt (was expecting a success): '%s'", m.Groups[0])
		} else {
			log.Debugf("Matched a prompt: '%s'", m.Groups[0])
			result = "pass"
		}
	case m.Index < len(prompts)+len(failures):
		f := failureMsgs[m.Index-len(prompts)]
		log.Errorf("Matched a failure: '%s'", m.Groups[0])
		if exc, ok := f.Value("exception").(string); ok {
			msg := m.Groups[0]
			if e, ok := f.Value("error").(string); ok {
				msg = e
			}
			return raised(exc, msg)
		}
		if err := r.afterMessage(ctx, step, prompts); err != nil {
			return err
		}
	default:
		re := patterns[m.Index]
		groups := map[string]string{}
		for i, n := range re.SubexpNames() {
			if n != "" && i < len(m.Groups) {
				groups[n] = m.Groups[i]
			}
		}
		if len(groups) > 0 {
			log.Infof("Matched a success: '%s' (groups: %v)", m.Groups[0], groups)
		} else {
			log.Infof("Matched a success: '%s'", m.Groups[0])
		}
		for k, v := range groups {
			r.subs["{"+k+"}"] = v
		}
		result = "pass"
		if err := r.afterMessage(ctx, step, prompts); err != nil {
			return err
		}
	}
	if !named && result == "fail" {
		return pipeline.TestError("Failed to run command '%s'", command)
	}
	return nil
}

// afterMessage waits for the prompt after a failure or success message,
// unless the step says wait_for_prompt: false.
func (r *interactiveRun) afterMessage(ctx context.Context, step *value.Map, prompts []*regexp.Regexp) error {
	if w, ok := step.Value("wait_for_prompt").(bool); ok && !w {
		return nil
	}
	m, err := r.expect(ctx, prompts...)
	if err != nil {
		return err
	}
	r.a.Log().Debugf("Matched a prompt: '%s'", m.Groups[0])
	return nil
}

// expect waits for one of patterns until the block's time ends.
func (r *interactiveRun) expect(ctx context.Context, patterns ...*regexp.Regexp) (*connection.Match, error) {
	m, err := r.sess.Expect(ctx, patterns...)
	if errors.Is(err, connection.ErrClosed) {
		return nil, &pipeline.Error{Class: pipeline.ClassInfrastructure, Msg: "Connection closed", Err: err}
	}
	return m, err
}

// handleExpected reports every expected test case the script did not
// report, failed (LAVA's ReportMixin.handle_expected).
func (r *interactiveRun) handleExpected(expected []string) {
	var missing []string
	for _, e := range expected {
		if _, ok := r.report[e]; !ok {
			missing = append(missing, e)
		}
	}
	if len(missing) == 0 {
		return
	}
	sort.Strings(missing)
	r.a.Log().Warnf("Reporting missing expected test cases as 'fail' ...")
	for _, c := range missing {
		res := value.NewMap()
		res.Set("definition", r.suite)
		res.Set("case", c)
		res.Set("result", "fail")
		res.Set("level", r.a.Level)
		extra := value.NewMap()
		extra.Set("reason", "missing expected test cases are reported as 'fail' by LAVA.")
		res.Set("extra", extra)
		r.a.Log().Result(res)
		r.report[c] = "fail"
	}
}

// unexpected makes a test case that is not in expected fail (LAVA's
// ReportMixin.handle_unexpected).
func (r *interactiveRun) unexpected(expected []string, name, result string) string {
	for _, e := range expected {
		if e == name {
			return result
		}
	}
	r.a.Log().Warnf("'%s' not found in expected test case list!", name)
	if result == "fail" {
		return result
	}
	r.a.Log().Warnf("Forcing unexpected '%s' result '%s' to 'fail' ...", name, result)
	return "fail"
}

// messages compiles the message of each item of a step's list (failures
// or successes).
func messages(step *value.Map, key string) ([]*regexp.Regexp, []*value.Map, error) {
	var res []*regexp.Regexp
	var items []*value.Map
	for _, it := range step.List(key) {
		m, _ := it.(*value.Map)
		re, err := compileOne(m.String("message"), key)
		if err != nil {
			return nil, nil, err
		}
		res = append(res, re)
		items = append(items, m)
	}
	return res, items, nil
}

func compileAll(ps []string, what string) ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, 0, len(ps))
	for _, p := range ps {
		re, err := compileOne(p, what)
		if err != nil {
			return nil, err
		}
		out = append(out, re)
	}
	return out, nil
}

func compileOne(p, what string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, pipeline.JobError("invalid %s %q: %v", what, p, err)
	}
	return re, nil
}

// raised is the error a failure's exception names.
func raised(exc, msg string) error {
	switch exc {
	case "InfrastructureError":
		return pipeline.InfrastructureError("%s", msg)
	case "TestError":
		return pipeline.TestError("%s", msg)
	case "JobError":
		return pipeline.JobError("%s", msg)
	}
	return pipeline.JobError("Unknown exception '%s' with '%s'", exc, msg)
}

// stringList keeps the strings of a list.
func stringList(l []any) []string {
	var out []string
	for _, v := range l {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
