package boot_test

import (
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/google/go-cmp/cmp"
)

// mcuDevice is a microcontroller board that lists every MCU boot method.
const mcuDevice = `
board_id: '0240000034544e45'
usb_vendor_id: 0d28
usb_product_id: '0204'
board_qdl_id: abcdef12
commands: {connect: telnet localhost 7000}
actions:
  deploy: {methods: {image: null}}
  boot:
    connections: {serial: null}
    methods:
      cmsis-dap: {parameters: {usb_mass_device: /dev/disk/by-id/usb-MBED, resets_after_flash: true}}
      jlink: {parameters: {command: JLinkExe, address: 0, processor: MK64F, erase_command: [erase], reset_command: [r]}}
      pyocd: {parameters: {command: pyocd, options: [-t k64f]}}
      openocd: {parameters: {command: openocd, options: {debug: 2, file: [board.cfg]}}}
      musca: null
      qdl: {parameters: {command: qdl, enter-commands: []}}
      gdb:
        parameters: {command: gdb-multiarch}
        openocd: {arguments: ['{ZEPHYR}'], commands: [load]}
constants:
  posix: {lava_test_results_dir: /lava-%s, lava_test_shell_file: ~/.bashrc}
`

const pdu = "commands: {connect: telnet localhost 7000, hard_reset: pdu reboot}\n"

const zephyrDeploy = "- deploy: {to: tmpfs, images: {zephyr: {url: 'http://example.com/zephyr.bin'}}}\n"

// TestMCUBootChildren checks each microcontroller boot's children with and
// without a PDU (which adds the power cycle and the wait for the board).
func TestMCUBootChildren(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, boot, device string
		want               []string
	}{
		{"cmsis-dap", "{method: cmsis-dap}", "",
			[]string{"flash-cmsis", "wait-usb-serial", "connect-device"}},
		{"cmsis-dap with PDU", "{method: cmsis-dap}", pdu,
			[]string{"reset-device", "wait-device-path", "flash-cmsis", "wait-usb-serial", "connect-device"}},
		{"jlink", "{method: jlink}", "", []string{"connect-device", "flash-jlink"}},
		{"jlink with PDU", "{method: jlink}", pdu,
			[]string{"reset-device", "wait-device-boardid", "connect-device", "flash-jlink"}},
		{"pyocd: retry inside retry", "{method: pyocd}", "", []string{"boot-pyocd-image"}},
		{"openocd with PDU", "{method: openocd}", pdu,
			[]string{"reset-device", "wait-device-boardid", "connect-device", "flash-openocd"}},
		{"musca", "{method: musca}", "", []string{"reset-device", "wait-usb-serial", "connect-device"}},
		{"qdl", "{method: qdl, firehose_program: p.elf, rawprogram: r.xml, patch: p.xml}", "",
			[]string{"connect-device", "reset-device", "enter-qdl", "wait-qdl-device", "flash-qdl"}},
		{"gdb", "{method: gdb, commands: openocd}", "", []string{"boot-gdb-retry"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dev := decode(t, mcuDevice)
			if tt.device != "" {
				decode(t, tt.device).Range(func(k string, v any) bool { dev.Set(k, v); return true })
			}
			j, err := pipeline.Build(decode(t, "actions:\n"+zephyrDeploy+"- boot: "+tt.boot+"\n"), dev)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			var got []string
			for _, a := range j.Pipeline.Actions[1].ActionBase().Pipeline.Actions {
				got = append(got, a.ActionBase().Name)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("children of %s (-want +got):\n%s", j.Pipeline.Actions[1].ActionBase().Name, diff)
			}
		})
	}
}

