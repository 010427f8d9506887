// Package multinode turns a MultiNode submission into the sub-jobs LAVA's
// server would create from it: one job definition per device (or dynamic
// connection) of each role, each with its own protocols.lava-multinode
// block (target_group, role, group_size, sub_id) and only the actions of
// its role. The output has the keys and the key order of LAVA's
// lava_scheduler_app split_multinode_yaml, so a sub-job written by Basalt
// reads the same to LAVA's dispatcher as one LAVA's server wrote.
//
// Before splitting, the submission is checked against the rules LAVA
// enforces when a MultiNode job is submitted (role names, host_role and
// expect_role, counts) and the lava-start rules of LAVA's documentation,
// and every problem found is reported at once.
package multinode

import (
	"crypto/rand"
	"fmt"
	"slices"
	"sort"

	"github.com/basalt-lava/basalt/internal/value"
)

// SubJob is one job of a MultiNode group.
type SubJob struct {
	// Role is the role this job plays.
	Role string
	// SubID is its place in the group, 0..group_size-1, counted across
	// roles in submission order.
	SubID int
	// Definition is the job definition the dispatcher runs.
	Definition *value.Map
}

// Options control a split.
type Options struct {
	// TargetGroup names the group for the coordinator; "" picks a new
	// random UUID4, as LAVA's server does for each submission.
	TargetGroup string
}

// Keys LAVA copies from the top of the submission into every sub-job, in
// this order.
var topLevelCopies = []string{
	"job_name", "timeouts", "priority", "visibility", "notify", "metadata",
	"reboot_to_fastboot",
	// LAVA's 2023 server dropped secrets from sub-jobs; later ones copy
	// them, and a sub-job's test shell needs them.
	"secrets",
}

// Role keys that become top-level keys of the sub-job (they tell the
// scheduler what to run the job on), in this order.
var schedulingKeys = []string{"device_type", "connection", "host_role", "context"}

// Keys of protocols.lava-multinode that the split itself writes; a
// submission setting them (at protocol or role level) would override the
// group's identity, which LAVA's submission schema rejects.
var reservedKeys = []string{"target_group", "group_size", "sub_id", "role", "roles"}

// IsSubmission reports whether def is a MultiNode submission to split:
// protocols.lava-multinode.roles maps role names to role settings. An
// already split sub-job has target_group/role/sub_id instead, and after
// scheduling a roles map of job ids to role names (strings).
func IsSubmission(def *value.Map) bool {
	roles := def.Map("protocols").Map("lava-multinode").Map("roles")
	if roles.Len() == 0 {
		return false
	}
	isMaps := true
	roles.Range(func(_ string, v any) bool {
		_, isMaps = v.(*value.Map)
		return isMaps
	})
	return isMaps
}

// Split splits a MultiNode submission into its sub-jobs, in sub_id order.
// def is not modified; every sub-job holds its own copies. The error is
// an *Error listing every problem found.
func Split(def *value.Map, opts Options) ([]SubJob, error) {
	c := &checker{def: def}
	plan := c.check()
	if len(c.problems) > 0 {
		return nil, &Error{Problems: c.problems}
	}
	tg := opts.TargetGroup
	if tg == "" {
		var err error
		if tg, err = newUUID4(); err != nil {
			return nil, fmt.Errorf("choosing a target_group: %w", err)
		}
	}
	return plan.build(def, tg), nil
}

// build assembles the sub-jobs. The key order follows LAVA's: actions
// first, then the copied top-level keys, then the role's scheduling keys,
// then protocols.
func (p *plan) build(def *value.Map, targetGroup string) []SubJob {
	mn := def.Map("protocols").Map("lava-multinode")
	var subs []SubJob
	subID := 0
	for _, r := range p.roles {
		for n := 0; n < r.count; n++ {
			job := value.NewMap()
			actions := make([]any, 0, len(r.actions))
			for _, a := range r.actions {
				c := value.Clone(a.block).(*value.Map)
				// Set keeps the key's place: LAVA rewrites the value in place.
				c.Set("role", r.name)
				actions = append(actions, value.MapOf(a.kind, c))
			}
			job.Set("actions", actions)
			for _, k := range topLevelCopies {
				if v, ok := def.Get(k); ok {
					job.Set(k, value.Clone(v))
				}
			}
			for _, k := range schedulingKeys {
				if v, ok := r.spec.Get(k); ok {
					job.Set(k, value.Clone(v))
				}
			}
			params := value.MapOf(
				"target_group", targetGroup,
				"role", r.name,
				"group_size", p.groupSize,
				"sub_id", subID,
			)
			// LAVA sets essential before the other role keys; those
			// come out in Python set order there (which varies from run
			// to run), in submission order here.
			if v, ok := r.spec.Get("essential"); ok {
				params.Set("essential", value.Clone(v))
			}
			r.spec.Range(func(k string, v any) bool {
				if k != "count" && !slices.Contains(schedulingKeys, k) {
					params.Set(k, value.Clone(v))
				}
				return true
			})
			// Protocol-level keys come last and win over role keys of
			// the same name (a protocol timeout replaces a role
			// timeout, keeping its place), as in LAVA.
			mn.Range(func(k string, v any) bool {
				if k != "role" && k != "roles" {
					params.Set(k, value.Clone(v))
				}
				return true
			})
			protocols := value.MapOf("lava-multinode", params)
			if p.vland != nil {
				protocols.Set("lava-vland", value.Clone(p.vland.Value(r.name)))
			}
			if v, ok := p.lxc.Get(r.name); ok {
				protocols.Set("lava-lxc", value.Clone(v))
			}
			job.Set("protocols", protocols)
			subs = append(subs, SubJob{Role: r.name, SubID: subID, Definition: job})
			subID++
		}
	}
	return subs
}

// SetRoles is the scheduler's last step before a group runs: every
// sub-job gets protocols.lava-multinode.roles, mapping each job id (a
// decimal string) to its role, in sub_id order. ids[i] is the id of
// subs[i]. As in LAVA, dynamic connection sub-jobs (those with a
// connection instead of a device) are left out of the map, since they
// have no device, but they receive it too. It panics if the counts differ,
// which is a caller's bug, not bad input.
func SetRoles(subs []SubJob, ids []string) {
	if len(ids) != len(subs) {
		panic(fmt.Sprintf("multinode.SetRoles: %d ids for %d sub-jobs", len(ids), len(subs)))
	}
	order := make([]int, len(subs))
	for i := range order {
		order[i] = i
	}
	// Sub-jobs normally arrive in sub_id order; sort anyway so the map's
	// order never depends on the caller's.
	sort.SliceStable(order, func(a, b int) bool { return subs[order[a]].SubID < subs[order[b]].SubID })
	roles := value.NewMap()
	for _, i := range order {
		if subs[i].Definition.Has("connection") {
			continue
		}
		roles.Set(ids[i], subs[i].Role)
	}
	for _, s := range subs {
		mn := s.Definition.Map("protocols").Map("lava-multinode")
		if mn == nil {
			continue
		}
		mn.Set("roles", roles.Copy())
	}
}

// newUUID4 returns a random (version 4) UUID in its usual text form.
func newUUID4() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}
