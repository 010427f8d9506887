package deploy_test

import (
	"slices"
	"strings"
	"testing"
)

// TestScpPrimaryAndSecondary checks scp-deploy's checks of where the
// overlay goes, as LAVA's Scp validates them: the device's own ssh host
// (primary), or the address a MultiNode message carries (secondary, the
// deploy's protocols naming prepare-scp-overlay).
func TestScpPrimaryAndSecondary(t *testing.T) {
	t.Parallel()
	device := func(host string) string {
		return `
constants:
  posix: {lava_test_results_dir: /lava-%s, lava_test_shell_file: ~/.bashrc}
actions:
  deploy:
    connections: {serial: null, ssh: null}
    methods:
      ssh: {` + host + `identity_file: keys/lava, port: 22, user: root, options: [-o, Compression=yes]}
  boot:
    connections: {serial: null, ssh: null}
    methods:
      ssh: null
`
	}
	const boot = "\n- boot: {method: ssh, prompts: ['# ']}" + shellTest
	const secondary = `protocols: {lava-multinode: [{action: prepare-scp-overlay, request: lava-wait, messageID: ipv4, message: {ipaddr: $ipaddr}}]}`
	tests := []struct{ name, host, deploy, want string }{
		{"primary", "host: 10.0.0.5, ", "{to: ssh}", ""},
		{"primary without an address", "host: '', ", "{to: ssh}", "2.1 scp-deploy: unable to retrieve ssh_host address for primary connection"},
		{"no host at all", "", "{to: ssh}", "2.1 scp-deploy: invalid device or job configuration, missing host"},
		{"secondary through a MultiNode message", "", "{to: ssh, " + secondary + "}", ""},
		{"port not a number", "host: 10.0.0.5, port: ssh, ", "{to: ssh}", "2.1 scp-deploy: port was set but was not a digit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dev := device(tt.host)
			if strings.Contains(tt.host, "port:") {
				dev = strings.Replace(dev, "port: 22, ", "", 1)
			}
			j := build(t, "actions:\n- deploy: "+tt.deploy+boot, dev)
			var got []string
			for _, e := range j.Validate() {
				if strings.Contains(e, "scp-deploy") {
					got = append(got, e)
				}
			}
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("scp-deploy errors %q, want none", got)
			case tt.want != "" && !slices.Contains(got, tt.want):
				t.Errorf("scp-deploy errors %q, want %q", got, tt.want)
			}
		})
	}
}
