package job

import (
	"math"
	"regexp"
	"strings"

	"github.com/basalt-lava/basalt/internal/value"
)

// The submission check: what a LAVA server refuses when a job is
// submitted (lava_scheduler_app/schema.py, validate_submission, as the
// server's submit path calls it through dbutils.validate_job), plus the
// parts of the submission that follow and need no database: the notify
// rules of dbutils.validate_yaml, the priority range and the MultiNode
// role rules of models.py. It is much looser than lava_common's job
// schema: an action block is checked for its few common keys only
// (deploy: to; boot: method; test: definitions, monitors, interactive or
// services; command: name) and any other key in it is accepted. What the
// server checks against its database (device types, users, groups, tags,
// query names, e-mail address syntax) is out of reach here and accepted.
//
// Every check of this file reports on a checker whose opts.Lax is false:
// fields.finish() reports unknown keys exactly where LAVA's server schema
// refuses them (its Schema objects without extra=True), and a block that
// accepts extra keys simply never calls finish.

// actionNameRe is the server's rule for the keys of timeouts.actions and
// timeouts.connections (schema.action_name).
var actionNameRe = regexp.MustCompile(`^[a-z-]+$`)

// serverNameRe is the server's rule for monitor, interactive and script
// names.
var serverNameRe = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

func (c *checker) checkSubmission(root *value.Node) {
	f := c.mapAt(root, "")
	if f == nil {
		return
	}
	for _, k := range []string{"device_type", "device", "worker"} {
		c.nonEmptyStr(f.opt(k), k)
	}
	c.strLen(f.req("job_name"), "job_name", 1, 200)
	c.checkPriority(f.opt("priority"), "priority")
	c.serverProtocols(f.opt("protocols"), "protocols")
	c.checkContext(f.opt("context"), "context")
	c.serverMetadata(f.opt("metadata"), "metadata")
	c.anyMap(f.opt("secrets"), "secrets")
	c.anyMap(f.opt("environment"), "environment")
	c.strList(f.opt("tags"), "tags")
	c.checkVisibility(f.req("visibility"), "visibility")
	c.serverJobTimeouts(f.req("timeouts"), "timeouts")
	c.serverActions(f.req("actions"), "actions")
	c.serverNotify(f.opt("notify"), "notify")
	c.boolean(f.opt("reboot_to_fastboot"), "reboot_to_fastboot")
	f.finish()

	// A single-node job is looked up by its device type as it is queued
	// (models.py, TestJob.from_yaml_and_user).
	if root.Get("protocols").KeyNode("lava-multinode") == nil && f.n.KeyNode("device_type") == nil {
		c.errorf(root, "device_type", "missing required key \"device_type\" (a job without a lava-multinode protocol runs on a device of this type)")
	}
	c.serverMultinodeRoles(root.Get("protocols").Get("lava-multinode"), "protocols.lava-multinode")
}

// serverMetadata: keys are strings or integers (Python's int includes
// bool: a `yes:` key passes), values anything.
func (c *checker) serverMetadata(n *value.Node, path string) {
	if n == nil {
		return
	}
	if n.Kind != value.MapNode {
		c.errorf(n, path, "expected a map, got %s", describe(n))
		return
	}
	for _, k := range n.Keys {
		switch k.Scalar.(type) {
		case string, int, bool:
			continue
		}
		c.errorf(k, keyPath(path, k.KeyString()), "keys must be strings or integers, got %s", describe(k))
	}
}

// serverTimeout: at most one of days, hours, minutes or seconds (an
// integer), and skip. The server accepts an empty block and any integer;
// lava_common's schema is what asks for exactly one unit ≥ 1. Basalt
// also refuses a total that is negative or longer than
// MaxTimeoutSeconds (TimeoutSeconds).
func (c *checker) serverTimeout(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	var units []string
	for _, u := range timeoutUnitNames {
		if f.has(u) {
			units = append(units, u)
			c.integer(f.opt(u), f.sub(u), math.MinInt)
		}
	}
	if len(units) > 1 {
		c.errorf(n.KeyNode(units[1]), f.sub(units[1]), "a timeout takes at most one of days, hours, minutes or seconds; got %s", strings.Join(units, " and "))
	}
	// Basalt's own rule, not the server's: a total that is negative or
	// beyond MaxTimeoutSeconds could only wrap or fire at once.
	if _, _, err := TimeoutSeconds(n.Value()); err != nil {
		c.errorf(n, path, "%v", err)
	}
	c.boolean(f.opt("skip"), f.sub("skip"))
	f.finish()
}

