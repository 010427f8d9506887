package pipeline

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/basalt-lava/basalt/internal/value"
)

// Strategy turns one job block (a deploy, boot or test) into the action
// that implements it on this device. Several strategies exist for each
// section; the one that accepts with the highest priority wins.
type Strategy interface {
	// Name identifies the strategy in errors (LAVA's class name).
	Name() string
	// Section is "deploy", "boot" or "test".
	Section() string
	// Priority breaks ties between strategies that accept; higher wins.
	Priority() int
	// Accepts says whether the strategy handles params on this device,
	// and if not, why.
	Accepts(device, params *value.Map) (bool, string)
	// Action builds the top-level action for the block.
	Action(params *value.Map) Action
}

// DeployStrategy is implemented by deploy strategies that do not need
// LAVA's per-OS deployment_data (the default is to use it).
type DeployStrategy interface {
	Strategy
	UsesDeploymentData() bool
}

// TestStrategy adds what deploy and boot strategies ask of the tests that
// share their namespace.
type TestStrategy interface {
	Strategy
	NeedsOverlay(params *value.Map) bool
	HasShell(params *value.Map) bool
	NeedsDeploymentData(params *value.Map) bool
	NeedsCharacterDelay(params *value.Map) bool
}

var (
	registryMu sync.Mutex
	registry   = map[string][]Strategy{}
)

// Register makes a strategy available to job building. Packages under
// internal/actions call it from init.
func Register(s Strategy) {
	registryMu.Lock()
	defer registryMu.Unlock()
	registry[s.Section()] = append(registry[s.Section()], s)
}

// Strategies returns the registered strategies of a section.
func Strategies(section string) []Strategy {
	registryMu.Lock()
	defer registryMu.Unlock()
	return append([]Strategy(nil), registry[section]...)
}

// Select returns the accepting strategy with the highest priority, or a
// JobError listing why each one declined. Before asking any deploy or
// boot strategy it checks, as LAVA's check_subclass does, what they all
// rely on: the block's "to" or "method", and the device's
// actions.<section>.methods.
func Select(section string, device, params *value.Map) (Strategy, error) {
	if err := checkSection(section, device, params); err != nil {
		return nil, err
	}
	all := Strategies(section)
	sort.SliceStable(all, func(i, j int) bool { return all[i].Name() < all[j].Name() })
	var accepted []Strategy
	var reasons []string
	for _, s := range all {
		ok, why := s.Accepts(device, params)
		if ok {
			accepted = append(accepted, s)
			continue
		}
		if why != "" {
			reasons = append(reasons, fmt.Sprintf("%s: %s", s.Name(), why))
		}
	}
	if len(accepted) == 0 {
		kind := map[string]string{"deploy": "deployment", "boot": "boot", "test": "test"}[section]
		return nil, JobError("none of the %s strategies accepted your %s parameters, reasons given:\n%s",
			section, kind, strings.Join(reasons, "\n"))
	}
	sort.SliceStable(accepted, func(i, j int) bool { return accepted[i].Priority() > accepted[j].Priority() })
	return accepted[0], nil
}

// checkSection is LAVA's check_subclass of the deploy and boot
// strategies (tests have none), with its messages.
func checkSection(section string, device, params *value.Map) error {
	if section != "deploy" && section != "boot" {
		return nil
	}
	if device.Len() == 0 {
		return JobError(`job "device" was None`)
	}
	if section == "boot" && !params.Has("method") {
		return ConfigurationError("method not specified in boot parameters")
	}
	if !device.Has("actions") {
		return ConfigurationError(`Invalid device configuration, no "actions" in device configuration`)
	}
	if section == "deploy" && !params.Has("to") {
		return ConfigurationError(`"to" not specified in deploy parameters`)
	}
	actions := device.Map("actions")
	if !actions.Has(section) {
		return ConfigurationError(`%q is not in the device configuration actions`, section)
	}
	if !actions.Map(section).Has("methods") {
		if section == "deploy" {
			return ConfigurationError(`Device misconfiguration, no "methods" in device configuration deploy actions`)
		}
		return ConfigurationError(`Device misconfiguration, no "methods" in device configuration boot action`)
	}
	return nil
}

// MethodCheck is the check most deploy and boot strategies start with:
// the device lists Method under actions.<Section>.methods, and the block
// names it (its "to" for a deploy, its "method" for a boot). The reasons
// are LAVA's usual words; NotListed and NotNamed replace them for the
// strategies LAVA words otherwise.
type MethodCheck struct {
	Section string // "deploy" or "boot"
	Method  string
	// Name is what the block must name when it differs from Method (a
	// tmpfs deploy uses the device's image method).
	Name string
	// NotListed and NotNamed, when set, are the reasons given when the
	// device does not list the method and when the block does not name
	// it.
	NotListed, NotNamed string
}

// Accepts checks the device, then the block (the order most strategies
// follow); ok is false with the reason of the first check that fails.
func (c MethodCheck) Accepts(device, params *value.Map) (bool, string) {
	if ok, why := c.Listed(device); !ok {
		return false, why
	}
	return c.Named(params)
}

// AcceptsBlockFirst is Accepts for the strategies that look at the block
// before the device.
func (c MethodCheck) AcceptsBlockFirst(device, params *value.Map) (bool, string) {
	if ok, why := c.Named(params); !ok {
		return false, why
	}
	return c.Listed(device)
}

// Listed reports whether the device lists the method; if not, why.
func (c MethodCheck) Listed(device *value.Map) (bool, string) {
	if DeviceHasMethod(device, c.Section, c.Method) {
		return true, "accepted"
	}
	if c.NotListed != "" {
		return false, c.NotListed
	}
	return false, fmt.Sprintf(`"%s" was not in the device configuration %s methods`, c.Method, c.Section)
}

// Named reports whether the block names the method; if not, why.
func (c MethodCheck) Named(params *value.Map) (bool, string) {
	key := "method"
	if c.Section == "deploy" {
		key = "to"
	}
	name := c.Name
	if name == "" {
		name = c.Method
	}
	if params.String(key) == name {
		return true, "accepted"
	}
	switch {
	case c.NotNamed != "":
		return false, c.NotNamed
	case c.Section == "deploy":
		return false, fmt.Sprintf(`"to" parameter is not "%s"`, name)
	}
	return false, fmt.Sprintf(`"method" was not "%s"`, name)
}

// DeviceMethods returns the map of methods the device allows for a
// section (actions.<section>.methods), which may be nil.
func DeviceMethods(device *value.Map, section string) *value.Map {
	v, _ := device.Lookup("actions", section, "methods")
	m, _ := v.(*value.Map)
	return m
}

// DeviceHasMethod reports whether the device lists method for section.
func DeviceHasMethod(device *value.Map, section, method string) bool {
	return DeviceMethods(device, section).Has(method)
}
