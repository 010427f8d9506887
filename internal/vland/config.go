package vland

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/basalt-lava/basalt/internal/limits"
)

// DefaultPort is where lava-dispatcher looks for VLANd (it reads no
// setting: localhost:3080).
const DefaultPort = 3080

// Limits of a configuration: a lab is a few switches of a few dozen
// ports; anything much bigger is a mistake.
const (
	MaxSwitches       = 64
	MaxPortsPerSwitch = 1024
	// MaxVLANs bounds the VLANs the daemon keeps at once (each is a
	// bridge with the bridge driver).
	MaxVLANs = 512
	// MaxNameLen bounds a VLAN's name: VLANd's switches take 32
	// characters; lava-dispatcher sends at most 16.
	MaxNameLen = 32
)

// Config is the daemon's configuration: its switches and their ports.
// It is the only source of interface names the drivers use.
//
//	listen: 127.0.0.1:3080        # --listen overrides it
//	bridge_prefix: bvl            # the bridge driver's VLAN bridges: bvl<tag>
//	tags: {min: 2, max: 4094}     # what api.create_vlan allocates for tag -1
//	default_vlan: {name: DEFAULT, tag: 1}
//	switches:
//	- name: sw1
//	  driver: bridge
//	  ports:
//	  - {number: 1, interface: vsw1p1}
//	  - {number: 2, interface: vsw1p2, name: "Gi1/0/2", locked: true}
type Config struct {
	Listen       string         `yaml:"listen"`
	BridgePrefix string         `yaml:"bridge_prefix"`
	Tags         TagRange       `yaml:"tags"`
	DefaultVLAN  VLANConfig     `yaml:"default_vlan"`
	Switches     []SwitchConfig `yaml:"switches"`
}

// TagRange is the range of 802.1Q tags the daemon allocates from.
type TagRange struct {
	Min int `yaml:"min"`
	Max int `yaml:"max"`
}

// VLANConfig names a VLAN the daemon makes at start.
type VLANConfig struct {
	Name string `yaml:"name"`
	Tag  int    `yaml:"tag"`
}

// SwitchConfig is one switch: its name (what device dictionaries give
// as a port's switch) and the driver that configures it.
type SwitchConfig struct {
	Name   string       `yaml:"name"`
	Driver string       `yaml:"driver"`
	Ports  []PortConfig `yaml:"ports"`
}

// PortConfig is one port of a switch. Interface is what the driver acts
// on: for the bridge driver, the host's end of the link to the device.
// A locked port is never moved by a job (an infrastructure port).
type PortConfig struct {
	Number    int    `yaml:"number"`
	Name      string `yaml:"name"`
	Interface string `yaml:"interface"`
	Locked    bool   `yaml:"locked"`
}

