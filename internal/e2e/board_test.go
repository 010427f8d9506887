package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/proctest"
)

// The boards of issue 14, end to end through the basalt binary: an arm64
// board (QEMU's virt machine running Debian's U-Boot) powered by its
// dictionary's power commands (`basalt board`), its console reached with
// telnet, its kernel, DTB and ramdisk over TFTP (QEMU's user network
// serving the job's TFTP root), the test shell over that console. Each
// case checks the class the job ends with, that its logs are written,
// that no QEMU or telnet is left and that the TFTP root is empty again.

// boardFixtures is build/fixtures/arm64 (make fixtures-arm64).
func boardFixtures(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("boots QEMU: skipped under -short")
	}
	root, _ := filepath.Abs("../..")
	dir := filepath.Join(root, "build", "fixtures", "arm64")
	missing := ""
	for _, f := range []string{"Image", "virt.dtb", "rootfs.cpio.gz"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			missing = fmt.Sprintf("fixture %s missing (make fixtures-arm64)", f)
		}
	}
	for _, tool := range []string{"qemu-system-aarch64", "telnet", "mkimage"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = tool + " is not installed (make fixtures-arm64)"
		}
	}
	if _, err := os.Stat("/usr/lib/u-boot/qemu_arm64/u-boot.bin"); err != nil {
		missing = "u-boot-qemu is not installed (make fixtures-arm64)"
	}
	if missing != "" {
		if os.Getenv("BASALT_E2E") == "1" {
			t.Fatal(missing)
		}
		t.Skip(missing)
	}
	return dir
}

// board is one emulated board of a test: its dictionary, the dispatcher
// configuration and the folders both name.
type board struct {
	device, dispatcher string
	tftp, state        string
	port               string
}

// newBoard writes a dictionary for qemu-uboot-arm64 on a free port with
// its own TFTP root and state folder; extra are more {% set %} lines.
func newBoard(t *testing.T, extra ...string) *board {
	t.Helper()
	dir := t.TempDir()
	b := &board{tftp: filepath.Join(dir, "tftp"), state: filepath.Join(dir, "state")}
	_, b.port, _ = strings.Cut(closedPort(t), ":")
	if err := os.Mkdir(b.tftp, 0o755); err != nil {
		t.Fatal(err)
	}
	dict := fmt.Sprintf(`{%% extends 'qemu-uboot-arm64.jinja2' %%}
{%% set board_state_dir = '%s' %%}
{%% set board_serial_port = %s %%}
{%% set tftp_root = '%s' %%}
{%% set basalt_command = '%s' %%}
%s
`, b.state, b.port, b.tftp, basalt, strings.Join(extra, "\n"))
	b.device = filepath.Join(dir, "board.jinja2")
	b.dispatcher = filepath.Join(dir, "dispatcher.yaml")
	if err := os.WriteFile(b.device, []byte(dict), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("dispatcher_ip: 10.0.2.2\ntftp_root: %s\n", b.tftp)
	if err := os.WriteFile(b.dispatcher, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Should a case fail half-way, no board runs on.
		exec.Command(basalt, "board", "power-off", "--state", b.state).Run()
	})
	return b
}