// TestMCUBootDeclines checks that a strategy declines, with LAVA's
// reason, a device that lacks what it needs.
func TestMCUBootDeclines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, boot, device, reason string
	}{
		{"jlink without board_id", "{method: jlink}", "board_id", `JLink: "board_id" is not in the device configuration`},
		{"cmsis without board_id", "{method: cmsis-dap}", "board_id", `CMSIS: device has no "board_id" configured`},
		{"qdl without board_qdl_id", "{method: qdl}", "board_qdl_id", `QDL: "board_qdl_id" is not in the device configuration`},
		{"gdb with unknown command set", "{method: gdb, commands: jtag}", "", `GDB: commands "jtag" undefined for the device`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dev := decode(t, mcuDevice)
			if tt.device != "" {
				dev.Delete(tt.device)
			}
			_, err := pipeline.Build(decode(t, "actions:\n- boot: "+tt.boot+"\n"), dev)
			if err == nil || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Build() error = %v, want one containing %q", err, tt.reason)
			}
		})
	}
}

// TestMCUBootValidation checks the flash actions' own checks.
func TestMCUBootValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, deploy, boot, device, want string
	}{
		{"cmsis valid", zephyrDeploy, "{method: cmsis-dap}", "", ""},
		{"cmsis nothing deployed", "", "{method: cmsis-dap}", "", "no image deployed in namespace 'common'"},
		{"cmsis placeholder board", zephyrDeploy, "{method: cmsis-dap}", "board_id: '0000000000'\n", "[FLASH_CMSIS] board_id unset"},
		{"jlink valid", zephyrDeploy, "{method: jlink}", "", ""},
		{"jlink unsupported core", zephyrDeploy, "{method: jlink, coretype: cm7}",
			"actions: {deploy: {methods: {image: null}}, boot: {connections: {serial: null}, methods: {jlink: {parameters: " +
				"{command: JLinkExe, address: 0, processor: MIMXRT, supported_core_types: [cm4], erase_command: [erase], reset_command: [r]}}}}}\n",
			"[coretype = cm7] not supported"},
		{"jlink deploy in another namespace", "- deploy: {to: tmpfs, namespace: other, images: {z: {url: 'http://e/z'}}}\n",
			"{method: jlink}", "", "no JLinkExe command to execute"},
		{"pyocd image_arg not a string", "- deploy: {to: tmpfs, images: {z: {url: 'http://e/z', image_arg: [1]}}}\n",
			"{method: pyocd}", "", "image_arg of z is not a string"},
		{"openocd without debug", zephyrDeploy, "{method: openocd}",
			"actions: {deploy: {methods: {image: null}}, boot: {connections: {serial: null}, methods: {openocd: {parameters: {command: openocd, options: {}}}}}}\n",
			"options.debug missing"},
		{"qdl missing rawprogram", "", "{method: qdl, firehose_program: p.elf, patch: p.xml}", "", "'rawprogram' must be a non-empty string"},
		{"qdl placeholder id", "", "{method: qdl, firehose_program: p.elf, rawprogram: r.xml, patch: p.xml}", "board_qdl_id: '00000000'\n",
			"[FLASH_QDL] board_qdl_id unset"},
		{"qdl placeholder board id", "", "{method: qdl, firehose_program: p.elf, rawprogram: r.xml, patch: p.xml}",
			"board_id: 'QUSB_BULK_CID:0420_SN:00000000'\n", "wait-qdl-device: [QDL] board_id unset"},
		{"gdb container without docker", zephyrDeploy, "{method: gdb, commands: openocd, container: img}", "",
			"requesting a docker container while docker is not used"},
		{"usb serial placeholder vendor", zephyrDeploy, "{method: musca}", "usb_vendor_id: '0000'\n", "usb_vendor_id unset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dev := decode(t, mcuDevice)
			if tt.device != "" {
				decode(t, tt.device).Range(func(k string, v any) bool { dev.Set(k, v); return true })
			}
			j, err := pipeline.Build(decode(t, "actions:\n"+tt.deploy+"- boot: "+tt.boot+"\n"), dev)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			errs := j.Validate()
			if tt.want == "" && len(errs) > 0 {
				t.Errorf("Validate() = %q, want none", errs)
			}
			if tt.want != "" && !hasError(errs, tt.want) {
				t.Errorf("Validate() = %q, want one containing %q", errs, tt.want)
			}
		})
	}
}
