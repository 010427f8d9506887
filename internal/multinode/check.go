package multinode

import (
	"fmt"
	"slices"
	"strings"

	"github.com/basalt-lava/basalt/internal/value"
)

// MaxGroupSize bounds the sum of the counts. LAVA sets no bound, but
// every sub-job is a full copy of the job, and a count is untrusted input
// that could otherwise ask for millions of them.
const MaxGroupSize = 1000

// plan is a checked submission, ready to build sub-jobs from.
type plan struct {
	roles     []*role
	groupSize int
	vland     *value.Map // protocols.lava-vland, role → VLANs
	lxc       *value.Map // protocols.lava-lxc, role → container
}

type role struct {
	name    string
	spec    *value.Map
	count   int // -1 when invalid
	actions []roleAction
}

type roleAction struct {
	kind  string // deploy, boot, test, command
	block *value.Map
}

// checker collects every problem of a submission before any is reported.
type checker struct {
	def      *value.Map
	problems []Problem
	seen     map[string]bool
	byName   map[string]*role
}

// add records a problem once: the same rule can fire from several roles
// for a key set at protocol level.
func (c *checker) add(path []any, format string, args ...any) {
	p := Problem{Path: slices.Clone(path), Msg: fmt.Sprintf(format, args...)}
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	if k := p.String(); !c.seen[k] {
		c.seen[k] = true
		c.problems = append(c.problems, p)
	}
}

var (
	mnPath    = []any{"protocols", "lava-multinode"}
	rolesPath = []any{"protocols", "lava-multinode", "roles"}
)

func at(base []any, more ...any) []any {
	return append(slices.Clone(base), more...)
}

func rolePath(name string, more ...any) []any {
	return at(rolesPath, append([]any{name}, more...)...)
}

// check runs every rule and returns the plan; it is nil when the
// submission is not even shaped like a MultiNode job.
func (c *checker) check() *plan {
	if c.def == nil {
		c.add(nil, "the job definition is empty")
		return nil
	}
	mn, roles := c.multinodeBlock()
	if roles == nil {
		return nil
	}
	p := &plan{}
	c.byName = map[string]*role{}
	roles.Range(func(name string, v any) bool {
		spec, _ := v.(*value.Map)
		r := &role{name: name, spec: spec, count: -1}
		p.roles = append(p.roles, r)
		c.byName[name] = r
		return true
	})
	if !c.roleShapes(mn, p.roles) {
		return nil
	}
	for _, k := range []string{"device_type", "environment", "context", "tags"} {
		// LAVA tests these for truth: an empty one is let through.
		if value.Truthy(c.def.Value(k)) {
			c.add([]any{k}, "%q is not allowed at the top of a MultiNode job; set it per role in protocols.lava-multinode.roles", k)
		}
	}
	for _, k := range []string{"target_group", "group_size", "sub_id", "role"} {
		if mn.Has(k) {
			c.add(at(mnPath, k), "%q is written by the split into each sub-job; remove it from the submission", k)
		}
	}
	for _, r := range p.roles {
		c.roleRules(r)
	}
	c.hostRoles(p.roles)
	c.lavaStart(mn, p.roles)
	actionsOK := c.actions()
	valid := true
	for _, r := range p.roles {
		if r.count < 0 {
			valid = false
			continue
		}
		// Stop counting past the bound: a huge count must not overflow.
		p.groupSize = min(p.groupSize+min(r.count, MaxGroupSize+1), MaxGroupSize+1)
		if actionsOK && r.count > 0 && len(r.actions) == 0 {
			c.add(rolePath(r.name), "role %q has no actions: name it in the role list of the actions it runs", r.name)
		}
	}
	switch {
	case valid && p.groupSize == 0:
		c.add(rolesPath, "every role has count 0: the group would have no jobs")
	case p.groupSize > MaxGroupSize:
		c.add(rolesPath, "the counts add up to more than %d jobs, the most a group may have here", MaxGroupSize)
	}
	p.vland, p.lxc = c.otherProtocols(p.roles)
	if p.groupSize <= MaxGroupSize && p.groupSize*countValues(c.def, maxCopiedValues) > maxCopiedValues {
		c.add(nil, "the job is too large to copy into %d sub-jobs", p.groupSize)
	}
	return p
}

// maxCopiedValues bounds the values all sub-jobs hold together, so that a
// large job (up to the YAML reader's own bound) times a large group
// cannot exhaust memory.
const maxCopiedValues = 1 << 24

// countValues counts the values in v, stopping once past limit.
func countValues(v any, limit int) int {
	n := 1
	switch t := v.(type) {
	case *value.Map:
		t.Range(func(_ string, e any) bool {
			n += countValues(e, limit-n)
			return n <= limit
		})
	case []any:
		for _, e := range t {
			if n += countValues(e, limit-n); n > limit {
				break
			}
		}
	}
	return n
}

