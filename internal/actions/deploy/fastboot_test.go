package deploy_test

import (
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/actions/deploy"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/google/go-cmp/cmp"
)

const fastbootDevice = `
adb_serial_number: abc123
fastboot_serial_number: abc123
fastboot_options: []
flash_cmds_order: [partition, boot, rootfs]
actions:
  deploy:
    connections: {fastboot: null, serial: null}
    methods: {fastboot: null, mps: {parameters: {hard-reboot: false, reboot-string: go}},
      musca: {id_serial: usb-MBED_VFS_1-0:0}, qdl: null, usbg-ms: {enable: [on, '{IMAGE}'], disable: [off]}}
  boot:
    connections: {serial: null}
    methods: {fastboot: [boot]}
constants:
  posix: {lava_test_results_dir: /lava-%s, lava_test_shell_file: ~/.bashrc}
board_id: '1000'
usb_filesystem_label: V2M-MPS
`

const fbShellTest = "- test: {definitions: [{from: inline, name: a, path: a.yaml, repository: {}}]}\n"

// topChildren lists the names of the children of the top-level action at
// index i.
func topChildren(j *pipeline.Job, i int) []string {
	var got []string
	for _, a := range j.Pipeline.Actions[i].ActionBase().Pipeline.Actions {
		got = append(got, a.ActionBase().Name)
	}
	return got
}

func buildWith(t *testing.T, job, device, extra string) *pipeline.Job {
	t.Helper()
	dev := decode(t, device)
	if extra != "" {
		decode(t, extra).Range(func(k string, v any) bool { dev.Set(k, v); return true })
	}
	j, err := pipeline.Build(decode(t, job), dev)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return j
}