func (c *checker) serverJobTimeouts(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	c.serverTimeout(f.req("job"), f.sub("job"))
	for _, k := range []string{"action", "connection", "queue"} {
		c.serverTimeout(f.opt(k), f.sub(k))
	}
	for _, k := range []string{"actions", "connections"} {
		g := c.mapAt(f.opt(k), f.sub(k))
		if g == nil {
			continue
		}
		ks, vs := g.keys()
		for i, key := range ks {
			kp := keyPath(g.path, key.KeyString())
			if !actionNameRe.MatchString(key.KeyString()) {
				c.errorf(key, kp, "%q is not an action name (lower-case letters and '-' only)", key.KeyString())
				continue
			}
			c.serverTimeout(vs[i], kp)
		}
	}
	f.finish()
}

// serverActions: each entry is a map of deploy, boot, test and command
// blocks (none, one or several: the server does not mind).
func (c *checker) serverActions(n *value.Node, path string) {
	for i, it := range c.list(n, path) {
		ip := indexPath(path, i)
		f := c.mapAt(it, ip)
		if f == nil {
			continue
		}
		if b := c.mapAt(f.opt("deploy"), f.sub("deploy")); b != nil {
			c.str(b.req("to"), b.sub("to"))
			c.serverTimeout(b.opt("timeout"), b.sub("timeout"))
		}
		if b := c.mapAt(f.opt("boot"), f.sub("boot")); b != nil {
			c.serverBoot(b)
		}
		if b := c.mapAt(f.opt("test"), f.sub("test")); b != nil {
			c.serverTest(b)
		}
		if b := c.mapAt(f.opt("command"), f.sub("command")); b != nil {
			c.str(b.req("name"), b.sub("name"))
			c.serverTimeout(b.opt("timeout"), b.sub("timeout"))
			c.str(b.opt("namespace"), b.sub("namespace"))
		}
		ks, _ := f.rest()
		for _, k := range ks {
			c.errorf(k, keyPath(ip, k.KeyString()), "unknown action type %q (allowed: %s)", k.KeyString(), strings.Join(ActionTypes, ", "))
		}
	}
}

func (c *checker) serverBoot(f *fields) {
	c.str(f.req("method"), f.sub("method"))
	c.serverTimeout(f.opt("timeout"), f.sub("timeout"))
	if a := c.mapAt(f.opt("auto_login"), f.sub("auto_login")); a != nil {
		c.str(a.req("login_prompt"), a.sub("login_prompt"))
		c.str(a.req("username"), a.sub("username"))
		c.str(a.opt("password_prompt"), a.sub("password_prompt"))
		c.str(a.opt("password"), a.sub("password"))
		c.list(a.opt("login_commands"), a.sub("login_commands"))
		a.finish()
	}
	if p := c.mapAt(f.opt("parameters"), f.sub("parameters")); p != nil {
		ks, vs := p.keys()
		for i, k := range ks {
			kp := keyPath(p.path, k.KeyString())
			if _, ok := k.Scalar.(string); !ok {
				c.errorf(k, kp, "keys must be strings, got %s", describe(k))
				continue
			}
			switch vs[i].Scalar.(type) {
			case string, bool:
				if vs[i].Kind == value.ScalarNode {
					continue
				}
			}
			c.errorf(vs[i], kp, "expected a string or true/false, got %s", describe(vs[i]))
		}
	}
	if cmds := f.opt("commands"); cmds != nil && cmds.Kind != value.ListNode {
		c.str(cmds, f.sub("commands"))
	}
}

// serverTest: the block is valid when one of its forms is (the server's
// Any of monitors, interactive, definitions and services), each form
// accepting any other key.
func (c *checker) serverTest(f *fields) {
	c.serverTimeout(f.opt("timeout"), f.sub("timeout"))
	forms := []struct {
		key   string
		check func(*checker, *value.Node, string)
	}{
		{"monitors", (*checker).serverMonitors},
		{"interactive", (*checker).serverInteractive},
		{"definitions", (*checker).serverDefinitions},
		{"services", (*checker).serverServices},
	}
	var found []Diagnostic
	present := 0
	for _, form := range forms {
		n := f.opt(form.key)
		if n == nil {
			continue
		}
		present++
		q := &checker{file: c.file, opts: c.opts}
		form.check(q, n, f.sub(form.key))
		if len(q.diags) == 0 {
			return
		}
		found = append(found, q.diags...)
	}
	if present == 0 {
		c.errorf(f.n, f.path, "a test action needs definitions, monitors, interactive or services")
	}
	c.diags = append(c.diags, found...)
}

