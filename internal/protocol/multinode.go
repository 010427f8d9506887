// Package protocol holds the dispatcher side of the job-level protocols:
// lava-multinode, through which the sub-jobs of a MultiNode group talk to
// each other by way of a coordinator.
package protocol

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/coordinator"
	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// MultinodeName is the protocol's key in a job.
const MultinodeName = "lava-multinode"

// Timeouts, as LAVA's: the calls the dispatcher makes on its own
// (joining the group, leaving it) wait SystemTimeout, or the role's
// timeout for a delayed start; the calls of the test shell and of the
// job's protocol blocks wait the protocol's timeout, DefaultCallTimeout
// when the job sets none.
const (
	SystemTimeout      = 90 * time.Second
	DefaultCallTimeout = 30 * time.Second
	// clearTimeout bounds leaving the group at the end: a coordinator
	// gone by then must not hold the job's end for long.
	clearTimeout = 30 * time.Second
)

// Settings say where the coordinator is and how to poll it.
type Settings struct {
	// Addr is the coordinator's host:port.
	Addr string
	// PollDelay is the pause between two polls while the coordinator
	// answers "wait".
	PollDelay time.Duration
	// Blocksize is sent to the coordinator, as LAVA's dispatcher does.
	Blocksize int
}

// Accepts reports whether a job takes part in a MultiNode group: its
// lava-multinode protocol names a target group (a split sub-job).
func Accepts(jobParams *value.Map) bool {
	return jobParams.Map("protocols").Map(MultinodeName).Has("target_group")
}

// Multinode is one sub-job's lava-multinode protocol.
type Multinode struct {
	job       *pipeline.Job
	params    *value.Map // the job's protocols.lava-multinode
	client    *coordinator.Client
	role      string
	group     string
	groupSize int

	delayed     bool
	expectRole  string
	system      time.Duration // group_data, the delayed start
	callTimeout time.Duration // the API calls

	joined bool
	roles  map[string]string
}

// NewMultinode returns the protocol of j, which must be a MultiNode
// sub-job (Accepts). It checks the job's protocol block: a JobError
// names what is wrong.
func NewMultinode(j *pipeline.Job, s Settings) (*Multinode, error) {
	p := j.Params.Map("protocols").Map(MultinodeName)
	m := &Multinode{job: j, params: p, system: SystemTimeout, callTimeout: DefaultCallTimeout}
	var problems []string
	m.group = scalar(p.Value("target_group"))
	m.role = scalar(p.Value("role"))
	if m.group == "" {
		problems = append(problems, "no target_group")
	}
	if m.role == "" {
		problems = append(problems, "no role")
	}
	switch n := p.Value("group_size").(type) {
	case int:
		m.groupSize = n
	default:
		problems = append(problems, fmt.Sprintf("group_size must be a number, not %s", value.GoString(n)))
	}
	if m.groupSize < 1 && len(problems) == 0 {
		problems = append(problems, fmt.Sprintf("group_size must be at least 1, not %d", m.groupSize))
	}
	if p.Has("timeout") {
		secs, ok, err := job.TimeoutSeconds(p.Value("timeout"))
		switch {
		case err != nil:
			problems = append(problems, "timeout: "+err.Error())
		case !ok:
			problems = append(problems, "timeout is not a valid timeout")
		default:
			m.callTimeout = time.Duration(secs) * time.Second
		}
	}
	if scalar(p.Value("request")) == "lava-start" && p.Has("expect_role") {
		m.expectRole = scalar(p.Value("expect_role"))
		if m.expectRole == m.role {
			problems = append(problems, "expect_role must not match the role declaring lava_start")
		} else {
			m.delayed = true
			if p.Has("timeout") {
				m.system = m.callTimeout
			}
		}
	}
	if len(problems) > 0 {
		return nil, pipeline.JobError("protocols.%s: %s", MultinodeName, strings.Join(problems, "; "))
	}
	host, portText, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return nil, pipeline.ConfigurationError("coordinator address %q: %v", s.Addr, err)
	}
	port, _ := strconv.Atoi(portText)
	hostname, _ := os.Hostname()
	blocksize := s.Blocksize
	if blocksize <= 0 {
		blocksize = 4096
	}
	m.client = &coordinator.Client{
		Addr:      s.Addr,
		PollDelay: s.PollDelay,
		Blocksize: blocksize,
		Base: map[string]any{
			"port":        port,
			"blocksize":   blocksize,
			"poll_delay":  s.PollDelay.Seconds(),
			"host":        host,
			"hostname":    hostname,
			"client_name": j.ID,
			"group_name":  m.group,
			"role":        m.role,
		},
		Logf: func(format string, args ...any) { m.log().Debugf(format, args...) },
	}
	return m, nil
}

