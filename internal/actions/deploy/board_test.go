package deploy_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

// boardDevice is a u-boot board with the board deploy methods.
const boardDevice = `
usb_filesystem_label: JUNO
commands: {connect: telnet localhost 7000, hard_reset: pdu reboot 1}
constants:
  posix: {lava_test_results_dir: /lava-%s, lava_test_shell_file: ~/.bashrc}
parameters:
  bootz: {kernel: '0x82000000'}
  media: {usb: {sda: {uuid: usb-1234, device_id: 0}}}
actions:
  deploy:
    parameters: {add_header: u-boot}
    methods:
      tftp: null
      nfs: null
      nbd: null
      uuu: null
      u-boot-ums: null
      recovery: {tags: [serial], commands: {recovery_mode: [relay on]}}
      vemsd:
        parameters: {mcc_prompt: 'Cmd>', autorun_prompt: 'Press Enter', mcc_reset_msg: 'Juno', msd_mount_cmd: usb_on}
  boot:
    methods:
      u-boot: {parameters: {bootloader_prompt: '=>'}}
`

// tree returns the names under an action: "a[b c[d]]".
func tree(a pipeline.Action) string {
	b := a.ActionBase()
	if b.Pipeline == nil || len(b.Pipeline.Actions) == 0 {
		return b.Name
	}
	var kids []string
	for _, c := range b.Pipeline.Actions {
		kids = append(kids, tree(c))
	}
	return b.Name + "[" + strings.Join(kids, " ") + "]"
}

const shellTest = `
- test: {definitions: [{from: inline, name: t, path: t.yaml, repository: {metadata: {format: Lava-Test Test Definition 1.0, name: t}, run: {steps: [true]}}}]}`

func TestBoardDeployStrategySelection(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, params, want string }{
		{"tftp", `{to: tftp, kernel: {url: http://x/zImage}}`, "Tftp"},
		{"nfs on a board", `{to: nfs, nfsrootfs: {url: http://x/root.tar.gz}}`, "Nfs"},
		{"nbd", `{to: nbd, kernel: {url: http://x/k}}`, "Nbd"},
		{"uuu", `{to: uuu, images: {boot: {url: http://x/imx-boot}}}`, "UUU"},
		{"uuu without boot image", `{to: uuu, images: {rootfs: {url: http://x/r}}}`, "'boot' image is required"},
		{"vemsd", `{to: vemsd, recovery_image: {url: http://x/r.zip, compression: zip}}`, "VExpressMsd"},
		{"u-boot-ums", `{to: u-boot-ums, image: {url: http://x/img}}`, "UBootUMS"},
		{"u-boot-ums without image", `{to: u-boot-ums}`, `"image" was not in the deploy parameters`},
		{"usb drive", `{to: usb, device: sda, image: {url: http://x/img}}`, "Removable"},
		{"sd drive not on the device", `{to: sd, device: mmcblk0, image: {url: http://x/img}}`, `media was not in the device "media" parameters`},
		{"recovery", `{to: recovery, images: {fw: {url: http://x/fw}}}`, "RecoveryMode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := pipeline.Select("deploy", decode(t, boardDevice), decode(t, tt.params))
			switch {
			case err == nil && s.Name() != tt.want:
				t.Errorf("Select(deploy, %s) = %s, want %s", tt.params, s.Name(), tt.want)
			case err != nil && !strings.Contains(err.Error(), tt.want):
				t.Errorf("Select(deploy, %s) failed with %v, want %q", tt.params, err, tt.want)
			}
		})
	}
}