// boardJob is examples/board/job.yaml with the fixtures at url, more
// steps after the example's, and edits (old, new pairs).
func boardJob(t *testing.T, url string, steps []string, edits ...string) string {
	t.Helper()
	data, err := os.ReadFile("../../examples/board/job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(data), "http://127.0.0.1:8000", url)
	var more strings.Builder
	for _, st := range steps {
		fmt.Fprintf(&more, "\n          - %s", st)
	}
	s = strings.Replace(s, "          - lava-test-case kernel-version --shell uname -r",
		"          - lava-test-case kernel-version --shell uname -r"+more.String(), 1)
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(s, edits[i]) {
			t.Fatalf("job edit: %q not in the example job", edits[i])
		}
		s = strings.Replace(s, edits[i], edits[i+1], 1)
	}
	path := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func boardServer(t *testing.T, dir string) string {
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv.URL
}

// runBoardJob runs basalt on the board; on, when the job's output has a
// line containing a key, calls its function once (while the job runs).
func runBoardJob(t *testing.T, b *board, jobPath string, on map[string]func()) *outcome {
	t.Helper()
	dir := t.TempDir()
	out, tmp := filepath.Join(dir, "out"), filepath.Join(dir, "tmp")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, basalt, "run", jobPath, "--device", b.device, "--dispatcher-config", b.dispatcher,
		"--output-dir", out, "--tmp-dir", tmp, "--job-id", "1414")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	var stdout bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			stdout.WriteString(line + "\n")
			for key, f := range on {
				if strings.Contains(line, key) {
					delete(on, key)
					go f()
				}
			}
		}
	}()
	err = cmd.Wait()
	wg.Wait()
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
	// No board, no console client: QEMU names the TFTP root, telnet the
	// port.
	assertNoLeftovers(t, b.tftp)
	assertNoLeftovers(t, "telnet\x00127.0.0.1\x00"+b.port+"\x00")
	entries, err := os.ReadDir(b.tftp)
	if err != nil || len(entries) > 0 {
		t.Errorf("TFTP root not empty after the job: %v %v", entries, err)
	}
	if _, err := os.Stat(filepath.Join(b.state, "board.pid")); err == nil {
		t.Error("the board's pid file is left: the board was not powered off")
	}
	o.readLog(t)
	for _, f := range []string{"results.yaml", "description.yaml"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	return o
}

// TestBoardUBoot is the job a lab runs on a U-Boot board: power, serial
// console, TFTP, test shell.
func TestBoardUBoot(t *testing.T) {
	t.Parallel()
	fix := boardFixtures(t)
	b := newBoard(t)
	o := runBoardJob(t, b, boardJob(t, boardServer(t, fix), nil), nil)
	if o.code != 0 || o.job.String("result") != "pass" {
		t.Fatalf("exit %d, job %v", o.code, o.job)
	}
	for _, c := range []string{"arch-is-arm64", "ramdisk-root", "console-uart", "device-tree", "kernel-version"} {
		if r := o.result("0_board-smoke", c); r == nil || r.String("result") != "pass" {
			t.Errorf("test case %s: %v", c, r)
		}
	}
	for _, want := range []string{"Connecting to device using 'telnet 127.0.0.1 " + b.port + "'", "board reset --state",
		"tftp 0x40400000 basalt-1414-", "booti 0x40400000 0x44100000 0x44000000", "Starting kernel", "board power-off --state"} {
		if !o.logHas("", want) && !strings.Contains(o.stdout, want) {
			t.Errorf("the job's log lacks %q", want)
		}
	}
}

// boardProcess returns the pid of the first process whose command line
// contains s.
func boardProcess(s string) int {
	pids := proctest.Mentioning(s)
	if len(pids) == 0 {
		return 0
	}
	return pids[0]
}

