package worker

import (
	"testing"

	"github.com/basalt-lava/basalt/internal/results"
	"github.com/basalt-lava/basalt/internal/value"
	"github.com/basalt-lava/basalt/internal/workerapi"
	"github.com/google/go-cmp/cmp"
)

func TestWireResults(t *testing.T) {
	t.Parallel()
	cases := []results.Case{
		{Suite: "lava", Name: "job", Result: "fail", Extra: value.MapOf("error_type", "Infrastructure", "error_msg", "power failed")},
		{Suite: "0_smoke", Name: "boot-time", Result: "pass", Measurement: 12.50, Units: "seconds", Set: "timing", Level: "3.1", Duration: "0.20"},
		{Suite: "lava", Name: "power-off", Result: "pass", Extra: value.MapOf("extra", value.MapOf("status", "success"), "count", 3)},
	}
	want := []workerapi.Result{
		{Suite: "lava", Case: "job", Result: "fail", Metadata: map[string]string{"definition": "lava", "case": "job", "result": "fail",
			"error_type": "Infrastructure", "error_msg": "power failed"}},
		{Suite: "0_smoke", Case: "boot-time", Result: "pass", Measurement: "12.5", Units: "seconds", Metadata: map[string]string{
			"definition": "0_smoke", "case": "boot-time", "result": "pass", "measurement": "12.5", "units": "seconds",
			"set": "timing", "level": "3.1", "duration": "0.20"}},
		{Suite: "lava", Case: "power-off", Result: "pass", Metadata: map[string]string{"definition": "lava", "case": "power-off", "result": "pass",
			"extra": "status: success", "count": "3"}},
	}
	if diff := cmp.Diff(wireResults(cases), want); diff != "" {
		t.Errorf("wireResults (-got +want):\n%s", diff)
	}
}
