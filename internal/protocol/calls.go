package protocol

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// A block of the job may ask one of its actions to make a MultiNode call
// when it runs:
//
//	deploy:
//	  role: client
//	  protocols:
//	    lava-multinode:
//	    - action: prepare-scp-overlay
//	      request: lava-wait
//	      messageID: ipv4
//	      message: {ipaddr: $ipaddr}
//	      timeout: {minutes: 5}
//
// The named action makes it at the start of its run, before its own
// children run; `lava-start` is made at the end of the named action, once
// it succeeded, so that the roles waiting for it start after what that
// action set up. Values of message starting with `$` are filled from the
// reply and kept as namespace data "lava-multinode/<messageID>" (a map of
// key to value) for the actions that follow.

// calls returns the block's calls for the action named name. The block
// may hold one call as a map, or a list of them.
func calls(params *value.Map, name string) []*value.Map {
	var out []*value.Map
	add := func(v any) {
		if c, ok := v.(*value.Map); ok && scalar(c.Value("action")) == name {
			out = append(out, c)
		}
	}
	switch v := params.Map("protocols").Value(MultinodeName).(type) {
	case []any:
		for _, c := range v {
			add(c)
		}
	case *value.Map:
		add(v)
	}
	return out
}

// BeforeAction makes the calls the block names for a, except lava-start.
func (m *Multinode) BeforeAction(ctx context.Context, a *pipeline.Base) error {
	for _, c := range calls(a.Params, a.Name) {
		if scalar(c.Value("request")) == "lava-start" {
			continue
		}
		m.log().Infof("Making protocol call for %s using %s", a.Name, MultinodeName)
		if err := m.call(ctx, a, c); err != nil {
			return err
		}
	}
	return nil
}

// AfterAction sends lava-start for the calls naming a, once a succeeded.
func (m *Multinode) AfterAction(ctx context.Context, a *pipeline.Base, err error) error {
	if err != nil {
		return nil
	}
	for _, c := range calls(a.Params, a.Name) {
		if scalar(c.Value("request")) != "lava-start" {
			continue
		}
		timeout, terr := m.timeoutOf(c)
		if terr != nil {
			return terr
		}
		msg := messageOf(c)
		m.log().Infof("Sending lava-start at the end of %s (roles %s)", a.Name, rolesText(c.Value("roles")))
		if err := m.Send(ctx, "lava_start", msg, timeout); err != nil {
			return err
		}
	}
	return nil
}

func rolesText(v any) string {
	switch r := v.(type) {
	case []any:
		s := make([]string, len(r))
		for i, x := range r {
			s[i] = scalar(x)
		}
		return strings.Join(s, ", ")
	case nil:
		return "waiting for it"
	}
	return scalar(v)
}

// call makes one call of a protocols block.
func (m *Multinode) call(ctx context.Context, a *pipeline.Base, c *value.Map) error {
	request := strings.ReplaceAll(scalar(c.Value("request")), "-", "_")
	id := scalar(c.Value("messageID"))
	if id == "" {
		return pipeline.JobError("protocols.%s call for %s: missing messageID", MultinodeName, a.Name)
	}
	timeout, err := m.timeoutOf(c)
	if err != nil {
		return err
	}
	var msgs Messages
	switch request {
	case "lava_send":
		return m.Send(ctx, id, messageOf(c), timeout)
	case "lava_sync":
		return m.Sync(ctx, id, timeout)
	case "lava_wait":
		msgs, err = m.Wait(ctx, id, timeout)
	case "lava_wait_all":
		msgs, err = m.WaitAll(ctx, id, scalar(c.Value("role")), timeout)
	default:
		return pipeline.JobError("protocols.%s call for %s: unsupported request %q", MultinodeName, a.Name, scalar(c.Value("request")))
	}
	if err != nil {
		return err
	}
	return m.collate(a, c, id, msgs)
}