func (c *checker) serverDefinitions(n *value.Node, path string) {
	for i, it := range c.list(n, path) {
		f := c.mapAt(it, indexPath(path, i))
		if f == nil {
			continue
		}
		repo := f.req("repository")
		if repo != nil && repo.Kind == value.MapNode {
			r := c.mapAt(repo, f.sub("repository"))
			for _, k := range []string{"metadata", "install", "run", "parse"} {
				c.anyMap(r.opt(k), r.sub(k))
			}
			r.finish()
		} else if repo != nil {
			c.str(repo, f.sub("repository"))
		}
		for _, k := range []string{"from", "name", "path"} {
			c.str(f.req(k), f.sub(k))
		}
		c.anyMap(f.opt("parameters"), f.sub("parameters"))
		c.serverTimeout(f.opt("timeout"), f.sub("timeout"))
		// dbutils: a revision cannot be checked out of a shallow clone.
		if sh := f.n.Get("shallow"); sh != nil && f.has("revision") {
			if s, ok := sh.Scalar.(bool); ok && s {
				c.errorf(f.n.KeyNode("shallow"), f.sub("shallow"), "when 'revision' is used, 'shallow' must not be true")
			}
		}
	}
}

func (c *checker) serverServices(n *value.Node, path string) {
	for i, it := range c.list(n, path) {
		f := c.mapAt(it, indexPath(path, i))
		if f == nil {
			continue
		}
		for _, k := range []string{"name", "from", "repository", "path"} {
			c.str(f.req(k), f.sub(k))
		}
		c.str(f.opt("service"), f.sub("service"))
		c.serverTimeout(f.opt("timeout"), f.sub("timeout"))
	}
}

func (c *checker) serverMonitors(n *value.Node, path string) {
	for i, it := range c.list(n, path) {
		f := c.mapAt(it, indexPath(path, i))
		if f == nil {
			continue
		}
		c.matches(f.req("name"), f.sub("name"), serverNameRe, "monitor name")
		for _, k := range []string{"start", "end", "pattern"} {
			c.str(f.req(k), f.sub(k))
		}
		c.anyMap(f.opt("fixupdict"), f.sub("fixupdict"))
		c.strList(f.opt("expected"), f.sub("expected"))
		f.finish()
	}
}

func (c *checker) serverInteractive(n *value.Node, path string) {
	for i, it := range c.list(n, path) {
		f := c.mapAt(it, indexPath(path, i))
		if f == nil {
			continue
		}
		c.matches(f.req("name"), f.sub("name"), serverNameRe, "interactive test name")
		c.nonEmptyStrList(f.req("prompts"), f.sub("prompts"))
		c.oneOf(f.opt("echo"), f.sub("echo"), "discard")
		c.nonEmptyStrList(f.opt("expected"), f.sub("expected"))
		for j, st := range c.list(f.req("script"), f.sub("script")) {
			c.serverScriptStep(st, indexPath(f.sub("script"), j))
		}
		f.finish()
	}
}

func (c *checker) serverScriptStep(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	c.matches(f.opt("name"), f.sub("name"), serverNameRe, "script step name")
	if cmd := f.opt("command"); cmd != nil && (cmd.Kind != value.ScalarNode || cmd.Scalar != nil) {
		c.str(cmd, f.sub("command"))
	}
	c.integer(f.opt("delay"), f.sub("delay"), math.MinInt)
	for _, k := range []string{"lava-send", "lava-sync", "lava-wait", "lava-wait-all"} {
		c.str(f.opt(k), f.sub(k))
	}
	c.boolean(f.opt("wait_for_prompt"), f.sub("wait_for_prompt"))
	for i, it := range c.list(f.opt("failures"), f.sub("failures")) {
		g := c.mapAt(it, indexPath(f.sub("failures"), i))
		if g == nil {
			continue
		}
		c.str(g.req("message"), g.sub("message"))
		c.oneOf(g.opt("exception"), g.sub("exception"), "InfrastructureError", "JobError", "TestError")
		c.str(g.opt("error"), g.sub("error"))
		g.finish()
	}
	for i, it := range c.list(f.opt("successes"), f.sub("successes")) {
		g := c.mapAt(it, indexPath(f.sub("successes"), i))
		if g == nil {
			continue
		}
		c.str(g.req("message"), g.sub("message"))
		g.finish()
	}
	f.finish()
}

