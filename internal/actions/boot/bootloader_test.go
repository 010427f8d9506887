package boot_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// boardDevice is a board with the bootloader families: enough of a
// rendered device configuration for the strategies, the pipelines and
// the validation of this package's bootloader actions.
const boardDevice = `
board_id: '1234'
usb_vendor_id: '0451'
usb_product_id: d022
commands:
  connect: telnet localhost 7000
  hard_reset: pdu reboot 1
constants:
  u-boot: {interrupt-prompt: 'Hit any key to stop autoboot', interrupt-character: ' ', final-message: 'Starting kernel'}
  grub: {interrupt-prompt: 'for a command-line', interrupt-character: c}
  grub-efi: {interrupt-prompt: 'for a command-line', interrupt-character: c}
  posix: {lava_test_results_dir: /lava-%s, lava_test_shell_file: ~/.bashrc}
parameters:
  bootz: {kernel: '0x82000000'}
actions:
  deploy:
    methods: {tftp: null, u-boot: {parameters: {fastboot: {commands: [fastboot 0]}}}}
  boot:
    connections: {serial: null}
    methods:
      u-boot:
        parameters: {bootloader_prompt: '=>'}
        ramdisk: {commands: ['bootz {KERNEL_ADDR}']}
      dfu:
        implementation: u-boot
        parameters: {enter-commands: [dfu 0], command: dfu-util}
      uuu:
        options:
          usb_otg_path: ['2:112']
          corrupt_boot_media_command: [mmc erase 0 0x400]
          power_off_before_corrupt_boot_media: false
          bcu_board_name: imx8dxlevk
          bcu_board_id: 2-1.3
      uefi:
        parameters: {bootloader_prompt: Shell>, shell_interrupt_prompt: 'any other key', shell_interrupt_string: ' ',
                     interrupt_prompt: 'ESC (setup)', interrupt_string: "\e"}
        shell: [{select: {items: [Boot Manager]}}]
timeouts: {actions: {bootloader-commands: {minutes: 3}}}
`

// deviceWith returns boardDevice changed by edit.
func deviceWith(t *testing.T, edit func(d *value.Map)) *value.Map {
	t.Helper()
	d := decode(t, boardDevice)
	if edit != nil {
		edit(d)
	}
	return d
}

// buildJob builds a job of the given actions YAML on device.
func buildJob(t *testing.T, device *value.Map, actions string) *pipeline.Job {
	t.Helper()
	j, err := pipeline.Build(decode(t, "timeouts: {job: {minutes: 10}}\nactions:\n"+actions), device)
	if err != nil {
		t.Fatalf("Build(%s): %v", actions, err)
	}
	return j
}

// tree returns the names of an action's descendants, depth first, with
// children in brackets: "a[b c[d]]".
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

