package boot_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/actions/boot"
	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/device"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// fixtures are the guest of `make fixtures`: a kernel and an initramfs
// whose getty prints "login:", root logs in without a password and the
// shell prompt is "root@basalt:~# ".
var fixtures = filepath.Join("..", "..", "..", "build", "fixtures", "x86_64")

func needQEMU(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	for _, f := range []string{"vmlinuz", "rootfs.cpio.gz"} {
		if _, err := os.Stat(filepath.Join(fixtures, f)); err != nil {
			t.Skipf("QEMU guest missing, run `make fixtures`: %v", err)
		}
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 is not installed")
	}
}

// bootJob is a job whose boot block the tests run on the fixtures; the
// deploy and test blocks are there so that the pipeline is the one a
// real job gets (image_args, a test shell to wait for), but only the
// boot and finalize actions run: the tests put the downloads' namespace
// data in place themselves.
const bootJob = `
device_type: qemu
job_name: boot-test
timeouts:
  job: {minutes: 5}
  action: {minutes: 2}
context: {arch: amd64, no_kvm: true}
actions:
- deploy:
    to: tmpfs
    os: oe
    images:
      kernel:
        url: http://127.0.0.1:1/vmlinuz
        image_arg: @KERNEL_ARG@
      ramdisk:
        url: http://127.0.0.1:1/rootfs.cpio.gz
        image_arg: -initrd {ramdisk}
- boot:
    method: qemu
    media: tmpfs
    timeout: {seconds: @TIMEOUT@}
    auto_login: {login_prompt: 'login:', username: root}
    prompts: ['@PROMPT@']
- test:
    timeout: {minutes: 1}
    definitions:
    - repository:
        metadata: {format: Lava-Test Test Definition 1.0, name: smoke, description: smoke}
        run: {steps: [echo hello]}
      from: inline
      name: smoke
      path: inline/smoke.yaml
`

type bootCase struct {
	kernelArg string // the kernel's image_arg
	prompt    string
	timeout   int // seconds for the boot block
	guest     bool
}

type bootRun struct {
	err     error
	log     string
	results []*value.Map
	session *connection.Session
	job     *pipeline.Job
}

func (r *bootRun) result(name string) *value.Map {
	for _, m := range r.results {
		if m.String("definition") == "lava" && m.String("case") == name {
			return m
		}
	}
	return nil
}