// Name is lava-multinode.
func (m *Multinode) Name() string { return MultinodeName }

// Role is the sub-job's role in the group.
func (m *Multinode) Role() string { return m.role }

// Roles is the group's roster as the coordinator sent it when the group
// was complete: job id to role.
func (m *Multinode) Roles() map[string]string { return m.roles }

func (m *Multinode) log() *joblog.Logger {
	if m.job.Runtime.Log != nil {
		return m.job.Runtime.Log
	}
	return joblog.Discard()
}

// SetUp joins the group and waits until every member has (group_data);
// with a delayed start it then waits until the expected role sends
// lava_start.
func (m *Multinode) SetUp(ctx context.Context) error {
	log := m.log()
	log.Debugf("Initialising group %s", m.group)
	r, err := m.poll(ctx, map[string]any{"request": "group_data", "group_size": m.groupSize}, m.system)
	m.joined = true
	if err != nil {
		return err
	}
	m.roles = r.Roles
	ids := make([]string, 0, len(r.Roles))
	for id := range r.Roles {
		ids = append(ids, id)
	}
	sortIDs(ids)
	for _, id := range ids {
		log.Debugf("group roles: %s %s", id, r.Roles[id])
	}
	if !m.delayed {
		log.Debugf("%s protocol initialised", MultinodeName)
		return nil
	}
	log.Infof("%s protocol initialised - start is delayed by up to %d seconds, pending lava-start from role %s",
		MultinodeName, int(m.system.Seconds()), m.expectRole)
	_, err = m.poll(ctx, map[string]any{"request": "lava_wait_all", "waitrole": m.expectRole, "messageID": "lava_start"}, m.system)
	if err != nil {
		return err
	}
	log.Infof("lava-start received from role %s", m.expectRole)
	return nil
}

// Finalise leaves the group (clear_group), once, if the job joined it.
// A coordinator that does not answer is logged, not an error: the job
// itself is over.
func (m *Multinode) Finalise(ctx context.Context) error {
	if !m.joined {
		return nil
	}
	m.joined = false
	if _, err := m.poll(ctx, map[string]any{"request": "clear_group", "group_size": m.groupSize}, clearTimeout); err != nil {
		m.log().Warnf("%s: leaving the group: %v", MultinodeName, err)
		return nil
	}
	m.log().Debugf("%s protocol finalised.", MultinodeName)
	return nil
}

// poll makes one request, polling while the coordinator says wait, and
// classifies the failures: running out of time is LAVA's
// MultinodeProtocolTimeoutError.
func (m *Multinode) poll(ctx context.Context, req map[string]any, timeout time.Duration) (coordinator.Reply, error) {
	r, err := m.client.Poll(ctx, req, timeout)
	if err == nil {
		return r, nil
	}
	what := fmt.Sprint(req["request"])
	if id, ok := req["messageID"]; ok {
		what += " " + fmt.Sprint(id)
	}
	if ctx.Err() != nil {
		// The job's own time, a cancellation: the caller says which.
		return r, fmt.Errorf("%s: %w", what, ctx.Err())
	}
	if errors.Is(err, coordinator.ErrTimeout) {
		return r, &pipeline.Error{Class: pipeline.ClassMultinodeTimeout,
			Msg: fmt.Sprintf("protocol %s timed out after %s waiting for %s", MultinodeName, timeout, what), Err: err}
	}
	return r, &pipeline.Error{Class: pipeline.ClassInfrastructure,
		Msg: fmt.Sprintf("protocol %s: %s: %v", MultinodeName, what, err), Err: err}
}

// Send is lava-send: message goes to every member of the group.
func (m *Multinode) Send(ctx context.Context, id string, message map[string]any, timeout time.Duration) error {
	if message == nil {
		message = map[string]any{}
	}
	r, err := m.poll(ctx, map[string]any{"request": "lava_send", "messageID": id, "message": message}, timeout)
	if err != nil {
		return err
	}
	if r.Response == "nack" {
		return pipeline.TestError("Coordinator was unable to accept LAVA_SEND %s%s", id, because(r))
	}
	return nil
}

// Messages are what lava-wait and lava-wait-all return: for each sender
// (a job id), the keys and values it sent.
type Messages map[string]map[string]string

// Wait is lava-wait: it returns once any member has sent id.
func (m *Multinode) Wait(ctx context.Context, id string, timeout time.Duration) (Messages, error) {
	r, err := m.poll(ctx, map[string]any{"request": "lava_wait", "messageID": id, "nodeID": m.job.ID}, timeout)
	return messagesOf(r, id, err)
}