// TestFastbootDeployChildren checks LAVA's (2026) order: overlay, per
// image download, overlay application and device environment, then the
// way into fastboot mode, then flashing.
func TestFastbootDeployChildren(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, images, extra, tests string
		want                       []string
	}{
		{"phone, no tests", "{boot: {url: 'http://e/boot.img'}}", "", "",
			[]string{"download-retry", "enter-fastboot-action", "fastboot-flash-order-action"}},
		{"board with PDU and a shell test, sparse rootfs", "{boot: {url: 'http://e/b'}, rootfs: {url: 'http://e/r', apply-overlay: true}}",
			"commands: {connect: c, hard_reset: r}\n", fbShellTest,
			[]string{"lava-overlay", "download-retry", "deploy-device-env", "download-retry", "apply-overlay-sparse-image",
				"deploy-device-env", "connect-device", "pre-power-command", "reset-device", "fastboot-flash-order-action"}},
		{"raw rootfs gets apply-overlay-image", "{rootfs: {url: 'http://e/r', apply-overlay: true, sparse: false}}", "", fbShellTest,
			[]string{"lava-overlay", "download-retry", "apply-overlay-image", "deploy-device-env", "enter-fastboot-action", "fastboot-flash-order-action"}},
		{"apply-overlay without a test does nothing", "{rootfs: {url: 'http://e/r', apply-overlay: true}}", "", "",
			[]string{"download-retry", "enter-fastboot-action", "fastboot-flash-order-action"}},
		{"u-boot fastboot", "{boot: {url: 'http://e/b'}}", "fastboot_via_uboot: true\ncommands: {connect: c, hard_reset: r}\n", "",
			[]string{"download-retry", "connect-device", "uboot-enter-fastboot", "fastboot-flash-order-action"}},
		{"LXC: no pre-power", "{boot: {url: 'http://e/b'}}", "commands: {connect: c, hard_reset: r}\n", "",
			[]string{"download-retry", "connect-device", "reset-device", "fastboot-flash-order-action"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job := "actions:\n- deploy: {to: fastboot, os: debian, images: " + tt.images + "}\n" + tt.tests
			if tt.name == "LXC: no pre-power" {
				job = "protocols: {lava-lxc: {name: c}}\n" + job
			}
			j := buildWith(t, job, fastbootDevice, tt.extra)
			if diff := cmp.Diff(tt.want, topChildren(j, 0)); diff != "" {
				t.Errorf("fastboot-deploy children (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFastbootFlashOrder checks the flash order (the device's, then the
// job's others in job order) and the reboots images ask for.
func TestFastbootFlashOrder(t *testing.T) {
	t.Parallel()
	j := buildWith(t, `actions:
- deploy:
    to: fastboot
    images:
      vendor: {url: 'http://e/v'}
      rootfs: {url: 'http://e/r', reboot: fastboot-reboot-bootloader}
      extra: {url: 'http://e/x'}
      partition: {url: 'http://e/p', reboot: hard-reset}
`, fastbootDevice, "")
	kids := j.Pipeline.Actions[0].ActionBase().Pipeline.Actions
	order := kids[len(kids)-1]
	var got []string
	for _, a := range order.ActionBase().Pipeline.Actions {
		name := a.ActionBase().Name
		if f, ok := a.(*deploy.FastbootFlash); ok {
			name += " " + f.Partition
		}
		got = append(got, name)
	}
	want := []string{"read-feedback",
		"wait-device-boardid", "fastboot-flash-action partition", "pdu-reboot", "read-feedback",
		"wait-device-boardid", "fastboot-flash-action rootfs", "fastboot-reboot-bootloader", "read-feedback",
		"wait-device-boardid", "fastboot-flash-action vendor",
		"wait-device-boardid", "fastboot-flash-action extra"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fastboot-flash-order-action children (-want +got):\n%s", diff)
	}
}

// TestFastbootDeployValidation checks the errors of the fastboot deploy.
func TestFastbootDeployValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, deploy, extra, want string
	}{
		{"valid", "{to: fastboot, images: {boot: {url: 'http://e/b'}}}", "", ""},
		{"no images", "{to: fastboot, images: {}}", "", "'images' must be a map of at least one partition"},
		{"image without url", "{to: fastboot, images: {boot: {compression: gz}}}", "", "images.boot: 'url' is missing"},
		{"unknown reboot", "{to: fastboot, images: {boot: {url: 'http://e/b', reboot: sometimes}}}", "", "images.boot: unknown reboot"},
		{"no fastboot connection", "{to: fastboot, images: {boot: {url: 'http://e/b'}}}",
			"actions: {deploy: {connections: {serial: null}, methods: {fastboot: null}}, boot: {connections: {serial: null}, methods: {}}}\n",
			"device not configured to support fastboot deployment connections"},
		{"placeholder serial", "{to: fastboot, images: {boot: {url: 'http://e/b'}}}", "fastboot_serial_number: '0000000000'\n",
			"device fastboot serial number unset"},
		{"flash order not a list", "{to: fastboot, images: {boot: {url: 'http://e/b'}}}", "flash_cmds_order: boot\n",
			"device flash commands order is not a list"},
		{"bad docker image", "{to: fastboot, docker: {image: 'UPPER'}, images: {boot: {url: 'http://e/b'}}}", "", "image name 'UPPER' is invalid"},
		{"raw image without root_partition", "{to: fastboot, images: {rootfs: {url: 'http://e/r', apply-overlay: true, sparse: false, root_partition: true}}}", "",
			"unable to apply the overlay image without 'root_partition'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j := buildWith(t, "actions:\n- deploy: "+tt.deploy+"\n"+fbShellTest, fastbootDevice, tt.extra)
			errs := j.Validate()
			if tt.want == "" && len(errs) > 0 {
				t.Errorf("Validate() = %q, want none", errs)
			}
			if tt.want != "" && !containsError(errs, tt.want) {
				t.Errorf("Validate() = %q, want one containing %q", errs, tt.want)
			}
		})
	}
}

// TestFastbootStrategyDeclines checks the reasons LAVA gives.
func TestFastbootStrategyDeclines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, drop, extra, reason string
	}{
		{"no adb serial", "adb_serial_number", "", `Fastboot: "adb_serial_number" is not in the device configuration`},
		{"no options", "fastboot_options", "", `Fastboot: "fastboot_options" is not in the device configuration`},
		{"auto detection needs no serials", "adb_serial_number", "fastboot_auto_detection: true\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dev := decode(t, fastbootDevice)
			dev.Delete(tt.drop)
			if tt.extra != "" {
				decode(t, tt.extra).Range(func(k string, v any) bool { dev.Set(k, v); return true })
			}
			_, err := pipeline.Build(decode(t, "actions:\n- deploy: {to: fastboot, images: {boot: {url: 'http://e/b'}}}\n"), dev)
			switch {
			case tt.reason == "" && err != nil:
				t.Errorf("Build() = %v, want accepted", err)
			case tt.reason != "" && (err == nil || !containsError([]string{err.Error()}, tt.reason)):
				t.Errorf("Build() error = %v, want one containing %q", err, tt.reason)
			}
		})
	}
}

func TestDescribedURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"downloads:///gpt_both0.bin":  "downloads:/gpt_both0.bin",
		"downloads://host/a.img":      "downloads://host/a.img",
		"file:///tmp/a.img":           "file:///tmp/a.img",
		"http://example.com/a.img":    "http://example.com/a.img",
		"scp:///srv/a.img":            "scp:/srv/a.img",
		"https://example.com/a?b=c#d": "https://example.com/a?b=c#d",
	} {
		if got := deploy.DescribedURL(in); got != want {
			t.Errorf("DescribedURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func containsError(errs []string, want string) bool {
	for _, e := range errs {
		if strings.Contains(e, want) {
			return true
		}
	}
	return false
}