// runBoot builds the job on the shipped qemu template and runs its boot
// block and finalize through the run loop, as basalt run does.
func runBoot(t *testing.T, c bootCase) *bootRun {
	t.Helper()
	if c.kernelArg == "" {
		c.kernelArg = `-kernel {kernel} -append "console=ttyS0,115200"`
	}
	if c.prompt == "" {
		c.prompt = "root@basalt:~# "
	}
	if c.timeout == 0 {
		c.timeout = 120
	}
	text := strings.NewReplacer("@KERNEL_ARG@", c.kernelArg, "@PROMPT@", c.prompt,
		"@TIMEOUT@", fmt.Sprint(c.timeout)).Replace(bootJob)
	params := decode(t, text)
	cfg, err := device.LoadDevice("testdata/qemu-tcg.jinja2", params.Map("context"), nil)
	if err != nil {
		t.Fatal(err)
	}
	j, err := pipeline.BuildJob("42", params, cfg.Data)
	if err != nil {
		t.Fatal(err)
	}
	if errs := j.Validate(); len(errs) > 0 {
		t.Fatalf("invalid job: %q", errs)
	}
	run := &bootRun{job: j}
	var log bytes.Buffer
	var mu sync.Mutex
	j.Runtime.Log = joblog.New(&log, joblog.Options{OnResult: func(m *value.Map) {
		mu.Lock()
		run.results = append(run.results, m)
		mu.Unlock()
	}})
	j.Runtime.TmpDir = t.TempDir()
	rt := &j.Runtime
	for label, file := range map[string]string{"kernel": "vmlinuz", "ramdisk": "rootfs.cpio.gz"} {
		abs, err := filepath.Abs(filepath.Join(fixtures, file))
		if err != nil {
			t.Fatal(err)
		}
		rt.SetData("common", pipeline.DataDownload(label, pipeline.DownloadFile), abs)
		rt.SetData("common", pipeline.DataDownload(label, pipeline.DownloadImageArg),
			j.Params.List("actions")[0].(*value.Map).Map("deploy").Map("images").Map(label).String("image_arg"))
	}
	if c.guest {
		// An empty disk stands for the overlay disk: the guest never
		// mounts it here, QEMU only has to attach it. The comma in its
		// path must not split QEMU's -drive options.
		dir := filepath.Join(j.Runtime.TmpDir, "a,b")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		disk := filepath.Join(dir, "lava-guest.raw")
		if err := os.WriteFile(disk, make([]byte, 1<<20), 0o644); err != nil {
			t.Fatal(err)
		}
		rt.SetData("common", "apply-overlay-guest/file", disk)
		rt.SetData("common", "apply-overlay-guest/format", "raw")
		rt.SetData("common", "apply-overlay-guest/uuid", "0123-abcd")
		rt.SetData("common", "lava-overlay/results-dir", "/lava-42")
	}
	// Only boot-image-retry and finalize run.
	var keep []pipeline.Action
	for _, a := range j.Pipeline.Actions {
		if s := a.ActionBase().Section; s == "boot" || s == "finalize" {
			keep = append(keep, a)
		}
	}
	j.Pipeline.Actions = keep
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run.err = j.Run(ctx)
	j.Runtime.Log.Flush()
	run.log = log.String()
	run.session, _ = rt.Data("common", boot.DataConnection).(*connection.Session)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("job log:\n%s", tail(run.log, 80))
			if p := os.Getenv("BOOT_TEST_LOG"); p != "" {
				os.WriteFile(p, []byte(run.log), 0o644)
			}
		}
	})
	return run
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// reaped checks that QEMU has exited and that no live process of its
// group is left (a zombie waits for whoever adopted it, not for us).
func reaped(t *testing.T, s *connection.Session) {
	t.Helper()
	if s == nil {
		t.Fatal("no console session was recorded")
	}
	if exited, _ := s.Exited(); !exited {
		t.Errorf("%s has not exited", s.Describe())
	}
	// The group was sent SIGKILL; a grandchild (not ours to reap) may
	// take a moment to go on a loaded machine, so allow it a few seconds.
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := liveInGroup(s.Pid())
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("processes of group %d left: %v", s.Pid(), left)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// liveInGroup lists the processes of process group pgid that are not
// zombies, from /proc/<pid>/stat: "pid (comm) state ppid pgrp ...".
func liveInGroup(pgid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		var state string
		var ppid, pgrp int
		if _, err := fmt.Sscanf(string(stat[i+2:]), "%s %d %d", &state, &ppid, &pgrp); err == nil && pgrp == pgid && state != "Z" {
			out = append(out, pid)
		}
	}
	return out
}