// WaitAll is lava-wait-all: it returns once every member of the group,
// or of role when it is not empty, has sent id.
func (m *Multinode) WaitAll(ctx context.Context, id, role string, timeout time.Duration) (Messages, error) {
	req := map[string]any{"request": "lava_wait_all", "messageID": id}
	if role != "" {
		req["waitrole"] = role
	}
	r, err := m.poll(ctx, req, timeout)
	return messagesOf(r, id, err)
}

// Sync is lava-sync: it returns once every member has called it with id.
func (m *Multinode) Sync(ctx context.Context, id string, timeout time.Duration) error {
	r, err := m.poll(ctx, map[string]any{"request": "lava_sync", "messageID": id, "message": nil}, timeout)
	if err != nil {
		return err
	}
	if r.Response == "nack" {
		return &nackError{"lava_sync", id, r.Error}
	}
	return nil
}

// nackError is the coordinator refusing a call.
type nackError struct{ request, id, why string }

func (e *nackError) Error() string {
	s := fmt.Sprintf("the coordinator refused %s %s", e.request, e.id)
	if e.why != "" {
		s += ": " + e.why
	}
	return s
}

func because(r coordinator.Reply) string {
	if r.Error != "" {
		return ": " + r.Error
	}
	return ""
}

func messagesOf(r coordinator.Reply, id string, err error) (Messages, error) {
	if err != nil {
		return nil, err
	}
	if r.Response == "nack" {
		return nil, &nackError{"wait", id, r.Error}
	}
	out := Messages{}
	senders, _ := r.Message.(map[string]any)
	for sender, data := range senders {
		kv := map[string]string{}
		if d, ok := data.(map[string]any); ok {
			for k, v := range d {
				kv[k] = scalar(v)
			}
		}
		out[sender] = kv
	}
	return out, nil
}

// Signal answers a call the test shell's helper scripts made on the
// console (testshell.Config.MultiNode): it returns the line to type back
// for the waiting script. A refused call answers " nack", which the
// script reports; running out of time is an error that ends the test.
func (m *Multinode) Signal(ctx context.Context, api string, args []string) (string, error) {
	log := m.log()
	id := args[0]
	switch api {
	case "SEND":
		msg := map[string]any{}
		for _, kv := range args[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				log.Warnf("lava-send %s: ignoring %q, which is not key=value", id, kv)
				continue
			}
			msg[k] = v
		}
		log.Debugf("Handling signal <LAVA_SEND %s> with %d key value pair(s)", id, len(msg))
		return "", m.Send(ctx, id, msg, m.callTimeout)
	case "WAIT":
		log.Debugf("Handling signal <LAVA_WAIT %s>", id)
		msgs, err := m.Wait(ctx, id, m.callTimeout)
		return completeLine("LAVA_WAIT_COMPLETE", msgs, err)
	case "WAIT_ALL":
		role := ""
		if len(args) > 1 {
			role = args[1]
		}
		log.Debugf("Handling signal <LAVA_WAIT_ALL %s %s>", id, role)
		msgs, err := m.WaitAll(ctx, id, role, m.callTimeout)
		return completeLine("LAVA_WAIT_ALL_COMPLETE", msgs, err)
	case "SYNC":
		log.Debugf("Handling signal <LAVA_SYNC %s>", id)
		err := m.Sync(ctx, id, m.callTimeout)
		return completeLine("LAVA_SYNC_COMPLETE", nil, err)
	}
	return "", pipeline.TestError("Unsupported api call: %s", api)
}

// completeLine is the reply a waiting helper script reads:
// `<NAME 12:k=v 13:k=v>`, or `<NAME nack>` when the coordinator refused
// the call. Senders and keys are sorted so the line is the same every
// run.
func completeLine(name string, msgs Messages, err error) (string, error) {
	var nack *nackError
	if errors.As(err, &nack) {
		return "<" + name + " nack>", nil
	}
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("<" + name)
	senders := make([]string, 0, len(msgs))
	for s := range msgs {
		senders = append(senders, s)
	}
	sortIDs(senders)
	for _, s := range senders {
		keys := make([]string, 0, len(msgs[s]))
		for k := range msgs[s] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, " %s:%s=%s", s, k, msgs[s][k])
		}
	}
	b.WriteString(">")
	return b.String(), nil
}

// sortIDs sorts job ids numerically when they are numbers.
func sortIDs(ids []string) {
	sort.Slice(ids, func(i, j int) bool {
		a, errA := strconv.Atoi(ids[i])
		b, errB := strconv.Atoi(ids[j])
		if errA == nil && errB == nil {
			return a < b
		}
		return ids[i] < ids[j]
	})
}

func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}