func TestBootloaderStrategySelection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, params string
		edit         func(d *value.Map)
		want         string // the chosen strategy, or the decline reason wanted
	}{
		{"bootloader u-boot", `{method: bootloader, bootloader: u-boot, commands: []}`, nil, "BootBootloader"},
		{"bootloader unknown", `{method: bootloader, bootloader: barebox, commands: []}`, nil, "boot method 'barebox' not in the device configuration"},
		{"bootloader undefined", `{method: bootloader, commands: []}`, nil, "'bootloader' is undefined"},
		{"u-boot", `{method: u-boot, commands: ramdisk}`, nil, "UBoot"},
		{"u-boot without commands", `{method: u-boot}`, nil, "commands not specified in boot parameters"},
		{"uuu", `{method: uuu, commands: [{uuu: '-b sd {boot}'}]}`, nil, "UUUBoot"},
		{"uuu without erase command", `{method: uuu, commands: [{uuu: x}]}`,
			func(d *value.Map) { bootMethodOf(d, "uuu").Map("options").Set("corrupt_boot_media_command", nil) },
			"uuu_corrupt_boot_media_command not defined"},
		{"uuu without otg path", `{method: uuu, commands: [{uuu: x}]}`,
			func(d *value.Map) { bootMethodOf(d, "uuu").Map("options").Set("usb_otg_path", nil) },
			"'uuu_usb_otg_path' or 'uuu_usb_otg_path_command' not defined"},
		{"dfu", `{method: dfu}`, nil, "DFU"},
		{"dfu without board_id", `{method: dfu}`, func(d *value.Map) { d.Delete("board_id") }, `"board_id" is not in the device configuration`},
		{"grub on a u-boot board", `{method: grub, commands: x}`, nil, `"grub" or "grub-efi" was not in the device configuration boot methods`},
		{"grub sequence", `{method: grub, commands: x}`,
			func(d *value.Map) { methodsOf(d).Set("grub", decodeMap("{sequence: [wait-fastboot-interrupt]}")) }, "GrubSequence"},
		{"grub", `{method: grub-efi, commands: x}`,
			func(d *value.Map) {
				methodsOf(d).Set("grub-efi", decodeMap("{parameters: {bootloader_prompt: grub>}}"))
			}, "Grub"},
		{"uefi shell", `{method: uefi, commands: x}`, nil, "UefiShell"},
		{"uefi without shell string", `{method: uefi, commands: x}`,
			func(d *value.Map) { bootMethodOf(d, "uefi").Map("parameters").Delete("shell_interrupt_string") },
			`"shell_interrupt_string" was not in the uefi device configuration`},
		{"kexec needs no device method", `{method: kexec, kernel: /boot/vmlinuz}`, nil, "BootKExec"},
		{"depthcharge missing", `{method: depthcharge, commands: x}`, nil, `"depthcharge" was not in the device configuration boot methods`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dev := deviceWith(t, tt.edit)
			s, err := pipeline.Select("boot", dev, decode(t, tt.params))
			switch {
			case err == nil && s.Name() != tt.want:
				t.Errorf("Select(boot, %s) = %s, want %s", tt.params, s.Name(), tt.want)
			case err != nil && !strings.Contains(err.Error(), tt.want):
				t.Errorf("Select(boot, %s) failed with %v, want %q", tt.params, err, tt.want)
			}
		})
	}
}

func methodsOf(d *value.Map) *value.Map { return pipeline.DeviceMethods(d, "boot") }

func bootMethodOf(d *value.Map, m string) *value.Map { return methodsOf(d).Map(m) }

func decodeMap(s string) *value.Map {
	v, err := value.DecodeYAML([]byte(s))
	if err != nil {
		panic(err)
	}
	return v.(*value.Map)
}