// serverProtocols: only lava-multinode (timeout and roles) and lava-xnbd
// pass a current server, and lava-lxc and lava-vland, which Basalt keeps
// (package doc); the sub-job keys LAVA adds when it splits a MultiNode
// job (target_group, role, group_size …) are refused on submission.
func (c *checker) serverProtocols(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	if m := c.mapAt(f.opt("lava-multinode"), f.sub("lava-multinode")); m != nil {
		c.serverTimeout(m.opt("timeout"), m.sub("timeout"))
		c.anyMap(m.opt("roles"), m.sub("roles"))
		m.finish()
	}
	for _, k := range []string{"lava-xnbd", "lava-lxc", "lava-vland"} {
		c.anyMap(f.opt(k), f.sub(k))
	}
	f.finish()
}

// serverMultinodeRoles is what the server checks of each role before it
// splits a MultiNode job (schema._validate_multinode and
// models._pipeline_protocols), short of looking devices up.
func (c *checker) serverMultinodeRoles(n *value.Node, path string) {
	if n == nil || n.Kind != value.MapNode {
		return
	}
	roles := n.Get("roles")
	if roles == nil {
		c.errorf(n, keyPath(path, "roles"), "missing required key %q", "roles")
		return
	}
	if roles.Kind != value.MapNode {
		return
	}
	rp := keyPath(path, "roles")
	names := map[string]bool{}
	for _, k := range roles.Keys {
		names[k.KeyString()] = true
	}
	for i, k := range roles.Keys {
		p := keyPath(rp, k.KeyString())
		r := roles.Values[i]
		if r == nil || r.Kind != value.MapNode {
			c.errorf(r, p, "expected a map, got %s", describe(r))
			continue
		}
		at := func(key string) *value.Node {
			if kn := r.KeyNode(key); kn != nil {
				return kn
			}
			return r
		}
		host, expect := r.KeyNode("host_role") != nil, r.KeyNode("expect_role") != nil
		switch {
		case host && !names[nodeString(r.Get("host_role"))]:
			c.errorf(r.Get("host_role"), keyPath(p, "host_role"), "host_role %s is not a role of this job", describe(r.Get("host_role")))
		case host && !expect:
			c.errorf(at("host_role"), keyPath(p, "expect_role"), "expect_role is required with host_role")
		case host && !names[nodeString(r.Get("expect_role"))]:
			c.errorf(r.Get("expect_role"), keyPath(p, "expect_role"), "expect_role %s is not a role of this job", describe(r.Get("expect_role")))
		case !host && expect:
			c.errorf(at("expect_role"), keyPath(p, "expect_role"), "expect_role without host_role")
		}
		has := func(key string) bool { return r.KeyNode(key) != nil }
		switch {
		case has("connection") && (has("device") || has("worker")):
			c.errorf(at("connection"), keyPath(p, "connection"), "a connection role cannot name a device or a worker")
		case has("device") && !has("device_type"):
			c.errorf(at("device"), keyPath(p, "device_type"), "device needs device_type")
		case has("worker") && !has("device_type"):
			c.errorf(at("worker"), keyPath(p, "device_type"), "worker needs device_type")
		case has("device") && !isInt(r.Get("count"), 1):
			c.errorf(at("device"), keyPath(p, "count"), "a role naming a device must have count: 1")
		}
		c.checkContext(r.Get("context"), keyPath(p, "context"))
		switch {
		case has("device_type") && has("connection"):
			c.errorf(at("connection"), keyPath(p, "connection"), "a role has a device_type or a connection, not both")
		case has("connection") && !has("host_role"):
			c.errorf(at("connection"), keyPath(p, "host_role"), "a connection role needs a host_role")
		case !has("connection"):
			if !has("device_type") && !has("device") && !has("worker") {
				c.errorf(r, keyPath(p, "device_type"), "missing required key \"device_type\"")
			}
			if !has("count") {
				c.errorf(r, keyPath(p, "count"), "missing required key \"count\"")
			}
		}
	}
}