var (
	// ifnameRE is a Linux interface name the driver may pass to ip(8):
	// at most 15 bytes (IFNAMSIZ-1), no slash, no space, not starting
	// with a dash (it could read as an option).
	ifnameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$`)
	// prefixRE is a bridge prefix: with a 4-digit tag, at most 15 bytes.
	prefixRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,9}$`)
	// switchNameRE accepts host names and addresses, as labs name
	// switches.
	switchNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$`)
	// portNameRE accepts switch port names (Gi1/0/2, ethernet1/1).
	portNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_./:-]{0,63}$`)
	// vlanNameRE is a VLAN name the daemon accepts.
	vlanNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$`)
)

// ValidInterfaceName reports whether s may be used as an interface name.
func ValidInterfaceName(s string) bool { return ifnameRE.MatchString(s) }

// LoadConfig reads and checks a configuration file.
func LoadConfig(path string) (*Config, error) {
	b, err := limits.File{What: "vland configuration", Max: limits.ConfigSize}.Read(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes a configuration, fills in the defaults and checks
// it: every problem is in the error, each naming where it is.
func ParseConfig(b []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("not a vland configuration: %v", err)
	}
	if c.BridgePrefix == "" {
		c.BridgePrefix = "bvl"
	}
	if c.Tags == (TagRange{}) {
		c.Tags = TagRange{Min: 2, Max: 4094}
	}
	if c.DefaultVLAN.Name == "" {
		c.DefaultVLAN.Name = "DEFAULT"
	}
	if c.DefaultVLAN.Tag == 0 {
		c.DefaultVLAN.Tag = 1
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) check() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !prefixRE.MatchString(c.BridgePrefix) {
		add("bridge_prefix %q: use 1 to 10 lower-case letters and digits, starting with a letter", c.BridgePrefix)
	}
	if c.Tags.Min < 1 || c.Tags.Max > 4094 || c.Tags.Min > c.Tags.Max {
		add("tags: {min: %d, max: %d} is not a range within 1..4094", c.Tags.Min, c.Tags.Max)
	}
	if !vlanNameRE.MatchString(c.DefaultVLAN.Name) {
		add("default_vlan.name %q: %s", c.DefaultVLAN.Name, vlanNameRule)
	}
	if c.DefaultVLAN.Tag < 1 || c.DefaultVLAN.Tag > 4094 {
		add("default_vlan.tag %d is not within 1..4094", c.DefaultVLAN.Tag)
	} else if c.DefaultVLAN.Tag >= c.Tags.Min && c.DefaultVLAN.Tag <= c.Tags.Max {
		add("default_vlan.tag %d is within the tags allocated to jobs (%d..%d)", c.DefaultVLAN.Tag, c.Tags.Min, c.Tags.Max)
	}
	if len(c.Switches) == 0 {
		add("switches: none configured")
	}
	if len(c.Switches) > MaxSwitches {
		add("switches: %d is over the limit of %d", len(c.Switches), MaxSwitches)
	}
	switches := map[string]bool{}
	ifaces := map[string]string{}
	for i, s := range c.Switches {
		where := "switches[" + strconv.Itoa(i) + "]"
		if !switchNameRE.MatchString(s.Name) {
			add("%s.name %q: use up to 64 letters, digits, '.', ':', '_' or '-'", where, s.Name)
		} else if switches[s.Name] {
			add("%s.name %q: a second switch of that name", where, s.Name)
		}
		switches[s.Name] = true
		if s.Driver != "bridge" {
			add("%s.driver %q: the only driver is \"bridge\" (one Linux bridge per VLAN)", where, s.Driver)
		}
		if len(s.Ports) > MaxPortsPerSwitch {
			add("%s.ports: %d is over the limit of %d", where, len(s.Ports), MaxPortsPerSwitch)
		}
		numbers, names := map[int]bool{}, map[string]bool{}
		for j := range s.Ports {
			p := &c.Switches[i].Ports[j]
			pw := fmt.Sprintf("%s.ports[%d]", where, j)
			if p.Number < 0 || p.Number > 65535 {
				add("%s.number %d is not within 0..65535", pw, p.Number)
			} else if numbers[p.Number] {
				add("%s.number %d: a second port of that number on %s", pw, p.Number, s.Name)
			}
			numbers[p.Number] = true
			if !ifnameRE.MatchString(p.Interface) {
				add("%s.interface %q: an interface name is 1 to 15 letters, digits, '_', '.' or '-', not starting with '-' or '.'", pw, p.Interface)
			} else if other, dup := ifaces[p.Interface]; dup {
				add("%s.interface %q is already %s", pw, p.Interface, other)
			}
			ifaces[p.Interface] = pw
			if p.Name == "" {
				p.Name = p.Interface
			}
			if !portNameRE.MatchString(p.Name) {
				add("%s.name %q: use up to 64 letters, digits, '/', '.', ':', '_' or '-'", pw, p.Name)
			} else if names[p.Name] {
				add("%s.name %q: a second port of that name on %s", pw, p.Name, s.Name)
			}
			names[p.Name] = true
		}
	}
	return errors.Join(errs...)
}

const vlanNameRule = "a VLAN name is 1 to 32 letters, digits, '_', '.' or '-', starting with a letter or digit"
