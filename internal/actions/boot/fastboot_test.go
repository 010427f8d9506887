package boot_test

import (
	"testing"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/google/go-cmp/cmp"
)

// fastbootDevice returns a fastboot device configuration; extra is YAML
// appended at the top level (commands, fastboot_via_uboot, …) and seq
// the device's fastboot boot sequence.
func fastbootDevice(seq, extra string) string {
	return `
adb_serial_number: abc123
fastboot_serial_number: abc123
fastboot_options: []
flash_cmds_order: [boot, system]
actions:
  deploy:
    connections: {fastboot: null, serial: null}
    methods:
      fastboot: null
      u-boot: {parameters: {fastboot: {commands: [fastboot 0]}}}
  boot:
    connections: {serial: null, adb: null}
    methods:
      fastboot: ` + seq + `
      u-boot: {parameters: {bootloader_prompt: '=>', interrupt_prompt: 'stop autoboot', interrupt_char: ' '}}
constants:
  posix: {lava_test_results_dir: /lava-%s, lava_test_shell_file: ~/.bashrc}
` + extra
}

const (
	pduCommands  = "commands: {connect: telnet localhost 7000, hard_reset: pdu reboot}\n"
	shellTest    = "- test: {definitions: [{from: inline, name: a, path: a.yaml, repository: {}}]}\n"
	dockerTest   = "- test: {docker: {image: adb-fastboot}, definitions: [{from: inline, name: a, path: a.yaml, repository: {}}]}\n"
	fastbootBoot = "- boot: {method: fastboot"
)

// childNames lists the names of the children of the first top-level
// action of j.
func childNames(j *pipeline.Job) []string {
	var got []string
	for _, a := range j.Pipeline.Actions[0].ActionBase().Pipeline.Actions {
		got = append(got, a.ActionBase().Name)
	}
	return got
}

// TestBootFastbootChildren checks how fastboot-boot gets the device into
// fastboot (u-boot, PDU, adb), follows the device's sequence, and ends
// with login on devices with a console or adb on the others.
func TestBootFastbootChildren(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, seq, extra, boot, tests string
		want                          []string
	}{
		{"phone: adb reboot-bootloader, then adb", "[reboot]", "", fastbootBoot + "}\n", "",
			[]string{"wait-device-boardid", "enter-fastboot-action", "wait-device-boardid", "fastboot-reboot", "connect-adb", "adb-overlay-unpack"}},
		{"phone with docker: no adb on the dispatcher", "[reboot]", "", fastbootBoot + ", docker: {image: adb-fastboot}}\n", "",
			[]string{"wait-device-boardid", "enter-fastboot-action", "wait-device-boardid", "fastboot-reboot"}},
		{"board with PDU, prompts and a shell test", "[no-flash-boot]", pduCommands, fastbootBoot + ", prompts: ['#']}\n", shellTest,
			[]string{"connect-device", "reset-device", "wait-device-boardid", "boot-fastboot", "pre-os-command",
				"auto-login-action", "expect-shell-connection", "export-device-env"}},
		{"board with PDU, docker test only: no shell wait", "[boot]", pduCommands, fastbootBoot + ", prompts: ['#']}\n", dockerTest,
			[]string{"connect-device", "reset-device", "wait-device-boardid", "boot-fastboot", "pre-os-command", "auto-login-action"}},
		{"board with PDU, no prompts", "[boot]", pduCommands, fastbootBoot + "}\n", shellTest,
			[]string{"connect-device", "reset-device", "wait-device-boardid", "boot-fastboot", "pre-os-command"}},
		{"u-boot fastboot with commands", "[reboot]", pduCommands + "fastboot_via_uboot: true\n",
			fastbootBoot + ", commands: [--set-active=_a]}\n", "",
			[]string{"fastboot-boot-commands", "connect-device", "uboot-enter-fastboot", "wait-device-boardid", "fastboot-reboot", "pre-os-command"}},
		{"unknown sequence step still waits", "[boot, frobnicate]", pduCommands, fastbootBoot + "}\n", "",
			[]string{"connect-device", "reset-device", "wait-device-boardid", "boot-fastboot", "wait-device-boardid", "pre-os-command"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j, err := pipeline.Build(decode(t, "actions:\n"+tt.boot+tt.tests), decode(t, fastbootDevice(tt.seq, tt.extra)))
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if diff := cmp.Diff(tt.want, childNames(j)); diff != "" {
				t.Errorf("fastboot-boot children (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBootFastbootValidation checks the errors fastboot-boot and its
// children report for bad device or job data.
func TestBootFastbootValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, seq, extra, boot, want string
	}{
		{"valid", "[boot]", pduCommands, fastbootBoot + "}\n", ""},
		{"unknown sequence", "[boot, frobnicate]", pduCommands, fastbootBoot + "}\n", "unknown boot sequence 'frobnicate'"},
		{"sequence undefined", "null", pduCommands, fastbootBoot + "}\n", "fastboot_sequence undefined"},
		{"placeholder serial", "[boot]", pduCommands + "fastboot_serial_number: '0000000000'\n", fastbootBoot + "}\n",
			"device fastboot serial number unset"},
		{"options not a list", "[boot]", pduCommands + "fastboot_options: -u\n", fastbootBoot + "}\n",
			"device fastboot options is not a list"},
		{"bad docker image", "[boot]", pduCommands, fastbootBoot + ", docker: {image: 'Bad Image'}}\n", "image name 'Bad Image' is invalid"},
		{"adb serial unset on a phone", "[reboot]", "adb_serial_number: '0000000000'\n", fastbootBoot + "}\n",
			"device adb serial number unset"},
		{"commands not strings", "[boot]", pduCommands, fastbootBoot + ", commands: [[x]]}\n", "commands[0] must be a non-empty string"},
		{"u-boot without fastboot commands", "[boot]", pduCommands + "fastboot_via_uboot: true\n" +
			"actions: {deploy: {connections: {fastboot: null}, methods: {fastboot: null, u-boot: {parameters: {}}}}," +
			" boot: {connections: {serial: null}, methods: {fastboot: [boot], u-boot: {parameters: {bootloader_prompt: '=>'}}}}}\n",
			fastbootBoot + "}\n", "uboot command missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dev := decode(t, fastbootDevice(tt.seq, ""))
			// Later keys override: decode the extra settings on their own
			// and set them over the defaults.
			if tt.extra != "" {
				decode(t, tt.extra).Range(func(k string, v any) bool { dev.Set(k, v); return true })
			}
			j, err := pipeline.Build(decode(t, "actions:\n"+tt.boot), dev)
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