func TestBootloaderPipelines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		edit    func(d *value.Map)
		actions string
		want    string // tree of the first action
	}{
		{"bootloader", nil, `- boot: {method: bootloader, bootloader: u-boot, commands: [printenv], prompts: ['=>']}`,
			"boot-bootloader-retry[bootloader-overlay boot-bootloader[reset-connection[disconnect-device connect-device] reset-device[pdu-reboot] bootloader-interrupt bootloader-commands]]"},
		{"u-boot", nil, `- boot: {method: u-boot, commands: ramdisk, prompts: ['# ']}`,
			"uboot-action[uboot-from-media bootloader-overlay connect-device uboot-commands[reset-device[pdu-reboot] bootloader-interrupt bootloader-commands auto-login-action[login-action]]]"},
		{"u-boot without reset", nil, `- boot: {method: u-boot, commands: ramdisk, reset: false}`,
			"uboot-action[uboot-from-media bootloader-overlay connect-device uboot-commands[bootloader-interrupt bootloader-commands]]"},
		{"u-boot altbank", func(d *value.Map) { bootMethodOf(d, "u-boot").Map("parameters").Set("uboot_altbank", true) },
			`- boot: {method: u-boot, commands: ramdisk}`,
			"uboot-action[uboot-from-media bootloader-overlay connect-device uboot-commands[reset-device[pdu-reboot] bootloader-interrupt bootloader-commands-altbank bootloader-interrupt bootloader-commands]]"},
		{"u-boot ums flash", func(d *value.Map) {
			bootMethodOf(d, "u-boot").Map("parameters").Set("uboot_ums_flash", true)
			bootMethodOf(d, "u-boot").Map("parameters").Set("uboot_mass_storage_device", "/dev/sdx")
		}, `- boot: {method: u-boot, commands: ramdisk}`,
			"uboot-action[uboot-from-media bootloader-overlay connect-device uboot-commands[reset-device[pdu-reboot] bootloader-interrupt bootloader-commands wait-device-path flash-uboot-ums reset-device[pdu-reboot]]]"},
		{"uuu checks serial download mode", nil, `- boot: {method: uuu, commands: [{uuu: '-b sd {boot}'}]}`,
			"uuu-boot-retry[uuu[disconnect-device reset-device[pdu-reboot] check-serial-availability " +
				"boot-corrupt-boot-media[connect-device bootloader-overlay boot-bootloader[reset-connection[disconnect-device connect-device] reset-device[pdu-reboot] bootloader-interrupt bootloader-commands] disconnect-device] " +
				"reset-device[pdu-reboot] connect-device uuu-boot disconnect-device]]"},
		{"uuu powers off before the erase", func(d *value.Map) {
			bootMethodOf(d, "uuu").Map("options").Set("power_off_before_corrupt_boot_media", true)
		}, `- boot: {method: uuu, commands: [{uuu: '-b sd {boot}'}]}`,
			"uuu-boot-retry[uuu[disconnect-device reset-device[pdu-reboot] check-serial-availability " +
				"boot-corrupt-boot-media[power-off connect-device bootloader-overlay boot-bootloader[reset-connection[disconnect-device connect-device] reset-device[pdu-reboot] bootloader-interrupt bootloader-commands] disconnect-device] " +
				"reset-device[pdu-reboot] connect-device uuu-boot disconnect-device]]"},
		{"uuu skipped when the bootloader is valid", nil, `- boot: {method: uuu, commands: [{bcu: reset  usb}, {uuu: '-b sd {boot}'}], skip_uuu_if_bootloader_valid: true}`,
			"uuu-boot-retry[check-bootloader-valid[connect-device bootloader-overlay boot-bootloader[reset-connection[disconnect-device connect-device] reset-device[pdu-reboot] bootloader-interrupt bootloader-commands] disconnect-device] " +
				"uuu[disconnect-device reset-device[pdu-reboot] connect-device uuu-boot disconnect-device]]"},
		{"uuu with bcu reset usb first", nil, `- boot: {method: uuu, commands: [{bcu: reset  usb}, {uuu: '-b sd {boot}'}]}`,
			"uuu-boot-retry[uuu[disconnect-device reset-device[pdu-reboot] connect-device uuu-boot disconnect-device]]"},
		{"uuu with bcu only", nil, `- boot: {method: uuu, commands: [{bcu: set_boot_mode sd}]}`,
			"uuu-boot-retry[uuu[disconnect-device reset-device[pdu-reboot] connect-device uuu-boot disconnect-device]]"},
		{"dfu through u-boot", nil, `- boot: {method: dfu}`,
			"boot-dfu-retry[connect-device reset-device[pdu-reboot] bootloader-interrupt enter-dfu wait-dfu-device flash-dfu]"},
		{"hardware dfu", func(d *value.Map) { bootMethodOf(d, "dfu").Delete("implementation") }, `- boot: {method: dfu}`,
			"boot-dfu-retry[connect-device reset-device[pdu-reboot] wait-dfu-device flash-dfu]"},
		{"uefi shell without menu", nil, `- boot: {method: uefi, commands: x}`,
			"uefi-shell-main-action[bootloader-overlay menu-connect reset-device[pdu-reboot] uefi-shell-interrupt bootloader-commands]"},
		{"uefi shell through the menu", func(d *value.Map) { bootMethodOf(d, "uefi").Map("parameters").Set("shell_menu", "shell") },
			`- boot: {method: uefi, commands: x}`,
			"uefi-shell-main-action[bootloader-overlay menu-connect reset-device[pdu-reboot] uefi-shell-menu-interrupt uefi-shell-menu-selector uefi-shell-interrupt bootloader-commands]"},
		{"grub-efi without reset", func(d *value.Map) {
			methodsOf(d).Set("grub-efi", decodeMap("{reset_device: false, parameters: {bootloader_prompt: grub>}}"))
		}, `- boot: {method: grub-efi, commands: x}`,
			"grub-main-action[bootloader-from-media bootloader-overlay connect-device uefi-menu-interrupt grub-efi-menu-selector bootloader-interrupt bootloader-commands]"},
		{"grub installer", func(d *value.Map) { methodsOf(d).Set("grub", decodeMap("{parameters: {bootloader_prompt: grub>}}")) },
			`- boot: {method: grub, commands: x, boot_finished: done}`,
			"grub-main-action[bootloader-from-media bootloader-overlay connect-device reset-device[pdu-reboot] bootloader-interrupt bootloader-commands installer-wait power-off]"},
		{"recovery exit", nil, `- boot: {method: recovery, commands: exit}`,
			"recovery-boot[power-off switch-recovery power-on]"},
		{"kexec", nil, `- boot: {method: kexec, kernel: /boot/vmlinuz, prompts: ['#'], transfer_overlay: {download_command: wget, unpack_command: tar}}`,
			"kexec-boot[call-kexec auto-login-action[login-action] expect-shell-connection overlay-unpack export-device-env]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j := buildJob(t, deviceWith(t, tt.edit), tt.actions)
			if got := tree(j.Pipeline.Actions[0]); got != tt.want {
				t.Errorf("pipeline of %s\n got %s\nwant %s", tt.actions, got, tt.want)
			}
		})
	}
}

