package deploy_test

import (
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/google/go-cmp/cmp"
)

// TestFlashFamilyDeployChildren checks the children of the downloads,
// MPS, Musca, QDL and usbg-ms deploys under different parameters.
func TestFlashFamilyDeployChildren(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, deploy, extra, tests string
		want                       []string
	}{
		{"downloads with postprocess", "{to: downloads, images: {a: {url: 'http://e/a'}, b: {url: 'http://e/b'}}, postprocess: {docker: {image: debian, steps: [ls]}}}",
			"", "", []string{"download-retry", "download-retry", "download-postprocess-docker"}},
		{"downloads with a test", "{to: downloads, images: {a: {url: 'http://e/a'}}}", "", fbShellTest,
			[]string{"lava-overlay", "download-retry"}},
		{"mps recovery image", "{to: mps, images: {recovery_image: {url: 'http://e/r.tar.gz', compression: gz}}}", "", "",
			[]string{"disconnect-device", "reset-device", "wait-usb-mass-storage-device", "download-retry", "mount-vexpress-usbmsd",
				"extract-vexpress-recovery-image", "deploy-vexpress-recovery-image", "deploy-mps-reboot-txt", "unmount-vexpress-usbmsd"}},
		{"mps test binaries, hard reboot", "{to: mps, images: {test_binary_2: {url: 'http://e/2'}, test_binary_1: {url: 'http://e/1'}}}",
			"actions: {deploy: {methods: {mps: {parameters: {hard-reboot: true}}}}, boot: {methods: {}}}\n", "",
			[]string{"disconnect-device", "reset-device", "wait-usb-mass-storage-device", "download-retry", "download-retry",
				"mount-vexpress-usbmsd", "deploy-mps-test-binary", "deploy-mps-test-binary", "unmount-vexpress-usbmsd", "power-off"}},
		{"musca", "{to: musca, images: {test_binary: {url: 'http://e/t.hex'}}}", "", "",
			[]string{"disconnect-device", "download-retry", "reset-device", "wait-musca-path", "mount-musca-usbmsd",
				"deploy-musca-test-binary", "unmount-musca-usbmsd", "wait-musca-path", "mount-musca-usbmsd", "check-musca-flash",
				"unmount-musca-usbmsd"}},
		{"qdl", "{to: qdl, qcomflash: {url: 'http://e/q.tar.gz'}}", "", "", []string{"download-retry"}},
		{"qdl with overlay", "{to: qdl, qcomflash: {url: 'http://e/q.tar.gz', apply-overlay: true}}", "", fbShellTest,
			[]string{"lava-overlay", "download-retry", "apply-overlay-qdl"}},
		{"usbg-ms with a test", "{to: usbg-ms, image: {url: 'http://e/i.img'}}", "", fbShellTest,
			[]string{"lava-overlay", "download-retry", "deploy-device-env"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j := buildWith(t, "actions:\n- deploy: "+tt.deploy+"\n"+tt.tests, fastbootDevice, tt.extra)
			if diff := cmp.Diff(tt.want, topChildren(j, 0)); diff != "" {
				t.Errorf("%s children (-want +got):\n%s", j.Pipeline.Actions[0].ActionBase().Name, diff)
			}
		})
	}
}

