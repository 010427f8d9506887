package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestValidateTimeoutRange: a timeout whose total does not fit Basalt's
// range (0 to job.MaxTimeoutSeconds) is a validation error naming the key
// and the limit, in every mode and with a device, never a value that
// wraps (minutes that became 44 s, days that timed out at once).
func TestValidateTimeoutRange(t *testing.T) {
	base, err := os.ReadFile("../../examples/qemu/job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const jobBlock = "  job:\n    minutes: 20\n"
	const deployBlock = "    timeout:\n      minutes: 5\n"
	if !bytes.Contains(base, []byte(jobBlock)) || !bytes.Contains(base, []byte(deployBlock)) {
		t.Fatal("examples/qemu/job.yaml no longer has the blocks this test replaces")
	}
	const tooLong = `timeouts\.job: a timeout of .* is longer than the maximum, 2147483647 seconds`
	// The lax and strict schemas refuse a negative unit on its own.
	const negative = `timeouts\.job(: a timeout of .* is negative|\.(days|seconds): expected an integer ≥ 1)`
	tests := []struct {
		name string
		job  string // replaces timeouts.job's block, when set
		sum  bool   // several units: only the lax check takes them
		key  string // replaces the first deploy's timeout block, when set
		want string // a regexp for the error, naming the key; "" for a valid job
	}{
		{name: "minutes wrapping to 44 s", job: "minutes: 307445734561825861", want: tooLong},
		{name: "days wrapping negative", job: "days: 106751991167301", want: tooLong},
		{name: "days beyond Duration", job: "days: 200000", want: tooLong},
		{name: "days just over", job: "days: 24856", want: tooLong},
		{name: "hours at int64 max", job: "hours: 9223372036854775807", want: tooLong},
		{name: "seconds at int64 max", job: "seconds: 9223372036854775807", want: tooLong},
		{name: "seconds just over", job: "seconds: 2147483648", want: tooLong},
		{name: "negative days", job: "days: -1", want: negative},
		{name: "seconds near int64 min", job: "seconds: -9223372036854775807", want: negative},
		// Beyond int64 the YAML loader gives a string.
		{name: "seconds beyond int64", job: "seconds: 9223372036854775808", want: `timeouts\.job\.seconds: expected an integer`},
		{name: "float-like minutes", job: "minutes: 1.5", want: `timeouts\.job\.minutes: expected an integer`},
		{name: "sum over the maximum", job: "days: 24855\n    hours: 4", sum: true, want: tooLong},
		{name: "sum that wraps", job: "days: 106751991167300\n    hours: 9223372036854775807\n    minutes: 1", sum: true, want: tooLong},
		{name: "action timeout", key: "minutes: 307445734561825861", want: `actions\[0\]\.deploy\.timeout: a timeout of 307445734561825861 minutes is longer than the maximum`},
		{name: "largest seconds", job: "seconds: 2147483647"},
		{name: "largest days", job: "days: 24855"},
	}
	modes := [][]string{nil, {"--strict"}, {"--lax"}, {"--device", "../../examples/qemu/device.jinja2"}}
	for _, tt := range tests {
		s := string(base)
		if tt.job != "" {
			s = strings.Replace(s, jobBlock, "  job:\n    "+tt.job+"\n", 1)
		}
		if tt.key != "" {
			s = strings.Replace(s, deployBlock, "    timeout:\n      "+tt.key+"\n", 1)
		}
		path := filepath.Join(t.TempDir(), "job.yaml")
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, mode := range modes {
			if tt.sum && (len(mode) == 0 || mode[0] != "--lax") {
				continue
			}
			args := append([]string{"validate", path, "--quiet"}, mode...)
			t.Run(tt.name+" "+strings.Join(mode, " "), func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				code := Main(args, &stdout, &stderr)
				out := stdout.String() + stderr.String()
				if tt.want == "" {
					if code != exitOK {
						t.Fatalf("exit %d, want %d:\n%s", code, exitOK, out)
					}
					return
				}
				if code != exitFailed {
					t.Fatalf("exit %d, want %d:\n%s", code, exitFailed, out)
				}
				if !regexp.MustCompile(tt.want).MatchString(out) {
					t.Errorf("output does not match %s:\n%s", tt.want, out)
				}
			})
		}
	}
}

// TestValidateDeviceTimeoutRange: a device's timeout is not checked by the
// job checker; the pipeline refuses one out of range, naming its source.
func TestValidateDeviceTimeoutRange(t *testing.T) {
	dir := t.TempDir()
	dev := filepath.Join(dir, "device.jinja2")
	dict := "{% extends 'qemu.jinja2' %}\n{% set arch = 'amd64' %}\n{% set no_kvm = True %}\n" +
		"{% set action_timeout_boot_qemu_image = 307445734561825861 %}\n"
	if err := os.WriteFile(dev, []byte(dict), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := Main([]string{"validate", "../../examples/qemu/job.yaml", "--device", dev, "--quiet"}, &stdout, &stderr)
	out := stdout.String() + stderr.String()
	if code != exitFailed {
		t.Fatalf("exit %d, want %d:\n%s", code, exitFailed, out)
	}
	if want := "device timeouts.actions.boot-qemu-image: a timeout of 307445734561825861 minutes is longer than the maximum"; !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}