// multinodeBlock finds protocols.lava-multinode and its roles, reporting
// what is missing. roles is nil when there is nothing to split.
func (c *checker) multinodeBlock() (mn, roles *value.Map) {
	pv, ok := c.def.Get("protocols")
	if !ok {
		c.add(nil, "not a MultiNode job: it has no protocols.lava-multinode block with roles")
		return nil, nil
	}
	protocols, ok := pv.(*value.Map)
	if !ok {
		c.add([]any{"protocols"}, "expected a map, got %s", describe(pv))
		return nil, nil
	}
	mv, ok := protocols.Get("lava-multinode")
	if !ok {
		c.add([]any{"protocols"}, "not a MultiNode job: protocols has no lava-multinode block")
		return nil, nil
	}
	if mn, ok = mv.(*value.Map); !ok {
		c.add(mnPath, "expected a map, got %s", describe(mv))
		return nil, nil
	}
	rv, ok := mn.Get("roles")
	if !ok {
		if mn.Has("target_group") {
			c.add(mnPath, "this is already a split sub-job (it has a target_group and no roles to split); split the submission it came from")
		} else {
			c.add(rolesPath, "missing required key \"roles\": the roles of the group, each with its device_type or connection and count")
		}
		return nil, nil
	}
	if roles, ok = rv.(*value.Map); !ok {
		c.add(rolesPath, "expected a map of role names to role settings, got %s", describe(rv))
		return nil, nil
	}
	if roles.Len() == 0 {
		c.add(rolesPath, "no roles: a MultiNode job needs at least one")
		return nil, nil
	}
	return mn, roles
}

// roleShapes checks that every role is a map of settings. A sub-job's
// roles map (job id → role name) gets one clear message instead of one
// per entry.
func (c *checker) roleShapes(mn *value.Map, roles []*role) bool {
	bad := 0
	for _, r := range roles {
		if r.spec == nil {
			bad++
		}
	}
	if bad == 0 {
		return true
	}
	if bad == len(roles) && mn.Has("target_group") {
		c.add(rolesPath, "this is already a split sub-job (roles maps job ids to role names); split the submission it came from")
		return false
	}
	for _, r := range roles {
		if r.spec == nil {
			v := mn.Map("roles").Value(r.name)
			c.add(rolePath(r.name), "expected a map of role settings (device_type or connection, count, …), got %s", describe(v))
		}
	}
	return false
}

// roleRules checks one role's own keys: LAVA's submission schema and
// _validate_multinode rules, and what its split and scheduler assume.
func (c *checker) roleRules(r *role) {
	s := r.spec
	cv, ok := s.Get("count")
	switch n, isInt := cv.(int); {
	case !ok:
		c.add(rolePath(r.name, "count"), "missing required key \"count\": how many jobs play this role")
	case !isInt:
		c.add(rolePath(r.name, "count"), "expected a whole number of jobs, got %s", describe(cv))
	case n < 0:
		c.add(rolePath(r.name, "count"), "must not be negative, got %d", n)
	default:
		r.count = n
	}
	for _, k := range reservedKeys {
		if s.Has(k) {
			c.add(rolePath(r.name, k), "%q is written by the split into each sub-job; remove it from the role", k)
		}
	}
	for _, k := range []string{"device_type", "connection", "host_role", "expect_role", "request", "device", "worker"} {
		if v, ok := s.Get(k); ok {
			if _, isStr := v.(string); !isStr {
				c.add(rolePath(r.name, k), "expected a string, got %s", describe(v))
			}
		}
	}
	if v, ok := s.Get("context"); ok {
		if _, isMap := v.(*value.Map); !isMap {
			c.add(rolePath(r.name, "context"), "expected a map, got %s", describe(v))
		}
	}
	hasDT, hasConn := s.Has("device_type"), s.Has("connection")
	switch {
	case hasDT && hasConn:
		c.add(rolePath(r.name, "connection"), "a role has either device_type (jobs on devices) or connection (a dynamic connection), not both")
	case !hasDT && !hasConn:
		c.add(rolePath(r.name), "needs device_type (the type of device its jobs run on) or connection (a dynamic connection to the device of its host_role)")
	case hasConn && !s.Has("host_role"):
		c.add(rolePath(r.name, "connection"), "a connection role needs host_role: the role whose device it connects to")
	}
	if hasConn {
		for _, k := range []string{"device", "worker"} {
			if s.Has(k) {
				c.add(rolePath(r.name, k), "a connection role runs on its host_role's worker and has no device, so it cannot set %s", k)
			}
		}
	}
	if s.Has("device") && r.count >= 0 && r.count != 1 {
		c.add(rolePath(r.name, "device"), "a role pinned to one device needs count: 1, not %d", r.count)
	}
	hr, hasHR := s.Value("host_role").(string)
	er, hasER := s.Value("expect_role").(string)
	if hasHR {
		c.knownRole(rolePath(r.name, "host_role"), hr)
		if !s.Has("expect_role") {
			c.add(rolePath(r.name, "host_role"), "host_role needs expect_role: the role whose lava_start this role waits for")
		}
	}
	// LAVA's server (2023.1) also refuses expect_role without host_role;
	// Basalt does not: the protocol reference describes a delayed start
	// (request: lava-start, expect_role) for any role, and a device role
	// has no host to name.
	if hasER {
		c.knownRole(rolePath(r.name, "expect_role"), er)
	}
}

