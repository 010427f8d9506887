package lab

import (
	"context"
	"fmt"
	"strings"

	"github.com/basalt-lava/basalt/internal/device"
	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/scheduler"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/value"
	"github.com/basalt-lava/basalt/internal/vland"
)

// VLANd in the lab: as LAVA's scheduler does (scheduler.py
// schedule_jobs_for_device calls dbutils.py match_vlan_interface), a
// sub-job with the lava-vland protocol only goes to a device whose
// dictionary's parameters.interfaces carry its VLANs' tags
// (scheduler.MatchVLANs). The submission check uses the same rule to
// leave such devices out of the job's candidates, and refuses a group no
// set of devices can carry, naming the role and the tags: LAVA has no
// such check (models.py: "FIXME: the vland protocol will affect the
// device_list") and leaves that group queued for ever.

// jobVLANs returns the VLANs of a sub-job's protocols.lava-vland (after
// the MultiNode split, the role's own VLANs), in the job's order, or nil
// when it has no such protocol. Only MultiNode sub-jobs are matched so
// (LAVA's lava-vland is a MultiNode protocol, its submission form keyed
// by role): a single-node job is left to the dispatcher's own check. A malformed entry counts as a VLAN with
// no tags: the job's own check refuses it at submission.
func jobVLANs(data *value.Map) []scheduler.VLAN {
	vl, ok := data.Map("protocols").Value(vland.ProtocolName).(*value.Map)
	if !ok {
		return nil
	}
	out := []scheduler.VLAN{}
	for _, name := range vl.Keys() {
		v := scheduler.VLAN{Name: name}
		if spec, ok := vl.Value(name).(*value.Map); ok {
			for _, t := range spec.List("tags") {
				v.Tags = append(v.Tags, fmt.Sprint(t))
			}
		}
		out = append(out, v)
	}
	return out
}

// storedJobVLANs is jobVLANs of a stored job's definition. Only a
// definition that names the protocol is parsed, so a pass over a long
// queue of other jobs parses nothing.
func storedJobVLANs(definition string) []scheduler.VLAN {
	if !strings.Contains(definition, vland.ProtocolName) {
		return nil
	}
	v, err := value.DecodeYAMLLimit([]byte(definition), limits.Defaults().YAMLNodes)
	if err != nil {
		return nil
	}
	m, ok := v.(*value.Map)
	if !ok {
		return nil
	}
	return jobVLANs(m)
}

// groupVLANs returns the lava-vland VLANs of each sub-job of a MultiNode
// group that has them (LAVA's protocol needs MultiNode: a single-node
// job's are not looked for). The scheduling pass's queue carries no
// definitions, so the group's jobs are read once, and remembered: a
// definition never changes.
func (l *Lab) groupVLANs(ctx context.Context, group string) (map[int64][]scheduler.VLAN, error) {
	l.mu.Lock()
	vlans, ok := l.vlans[group]
	l.mu.Unlock()
	if ok {
		return vlans, nil
	}
	jobs, err := l.st.GroupJobs(ctx, group)
	if err != nil {
		return nil, err
	}
	vlans = map[int64][]scheduler.VLAN{}
	for _, j := range jobs {
		if v := storedJobVLANs(j.Definition); v != nil {
			vlans[j.ID] = v
		}
	}
	l.mu.Lock()
	if len(l.vlans) >= maxRemembered {
		clear(l.vlans)
	}
	l.vlans[group] = vlans
	l.mu.Unlock()
	return vlans, nil
}

// describeVLANs is a role's VLANs for a message: "vlan_one [1G],
// vlan_two [RJ45]".
func describeVLANs(vlans []scheduler.VLAN) string {
	parts := make([]string, len(vlans))
	for i, v := range vlans {
		parts[i] = fmt.Sprintf("%s [%s]", v.Name, strings.Join(v.Tags, ", "))
	}
	return strings.Join(parts, ", ")
}

// maxRemembered bounds the remembered interfaces of devices, and the
// remembered VLANs of groups.
const maxRemembered = 4096

// deviceInterfaces returns the tags of each of d's VLAN interfaces
// (scheduler.DeviceSnapshot.Interfaces), read from its dictionary
// rendered without a job context, as LAVA's Device.load_configuration.
// A dictionary that does not render, or has no usable
// parameters.interfaces, gives none: the device carries no VLAN. The
// answer is remembered by checkKey, so a pass renders a device once
// while its dictionary and the templates stay the same.
func (l *Lab) deviceInterfaces(d store.Device, tkey string, loader *device.Renderer) [][]string {
	key := l.checkKey(d, tkey)
	l.mu.Lock()
	tags, ok := l.ifaces[key]
	l.mu.Unlock()
	if ok {
		return tags
	}
	tags = [][]string{}
	if out, err := renderDevice(d, nil, loader); err == nil {
		if cfg, err := device.ParseLimit([]byte(out), limits.Defaults().YAMLNodes); err == nil {
			if fs, err := vland.Interfaces(cfg.Data); err == nil {
				for _, f := range fs {
					tags = append(tags, f.Tags)
				}
			}
		}
	}
	l.mu.Lock()
	if len(l.ifaces) >= maxRemembered {
		clear(l.ifaces)
	}
	l.ifaces[key] = tags
	l.mu.Unlock()
	return tags
}

// roleName names an entry's role for a message.
func roleName(e entry) string { return "role " + e.role }

// vlanSets checks, for a submission with lava-vland VLANs, that distinct
// devices exist for all its sub-jobs at once, each one's among its
// candidates (by requestKey): each role's VLANs may find a device alone
// while two roles need the same one. The search is by augmenting paths
// (Kuhn's algorithm), as the scheduler's (scheduler.Pass).
func vlanSets(entries []entry, candidates map[string][]store.Device) error {
	hasVLANs := false
	for _, e := range entries {
		hasVLANs = hasVLANs || e.vlans != nil
	}
	if !hasVLANs {
		return nil
	}
	owner := map[string]int{} // device → entry
	var augment func(k int, seen map[string]bool) bool
	augment = func(k int, seen map[string]bool) bool {
		for _, d := range candidates[requestKey(entries[k])] {
			if seen[d.Name] {
				continue
			}
			seen[d.Name] = true
			if o, taken := owner[d.Name]; !taken || augment(o, seen) {
				owner[d.Name] = k
				return true
			}
		}
		return false
	}
	for k := range entries {
		if augment(k, map[string]bool{}) {
			continue
		}
		var needs []string
		for _, e := range entries {
			if e.vlans != nil {
				needs = append(needs, fmt.Sprintf("%s needs %s", roleName(e), describeVLANs(e.vlans)))
			}
		}
		return &SubmitError{Code: 400, Problems: []string{fmt.Sprintf(
			"Device unavailable: no set of distinct devices that are not Retired carries the VLANs of every role (%s is left without one): %s",
			roleName(entries[k]), strings.Join(needs, "; "))}}
	}
	return nil
}
