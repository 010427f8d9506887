package job

import (
	"errors"
	"math"
	"testing"

	"github.com/basalt-lava/basalt/internal/value"
)

func TestTimeoutSeconds(t *testing.T) {
	tests := []struct {
		name     string
		block    any
		want     int
		ok       bool
		negative bool
		bad      bool
	}{
		{"not a map", 5, 0, false, false, false},
		{"empty means the default", value.MapOf(), DefaultActionTimeout, true, false, false},
		{"zero means the default", value.MapOf("minutes", 0), DefaultActionTimeout, true, false, false},
		{"minutes", value.MapOf("minutes", 10), 600, true, false, false},
		{"units summed", value.MapOf("days", 1, "hours", 1, "minutes", 1, "seconds", 1), 90061, true, false, false},
		{"non-integer unit ignored", value.MapOf("minutes", 1.5, "seconds", 3), 3, true, false, false},
		{"largest", value.MapOf("seconds", MaxTimeoutSeconds), MaxTimeoutSeconds, true, false, false},
		{"largest days", value.MapOf("days", MaxTimeoutSeconds/86400), MaxTimeoutSeconds / 86400 * 86400, true, false, false},
		{"one over", value.MapOf("seconds", MaxTimeoutSeconds+1), 0, false, false, true},
		{"days one over", value.MapOf("days", MaxTimeoutSeconds/86400+1), 0, false, false, true},
		{"minutes wrapping to 44 s", value.MapOf("minutes", 307445734561825861), 0, false, false, true},
		{"days wrapping negative", value.MapOf("days", 106751991167301), 0, false, false, true},
		{"int64 max hours", value.MapOf("hours", math.MaxInt64), 0, false, false, true},
		{"sum over", value.MapOf("days", MaxTimeoutSeconds/86400, "hours", 4), 0, false, false, true},
		{"huge units cancelling", value.MapOf("hours", math.MaxInt64, "seconds", math.MinInt64), 0, false, false, true},
		{"negative", value.MapOf("days", -1), 0, false, true, true},
		{"int64 min seconds", value.MapOf("seconds", math.MinInt64), 0, false, true, true},
		{"negative sum", value.MapOf("minutes", 1, "seconds", -61), 0, false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := TimeoutSeconds(tt.block)
			if got != tt.want || ok != tt.ok || (err != nil) != tt.bad {
				t.Fatalf("TimeoutSeconds = %d, %v, %v; want %d, %v, error %v", got, ok, err, tt.want, tt.ok, tt.bad)
			}
			var te *TimeoutError
			if tt.bad && (!errors.As(err, &te) || te.Negative != tt.negative) {
				t.Errorf("error %#v, want a *TimeoutError with Negative %v", err, tt.negative)
			}
		})
	}
}
