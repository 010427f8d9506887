package vland

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/basalt-lava/basalt/internal/value"
)

// Name is LAVA's: job id's last 8 characters, the VLAN's first 8,
// letters and digits only, at most 16.
func TestName(t *testing.T) {
	for _, c := range []struct{ id, friendly, want string }{
		{"4212", "vlan_one", "4212vlanone"},
		{"123456789012", "vlan_one", "56789012vlanone"},
		{"100", "a_very_long_vlan_name", "100averyl"},
		{"100", "$(reboot);`x`", "100reboot"},
		{"100", "vlan/../../etc", "100vlan"},
		{"100", "vläné", "100vln"},
	} {
		if got := Name(c.id, c.friendly); got != c.want {
			t.Errorf("Name(%q, %q) = %q, want %q", c.id, c.friendly, got, c.want)
		}
	}
}

func decode(t *testing.T, s string) *value.Map {
	t.Helper()
	v, err := value.DecodeYAML([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v.(*value.Map)
}

const twoIfaces = `
parameters:
  interfaces:
    eth0: {sysfs: /sys/eth0, mac: "00:00:00:00:00:01", switch: sw1, port: 5, tags: null}
    eth1: {sysfs: /sys/eth1, mac: "00:00:00:00:00:02", switch: sw1, port: 7, tags: [1G, RJ45]}
    eth2: {sysfs: /sys/eth2, mac: "00:00:00:00:00:03", switch: sw2, port: "3", tags: [10G, 1G]}
`

func TestMakePlan(t *testing.T) {
	job := decode(t, "protocols:\n  lava-vland:\n    vlan_one: {tags: [1G]}\n    vlan_two: {tags: [1G]}\n")
	p, err := MakePlan(job, decode(t, twoIfaces), "100")
	if err != nil {
		t.Fatal(err)
	}
	want := &Plan{
		VLANs: []PlannedVLAN{
			{Friendly: "vlan_one", Name: "100vlanone", Tags: []string{"1G"}, Interface: "eth1", Switch: "sw1", Port: 7},
			{Friendly: "vlan_two", Name: "100vlantwo", Tags: []string{"1G"}, Interface: "eth2", Switch: "sw2", Port: "3"},
		},
		Self:  []string{"eth0,00:00:00:00:00:01,/sys/eth0", "eth1,00:00:00:00:00:02,/sys/eth1", "eth2,00:00:00:00:00:03,/sys/eth2"},
		Names: []string{"vlan_one,eth1", "vlan_two,eth2"},
		Tags:  []string{"eth1,1G", "eth1,RJ45", "eth2,10G", "eth2,1G"},
	}
	if diff := cmp.Diff(p, want); diff != "" {
		t.Errorf("plan (-got +want):\n%s", diff)
	}
}

func TestMakePlanRefusals(t *testing.T) {
	for _, c := range []struct{ name, job, device, want string }{
		{"no interfaces", "protocols: {lava-vland: {v: {tags: [1G]}}}", "parameters: {pass: null}", "device lacks vland interfaces data"},
		{"interfaces not a map", "protocols: {lava-vland: {v: {tags: [1G]}}}", "parameters: {interfaces: [a]}", "invalid interfaces dictionary"},
		{"tag missing", "protocols: {lava-vland: {v: {tags: [40G]}}}", twoIfaces, "requested tags 40G are not available on the device (its interfaces have 10G, 1G, RJ45)"},
		{"no tags key", "protocols: {lava-vland: {v: [1G]}}", twoIfaces, "protocols.lava-vland.v: a VLAN is {tags: [...]}"},
		{"one interface for two VLANs", "protocols: {lava-vland: {a: {tags: [RJ45]}, b: {tags: [RJ45]}}}", twoIfaces, "protocols.lava-vland.b: no interface of the device is left with tags [RJ45]"},
		{"names that collide", "protocols: {lava-vland: {vlan_onea: {tags: [1G]}, vlan_oneb: {tags: [1G]}}}", twoIfaces, "VLANd would know it as 100vlanone, as vlan_onea"},
		{"port not a scalar", "protocols: {lava-vland: {v: {tags: [1G]}}}", "parameters: {interfaces: {e: {mac: x, switch: s, port: {a: 1}, tags: [1G]}}}", "parameters.interfaces.e.port must be a number"},
		{"tags without a port", "protocols: {lava-vland: {v: {tags: [1G]}}}", "parameters: {interfaces: {e: {mac: x, tags: [1G]}}}", "parameters.interfaces.e has tags but no switch and port"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := MakePlan(decode(t, c.job), decode(t, c.device), "100")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("MakePlan = %v, want an error with %q", err, c.want)
			}
		})
	}
}

// MakePlan never panics, and a name it gives VLANd is 1 to 16 letters
// and digits whatever the job holds.
func FuzzMakePlan(f *testing.F) {
	f.Add("protocols:\n  lava-vland:\n    vlan_one: {tags: [1G]}\n", twoIfaces, "100")
	f.Add("protocols: {lava-vland: {\"$(x)\": {tags: [RJ45]}, b: {tags: null}}}", twoIfaces, "")
	f.Add("protocols: {lava-vland: [a]}", "parameters: {interfaces: {e: 1}}", "1")
	f.Fuzz(func(t *testing.T, jobText, deviceText, id string) {
		j, err := value.DecodeYAML([]byte(jobText))
		if err != nil {
			return
		}
		d, err := value.DecodeYAML([]byte(deviceText))
		if err != nil {
			return
		}
		jm, _ := j.(*value.Map)
		dm, _ := d.(*value.Map)
		p, err := MakePlan(jm, dm, id)
		if err != nil {
			return
		}
		for _, v := range p.VLANs {
			if v.Name == "" || len(v.Name) > 16 || strings.Trim(v.Name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
				t.Errorf("VLANd name %q for %q", v.Name, v.Friendly)
			}
		}
	})
}