func TestBootloaderTimeoutsFollowTheBlock(t *testing.T) {
	t.Parallel()
	// The erase boot inside uuu runs with the uuu block's parameters, so
	// its bootloader-commands get the block's timeout, not the device's
	// named 3 minutes.
	j := buildJob(t, deviceWith(t, nil), `- boot: {method: uuu, commands: [{uuu: x}], timeout: {minutes: 4}}`)
	var got []int
	j.Pipeline.Walk(func(a pipeline.Action) {
		if a.ActionBase().Name == "bootloader-commands" {
			got = append(got, a.ActionBase().Timeout.Seconds)
		}
	})
	if len(got) != 1 || got[0] != 240 {
		t.Errorf("bootloader-commands timeouts = %v, want [240]", got)
	}
}

func TestBootloaderValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		edit    func(d *value.Map)
		actions string
		want    string // "" means valid
	}{
		{"valid u-boot", nil, `- boot: {method: u-boot, commands: ramdisk}`, ""},
		{"unknown command set", nil, `- boot: {method: u-boot, commands: nfs}`, "command 'nfs' not found in supported methods"},
		{"non-string command", nil, `- boot: {method: bootloader, bootloader: u-boot, commands: [{a: b}]}`, "instruction is not a string"},
		{"no bootloader prompt", func(d *value.Map) { bootMethodOf(d, "u-boot").Map("parameters").Delete("bootloader_prompt") },
			`- boot: {method: u-boot, commands: ramdisk}`, "missing bootloader prompt for device"},
		{"no interrupt constant", func(d *value.Map) { d.Map("constants").Map("u-boot").Delete("interrupt-prompt") },
			`- boot: {method: u-boot, commands: ramdisk}`, "constant 'interrupt-prompt' for 'u-boot' is missing"},
		{"no connect command", func(d *value.Map) { d.Map("commands").Delete("connect") },
			`- boot: {method: u-boot, commands: ramdisk}`, "unable to connect to device"},
		{"bad lava_mac", func(d *value.Map) { bootMethodOf(d, "u-boot").Map("parameters").Set("lava_mac", "00:11") },
			`- boot: {method: u-boot, commands: ramdisk}`, "lava_mac is not a valid mac address"},
		{"secondary media without kernel_type", func(d *value.Map) {
			d.Map("parameters").Set("media", decodeMap("{usb: {sda: {uuid: x, device_id: 0}}}"))
		}, `- boot: {method: u-boot, commands: usb, kernel: /boot/zImage, root_uuid: x, boot_part: 1}`, "missing kernel_type for secondary media boot"},
		{"uuu bad otg path", func(d *value.Map) { bootMethodOf(d, "uuu").Map("options").Set("usb_otg_path", "usb2") },
			`- boot: {method: uuu, commands: [{uuu: x}]}`, "does not match with uuu path pattern"},
		{"uuu unknown protocol", nil, `- boot: {method: uuu, commands: [{fastboot: x}]}`, "unknown protocol 'fastboot'"},
		{"bcu without board name", func(d *value.Map) { bootMethodOf(d, "uuu").Map("options").Set("bcu_board_name", "") },
			`- boot: {method: uuu, commands: [{bcu: reset usb}]}`, "'bcu_board_name' is not defined"},
		{"dfu placeholder board id", func(d *value.Map) { d.Set("board_id", "0000000000") },
			`- deploy: {to: tftp, images: {a: {url: http://x/a, image_arg: -D a}}}
- boot: {method: dfu}`, "[FLASH_DFU] board_id unset"},
		{"dfu without images", nil, `- boot: {method: dfu}`, "no DFU command to execute"},
		{"dfu image without image_arg", nil, `- deploy: {to: tftp, kernel: {url: http://x/k}, images: {fw: {url: http://x/fw}}}
- boot: {method: dfu}`, "missing image_arg for fw"},
		{"dfu enter-commands not a list", func(d *value.Map) { bootMethodOf(d, "dfu").Map("parameters").Set("enter-commands", "dfu 0") },
			`- boot: {method: dfu}`, `"enter-commands" should be a list`},
		{"recovery bad command", nil, `- boot: {method: recovery, commands: enter}`, "invalid recovery command"},
		{"recovery without device commands", nil, `- boot: {method: recovery, commands: recovery}`, "missing commands to enter recovery mode"},
		{"kexec without anything to load", nil, `- boot: {method: kexec, prompts: ['#']}`, "needs at least a kernel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j := buildJob(t, deviceWith(t, tt.edit), tt.actions)
			errs := j.Validate()
			if tt.want == "" && len(errs) > 0 {
				t.Errorf("Validate(%s) = %q, want no errors", tt.actions, errs)
			}
			if tt.want != "" && !hasError(errs, tt.want) {
				t.Errorf("Validate(%s) = %q, want one containing %q", tt.actions, errs, tt.want)
			}
		})
	}
}

