package job

import (
	"fmt"
	"math"
	"strings"

	"github.com/basalt-lava/basalt/internal/value"
)

// DefaultActionTimeout is LAVA's ACTION_TIMEOUT: the timeout of an action,
// and of a connection operation, when nothing overrides it (seconds).
const DefaultActionTimeout = 30

// MaxTimeoutSeconds is the longest timeout Basalt accepts, 2³¹−1 seconds
// (about 68 years): LAVA arms every timeout with Python's signal.alarm,
// whose argument is a C int, so a longer one makes lava-run fail with an
// OverflowError when the action starts. Within it, every timeout times
// a count of seconds as a time.Duration (whose range is about 292
// years) without overflow, and any sum or product of two of them fits in
// an int64.
const MaxTimeoutSeconds = math.MaxInt32

var timeoutUnits = []struct {
	key     string
	seconds int
}{{"days", 86400}, {"hours", 3600}, {"minutes", 60}, {"seconds", 1}}

// TimeoutError says a timeout block's total is out of Basalt's range:
// negative, or longer than MaxTimeoutSeconds. Its message names the
// block's units and the limit; callers prefix the key.
type TimeoutError struct {
	Block    string // the units as written, e.g. "307445734561825861 minutes"
	Negative bool
}

func (e *TimeoutError) Error() string {
	if e.Negative {
		return fmt.Sprintf("a timeout of %s is negative", e.Block)
	}
	return fmt.Sprintf("a timeout of %s is longer than the maximum, %d seconds (about 68 years, the longest LAVA can arm)", e.Block, MaxTimeoutSeconds)
}

// TimeoutSeconds turns a LAVA timeout block ({minutes: 10}, …) into whole
// seconds the way LAVA's Timeout.parse does: the units are summed, and an
// all-zero block means the default of 30 s. ok is false when v is not a
// map. The arithmetic is checked: a block whose total is negative or
// longer than MaxTimeoutSeconds (including one whose units overflow an
// int64) gives ok false and a *TimeoutError, never a wrapped value.
// Schema checks (exactly one unit, values ≥ 1) are the job checker's job;
// units that are not integers are ignored here.
func TimeoutSeconds(v any) (seconds int, ok bool, err error) {
	m, isMap := v.(*value.Map)
	if !isMap {
		return 0, false, nil
	}
	total, tooLong, tooNegative := 0, false, false
	var block []string
	for _, u := range timeoutUnits {
		n, isInt := m.Value(u.key).(int)
		if !isInt {
			continue
		}
		block = append(block, fmt.Sprintf("%d %s", n, u.key))
		// Each product is within ±MaxTimeoutSeconds and there are four:
		// the sum cannot overflow an int64.
		if n > MaxTimeoutSeconds/u.seconds {
			tooLong = true
			continue
		}
		if n < -MaxTimeoutSeconds/u.seconds {
			tooNegative = true
			continue
		}
		total += n * u.seconds
	}
	switch {
	case tooLong || total > MaxTimeoutSeconds:
		// A huge negative unit beside a huge positive one could sum
		// into range; it is refused all the same.
		return 0, false, &TimeoutError{Block: strings.Join(block, " and ")}
	case tooNegative || total < 0:
		return 0, false, &TimeoutError{Block: strings.Join(block, " and "), Negative: true}
	case total == 0:
		return DefaultActionTimeout, true, nil
	}
	return total, true, nil
}

// FormatDuration prints seconds as LAVA does in its log: HH:MM:SS.
func FormatDuration(seconds int) string {
	return fmt.Sprintf("%02d:%02d:%02d", seconds/3600, seconds/60%60, seconds%60)
}