func TestBoardDeployPipelines(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, actions, want string }{
		{"tftp without tests", `- deploy: {to: tftp, kernel: {url: http://x/zImage}, ramdisk: {url: http://x/rd.gz, compression: gz}}`,
			"tftp-deploy[download-retry[http-download] download-retry[http-download] prepare-tftp-overlay[extract-nfsrootfs parse-persistent-nfs extract-overlay-ramdisk extract-modules configure-preseed-file compress-ramdisk]]"},
		{"tftp with tests: the overlay first, applied after the extractions", `- deploy: {to: tftp, kernel: {url: http://x/zImage}, ramdisk: {url: http://x/rd.gz, compression: gz}}` + shellTest,
			"tftp-deploy[lava-overlay[lava-multinode-overlay test-definition[inline-repo-action test-overlay test-install-overlay test-runscript-overlay] compress-overlay] download-retry[http-download] download-retry[http-download] prepare-tftp-overlay[extract-nfsrootfs parse-persistent-nfs extract-overlay-ramdisk extract-modules apply-overlay-tftp configure-preseed-file compress-ramdisk] deploy-device-env]"},
		{"tftp dtbo list and extra files", `- deploy: {to: tftp, kernel: {url: http://x/k}, dtbo: [{url: http://x/o1}, {url: http://x/o2}], extra_files: {fw: {url: http://x/fw}}}`,
			"tftp-deploy[download-retry[http-download] download-retry[http-download] download-retry[http-download] download-retry[http-download] prepare-tftp-overlay[extract-nfsrootfs parse-persistent-nfs extract-overlay-ramdisk extract-modules configure-preseed-file compress-ramdisk]]"},
		{"tftp converting the kernel", `- deploy: {to: tftp, kernel: {url: http://x/Image, type: image}}`,
			"tftp-deploy[download-retry[http-download] prepare-tftp-overlay[extract-nfsrootfs parse-persistent-nfs extract-overlay-ramdisk extract-modules prepare-kernel[uboot-prepare-kernel] configure-preseed-file compress-ramdisk]]"},
		{"nbd", `- deploy: {to: nbd, kernel: {url: http://x/k}, initrd: {url: http://x/i}, nbdroot: {url: http://x/r}}`,
			"nbd-deploy[download-retry[http-download] download-retry[http-download] download-retry[http-download] lava-overlay xnbd-server-deploy]"},
		{"uuu with an overlay", `- deploy: {to: uuu, images: {boot: {url: http://x/b}, rootfs: {url: http://x/r, apply-overlay: true, sparse: true}}}` + shellTest,
			"uuu-deploy[lava-overlay[lava-multinode-overlay test-definition[inline-repo-action test-overlay test-install-overlay test-runscript-overlay] compress-overlay] download-retry[http-download] download-retry[http-download] apply-overlay-sparse-image]"},
		{"uuu without tests ignores apply-overlay", `- deploy: {to: uuu, images: {boot: {url: http://x/b}, rootfs: {url: http://x/r, apply-overlay: true}}}`,
			"uuu-deploy[download-retry[http-download] download-retry[http-download]]"},
		{"vemsd", `- deploy: {to: vemsd, recovery_image: {url: http://x/r.zip, compression: zip}}`,
			"vexpress-fw-deploy-retry[vexpress-fw-deploy[download-retry[http-download] connect-device reset-device[pdu-reboot] extract-vexpress-recovery-image enter-vexpress-mcc enable-vexpress-usbmsd wait-usb-mass-storage-device mount-vexpress-usbmsd deploy-vexpress-recovery-image unmount-vexpress-usbmsd]]"},
		{"usb images in the job's order", `- deploy: {to: usb, device: sda, images: {z: {url: http://x/z}, a: {url: http://x/a}}}`,
			"storage-deploy[download-retry[http-download] download-retry[http-download] dd-image]"},
		{"recovery with a serial console", `- deploy: {to: recovery, images: {fw: {url: http://x/fw}}}`,
			"deploy-recovery-mode[download-retry[http-download] connect-device]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j := build(t, "actions:\n"+tt.actions, boardDevice)
			if got := tree(j.Pipeline.Actions[0]); got != tt.want {
				t.Errorf("pipeline of %s\n got %s\nwant %s", tt.actions, got, tt.want)
			}
		})
	}
}