// collate keeps the reply's values for the message keys whose value in
// the job starts with `$`: {ipaddr: $ipaddr} and a sender's ipaddr=10.0.0.2
// give lava-multinode/<id> = {ipaddr: 10.0.0.2}. The job's own sender
// comes first, then the others by id, as LAVA prefers the entry naming
// this job.
func (m *Multinode) collate(a *pipeline.Base, c *value.Map, id string, msgs Messages) error {
	want := c.Map("message")
	if want == nil || want.Len() == 0 {
		return nil
	}
	senders := make([]string, 0, len(msgs))
	for s := range msgs {
		if s != m.job.ID {
			senders = append(senders, s)
		}
	}
	sortIDs(senders)
	if _, ok := msgs[m.job.ID]; ok {
		senders = append([]string{m.job.ID}, senders...)
	}
	got := value.NewMap()
	want.Range(func(k string, v any) bool {
		s, ok := v.(string)
		if !ok || !strings.HasPrefix(s, "$") {
			return true
		}
		for _, sender := range senders {
			if val, ok := msgs[sender][k]; ok {
				got.Set(k, val)
				return true
			}
		}
		m.log().Warnf("Skipping %s - not found in the reply to %s", k, id)
		return true
	})
	if got.Len() == 0 {
		return pipeline.JobError("Unable to identify replaceable values in the parameters: no sender of %s gave %s", id, strings.Join(want.Keys(), ", "))
	}
	m.log().Infof("Setting namespace data key %s to %s", id, value.GoString(got))
	a.SetData(pipeline.DataMultinode(id), got)
	return nil
}

// timeoutOf is a call's own timeout, or the protocol's.
func (m *Multinode) timeoutOf(c *value.Map) (time.Duration, error) {
	if !c.Has("timeout") {
		return m.callTimeout, nil
	}
	// A bare number of seconds is bounded as a timeout block is: the
	// conversion to a Duration must not wrap.
	outOfRange := func() error {
		return pipeline.JobError("protocols.%s: timeout %s is not between 0 and the maximum, %d seconds", MultinodeName, value.GoString(c.Value("timeout")), job.MaxTimeoutSeconds)
	}
	switch t := c.Value("timeout").(type) {
	case int:
		if t < 0 || t > job.MaxTimeoutSeconds {
			return 0, outOfRange()
		}
		return time.Duration(t) * time.Second, nil
	case float64:
		if !(t >= 0 && t <= job.MaxTimeoutSeconds) { // NaN too
			return 0, outOfRange()
		}
		return time.Duration(t * float64(time.Second)), nil
	}
	secs, ok, err := job.TimeoutSeconds(c.Value("timeout"))
	if err != nil {
		return 0, pipeline.JobError("protocols.%s: timeout: %v", MultinodeName, err)
	}
	if !ok {
		return 0, pipeline.JobError("protocols.%s: invalid timeout %s", MultinodeName, value.GoString(c.Value("timeout")))
	}
	return time.Duration(secs) * time.Second, nil
}

// messageOf is a call's message as the coordinator takes it: a map, or
// a single word made a key without a value as LAVA does.
func messageOf(c *value.Map) map[string]any {
	out := map[string]any{}
	switch msg := c.Value("message").(type) {
	case *value.Map:
		msg.Range(func(k string, v any) bool {
			out[k] = jsonable(v)
			return true
		})
	case nil:
	default:
		out[scalar(msg)] = nil
	}
	return out
}

// jsonable turns job values into what encoding/json takes.
func jsonable(v any) any {
	switch x := v.(type) {
	case *value.Map:
		m := map[string]any{}
		x.Range(func(k string, v any) bool {
			m[k] = jsonable(v)
			return true
		})
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonable(e)
		}
		return out
	}
	return v
}

// Check returns the problems with the job's protocol calls that can be
// found before it runs: calls naming an action that no block running them
// has, and calls without a request. It is advice: LAVA runs such jobs and
// the call is simply never made.
func Check(j *pipeline.Job) []string {
	var out []string
	for _, top := range j.Pipeline.Actions {
		b := top.ActionBase()
		names := map[string]bool{b.Name: true}
		if b.Pipeline != nil {
			b.Pipeline.Walk(func(a pipeline.Action) { names[a.ActionBase().Name] = true })
		}
		var list []any
		switch v := b.Params.Map("protocols").Value(MultinodeName).(type) {
		case []any:
			list = v
		case *value.Map:
			list = []any{v}
		}
		for i, c := range list {
			cm, ok := c.(*value.Map)
			if !ok {
				out = append(out, fmt.Sprintf("%s block: protocols.%s[%d] is not a map", b.Section, MultinodeName, i))
				continue
			}
			name := scalar(cm.Value("action"))
			if !names[name] {
				known := make([]string, 0, len(names))
				for n := range names {
					known = append(known, n)
				}
				sort.Strings(known)
				out = append(out, fmt.Sprintf("%s block: protocols.%s[%d] names action %q, which this block does not run (it runs: %s)",
					b.Section, MultinodeName, i, name, strings.Join(known, ", ")))
			}
			if scalar(cm.Value("request")) == "" {
				out = append(out, fmt.Sprintf("%s block: protocols.%s[%d] has no request", b.Section, MultinodeName, i))
			}
		}
	}
	return out
}
