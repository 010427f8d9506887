package job

import (
	"strings"
	"testing"
)

const subJobYAML = `device_type: qemu
job_name: mn
timeouts: {job: {minutes: 5}}
visibility: public
context: {arch: amd64}
protocols:
  lava-multinode:
    target_group: 3f6c
    role: server
    group_size: 2
    sub_id: 0
    essential: true
    roles: {"10": server, "11": client}
    timeout: {minutes: 2}
actions:
- deploy: {role: server, to: tmpfs, images: {kernel: {url: "http://x/k", image_arg: "-kernel {kernel}"}}}
`

// A split sub-job is what `basalt run` gets: accepted with SubJob,
// while LAVA's submission schema (the default) refuses it.
func TestSubJob(t *testing.T) {
	for _, tc := range []struct {
		name   string
		yaml   string
		subJob bool
		want   []string // substrings of the errors, in order; none means valid
	}{
		{"sub-job", subJobYAML, true, nil},
		{"sub-job checked as a submission", subJobYAML, false, []string{
			`"device_type" is not allowed at the top of a MultiNode job`,
			`"context" is not allowed at the top`,
			"protocols.lava-multinode.roles.10: expected a map",
			"protocols.lava-multinode.roles.11: expected a map",
			"actions[0].deploy.role: expected a list",
		}},
		{"no role, no size", strings.Replace(strings.Replace(subJobYAML, "    role: server\n", "", 1), "group_size: 2", "group_size: 0", 1), true, []string{
			"protocols.lava-multinode.role: missing required key",
			"protocols.lava-multinode.group_size",
		}},
		{"no device type", strings.Replace(subJobYAML, "device_type: qemu\n", "", 1), true, []string{
			"needs the device_type (or the connection) of its role",
		}},
		{"action without role", strings.Replace(subJobYAML, "role: server, to", "to", 1), true, []string{
			"every action of a MultiNode sub-job needs its role",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Parse("sub.yaml", []byte(tc.yaml), Options{Lax: true, SubJob: tc.subJob})
			errs := Errors(diags)
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d errors, want %d: %v", len(errs), len(tc.want), errs)
			}
			for i, w := range tc.want {
				if !strings.Contains(errs[i].String(), w) {
					t.Errorf("error %d = %q, want it to say %q", i, errs[i], w)
				}
			}
		})
	}
}
