package test

import (
	"fmt"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

var monitor = &strategy{
	name: "TestMonitor",
	accepts: func(_, params *value.Map) (bool, string) {
		mons, ok := params.Get("monitors")
		if !ok {
			return false, `"monitors" not in parameters`
		}
		list, _ := mons.([]any)
		for _, x := range list {
			m, _ := x.(*value.Map)
			if missing := missingKeys(m, "name", "start", "end", "pattern"); len(missing) > 0 {
				return false, fmt.Sprintf("missing required parameters %v", missing)
			}
		}
		return true, "accepted"
	},
	action: func(*value.Map) pipeline.Action { return NewMonitorRetry() },
}

func init() { pipeline.Register(monitor) }

// MonitorRetry is LAVA's TestMonitorRetry (lava-test-monitor-retry).
type MonitorRetry struct{ pipeline.Base }

var _ pipeline.Action = (*MonitorRetry)(nil)

// NewMonitorRetry returns lava-test-monitor-retry.
func NewMonitorRetry() *MonitorRetry {
	a := &MonitorRetry{pipeline.NewBase("TestMonitorRetry", "lava-test-monitor-retry",
		"Retry wrapper for lava-test-monitor", "Retry support for Lava Test Monitoring")}
	a.Retry = true
	return a
}

// Populate adds lava-test-monitor.
func (a *MonitorRetry) Populate(params *value.Map) {
	a.NewPipeline(params).Add(&Monitor{leaf{pipeline.NewBase("TestMonitorAction", "lava-test-monitor",
		"Executing lava-test-monitor", "Lava Test Monitor")}}, nil)
}

// Monitor is LAVA's TestMonitorAction: watches the console of a device
// without a shell (an MCU) between start and end strings.
type Monitor struct{ leaf }
