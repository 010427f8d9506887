package pipeline

import (
	"errors"
	"testing"

	"github.com/basalt-lava/basalt/internal/value"
)

func decodeMap(t *testing.T, s string) *value.Map {
	t.Helper()
	v, err := value.DecodeYAML([]byte(s))
	if err != nil {
		t.Fatalf("DecodeYAML(%q): %v", s, err)
	}
	m, _ := v.(*value.Map)
	return m
}

func TestMethodCheck(t *testing.T) {
	t.Parallel()
	const device = `actions: {deploy: {methods: {tftp: null, image: null}}, boot: {methods: {u-boot: {}}}}`
	tests := []struct {
		name   string
		check  MethodCheck
		block  string
		first  bool // AcceptsBlockFirst
		ok     bool
		reason string
	}{
		{"deploy listed and named", MethodCheck{Section: "deploy", Method: "tftp"}, "{to: tftp}", false, true, "accepted"},
		{"deploy not named", MethodCheck{Section: "deploy", Method: "tftp"}, "{to: nfs}", false, false, `"to" parameter is not "tftp"`},
		{"deploy not listed", MethodCheck{Section: "deploy", Method: "nbd"}, "{to: nbd}", false, false, `"nbd" was not in the device configuration deploy methods`},
		{"device checked first", MethodCheck{Section: "deploy", Method: "nbd"}, "{to: nfs}", false, false, `"nbd" was not in the device configuration deploy methods`},
		{"block checked first", MethodCheck{Section: "deploy", Method: "nbd"}, "{to: nfs}", true, false, `"to" parameter is not "nbd"`},
		{"boot not named", MethodCheck{Section: "boot", Method: "u-boot"}, "{method: grub}", false, false, `"method" was not "u-boot"`},
		{"boot not listed", MethodCheck{Section: "boot", Method: "dfu"}, "{method: dfu}", false, false, `"dfu" was not in the device configuration boot methods`},
		{"name differs from the method", MethodCheck{Section: "deploy", Method: "image", Name: "tmpfs"}, "{to: tmpfs}", false, true, "accepted"},
		{"name differs, not named", MethodCheck{Section: "deploy", Method: "image", Name: "tmpfs"}, "{to: image}", false, false, `"to" parameter is not "tmpfs"`},
		{"own wording, not listed", MethodCheck{Section: "deploy", Method: "avh", NotListed: "'avh' not in the device configuration deploy methods"},
			"{to: avh}", false, false, "'avh' not in the device configuration deploy methods"},
		{"own wording, not named", MethodCheck{Section: "deploy", Method: "tftp", NotNamed: `"to" was not "tftp"`},
			"{to: nfs}", false, false, `"to" was not "tftp"`},
		{"a value that is not a string names nothing", MethodCheck{Section: "boot", Method: "u-boot"}, "{method: [u-boot]}", false, false, `"method" was not "u-boot"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			accepts := tt.check.Accepts
			if tt.first {
				accepts = tt.check.AcceptsBlockFirst
			}
			ok, reason := accepts(decodeMap(t, device), decodeMap(t, tt.block))
			if ok != tt.ok || reason != tt.reason {
				t.Errorf("%+v on %s = (%v, %q), want (%v, %q)", tt.check, tt.block, ok, reason, tt.ok, tt.reason)
			}
		})
	}
}

// TestSelectChecksTheSectionFirst checks LAVA's check_subclass messages:
// what every deploy or boot strategy relies on is missing.
func TestSelectChecksTheSectionFirst(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, section, device, block, want string
		class                              Class
	}{
		{"no device", "deploy", "{}", "{to: tftp}", `job "device" was None`, ClassJob},
		{"boot without method", "boot", "{actions: {boot: {methods: {}}}}", "{commands: ramdisk}", "method not specified in boot parameters", ClassConfiguration},
		{"device without actions", "deploy", "{device_type: x}", "{to: tftp}", `Invalid device configuration, no "actions" in device configuration`, ClassConfiguration},
		{"deploy without to", "deploy", "{actions: {deploy: {methods: {}}}}", "{kernel: {url: x}}", `"to" not specified in deploy parameters`, ClassConfiguration},
		{"no deploy actions", "deploy", "{actions: {boot: {methods: {}}}}", "{to: tftp}", `"deploy" is not in the device configuration actions`, ClassConfiguration},
		{"no boot methods", "boot", "{actions: {boot: {connections: {}}}}", "{method: u-boot}", `Device misconfiguration, no "methods" in device configuration boot action`, ClassConfiguration},
		{"no deploy methods", "deploy", "{actions: {deploy: {connections: {}}}}", "{to: tftp}", `Device misconfiguration, no "methods" in device configuration deploy actions`, ClassConfiguration},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Select(tt.section, decodeMap(t, tt.device), decodeMap(t, tt.block))
			var e *Error
			if !errors.As(err, &e) || e.Class != tt.class || err.Error() != tt.want {
				t.Errorf("Select(%s, %s, %s) = %v, want the %s error %q", tt.section, tt.device, tt.block, err, tt.class, tt.want)
			}
		})
	}
}
