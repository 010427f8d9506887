package vland

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/basalt-lava/basalt/internal/value"
)

// ProtocolName is the protocol's key in a job.
const ProtocolName = "lava-vland"

// Plan is what a sub-job's lava-vland protocol asks of its device: for
// each VLAN the job names (in the job's order), the device interface
// that goes onto it, found by tags as LAVA does, and the lines of the
// test shell helpers.
type Plan struct {
	VLANs []PlannedVLAN
	// Self, Names and Tags are the lines lava-vland-self,
	// lava-vland-names and lava-vland-tags print.
	Self, Names, Tags []string
}

// PlannedVLAN is one VLAN of the job on this device.
type PlannedVLAN struct {
	// Friendly is the job's name for it; Name the one VLANd gets.
	Friendly, Name string
	Tags           []string
	// Interface is the device dictionary's label of the interface;
	// Switch and Port are where it is cabled.
	Interface, Switch string
	Port              any
}

// Iface is one entry of the device's parameters.interfaces.
type Iface struct {
	Label, Sysfs, MAC, Switch string
	Port                      any
	// Tags empty: a primary interface, never put on a VLAN.
	Tags []string
}

// Name is the name VLANd gets for the job's VLAN friendly, as LAVA
// makes it: the last 8 characters of the job id, then the first 8 of the
// friendly name, keeping letters and digits only, at most 16. A switch
// takes it whatever the job wrote, and two jobs do not collide.
func Name(jobID, friendly string) string {
	id := []rune(jobID)
	if len(id) > 8 {
		id = id[len(id)-8:]
	}
	f := []rune(friendly)
	if len(f) > 8 {
		f = f[:8]
	}
	var b strings.Builder
	for _, r := range string(id) + string(f) {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if len(s) > 16 {
		s = s[:16]
	}
	return s
}

// Requested reports whether a job has the lava-vland protocol.
func Requested(jobParams *value.Map) bool {
	return jobParams.Map("protocols").Has(ProtocolName)
}

// Interfaces reads the device's parameters.interfaces, in its order.
func Interfaces(device *value.Map) ([]Iface, error) {
	params := device.Map("parameters")
	if params == nil {
		return nil, fmt.Errorf("invalid device configuration, no parameters given")
	}
	v, ok := params.Get("interfaces")
	if !ok {
		return nil, fmt.Errorf("device lacks vland interfaces data (parameters.interfaces)")
	}
	m, isMap := v.(*value.Map)
	if !isMap {
		return nil, fmt.Errorf("invalid interfaces dictionary for device: parameters.interfaces is %s", value.GoString(v))
	}
	var out []Iface
	var problems []string
	for _, label := range m.Keys() {
		e, isMap := m.Value(label).(*value.Map)
		if !isMap {
			problems = append(problems, fmt.Sprintf("parameters.interfaces.%s is not a dictionary", label))
			continue
		}
		if label == "target" && !e.Has("tags") {
			// base.jinja2's device_ip/device_mac entry, not a VLANd
			// interface.
			continue
		}
		f := Iface{Label: label, Sysfs: scalar(e.Value("sysfs")), MAC: scalar(e.Value("mac")), Switch: scalar(e.Value("switch")), Port: e.Value("port")}
		switch t := e.Value("tags").(type) {
		case nil:
		case []any:
			// An empty list is a primary interface too, as in LAVA.
			for _, x := range t {
				f.Tags = append(f.Tags, scalar(x))
			}
		default:
			problems = append(problems, fmt.Sprintf("parameters.interfaces.%s.tags is not a list", label))
		}
		if len(f.Tags) > 0 && (f.Switch == "" || f.Port == nil) {
			problems = append(problems, fmt.Sprintf("parameters.interfaces.%s has tags but no switch and port", label))
		}
		switch f.Port.(type) {
		case nil, int, string:
		default:
			problems = append(problems, fmt.Sprintf("parameters.interfaces.%s.port must be a number, not %s", label, value.GoString(f.Port)))
		}
		out = append(out, f)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return out, nil
}

// MakePlan matches the job's VLANs (its protocols.lava-vland: {name:
// {tags: [...]}}) with the device's interfaces, as LAVA's protocol does:
// a VLAN takes the first interface, in the device's order, that has every
// tag the VLAN asks for, is not primary (no tags) and whose switch port no
// earlier VLAN took. Every problem is in the error.
func MakePlan(jobParams, device *value.Map, jobID string) (*Plan, error) {
	vl, isMap := jobParams.Map("protocols").Value(ProtocolName).(*value.Map)
	if !isMap {
		return nil, fmt.Errorf("protocols.%s must be a dictionary of VLAN names", ProtocolName)
	}
	ifaces, err := Interfaces(device)
	if err != nil {
		return nil, err
	}
	var problems []string
	p := &Plan{}
	available := map[string]bool{}
	for _, f := range ifaces {
		p.Self = append(p.Self, f.Label+","+f.MAC+","+f.Sysfs)
		for _, t := range f.Tags {
			available[t] = true
			p.Tags = append(p.Tags, f.Label+","+t)
		}
	}
	seen := map[string]bool{}     // switch + port taken
	byName := map[string]string{} // VLANd name → friendly
	for _, friendly := range vl.Keys() {
		where := "protocols." + ProtocolName + "." + friendly
		spec, isMap := vl.Value(friendly).(*value.Map)
		tagsV, hasTags := spec.Get("tags")
		tagList, isList := tagsV.([]any)
		if !isMap || !hasTags || (!isList && tagsV != nil) {
			problems = append(problems, where+": a VLAN is {tags: [...]}")
			continue
		}
		v := PlannedVLAN{Friendly: friendly, Name: Name(jobID, friendly), Tags: []string{}}
		for _, t := range tagList {
			v.Tags = append(v.Tags, scalar(t))
		}
		if v.Name == "" {
			problems = append(problems, fmt.Sprintf("%s: VLANd would get an empty name (LAVA keeps the letters and digits of the job id's last 8 characters and of the VLAN name's first 8)", where))
		}
		if other, dup := byName[v.Name]; dup {
			problems = append(problems, fmt.Sprintf("%s: VLANd would know it as %s, as %s (LAVA keeps the first 8 letters and digits of a VLAN's name): rename one", where, v.Name, other))
		}
		byName[v.Name] = friendly
		var missing []string
		for _, t := range v.Tags {
			if !available[t] {
				missing = append(missing, t)
			}
		}
		if len(missing) > 0 {
			problems = append(problems, fmt.Sprintf("%s: requested tags %s are not available on the device (its interfaces have %s)", where, strings.Join(missing, ", "), strings.Join(sortedKeys(available), ", ")))
			continue
		}
		for _, f := range ifaces {
			node := f.Switch + " " + scalar(f.Port)
			if len(f.Tags) == 0 || seen[node] || !hasAll(f.Tags, v.Tags) {
				continue
			}
			v.Interface, v.Switch, v.Port = f.Label, f.Switch, f.Port
			seen[node] = true
			break
		}
		if v.Interface == "" {
			problems = append(problems, fmt.Sprintf("%s: no interface of the device is left with tags [%s] (each switch port goes on one VLAN)", where, strings.Join(v.Tags, ", ")))
			continue
		}
		p.VLANs = append(p.VLANs, v)
		p.Names = append(p.Names, friendly+","+v.Interface)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return p, nil
}

func hasAll(have, want []string) bool {
	set := map[string]bool{}
	for _, h := range have {
		set[h] = true
	}
	for _, w := range want {
		if !set[w] {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	}
	return fmt.Sprint(v)
}