func isInt(n *value.Node, want int) bool {
	if n == nil || n.Kind != value.ScalarNode {
		return false
	}
	v, ok := n.Scalar.(int)
	return ok && v == want
}

// serverNotify: the notify schema of the server, then the recipient and
// query rules of dbutils.validate_yaml that need no database.
func (c *checker) serverNotify(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	if cr := c.mapAt(f.req("criteria"), f.sub("criteria")); cr != nil {
		c.oneOf(cr.req("status"), cr.sub("status"), "running", "complete", "incomplete", "canceled", "finished", "all")
		c.str(cr.opt("dependency_query"), cr.sub("dependency_query"))
		c.oneOf(cr.opt("type"), cr.sub("type"), "progression", "regression")
	}
	if cr := f.n.Get("criteria"); cr != nil && cr.Kind == value.MapNode && cr.Get("dependency_query") != nil {
		c.report(Warning, cr.Get("dependency_query").Pos, f.sub("criteria")+".dependency_query", "Basalt cannot run LAVA queries: a notify with a dependency_query never fires")
	}
	for i, it := range c.list(f.opt("recipients"), f.sub("recipients")) {
		rp := indexPath(f.sub("recipients"), i)
		r := c.mapAt(it, rp)
		if r == nil {
			continue
		}
		if to := c.mapAt(r.req("to"), r.sub("to")); to != nil {
			method := to.req("method")
			c.oneOf(method, to.sub("method"), "email", "irc")
			for _, k := range []string{"user", "email", "server", "handle"} {
				c.str(to.opt(k), to.sub(k))
			}
			to.finish()
			switch nodeString(method) {
			case "email":
				c.report(Warning, method.Pos, to.sub("method"), "e-mail is sent only by a basalt server given --smtp-server (a user recipient needs an address: basalt manage users update NAME --email)")
			case "irc":
				c.report(Warning, method.Pos, to.sub("method"), "accepted, but Basalt sends no IRC message")
			}
			switch {
			case nodeString(method) == "email" && !to.has("email") && !to.has("user"):
				c.errorf(to.n, to.path, "an email recipient needs an email or a user")
			case nodeString(method) == "irc" && !to.has("handle") && !to.has("user"):
				c.errorf(to.n, to.path, "an irc recipient needs a handle or a user")
			}
		}
		r.finish()
	}
	cb, cbs := f.opt("callback"), f.opt("callbacks")
	if f.has("callback") && f.has("callbacks") {
		c.errorf(f.n.KeyNode("callbacks"), f.sub("callbacks"), "callback and callbacks are exclusive; use callbacks only")
	}
	c.serverCallback(cb, f.sub("callback"))
	for i, it := range c.list(cbs, f.sub("callbacks")) {
		c.serverCallback(it, indexPath(f.sub("callbacks"), i))
	}
	c.oneOf(f.opt("verbosity"), f.sub("verbosity"), "verbose", "quiet", "status-only")
	if cmp := c.mapAt(f.opt("compare"), f.sub("compare")); cmp != nil {
		c.strList(cmp.opt("blacklist"), cmp.sub("blacklist"))
		if q := c.mapAt(cmp.opt("query"), cmp.sub("query")); q != nil {
			if q.has("username") || !q.has("entity") {
				c.str(q.req("username"), q.sub("username"))
				c.str(q.req("name"), q.sub("name"))
			} else {
				if e, ok := c.str(q.req("entity"), q.sub("entity")); ok && e != "testjob" {
					c.errorf(q.n.Get("entity"), q.sub("entity"), "only testjob queries are allowed, got %q", e)
				}
				c.anyMap(q.opt("conditions"), q.sub("conditions"))
			}
			q.finish()
		}
	}
}

func (c *checker) serverCallback(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	c.str(f.req("url"), f.sub("url"))
	c.oneOf(f.opt("method"), f.sub("method"), "GET", "POST")
	c.str(f.opt("token"), f.sub("token"))
	c.oneOf(f.opt("dataset"), f.sub("dataset"), "minimal", "logs", "results", "all")
	c.oneOf(f.opt("content-type"), f.sub("content-type"), "json", "urlencoded")
}
