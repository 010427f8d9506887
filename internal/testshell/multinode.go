package testshell

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/pipeline"
)

// MultiNodeCall matches what the MultiNode helper scripts print for the
// dispatcher: `<LAVA_MULTI_NODE> <LAVA_SEND id k=v …>` and the like;
// group 1 is the call (SEND, WAIT, WAIT_ALL, SYNC), group 2 its words.
var MultiNodeCall = regexp.MustCompile(`<LAVA_MULTI_NODE> <LAVA_(\S+) ([^>]+)>`)

// multiNode answers one MultiNode call: the coordinator's reply is typed
// back for the waiting script, and the call is reported as the test case
// multinode-<call>-<id> of the running definition, as LAVA does. A call
// that failed is reported as failed and ends the test shell with its
// error (MultinodeTimeout when the group never answered).
func (p *Parser) multiNode(ctx context.Context, api, params string) error {
	var args []string
	if api == "SEND" {
		args = splitSendArgs(params)
	} else {
		args = strings.Fields(params)
	}
	if len(args) == 0 {
		p.log.Errorf("MultiNode call <LAVA_%s> without a message id", api)
		return nil
	}
	p.log.Debugf("Received Multi_Node API <LAVA_%s>", api)
	id := "multinode-" + strings.ToLower(api+"-"+args[0])
	reply, err := p.cfg.MultiNode(ctx, api, args)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return err // the test shell's own timeout or a cancellation
		}
		p.log.Warnf("Sync error in multinode signal: %v %s", err, api)
		p.multiNodeCase(id, "fail")
		return err
	}
	if reply != "" && p.cfg.Send != nil {
		if err := p.cfg.Send(reply); err != nil {
			return err
		}
		if err := p.cfg.Send(""); err != nil {
			return err
		}
	}
	p.multiNodeCase(id, "pass")
	return nil
}

// multiNodeCase reports a MultiNode call's result in the running test
// definition; outside one (a helper called by hand) it is only logged.
func (p *Parser) multiNodeCase(id, result string) {
	if !p.started {
		p.log.Infof("%s: %s (outside a test run, not reported)", id, result)
		return
	}
	p.record(id, result, "", "", false, false, true)
}

// splitSendArgs splits `id k=v k2=v 2` LAVA's way for lava-send: at the
// spaces that precede a `word=`, so that a value may hold spaces.
func splitSendArgs(s string) []string {
	s = strings.TrimSpace(s)
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && s[i] != '\t' {
			continue
		}
		j := i
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		if startsKeyValue(s[j:]) || start == 0 && len(out) == 0 {
			out = append(out, s[start:i])
			start = j
		}
		i = j - 1
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// startsKeyValue reports whether s begins with `key=`: LAVA's `\w+=`
// look-ahead, with '-' and '.' allowed in keys as well, since
// lava-network sends hostname-full= and default-gateway= (LAVA glues
// those to the value before them and then drops them).
func startsKeyValue(s string) bool {
	n := 0
	for n < len(s) && (s[n] == '_' || s[n] == '-' || s[n] == '.' || s[n] >= '0' && s[n] <= '9' || s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z') {
		n++
	}
	return n > 0 && n < len(s) && s[n] == '='
}

// followMultiNode is Follow's handling of a MultiNodeCall match.
func (p *Parser) followMultiNode(ctx context.Context, m *connection.Match) error {
	if len(m.Groups) != 3 {
		return pipeline.Bug("multinode pattern match with %d groups", len(m.Groups))
	}
	return p.multiNode(ctx, m.Groups[1], m.Groups[2])
}
