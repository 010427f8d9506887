package job

import (
	"fmt"

	"github.com/basalt-lava/basalt/internal/value"
)

// DefaultActionTimeout is LAVA's ACTION_TIMEOUT: the timeout of an action,
// and of a connection operation, when nothing overrides it (seconds).
const DefaultActionTimeout = 30

var timeoutUnits = []struct {
	key     string
	seconds int
}{{"days", 86400}, {"hours", 3600}, {"minutes", 60}, {"seconds", 1}}

// TimeoutSeconds turns a LAVA timeout block ({minutes: 10}, …) into whole
// seconds the way LAVA's Timeout.parse does: the units are summed, and an
// all-zero block means the default of 30 s. ok is false when v is not a map.
// Schema checks (exactly one unit, values ≥ 1) are the job checker's job.
func TimeoutSeconds(v any) (seconds int, ok bool) {
	m, isMap := v.(*value.Map)
	if !isMap {
		return 0, false
	}
	total := 0
	for _, u := range timeoutUnits {
		if n, isInt := m.Value(u.key).(int); isInt {
			total += n * u.seconds
		}
	}
	if total == 0 {
		return DefaultActionTimeout, true
	}
	return total, true
}

// FormatDuration prints seconds as LAVA does in its log: HH:MM:SS.
func FormatDuration(seconds int) string {
	return fmt.Sprintf("%02d:%02d:%02d", seconds/3600, seconds/60%60, seconds%60)
}
