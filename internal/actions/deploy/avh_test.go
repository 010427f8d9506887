package deploy_test

import (
	"slices"
	"strings"
	"testing"
)

const avhDevice = `
constants:
  posix: {lava_test_results_dir: /lava-%s, lava_test_shell_file: ~/.bashrc}
actions:
  deploy:
    methods:
      avh: {options: {api_endpoint: 'https://avh.example/api', model: null, project_name: Default Project}}
  boot:
    methods:
      avh: null
`

// TestAvhDeploy checks the AVH deploy as current LAVA writes it: the
// model from the device's or the block's options, and either images or
// a firmware package.
func TestAvhDeploy(t *testing.T) {
	t.Parallel()
	const secrets = "secrets: {avh_api_token: t}\n"
	tests := []struct{ name, job, tree, wantErr string }{
		{"fw_package with tests",
			secrets + "actions:\n- deploy: {to: avh, options: {model: kronos}, fw_package: {url: http://x/fw.zip, storage_file: virtio_0, root_partition: 1}}" + shellTest,
			"deploy-avh-retry[deploy-avh[lava-overlay[lava-multinode-overlay test-definition[inline-repo-action test-overlay test-install-overlay test-runscript-overlay] compress-overlay] download-retry[http-download] apply-overlay-avh]]", ""},
		{"fw_package without tests",
			secrets + "actions:\n- deploy: {to: avh, options: {model: kronos}, fw_package: {url: http://x/fw.zip}}",
			"deploy-avh-retry[deploy-avh[download-retry[http-download]]]", ""},
		{"images in the job's order",
			secrets + "actions:\n- deploy: {to: avh, options: {model: rpi4b}, images: {rootfs: {url: http://x/r, root_partition: 1}, kernel: {url: http://x/k}, dtb: {url: http://x/d}}}",
			"deploy-avh-retry[deploy-avh[download-retry[http-download] download-retry[http-download] download-retry[http-download]]]", ""},
		{"no model anywhere",
			secrets + "actions:\n- deploy: {to: avh, fw_package: {url: http://x/fw.zip}}",
			"", "avh 'options.model' not provided in either device dictionary or job definition"},
		{"neither images nor fw_package",
			secrets + "actions:\n- deploy: {to: avh, options: {model: kronos}}",
			"", "either 'images' or 'fw_package' is needed to deploy avh"},
		{"overlay into a package without its storage file",
			secrets + "actions:\n- deploy: {to: avh, options: {model: kronos}, fw_package: {url: http://x/fw.zip, root_partition: 1}}" + shellTest,
			"", "unable to apply overlay without 'fw_package.storage_file'"},
		{"no token",
			"actions:\n- deploy: {to: avh, options: {model: kronos}, fw_package: {url: http://x/fw.zip}}",
			"", "'secrets.avh_api_token' key is required for AVH deploy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j := build(t, tt.job, avhDevice)
			if tt.tree != "" {
				if got := tree(j.Pipeline.Actions[0]); got != tt.tree {
					t.Errorf("pipeline\n got %s\nwant %s", got, tt.tree)
				}
			}
			errs := j.Validate()
			if tt.wantErr == "" && len(errs) > 0 {
				t.Errorf("Validate() = %q, want no errors", errs)
			}
			if tt.wantErr != "" && !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, tt.wantErr) }) {
				t.Errorf("Validate() = %q, want one containing %q", errs, tt.wantErr)
			}
		})
	}
}
