package boot_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/actions/boot"
	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
)

// ubootDevice is a u-boot board as base-uboot.jinja2 renders one (the
// parts bootloader-overlay, -interrupt and -commands read).
const ubootDevice = `
commands: {connect: telnet localhost 7000}
constants:
  u-boot:
    interrupt-prompt: 'Hit any key to stop autoboot'
    interrupt-character: ' '
    interrupt-newline: true
    final-message: 'Starting kernel'
    error-messages: ['File not found', 'Bad Linux ARM64 Image magic!']
parameters:
  booti: {kernel: '0x40400000', ramdisk: '0x44100000', dtb: '0x44000000', tee: '0x83000000'}
actions:
  deploy: {parameters: {add_header: u-boot, mkimage_arch: arm64}}
  boot:
    connections: {serial: null}
    methods:
      u-boot:
        parameters: {bootloader_prompt: '=>', interrupt_prompt: 'Hit any key to stop autoboot', interrupt_char: ''}
        ramdisk:
          commands:
          - setenv serverip {SERVER_IP}
          - tftp {KERNEL_ADDR} {KERNEL}
          - tftp {RAMDISK_ADDR} {RAMDISK}
          - tftp {TEE_ADDR} {TEE}
          - tftp {DTB_ADDR} {DTB}
          - "setenv bootargs 'console=ttyAMA0,115200n8 root=/dev/ram0'"
          - '{BOOTX}'
`

// ubootJob is a job on ubootDevice whose runtime holds what tftp-deploy
// and uboot-prepare-kernel leave, and its log.
func ubootJob(t *testing.T) (*pipeline.Job, *bytes.Buffer) {
	t.Helper()
	j := &pipeline.Job{ID: "77", Params: decode(t, `{dispatcher: {dispatcher_ip: 10.0.2.2}}`), Device: decode(t, ubootDevice),
		TestInfo: map[string][]pipeline.TestInfo{}, Timeout: pipeline.Timeout{Seconds: 60}}
	var log bytes.Buffer
	j.Runtime.Log = joblog.New(&log, joblog.Options{})
	for k, v := range map[pipeline.DataKey]any{
		pipeline.DataTFTPFile("kernel"):  "basalt-77-x/kernel/Image",
		pipeline.DataTFTPFile("ramdisk"): "basalt-77-x/ramdisk/ramdisk.cpio.uboot",
		pipeline.DataTFTPFile("dtb"):     "basalt-77-x/dtb/virt.dtb",
		pipeline.DataBootCommand:         "booti",
	} {
		j.Runtime.SetData("common", k, v)
	}
	return j, &log
}

func attach(j *pipeline.Job, a pipeline.Action, params string, t *testing.T) {
	t.Helper()
	b := a.ActionBase()
	b.Job = j
	b.Params = decode(t, params)
}

// bootloader-overlay substitutes LAVA's placeholders and drops a command
// whose placeholder has no value (no TEE here).
func TestBootloaderOverlaySubstitutes(t *testing.T) {
	t.Parallel()
	j, _ := ubootJob(t)
	a := boot.NewBootloaderCommandOverlay("", nil)
	attach(j, a, `{method: u-boot, commands: ramdisk}`, t)
	if _, err := a.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	got, _ := j.Runtime.Data("common", pipeline.DataBootloaderCommands("u-boot")).([]string)
	want := []string{
		"setenv serverip 10.0.2.2",
		"tftp 0x40400000 basalt-77-x/kernel/Image",
		"tftp 0x44100000 basalt-77-x/ramdisk/ramdisk.cpio.uboot",
		"tftp 0x44000000 basalt-77-x/dtb/virt.dtb",
		"setenv bootargs 'console=ttyAMA0,115200n8 root=/dev/ram0'",
		"booti 0x40400000 0x44100000 0x44000000",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Without a u-boot header the ramdisk is not passed to booti (LAVA's
	// rule); a raw ramdisk is passed with its size.
	for header, bootx := range map[string]string{"none": "booti 0x40400000 - 0x44000000", "raw": "booti 0x40400000 0x44100000:${initrd_size} 0x44000000"} {
		j, _ := ubootJob(t)
		j.Device.Map("actions").Map("deploy").Map("parameters").Set("add_header", header)
		a := boot.NewBootloaderCommandOverlay("", nil)
		attach(j, a, `{method: u-boot, commands: ramdisk}`, t)
		if _, err := a.Run(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		got, _ := j.Runtime.Data("common", pipeline.DataBootloaderCommands("u-boot")).([]string)
		if last := got[len(got)-1]; last != bootx {
			t.Errorf("add_header %s: %q, want %q", header, last, bootx)
		}
	}
}

// fakeUBoot is a U-Boot for the console: the autoboot countdown until a
// line comes in, then a prompt per command; the boot command starts the
// kernel, a tftp of missing.img fails as U-Boot does.
const fakeUBoot = `
printf 'U-Boot 2023.01\r\nHit any key to stop autoboot:  2 \b\b\b 1 '
read -r _
printf '\r\n\033[0m=> '
while read -r line; do
	case $line in
	booti*) printf '%s\r\n\r\nStarting kernel ...\r\n\r\n' "$line"; sleep 30 ;;
	*missing*) printf "%s\r\nTFTP error: 'File not found' (1)\r\n=> " "$line" ;;
	*) printf '%s\r\n=> ' "$line" ;;
	esac
done
`

func runUBoot(t *testing.T, commands []string) (string, error) {
	t.Helper()
	j, log := ubootJob(t)
	j.Runtime.SetData("common", pipeline.DataBootloaderCommands("u-boot"), commands)
	script := filepath.Join(t.TempDir(), "uboot.sh")
	if err := os.WriteFile(script, []byte(fakeUBoot), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := connection.Dial([]string{"sh", script}, connection.Options{Log: j.Runtime.Log, StripEscapes: true}, connection.Reconnect{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	intr := boot.NewBootloaderInterrupt("")
	attach(j, intr, `{method: u-boot}`, t)
	if _, err := intr.Run(ctx, s); err != nil {
		return log.String(), err
	}
	cmds := boot.NewBootloaderCommands("", true)
	attach(j, cmds, `{method: u-boot}`, t)
	_, err = cmds.Run(ctx, s)
	j.Runtime.Log.Flush()
	return log.String(), err
}

func TestBootloaderCommandsRun(t *testing.T) {
	t.Parallel()
	log, err := runUBoot(t, []string{"setenv serverip 10.0.2.2", "tftp 0x40400000 k/Image", "booti 0x40400000 - 0x44000000"})
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	for _, want := range []string{"tftp 0x40400000 k/Image", "Starting kernel"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	// A bootloader error message the device lists ends the boot with an
	// InfrastructureError naming it, as LAVA does.
	log, err = runUBoot(t, []string{"setenv serverip 10.0.2.2", "tftp 0x44000000 missing.img", "booti 0x40400000 - 0x44000000"})
	if pipeline.ClassOf(err) != pipeline.ClassInfrastructure || !strings.Contains(err.Error(), "File not found") {
		t.Fatalf("err = %v (%s), want an InfrastructureError naming 'File not found'\n%s", err, pipeline.ClassOf(err), log)
	}
}
