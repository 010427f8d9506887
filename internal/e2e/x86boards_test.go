package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The emulated x86_64 boards (internal/device/devicetypes/x86_64-ovmf-*):
// QEMU with OVMF started by the dictionary's power_on_command (basalt
// board), its serial port a telnet server reached by the
// connection_command, files over the TFTP server of QEMU's user network.
// The jobs are examples/x86-boards', run through the basalt binary; each
// case also checks that the board was powered off and the job's TFTP
// folder removed.

// x86Lab is one board's lab: its TFTP root, power switch folder,
// dictionary and dispatcher configuration, all in a temporary folder.
type x86Lab struct {
	dir, tftp, device, dispatcher string
}

// needX86Firmware skips (fails under BASALT_E2E=1) without OVMF, iPXE's
// ROM or the GRUB image make fixtures builds.
func needX86Firmware(t *testing.T) {
	t.Helper()
	needFixtures(t)
	for _, f := range []string{"/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd",
		"/usr/lib/ipxe/qemu/efi-virtio.rom", filepath.Join(fixtures, "boards", "grubx64.efi")} {
		if _, err := os.Stat(f); err != nil {
			if os.Getenv("BASALT_E2E") == "1" {
				t.Fatalf("board firmware missing (make fixtures installs and builds it): %v", err)
			}
			t.Skipf("board firmware missing, run `make fixtures`: %v", err)
		}
	}
	if _, err := exec.LookPath("telnet"); err != nil {
		t.Skip("telnet (the boards' connection command) is not installed")
	}
}

// newX86Lab makes a lab for the board type x86_64-ovmf-<kind>; extra
// lines go at the end of its dictionary.
func newX86Lab(t *testing.T, kind string, extra ...string) *x86Lab {
	t.Helper()
	dir := t.TempDir()
	l := &x86Lab{dir: dir, tftp: filepath.Join(dir, "tftp"), device: filepath.Join(dir, kind+".jinja2"),
		dispatcher: filepath.Join(dir, "dispatcher.yaml")}
	if err := os.MkdirAll(l.tftp, 0o755); err != nil {
		t.Fatal(err)
	}
	grub, err := os.ReadFile(filepath.Join(fixtures, "boards", "grubx64.efi"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l.tftp, "grubx64.efi"), grub, 0o644); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(closedPort(t))
	dict := fmt.Sprintf(`{%% extends 'x86_64-ovmf-%s.jinja2' %%}
{%% set basalt_command = '%s' %%}
{%% set board_state_dir = '%s' %%}
{%% set board_serial_port = %s %%}
{%% set tftp_root = '%s' %%}
%s
`, kind, basalt, filepath.Join(dir, "board"), port, l.tftp, strings.Join(extra, "\n"))
	if err := os.WriteFile(l.device, []byte(dict), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("dispatcher_ip: 10.0.2.2\ntftp_root: %s\n", l.tftp)
	if err := os.WriteFile(l.dispatcher, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return l
}

// exampleJob returns examples/x86-boards/job-<kind>.yaml with its images
// from url, edited by the replacer's pairs.
func exampleJob(t *testing.T, kind, url string, edits ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "x86-boards", "job-"+kind+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "http://127.0.0.1:8000", url)
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(text, edits[i]) {
			t.Fatalf("job-%s.yaml has no %q to replace", kind, edits[i])
		}
		text = strings.Replace(text, edits[i], edits[i+1], 1)
	}
	path := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// run runs the job on the lab's board, then checks that nothing of it
// is left: no process naming the lab's folder (QEMU names its TFTP
// root), the board powered off (no pid in its power switch's folder),
// nothing in the TFTP root but the board's own GRUB image.
func (l *x86Lab) run(t *testing.T, job string) *outcome {
	t.Helper()
	out, tmp := filepath.Join(l.dir, "out"), filepath.Join(l.dir, "tmp")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, basalt, "run", job, "--device", l.device, "--dispatcher-config", l.dispatcher,
		"--output-dir", out, "--tmp-dir", tmp, "--job-id", "4343")
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	err := cmd.Run()
	o := &outcome{stdout: stdout.String(), dir: out}
	if ee, ok := err.(*exec.ExitError); ok {
		o.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("basalt output:\n%s", lastLines(o.stdout, 80))
		}
	})
	assertNoLeftovers(t, tmp)
	assertNoLeftovers(t, l.dir)
	if _, err := os.Stat(filepath.Join(l.dir, "board", "board.pid")); err == nil {
		t.Error("the board is still powered on (board.pid)")
	}
	entries, _ := os.ReadDir(l.tftp)
	for _, e := range entries {
		if e.Name() != "grubx64.efi" {
			t.Errorf("left in the TFTP root: %s", e.Name())
		}
	}
	o.readLog(t)
	return o
}

// wantBoardSmoke checks that the job completed with the example's test
// results: the kernel booted by the firmware under test, through UEFI.
func wantBoardSmoke(t *testing.T, o *outcome) {
	t.Helper()
	if o.code != 0 || o.job.String("result") != "pass" {
		t.Fatalf("job did not complete: exit %d, %v", o.code, o.job)
	}
	for _, c := range []string{"kernel-version", "efi-booted", "helpers-on-path"} {
		if r := o.result("0_board-smoke", c); r == nil || r.String("result") != "pass" {
			t.Errorf("test case %s: %v", c, r)
		}
	}
}