// TestGrubMenuSelectorUsesUefiMenu checks grub-efi-menu-selector as LAVA
// validates it: the uefi-menu method's menu_options names one of its
// sequences (it is not the sequence itself, nor in grub-efi).
func TestGrubMenuSelectorUsesUefiMenu(t *testing.T) {
	t.Parallel()
	const uefiMenu = `{menu_options: pxe-grub, pxe-grub: [{select: {items: ['pxe boot'], wait: 'PXE'}}],
		parameters: {bootloader_prompt: 'Start:', interrupt_prompt: 'boot selection', interrupt_string: ' ', item_class: 0-9, item_markup: ['[', ']'], separator: ' '}}`
	tests := []struct {
		name string
		edit func(d *value.Map)
		want []string
	}{
		{"menu_options names a uefi-menu sequence", func(d *value.Map) { methodsOf(d).Set("uefi-menu", decodeMap(uefiMenu)) }, nil},
		{"no uefi-menu method", nil, []string{"no uefi-menu in device boot methods"}},
		{"no menu_options", func(d *value.Map) {
			m := decodeMap(uefiMenu)
			m.Delete("menu_options")
			methodsOf(d).Set("uefi-menu", m)
		}, []string{"missing entry for menu item to use for uefi-menu"}},
		{"menu_options names nothing", func(d *value.Map) {
			m := decodeMap(uefiMenu)
			m.Set("menu_options", "pxe-linux")
			methodsOf(d).Set("uefi-menu", m)
		}, []string{"no boot configuration called 'pxe-linux' for boot method 'uefi-menu'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := deviceWith(t, tt.edit)
			methodsOf(d).Set("grub-efi", decodeMap("{reset_device: false, parameters: {bootloader_prompt: grub>}, x: {commands: [boot]}}"))
			j := buildJob(t, d, `- boot: {method: grub-efi, commands: x}`)
			var got []string
			for _, e := range j.Validate() {
				if _, msg, ok := strings.Cut(e, "grub-efi-menu-selector: "); ok {
					got = append(got, msg)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("grub-efi-menu-selector errors = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCheckBootloaderValidInterruptTimeout checks the 15 s LAVA gives
// check-bootloader-valid's interrupt unless the block sets one.
func TestCheckBootloaderValidInterruptTimeout(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		block string
		want  int
	}{
		{`- boot: {method: uuu, commands: [{bcu: reset  usb}, {uuu: '-b sd {boot}'}], skip_uuu_if_bootloader_valid: true}`, 15},
		{`- boot: {method: uuu, commands: [{bcu: reset  usb}, {uuu: '-b sd {boot}'}], skip_uuu_if_bootloader_valid: true, timeouts: {bootloader-interrupt: {seconds: 40}}}`, 40},
	} {
		j := buildJob(t, deviceWith(t, nil), tt.block)
		var got []int
		j.Pipeline.Walk(func(a pipeline.Action) {
			if b := a.ActionBase(); b.Name == "bootloader-interrupt" {
				got = append(got, b.Timeout.Seconds)
			}
		})
		if len(got) != 1 || got[0] != tt.want {
			t.Errorf("%s: bootloader-interrupt timeouts %v, want [%d]", tt.block, got, tt.want)
		}
	}
}