func TestBoardDeployOrderAndRetries(t *testing.T) {
	t.Parallel()
	j := build(t, "actions:\n- deploy: {to: usb, device: sda, images: {z: {url: http://x/z}, a: {url: http://x/a}}}", boardDevice)
	first := j.Pipeline.Actions[0].ActionBase().Pipeline.Actions[0].ActionBase().Pipeline.Actions[0].ActionBase()
	if first.URL != "http://x/z" {
		t.Errorf("first usb download is %s, want http://x/z (current LAVA keeps the job's order)", first.URL)
	}
	j = build(t, "actions:\n- deploy: {to: nbd, kernel: {url: http://x/k}, initrd: {url: http://x/i}, nbdroot: {url: http://x/r}}", boardDevice)
	if n := j.Pipeline.Actions[0].ActionBase().Pipeline.Actions[0].ActionBase().MaxRetries; n != 1 {
		t.Errorf("nbd download max_retries = %d, want 1 (current LAVA; 2023.01 had 3)", n)
	}
}

func TestBoardDeployValidation(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, actions, want string }{
		{"valid tftp", `- deploy: {to: tftp, kernel: {url: http://x/zImage, type: zimage}}`, ""},
		{"usb drive already written", `- deploy: {to: usb, device: sda}`, ""},
		{"nbd without kernel", `- deploy: {to: nbd, initrd: {url: http://x/rd}, nbdroot: {url: http://x/root}}`, "nbd-deploy needs a kernel to deploy"},
		{"deprecated kernel type", `- deploy: {to: tftp, kernel: {url: http://x/k, type: bootz}}`, "booti, bootm and bootz are deprecated"},
		{"kernel type the device cannot boot", `- deploy: {to: tftp, kernel: {url: http://x/k, type: image}}`, "requested kernel boot type 'bootm' is not supported"},
		{"persistent nfs without an address", `- deploy: {to: tftp, kernel: {url: http://x/k}, persistent_nfs: {install_overlay: false}}`, "parse-persistent-nfs: missing address for persistent NFS"},
		{"persistent nfs address without a server", `- deploy: {to: tftp, kernel: {url: http://x/k}, persistent_nfs: {address: /srv/root}}`, "unrecognised NFS URL"},
		{"nfs with two roots", `- deploy: {to: nfs, nfsrootfs: {url: http://x/r.tgz}, persistent_nfs: {address: 'h:/r'}}`, "only one of nfsrootfs or persistent_nfs"},
		{"absolute nfs prefix", `- deploy: {to: nfs, nfsrootfs: {url: http://x/r.tgz, prefix: /root/}}`, "prefix must not be an absolute path"},
		{"nbd with a ramdisk", `- deploy: {to: nbd, kernel: {url: http://x/k}, initrd: {url: http://x/i}, nbdroot: {url: http://x/r}, ramdisk: {url: http://x/rd}}`, "ramdisk cannot be used with NBD"},
		{"nbd without nbdroot", `- deploy: {to: nbd, kernel: {url: http://x/k}, initrd: {url: http://x/i}}`, "needs a 'nbdroot' parameter"},
		{"vemsd without compression", `- deploy: {to: vemsd, recovery_image: {url: http://x/r.zip}}`, "no compression set for recovery image"},
		{"uuu image without url", `- deploy: {to: uuu, images: {boot: {compression: gz}}}`, "'url' is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j := build(t, "actions:\n"+tt.actions, boardDevice)
			errs := j.Validate()
			if tt.want == "" && len(errs) > 0 {
				t.Errorf("Validate(%s) = %q, want no errors", tt.actions, errs)
			}
			if tt.want != "" && !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, tt.want) }) {
				t.Errorf("Validate(%s) = %q, want one containing %q", tt.actions, errs, tt.want)
			}
		})
	}
}