func TestBootToPrompt(t *testing.T) {
	needQEMU(t)
	r := runBoot(t, bootCase{guest: true})
	if r.err != nil {
		t.Fatalf("job failed: %v", r.err)
	}
	reaped(t, r.session)
	if got := strings.Join(r.session.Prompts, "|"); got != "root@basalt:~# " {
		t.Errorf("session prompts %q", got)
	}
	for _, name := range []string{"execute-qemu", "auto-login-action", "login-action", "expect-shell-connection",
		"export-device-env", "boot-image-retry", "power-off", "read-feedback", "finalize"} {
		if m := r.result(name); m == nil || m.String("result") != "pass" {
			t.Errorf("%s: %v", name, value.GoString(m))
		}
	}
	km := r.result("kernel-messages")
	if km == nil || km.String("result") != "pass" || km.String("level") != "2.2.1" {
		t.Errorf("kernel-messages: %v", value.GoString(km))
	}
	eq := r.result("execute-qemu").Map("extra")
	if eq.String("job_arch") != "amd64" || eq.String("host_arch") == "" || eq.String("qemu_version") == "" {
		t.Errorf("execute-qemu extra: %v", value.GoString(eq))
	}
	for _, want := range []string{
		// The shipped template's options, split; no -enable-kvm (no_kvm).
		`-nographic -net nic,model=virtio,macaddr=52:54:00:12:34:58 -net user -m 512 -monitor none -kernel `,
		`/vmlinuz -append console=ttyS0,115200 -initrd `,
		// The overlay disk, its path's comma doubled for QEMU.
		`-drive format=raw,file=` + r.job.Runtime.TmpDir + `/a,,b/lava-guest.raw,media=disk,if=ide,id=lavatest"`,
		"Finalising connection for namespace 'common'",
	} {
		if !strings.Contains(r.log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Contains(r.log, "-enable-kvm") {
		t.Errorf("no_kvm device started QEMU with -enable-kvm")
	}
	pre, _ := r.job.Runtime.Data("common", boot.DataPreCommands).([]string)
	want := []string{"mkdir -p /lava-42", "mount /dev/disk/by-uuid/0123-abcd -t ext2 /lava-42", "ls -la /lava-42/bin/lava-test-runner"}
	if strings.Join(pre, "\n") != strings.Join(want, "\n") {
		t.Errorf("pre-commands %q, want %q", pre, want)
	}
}

func TestBootFailures(t *testing.T) {
	needQEMU(t)
	tests := []struct {
		name  string
		c     bootCase
		class pipeline.Class
		msg   []string // in the error
	}{
		{
			// The guest boots and logs in, but its prompt is not the job's:
			// the boot runs out of time, and QEMU is stopped and reaped.
			name:  "wrong prompt",
			c:     bootCase{prompt: "this-prompt-never-comes# ", timeout: 25},
			class: pipeline.ClassJob, msg: []string{"timed out"},
		},
		{
			name:  "QEMU exits early",
			c:     bootCase{kernelArg: `-kernel {kernel} -no-such-qemu-option`},
			class: pipeline.ClassInfrastructure, msg: []string{"QEMU exited (exit status 1) before the kernel started", "-no-such-qemu-option: invalid option"},
		},
		{
			// No init: the kernel panics and, with panic=0, prints the end
			// of the panic and halts.
			name:  "kernel panic",
			c:     bootCase{kernelArg: `-kernel {kernel} -append "console=ttyS0,115200 rdinit=/nonexistent"`},
			class: pipeline.ClassJob, msg: []string{"Kernel panic - not syncing", "end Kernel panic"},
		},
		{
			// With panic=-1 the kernel reboots at once, without the end
			// line, and -no-reboot makes QEMU exit: still the panic's fault.
			name:  "kernel panic and QEMU exits",
			c:     bootCase{kernelArg: `-kernel {kernel} -no-reboot -append "console=ttyS0,115200 rdinit=/nonexistent panic=-1"`},
			class: pipeline.ClassJob, msg: []string{"Kernel panic - not syncing"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBoot(t, tt.c)
			if r.err == nil {
				t.Fatal("the job succeeded")
			}
			t.Logf("job ended: %s: %v", pipeline.ClassOf(r.err), r.err)
			if got := pipeline.ClassOf(r.err); got != tt.class {
				t.Errorf("class %s, want %s: %v", got, tt.class, r.err)
			}
			for _, m := range tt.msg {
				if !strings.Contains(r.err.Error(), m) {
					t.Errorf("error %q lacks %q", r.err, m)
				}
			}
			reaped(t, r.session)
			// The job ended before finalize: its cleanup ran it.
			if m := r.result("read-feedback"); m == nil || !strings.Contains(r.log, "Finalising connection for namespace 'common'") {
				t.Errorf("finalize did not run after the failure")
			}
		})
	}
}
