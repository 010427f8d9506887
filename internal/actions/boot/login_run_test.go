package boot_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/actions/boot"
	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// scriptedJob boots a "guest" that is a shell script on the console:
// the device's QEMU command is sh, its option the script. The script
// plays the kernel, login(1) and the shell.
const scriptedJob = `
timeouts: {job: {minutes: 2}, action: {seconds: 30}}
context: {arch: amd64}
actions:
- deploy:
    to: tmpfs
    os: oe
    images: {kernel: {url: 'http://127.0.0.1:1/k', image_arg: '-kernel {kernel}'}}
- boot:
    method: qemu
    media: tmpfs
    timeout: {seconds: 20}
    prompts: ['root@x:~# ']
@BOOT@
- test:
    definitions:
    - {repository: {metadata: {format: Lava-Test Test Definition 1.0, name: s, description: s}, run: {steps: [true]}},
       from: inline, name: s, path: inline/s.yaml}
`

const scriptedDevice = `
available_architectures: [amd64]
actions:
  deploy: {methods: {image: {parameters: {guest: {}}}}}
  boot: {methods: {qemu: {parameters: {command: sh, options: ['@SCRIPT@']}}}}
constants:
  kernel-start-message: 'Linux version [0-9]'
  qemu: {error-messages: ['Bad Linux ARM64 Image magic']}
`

// runScripted runs the boot block and finalize of scriptedJob, the boot
// block extended with boot (indented YAML keys), on script.
func runScripted(t *testing.T, script, bootExtra string) *bootRun {
	t.Helper()
	path := filepath.Join(t.TempDir(), "guest.sh")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	params := decode(t, strings.ReplaceAll(scriptedJob, "@BOOT@", bootExtra))
	dev := decode(t, strings.ReplaceAll(scriptedDevice, "@SCRIPT@", path))
	j, err := pipeline.BuildJob("42", params, dev)
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
	var keep []pipeline.Action
	for _, a := range j.Pipeline.Actions {
		if s := a.ActionBase().Section; s == "boot" || s == "finalize" {
			keep = append(keep, a)
		}
	}
	j.Pipeline.Actions = keep
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run.err = j.Run(ctx)
	j.Runtime.Log.Flush()
	run.log = log.String()
	run.session, _ = j.Runtime.Data("common", boot.DataConnection).(*connection.Session)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("job log:\n%s", tail(run.log, 60))
		}
	})
	return run
}

// The guest's pieces. Each waits for its input with read, as login(1)
// and a shell do; the shell answers every line with a prompt.
const (
	kernelBoot = `printf 'Linux version 6.1.0 (test)\n[ 0.5] booting\n'
`
	shell = `printf 'root@x:~# '
while read -r l; do printf '%s\nroot@x:~# ' "$l"; done
`
	login = `printf 'x login: '; read -r u
printf 'Password: '; read -r p
if [ "$u:$p" != root:secret ]; then printf '\nLogin incorrect\nx login: '; sleep 30; exit 1; fi
`
	autoLogin = `
    auto_login: {login_prompt: 'login:', username: root, password_prompt: 'Password:', password: secret, login_commands: ['export A=1']}`
)