func TestBoardFailures(t *testing.T) {
	t.Parallel()
	fix := boardFixtures(t)
	url := boardServer(t, fix)
	short := []string{"  connection:\n    minutes: 2\n", "  connection:\n    minutes: 2\n  connections:\n    bootloader-interrupt:\n      seconds: 15\n"}
	tests := []struct {
		name  string
		extra []string // dictionary lines
		edits []string
		steps []string
		// on: marker in the output → what the test does then (given the
		// board), to the job's connection or board.
		on        string
		do        func(t *testing.T, b *board)
		class     string // error_type; "" for a complete job
		msg       string
		logs      string // a log line the case must have
		afterDrop bool
	}{
		{name: "bootloader never interrupts", extra: []string{"{% set interrupt_prompt = 'Press the any key' %}"},
			// Two attempts: the retry powers the board again.
			edits: append(short, "    commands: ramdisk\n", "    commands: ramdisk\n    failure_retry: 2\n"),
			class: "Job", msg: "wait for prompt timed out", logs: "uboot-action failed: 1 of 2 attempts"},
		{name: "tftp file missing", extra: []string{"{% set tftp_root = '" + "/nonexistent-tftp-root-of-the-test" + "' %}"},
			class: "Infrastructure", msg: "matched a bootloader error message: 'File not found'"},
		{name: "board does not power on", extra: []string{"{% set board_firmware = '/nonexistent/u-boot.bin' %}"},
			class: "Infrastructure", msg: "Unable to reboot"},
		{name: "connection drops mid-test", steps: []string{"echo BOARD-DROP-MARK; sleep 6", "lava-test-case after-drop --shell true"},
			on: "BOARD-DROP-MARK", do: func(t *testing.T, b *board) {
				pid := boardProcess("telnet\x00127.0.0.1\x00" + b.port + "\x00")
				if pid == 0 {
					t.Error("no telnet to kill")
					return
				}
				syscall.Kill(pid, syscall.SIGKILL)
			}, logs: "Connection lost", afterDrop: true},
		{name: "board dies mid-test", steps: []string{"echo BOARD-DROP-MARK; sleep 300"},
			on: "BOARD-DROP-MARK", do: func(t *testing.T, b *board) {
				data, _ := os.ReadFile(filepath.Join(b.state, "board.pid"))
				f := strings.Fields(string(data))
				if len(f) == 0 {
					t.Error("no board pid")
					return
				}
				pid, _ := strconv.Atoi(f[0])
				syscall.Kill(pid, syscall.SIGKILL)
			}, class: "Infrastructure", msg: "no connection for 30s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBoard(t, tt.extra...)
			on := map[string]func(){}
			if tt.on != "" {
				on[tt.on] = func() { tt.do(t, b) }
			}
			o := runBoardJob(t, b, boardJob(t, url, tt.steps, tt.edits...), on)
			if tt.class == "" {
				if o.code != 0 || o.job.String("result") != "pass" {
					t.Fatalf("exit %d, job %v", o.code, o.job)
				}
			} else {
				if o.code == 0 || o.errorType() != tt.class || !strings.Contains(o.job.String("error_msg"), tt.msg) {
					t.Fatalf("exit %d, error %s %q; want %s %q", o.code, o.errorType(), o.job.String("error_msg"), tt.class, tt.msg)
				}
			}
			if tt.logs != "" && !o.logHas("", tt.logs) {
				t.Errorf("the log lacks %q", tt.logs)
			}
			if tt.afterDrop {
				if r := o.result("0_board-smoke", "after-drop"); r == nil || r.String("result") != "pass" {
					t.Errorf("after-drop: %v", r)
				}
			}
		})
	}
}

// A dispatcher killed outright (SIGKILL) mid-test cannot run finalize:
// its janitor powers the board off with the dictionary's power_off
// command and removes the job's TFTP folder.
func TestBoardDispatcherKilled(t *testing.T) {
	t.Parallel()
	fix := boardFixtures(t)
	b := newBoard(t)
	job := boardJob(t, boardServer(t, fix), []string{"echo BOARD-KILL-MARK; sleep 300"})
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, basalt, "run", job, "--device", b.device, "--dispatcher-config", b.dispatcher,
		"--output-dir", filepath.Join(dir, "out"), "--tmp-dir", filepath.Join(dir, "tmp"), "--job-id", "1515")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	var out bytes.Buffer
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	killed := false
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if !killed && strings.Contains(sc.Text(), "BOARD-KILL-MARK") && !strings.Contains(sc.Text(), "echo BOARD-KILL-MARK") {
			// The board runs and the TFTP folder is there.
			if !bytes.Contains(mustRead(t, filepath.Join(b.state, "board.pid")), []byte(" ")) {
				t.Error("no board running at the mark")
			}
			cmd.Process.Kill()
			killed = true
		}
	}
	cmd.Wait()
	if !killed {
		t.Fatalf("the job never reached the mark:\n%s", lastLines(out.String(), 60))
	}
	if left := proctest.Linger(b.tftp, 30*time.Second); len(left) > 0 {
		proctest.Kill(left)
		t.Fatalf("the board's QEMU is left running after the dispatcher was killed: %v", left)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		entries, _ := os.ReadDir(b.tftp)
		if len(entries) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the TFTP folder is left: %v", entries)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if left := proctest.Linger("telnet\x00127.0.0.1\x00"+b.port+"\x00", 10*time.Second); len(left) > 0 {
		proctest.Kill(left)
		t.Errorf("telnet left running: %v", left)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
	}
	return b
}
