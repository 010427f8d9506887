package vland

import (
	"strings"
	"testing"
)

const goodConfig = `
switches:
- name: sw1
  driver: bridge
  ports:
  - {number: 1, interface: vsw1p1}
  - {number: 2, interface: vsw1p2, name: "Gi1/0/2", locked: true}
`

func TestConfigDefaults(t *testing.T) {
	c, err := ParseConfig([]byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.BridgePrefix != "bvl" || c.Tags != (TagRange{2, 4094}) || c.DefaultVLAN != (VLANConfig{"DEFAULT", 1}) {
		t.Errorf("defaults: %+v", c)
	}
	if c.Switches[0].Ports[0].Name != "vsw1p1" || c.Switches[0].Ports[1].Name != "Gi1/0/2" {
		t.Errorf("port names: %+v", c.Switches[0].Ports)
	}
}

// Interface names reach ip(8): anything but a plain name is refused,
// with where it is.
func TestConfigRefusals(t *testing.T) {
	for _, c := range []struct{ name, text, want string }{
		{"unknown key", "switchs: []", "field switchs not found"},
		{"no switches", "bridge_prefix: bvl", "switches: none configured"},
		{"driver", "switches: [{name: sw1, driver: snmp, ports: []}]", `switches[0].driver "snmp"`},
		{"option-like interface", "switches: [{name: sw1, driver: bridge, ports: [{number: 1, interface: -x}]}]", `switches[0].ports[0].interface "-x"`},
		{"long interface", "switches: [{name: sw1, driver: bridge, ports: [{number: 1, interface: abcdefghijklmnop}]}]", "1 to 15"},
		{"interface with a slash", "switches: [{name: sw1, driver: bridge, ports: [{number: 1, interface: a/b}]}]", `interface "a/b"`},
		{"interface twice", "switches: [{name: sw1, driver: bridge, ports: [{number: 1, interface: a}, {number: 2, interface: a}]}]", `interface "a" is already switches[0].ports[0]`},
		{"port twice", "switches: [{name: sw1, driver: bridge, ports: [{number: 1, interface: a}, {number: 1, interface: b}]}]", "a second port of that number"},
		{"switch twice", "switches: [{name: s, driver: bridge}, {name: s, driver: bridge}]", "a second switch of that name"},
		{"switch name", "switches: [{name: 'a b', driver: bridge}]", `switches[0].name "a b"`},
		{"prefix", "bridge_prefix: Bad-\nswitches: [{name: s, driver: bridge}]", `bridge_prefix "Bad-"`},
		{"long prefix", "bridge_prefix: abcdefghijk\nswitches: [{name: s, driver: bridge}]", "1 to 10"},
		{"tags", "tags: {min: 10, max: 5000}\nswitches: [{name: s, driver: bridge}]", "not a range within 1..4094"},
		{"default in the job tags", "default_vlan: {tag: 5}\nswitches: [{name: s, driver: bridge}]", "default_vlan.tag 5 is within the tags"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(c.text))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ParseConfig = %v, want an error with %q", err, c.want)
			}
		})
	}
}