func TestLogin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, script, boot string
		class              pipeline.Class // "" for success
		msg                string         // in the error, or in the log on success
		kernel             []string       // kinds in the kernel-messages result
		kernelResult       string         // its result, "" when none is recorded
	}{
		{name: "password and login commands", script: kernelBoot + login + shell, boot: autoLogin,
			msg: "export A=1", kernelResult: "pass"},
		{name: "kernel warning on the way", boot: autoLogin,
			script: kernelBoot + `printf '[ 1.0] WARNING: CPU: 0 PID: 1 at x\n[ 1.1] Modules linked in:\n[ 1.2] ---[ end trace 0 ]---\n'
` + login + shell,
			msg: "login-action: kernel 'warning'", kernel: []string{"warning"}, kernelResult: "pass"},
		{name: "no auto_login, straight to the shell", script: kernelBoot + shell,
			msg: "No login prompt set.", kernelResult: "pass"},
		{name: "wrong password", boot: strings.Replace(autoLogin, "password: secret", "password: wrong", 1),
			script: kernelBoot + login + shell, class: pipeline.ClassJob, msg: "Login incorrect", kernelResult: "pass"},
		{name: "misspelt password prompt", boot: strings.Replace(autoLogin, "'Password:'", "'Passwd:'", 1),
			script: kernelBoot + `printf 'x login: '; read -r u; printf 'Password: '; sleep 0.2; printf '\nLogin timed out after 60 seconds\n'; sleep 30`,
			class:  pipeline.ClassJob, msg: "Password prompt not matched", kernelResult: "pass"},
		{name: "login asked without auto_login",
			script: kernelBoot + `printf 'x login: '; sleep 0.2; printf '\nLogin timed out after 60 seconds\n'; sleep 30`,
			class:  pipeline.ClassJob, msg: "auto_login not enabled but image requested login details", kernelResult: "pass"},
		{name: "failure message", boot: "\n    failure_message: 'Segmentation fault'",
			script: kernelBoot + `printf 'init: Segmentation fault\n'; sleep 30`,
			class:  pipeline.ClassJob, msg: "Matched job-specific failure message: 'Segmentation fault'", kernelResult: "fail"},
		{name: "kernel panic",
			script: kernelBoot + `printf '[ 2.0] Kernel panic - not syncing: No working init found.\n[ 2.1] CPU: 0\n[ 2.2] ---[ end Kernel panic - not syncing: No working init found. ]---\n'; sleep 30`,
			class:  pipeline.ClassJob, msg: "Kernel panic - not syncing: No working init found.", kernel: []string{"panic"}, kernelResult: "fail"},
		{name: "kernel messages ignored", boot: "\n    ignore_kernel_messages: true",
			script: kernelBoot + `printf 'Oops: 0000 [#1]\n'` + "\n" + shell, kernelResult: "pass"},
		{name: "bootloader error", script: `printf 'Bad Linux ARM64 Image magic!\n'; sleep 30`,
			class: pipeline.ClassInfrastructure, msg: "matched a bootloader error message: 'Bad Linux ARM64 Image magic' (1)"},
		{name: "console ends during login", boot: autoLogin,
			script: kernelBoot + `printf 'x login: '; read -r u; exit 3`,
			class:  pipeline.ClassInfrastructure, msg: "ended (exit status 3) while waiting for the password prompt", kernelResult: "pass"},
		{name: "prompt not a Go regular expression", boot: "\n    failure_message: '(?<=x)y'",
			script: kernelBoot + shell, class: pipeline.ClassJob, msg: "failure_message \"(?<=x)y\" is not a regular expression"},
		{
			// The shell prints its prompt only when it gets the "#" line:
			// expect-shell waits half its time, then sends one.
			name: "forced prompt", boot: "\n    timeouts: {expect-shell-connection: {seconds: 2}}",
			script: kernelBoot + `printf 'root@x:~# '; read -r l; read -r l; printf 'root@x:~# '; sleep 30`,
			msg:    "Sending # in case of corruption",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runScripted(t, tt.script, tt.boot)
			if tt.class == "" {
				if r.err != nil {
					t.Fatalf("job failed: %v", r.err)
				}
				if strings.Join(r.session.Prompts, "|") != "root@x:~# " {
					t.Errorf("session prompts %q", r.session.Prompts)
				}
				if !strings.Contains(r.log, tt.msg) {
					t.Errorf("log lacks %q", tt.msg)
				}
			} else {
				if pipeline.ClassOf(r.err) != tt.class || !strings.Contains(r.err.Error(), tt.msg) {
					t.Fatalf("error %v (%s), want %s containing %q", r.err, pipeline.ClassOf(r.err), tt.class, tt.msg)
				}
			}
			reaped(t, r.session)
			km := r.result("kernel-messages")
			if tt.kernelResult == "" {
				if km != nil && tt.class != "" {
					t.Errorf("kernel-messages recorded: %v", value.GoString(km))
				}
				return
			}
			if km == nil || km.String("result") != tt.kernelResult {
				t.Fatalf("kernel-messages %v, want result %s", value.GoString(km), tt.kernelResult)
			}
			var kinds []string
			for _, e := range km.Map("extra").List("extra") {
				if k := e.(*value.Map).String("kind"); k != "" {
					kinds = append(kinds, k)
				}
			}
			if strings.Join(kinds, ",") != strings.Join(tt.kernel, ",") {
				t.Errorf("kernel-messages kinds %q, want %q", kinds, tt.kernel)
			}
		})
	}
}