// TestX86Boards runs the example jobs: GRUB fetched by PXE, GRUB EFI
// through OVMF's boot manager menu, the UEFI shell, iPXE.
func TestX86Boards(t *testing.T) {
	needX86Firmware(t)
	url := server(t, nil)
	t.Run("grub", func(t *testing.T) {
		l := newX86Lab(t, "grub")
		o := l.run(t, exampleJob(t, "grub", url))
		wantBoardSmoke(t, o)
		if !o.logHas("", "grub>") && !o.logHas("", "GNU GRUB") {
			t.Error("the log does not show GRUB")
		}
	})
	t.Run("grub-boot-finished", func(t *testing.T) {
		// No shell: the boot waits for boot_finished (an installer's
		// last words; here the guest's login prompt), then powers the
		// board off, as LAVA's installer boots do.
		l := newX86Lab(t, "grub")
		job := exampleJob(t, "grub", url, "    auto_login:\n      login_prompt: 'login:'\n      username: root\n    prompts:\n    - 'root@basalt:~# '\n",
			"    boot_finished: 'basalt login:'\n")
		b, err := os.ReadFile(job)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		if err := os.WriteFile(job, []byte(text[:strings.Index(text, "\n- test:")+1]), 0o644); err != nil {
			t.Fatal(err)
		}
		o := l.run(t, job)
		if o.code != 0 || o.job.String("result") != "pass" {
			t.Fatalf("job did not complete: exit %d, %v", o.code, o.job)
		}
		for _, c := range []string{"installer-wait", "power-off"} {
			if r := o.result("lava", c); r == nil || r.String("result") != "pass" {
				t.Errorf("%s: %v", c, r)
			}
		}
	})
	t.Run("grub-efi", func(t *testing.T) {
		// GRUB through the firmware's boot manager: the board stops at
		// its UEFI shell, the device's uefi-menu sequence walks OVMF's
		// front page and Boot Manager to the PXE entry, which loads GRUB.
		l := newX86Lab(t, "grub-efi")
		o := l.run(t, exampleJob(t, "grub-efi", url))
		wantBoardSmoke(t, o)
		for _, want := range []string{"Boot Manager Menu", "GNU GRUB"} {
			if !o.logHas("", want) {
				t.Errorf("the log does not show %q", want)
			}
		}
		for _, c := range []string{"uefi-menu-interrupt", "grub-efi-menu-selector"} {
			if r := o.result("lava", c); r == nil || r.String("result") != "pass" {
				t.Errorf("%s: %v", c, r)
			}
		}
	})
	t.Run("uefi-shell", func(t *testing.T) {
		l := newX86Lab(t, "uefi")
		o := l.run(t, exampleJob(t, "uefi", url))
		wantBoardSmoke(t, o)
		if !o.logHas("", "UEFI Interactive Shell") {
			t.Error("the log does not show the UEFI shell")
		}
	})
	t.Run("ipxe", func(t *testing.T) {
		l := newX86Lab(t, "ipxe")
		o := l.run(t, exampleJob(t, "ipxe", url))
		wantBoardSmoke(t, o)
		if !o.logHas("", "iPXE") {
			t.Error("the log does not show iPXE")
		}
	})
	t.Run("ipxe-bootscript", func(t *testing.T) {
		// use_bootscript: the commands go into an iPXE script in the
		// job's TFTP folder, chained from the iPXE prompt.
		l := newX86Lab(t, "ipxe")
		o := l.run(t, exampleJob(t, "ipxe", url, "    method: ipxe\n", "    method: ipxe\n    use_bootscript: true\n"))
		wantBoardSmoke(t, o)
		if !o.logHas("", "chain tftp://10.0.2.2/") {
			t.Error("the log does not show the script chained")
		}
	})
}

// TestX86BoardFailures: a bootloader that never offers the interrupt
// the device expects, and a file the bootloader fetches missing from
// the TFTP folder. Each ends incomplete with LAVA's error class, the log
// and results written, the board powered off and the TFTP folder gone.
func TestX86BoardFailures(t *testing.T) {
	needX86Firmware(t)
	url := server(t, nil)
	t.Run("never-interrupted", func(t *testing.T) {
		l := newX86Lab(t, "grub", "{% set grub_autoboot_prompt = 'a prompt this GRUB never prints' %}",
			"{% set connection_timeout_bootloader_interrupt = 60 %}")
		o := l.run(t, exampleJob(t, "grub", url))
		if o.code == 0 || o.errorType() != "Job" || !strings.Contains(o.job.String("error_msg"), "interrupt prompt") {
			t.Fatalf("want a Job error about the interrupt prompt, got exit %d, %v", o.code, o.job)
		}
		if !o.logHas("", "GNU GRUB") {
			t.Error("the log does not show the GRUB menu the job failed to interrupt")
		}
	})
	t.Run("tftp-file-missing", func(t *testing.T) {
		l := newX86Lab(t, "grub")
		// The job's own commands (LAVA uses them instead of the
		// device's, with a warning), asking for a kernel the TFTP
		// folder does not have.
		job := exampleJob(t, "grub", url, "    commands: ramdisk\n",
			"    commands:\n    - net_bootp\n    - 'linux (tftp,{SERVER_IP})/basalt-missing/vmlinuz console=ttyS0,115200'\n    - boot\n")
		o := l.run(t, job)
		// GRUB's TFTP says "error: File not found.", which is not among
		// LAVA's GRUB error messages (its "error: file '...' not found"
		// is a disk's); the next command then fails on one that is,
		// as under LAVA.
		if o.code == 0 || o.errorType() != "Infrastructure" || !strings.Contains(o.job.String("error_msg"), "bootloader error message") {
			t.Fatalf("want an Infrastructure error on a GRUB error message, got exit %d, %v", o.code, o.job)
		}
		if !o.logHas("", "error: File not found.") {
			t.Error("the log does not show GRUB's TFTP error")
		}
	})
}
