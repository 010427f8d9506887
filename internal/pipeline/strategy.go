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
// JobError listing why each one declined.
func Select(section string, device, params *value.Map) (Strategy, error) {
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