func (c *checker) knownRole(path []any, name string) bool {
	if _, ok := c.byName[name]; ok {
		return true
	}
	c.add(path, "names role %q, which protocols.lava-multinode.roles does not define (roles: %s)", name, c.roleList())
	return false
}

func (c *checker) roleList() string {
	names := make([]string, 0, len(c.byName))
	for n := range c.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// hostRoles: the scheduler runs a dynamic connection on the worker of
// its host_role's one device, so that role must have exactly one job.
// (LAVA checks only the last role's host_role; every one is checked here.)
func (c *checker) hostRoles(roles []*role) {
	for _, r := range roles {
		hr, ok := r.spec.Value("host_role").(string)
		if !ok {
			continue
		}
		host := c.byName[hr]
		if host == nil {
			continue
		}
		if host.spec.Has("connection") {
			c.add(rolePath(r.name, "host_role"), "names role %q, a connection role: a host_role must be a role with a device", hr)
		}
		if host.count >= 0 && host.count != 1 {
			c.add(rolePath(hr, "count"), "role %q is the host_role of role %q, so its count must be 1, not %d", hr, r.name, host.count)
		}
	}
}

// effective returns the value a sub-job of role r will have under key in
// protocols.lava-multinode, and where it comes from: a protocol-level key
// wins over the role's own.
func effective(mn *value.Map, r *role, key string) (any, []any, bool) {
	if v, ok := mn.Get(key); ok {
		return v, at(mnPath, key), true
	}
	if v, ok := r.spec.Get(key); ok {
		return v, rolePath(r.name, key), true
	}
	return nil, nil, false
}

// lavaStart checks delayed starts as the dispatcher will see them in each
// sub-job: a role with request: lava-start waits, before its first
// action, until every job of its expect_role has sent lava_start. LAVA's
// documentation makes it an error for a role to expect itself and for
// every role to wait; any cycle of waiting roles deadlocks the same way.
func (c *checker) lavaStart(mn *value.Map, roles []*role) {
	waitsFor := map[string]string{}
	var active, delayed []string
	for _, r := range roles {
		if r.count == 0 {
			continue // no job would run
		}
		active = append(active, r.name)
		req, reqPath, _ := effective(mn, r, "request")
		erv, erPath, hasER := effective(mn, r, "expect_role")
		er, erIsStr := erv.(string)
		if hasER && erIsStr && er == r.name {
			c.add(erPath, "expect_role names role %q itself: a role cannot wait for its own lava_start", r.name)
		}
		if req != "lava-start" {
			continue
		}
		delayed = append(delayed, r.name)
		switch {
		case !hasER:
			c.add(reqPath, "request: lava-start needs expect_role (for role %q): the role whose lava_start it waits for", r.name)
		case !erIsStr:
			c.add(erPath, "expected a string, got %s", describe(erv))
		case er == r.name:
		case !c.knownRole(erPath, er):
		case c.byName[er].count == 0:
			c.add(erPath, "role %q waits for lava_start from role %q, which has count 0: it would never start", r.name, er)
		default:
			waitsFor[r.name] = er
		}
	}
	if len(active) > 0 && len(delayed) == len(active) {
		path := rolesPath
		if mn.Has("request") {
			path = at(mnPath, "request")
		}
		c.add(path, "lava-start is requested by every role (%s): no job would start, so none would send lava_start", strings.Join(active, ", "))
		return
	}
	reported := map[string]bool{}
	for _, start := range delayed {
		var chain []string
		cur, ok := start, true
		for ok && !slices.Contains(chain, cur) {
			chain = append(chain, cur)
			cur, ok = waitsFor[cur]
		}
		if !ok {
			continue // the chain ends at a role that starts at once
		}
		cycle := chain[slices.Index(chain, cur):]
		key := strings.Join(slices.Sorted(slices.Values(cycle)), ",")
		if reported[key] {
			continue
		}
		reported[key] = true
		c.add(rolesPath, "roles %s wait for each other's lava_start: none of them would start", strings.Join(cycle, ", "))
	}
}

// actions checks every action's role list and gives each role its
// actions, in order. It reports false when the action list itself is
// unusable, so that roles are not also reported as having no actions.
func (c *checker) actions() bool {
	av, ok := c.def.Get("actions")
	if !ok {
		c.add([]any{"actions"}, "missing required key \"actions\"")
		return false
	}
	list, ok := av.([]any)
	if !ok {
		c.add([]any{"actions"}, "expected a list of actions, got %s", describe(av))
		return false
	}
	for i, item := range list {
		m, ok := item.(*value.Map)
		if !ok {
			c.add([]any{"actions", i}, "expected a map holding one action (deploy, boot, test or command), got %s", describe(item))
			continue
		}
		if m.Len() != 1 {
			c.add([]any{"actions", i}, "an action is a map with exactly one key (deploy, boot, test or command); this one has %d: %s", m.Len(), strings.Join(m.Keys(), ", "))
			continue
		}
		kind := m.Keys()[0]
		path := []any{"actions", i, kind}
		block, ok := m.Value(kind).(*value.Map)
		if !ok {
			c.add(path, "expected a map, got %s", describe(m.Value(kind)))
			continue
		}
		rv, ok := block.Get("role")
		if !ok {
			c.add(path, "every action of a MultiNode job needs a role list: the roles whose jobs run it")
			continue
		}
		names, ok := rv.([]any)
		if !ok {
			c.add(at(path, "role"), "expected a list of role names, got %s", describe(rv))
			continue
		}
		if len(names) == 0 {
			c.add(at(path, "role"), "the role list is empty: no job would run this action")
		}
		var taken []string
		for j, e := range names {
			name, ok := e.(string)
			if !ok {
				c.add(at(path, "role", j), "expected a role name, got %s", describe(e))
				continue
			}
			if !c.knownRole(at(path, "role", j), name) || slices.Contains(taken, name) {
				continue
			}
			taken = append(taken, name)
			r := c.byName[name]
			r.actions = append(r.actions, roleAction{kind: kind, block: block})
		}
	}
	return true
}

// otherProtocols checks the per-role protocols LAVA hands to sub-jobs:
// lava-vland (every role, one device each) and lava-lxc (the roles it
// names). Other protocols are not passed on, as in LAVA.
func (c *checker) otherProtocols(roles []*role) (vland, lxc *value.Map) {
	protocols := c.def.Map("protocols")
	if v, ok := protocols.Get("lava-vland"); ok {
		path := []any{"protocols", "lava-vland"}
		if vland, ok = v.(*value.Map); !ok {
			c.add(path, "expected a map of role names to VLANs, got %s", describe(v))
		} else {
			for _, r := range roles {
				if !vland.Has(r.name) {
					c.add(path, "has no entry for role %q: in a MultiNode job lava-vland maps every role to its VLANs", r.name)
				}
				if r.count >= 0 && r.count != 1 {
					c.add(rolePath(r.name, "count"), "the lava-vland protocol supports one device per role; role %q has count %d", r.name, r.count)
				}
			}
			c.vlandCreator(vland, roles)
		}
	}
	if v, ok := protocols.Get("lava-lxc"); ok {
		if lxc, ok = v.(*value.Map); !ok {
			c.add([]any{"protocols", "lava-lxc"}, "expected a map, got %s", describe(v))
		}
	}
	return vland, lxc
}

// vlandCreator checks LAVA's rule that the group's first sub-job (sub_id
// 0, the first role's) creates every VLAN of the group and the others
// only wait for the VLANs they name: a VLAN the first role does not name
// is never created, and the roles naming it would wait until their
// timeout.
func (c *checker) vlandCreator(vland *value.Map, roles []*role) {
	var first *role
	for _, r := range roles {
		if r.count != 0 {
			first = r
			break
		}
	}
	if first == nil {
		return
	}
	own, _ := vland.Value(first.name).(*value.Map)
	for _, r := range roles {
		vlans, ok := vland.Value(r.name).(*value.Map)
		if !ok || r == first {
			continue
		}
		for _, name := range vlans.Keys() {
			if !own.Has(name) {
				c.add([]any{"protocols", "lava-vland", r.name, name}, "VLAN %q is not named by role %q, the first role: its job (sub_id 0) creates every VLAN of the group, so role %q would wait for this one until its timeout", name, first.name, r.name)
			}
		}
	}
}