// TestFlashFamilyDeployValidation checks the deploys' own errors.
func TestFlashFamilyDeployValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, deploy, extra, want string
	}{
		{"downloads postprocess without steps", "{to: downloads, images: {a: {url: 'http://e/a'}}, postprocess: {docker: {image: debian}}}",
			"", "postprocessing steps missing"},
		{"mps wrong single label", "{to: mps, images: {firmware: {url: 'http://e/f'}}}", "", "missing 'recovery_image' or 'test_binary'"},
		{"mps wrong label among several", "{to: mps, images: {recovery_image: {url: 'http://e/r', compression: gz}, binary: {url: 'http://e/b'}}}",
			"", "start with 'test_binary_'"},
		{"mps recovery without compression", "{to: mps, images: {recovery_image: {url: 'http://e/r'}}}", "", "no compression set for recovery image"},
		{"mps rename escapes", "{to: mps, images: {test_binary: {url: 'http://e/b', rename: ../x}}}", "", "invalid 'rename'"},
		{"mps no reboot string", "{to: mps, images: {test_binary: {url: 'http://e/b'}}}",
			"actions: {deploy: {methods: {mps: {parameters: {hard-reboot: false}}}}, boot: {methods: {}}}\n", "missing 'reboot-string'"},
		{"mps no label", "{to: mps, images: {test_binary: {url: 'http://e/b'}}}", "usb_filesystem_label: 7\n", "usb_filesystem_label) unset"},
		{"musca without test_binary", "{to: musca, images: {firmware: {url: 'http://e/f'}}}", "", "missing 'test_binary'"},
		{"musca without id_serial", "{to: musca, images: {test_binary: {url: 'http://e/t'}}}",
			"actions: {deploy: {methods: {musca: {}}}, boot: {methods: {}}}\n", `"id_serial" not set`},
		{"usbg-ms without image", "{to: usbg-ms}", "", "missing 'image'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j := buildWith(t, "actions:\n- deploy: "+tt.deploy+"\n", fastbootDevice, tt.extra)
			errs := j.Validate()
			if !containsError(errs, tt.want) {
				t.Errorf("Validate() = %q, want one containing %q", errs, tt.want)
			}
		})
	}
}

// TestFlasherSkipsDownloadFalse checks that an image with download:
// false is not downloaded (its URL goes to the flasher command), as in
// current LAVA.
func TestFlasherSkipsDownloadFalse(t *testing.T) {
	t.Parallel()
	j := buildWith(t, "actions:\n- deploy: {to: flasher, images: {kernel: {url: 'http://e/k'}, direct: {url: 'http://e/d', download: false}}}\n",
		fastbootDevice, "actions: {deploy: {methods: {flasher: {commands: ['flash {KERNEL} {DIRECT}']}}}, boot: {methods: {}}}\n")
	const want = "deploy-flasher-retry[deploy-flasher[download-retry[http-download]]]"
	if got := tree(j.Pipeline.Actions[0]); got != want {
		t.Errorf("flasher pipeline\n got %s\nwant %s", got, want)
	}
}

// TestQDLNeedsQcomflash checks current LAVA's QDL strategy: it declines
// a block without the qcomflash tarball, and does not ask the device to
// list qdl among its deploy methods.
func TestQDLNeedsQcomflash(t *testing.T) {
	t.Parallel()
	dev := decode(t, fastbootDevice)
	_, err := pipeline.Build(decode(t, "actions:\n- deploy: {to: qdl}\n"), dev)
	if err == nil || !strings.Contains(err.Error(), "QDL: 'qcomflash' not in deploy parameters") {
		t.Errorf("Build(to: qdl without qcomflash) = %v, want the QDL strategy to decline for qcomflash", err)
	}
	pipeline.DeviceMethods(dev, "deploy").Delete("qdl")
	if _, err := pipeline.Build(decode(t, "actions:\n- deploy: {to: qdl, qcomflash: {url: 'http://e/q.tar.gz'}}\n"), dev); err != nil {
		t.Errorf("Build(to: qdl) on a device without the qdl deploy method: %v", err)
	}
}

// TestUSBGMSNeedsBothCommands checks the strategy declines a device whose
// usbg-ms method lacks the enable or disable command.
func TestUSBGMSNeedsBothCommands(t *testing.T) {
	t.Parallel()
	dev := decode(t, fastbootDevice)
	pipeline.DeviceMethods(dev, "deploy").Set("usbg-ms", decode(t, "{enable: [on]}"))
	_, err := pipeline.Build(decode(t, "actions:\n- deploy: {to: usbg-ms, image: {url: 'http://e/i'}}\n"), dev)
	if err == nil || !containsError([]string{err.Error()}, "usbg-ms 'disable' and 'enable' commands missing: [enable]") {
		t.Errorf("Build() error = %v, want the missing commands", err)
	}
}
