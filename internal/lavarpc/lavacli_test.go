package lavarpc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
)

// lavaclis are the real clients to run: Debian's lavacli 1.2 on PATH, and
// lavacli 2.x where BASALT_LAVACLI2 names it (shared/tools/get-lavacli2.sh
// DIR makes DIR/lavacli).
func lavaclis(t *testing.T) map[string]string {
	out := map[string]string{}
	if p, err := exec.LookPath("lavacli"); err == nil {
		out["1.2"] = p
	}
	if p := os.Getenv("BASALT_LAVACLI2"); p != "" {
		out["2.x"] = p
	}
	if len(out) == 0 {
		t.Skip("no lavacli: apt-get install lavacli, and BASALT_LAVACLI2=DIR/lavacli from shared/tools/get-lavacli2.sh DIR")
	}
	return out
}

// TestLavacli runs lavacli's daily commands against the methods, as a
// user does, and checks what it prints.
func TestLavacli(t *testing.T) {
	for version, bin := range lavaclis(t) {
		t.Run(version, func(t *testing.T) { testLavacli(t, bin) })
	}
}

func testLavacli(t *testing.T, bin string) {
	e := newEnv(t)
	ctx := context.Background()
	dir := t.TempDir()
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	run := func(user string, args ...string) (string, error) {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(cctx, bin, append([]string{"--uri", e.url(user, "/RPC2")}, args...)...)
		cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+dir, "HOME="+dir, "PYTHONIOENCODING=utf-8")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// expect runs a command that must succeed and print lines matching
	// each pattern.
	expect := func(user string, args []string, patterns ...string) string {
		t.Helper()
		out, err := run(user, args...)
		if err != nil {
			t.Errorf("lavacli %s as %q: %v\n%s", strings.Join(args, " "), user, err, out)
			return out
		}
		for _, p := range patterns {
			if !regexp.MustCompile("(?m)" + p).MatchString(out) {
				t.Errorf("lavacli %s: output does not match %q:\n%s", strings.Join(args, " "), p, out)
			}
		}
		return out
	}
	job := file("job.yaml", jobDef(t, "lavacli é", "public"))
	expect("alice", []string{"system", "version"}, `^2026\.07$`)
	expect("alice", []string{"system", "whoami"}, `^alice$`)
	expect("", []string{"system", "whoami"}, `^<AnonymousUser>$`)
	if out, err := run("nobody", "system", "version"); err == nil || !strings.Contains(out, "401") {
		t.Errorf("a bad token: %v\n%s", err, out)
	}
	expect("alice", []string{"devices", "list"}, `^\* qemu01 \(qemu\): Idle,Unknown$`, `^\* qemu02 \(qemu\): Idle,Unknown$`)
	expect("alice", []string{"devices", "show", "qemu01"}, `^name\s*: qemu01$`, `^worker\s*: w1$`, `^tags\s*: \['kvm'\]$`)
	expect("alice", []string{"devices", "dict", "get", "qemu01"}, `^\{% extends 'qemu.jinja2' %\}$`)
	expect("alice", []string{"devices", "dict", "get", "--render", "qemu01"}, `^actions:$`)
	expect("alice", []string{"devices", "dict", "get", "qemu01", "netdevice"}, `^user$`)
	if out, err := run("alice", "devices", "dict", "set", "qemu02", file("d.jinja2", qemuDict)); err == nil {
		t.Errorf("dict set by a non-admin succeeded:\n%s", out)
	}
	expect("admin", []string{"devices", "dict", "set", "qemu02", file("d.jinja2", qemuDict)})
	expect("alice", []string{"devices", "dict", "get", "qemu02"}, `^\{% set netdevice = 'user' %\}$`)
	expect("alice", []string{"device-types", "list"}, `^\* bbb \(1\)$`, `^\* qemu \(2\)$`)
	expect("alice", []string{"device-types", "show", "qemu"}, `^name\s*: qemu$`, `^devices\s*: \['qemu01', 'qemu02'\]$`)
	expect("alice", []string{"device-types", "template", "get", "qemu"}, `^\{% extends .base\.jinja2. %\}$`)
	// Set on bbb: a qemu template replaced by this would make the job below
	// unrunnable on every qemu device.
	expect("admin", []string{"device-types", "template", "set", "bbb", file("t.jinja2", "{# from lavacli #}\n")})
	expect("alice", []string{"device-types", "template", "get", "bbb"}, `^\{# from lavacli #\}$`)
	expect("alice", []string{"workers", "list"}, `^\* w1$`, `^\* w2$`)
	expect("alice", []string{"workers", "show", "w1"}, `^hostname\s*: w1$`, `^devices\s*: qemu01$`)

	out := expect("alice", []string{"jobs", "submit", job}, `^\d+$`)
	var id int64
	fmt.Sscan(strings.TrimSpace(out), &id)
	sid := fmt.Sprint(id)
	expect("alice", []string{"jobs", "show", sid}, `^id\s*: `+sid+`$`, `^description\s*: lavacli é$`, `^state\s*: Submitted$`, `^submitter\s*: alice$`)
	expect("alice", []string{"jobs", "show", sid, "--yaml"}, `^submit_time: `)
	expect("alice", []string{"jobs", "definition", sid}, `^job_name: lavacli é$`)
	expect("alice", []string{"jobs", "list"}, `^\* `+sid+`: Submitted,Unknown \[alice\] \(lavacli é\) - qemu$`)
	// The job runs on qemu01 with a log and results, then finishes.
	must(t, e.st.Schedule(ctx, []store.Assignment{{Job: id, Device: "qemu01"}}))
	if _, ok, err := e.st.ClaimJob(ctx, "w1", time.Now()); !ok || err != nil {
		t.Fatalf("ClaimJob = %v, %v", ok, err)
	}
	e.addLog(id,
		`- {dt: '2026-12-07T02:00:00.000000', lvl: info, msg: 'start: 1 deploy'}`,
		`- {dt: '2026-12-07T02:00:01.000000', lvl: target, msg: 'Linux version 6.1'}`,
		`- {dt: '2026-12-07T02:00:02.000000', lvl: results, msg: {case: pwd, definition: 0_smoke, result: pass}}`)
	must(t, e.st.AddResults(ctx, id, []store.Result{{Suite: "0_smoke", Case: "pwd", Result: "pass"}, {Suite: "lava", Case: "job", Result: "pass"}}))
	expect("alice", []string{"jobs", "logs", "--no-follow", sid}, `start: 1 deploy`, `Linux version 6\.1`)
	must(t, e.st.FinishJob(ctx, id, store.Finish{Health: store.JobComplete}, time.Now()))
	expect("alice", []string{"jobs", "wait", sid})
	expect("alice", []string{"jobs", "logs", sid}, `start: 1 deploy`, `Linux version 6\.1`)
	expect("alice", []string{"jobs", "logs", "--start", "2", sid}, `pwd`)
	expect("alice", []string{"results", sid}, `^\* 0_smoke\.pwd \[pass\]$`, `^\* lava\.job \[pass\]$`)
	expect("alice", []string{"results", sid, "--yaml"}, `^- suite: 0_smoke|name: pwd`)
	expect("alice", []string{"results", sid, "0_smoke"}, `^\* 0_smoke\.pwd \[pass\]$`)
	// Cancel: a second job, canceled while queued.
	out = expect("alice", []string{"jobs", "submit", job}, `^\d+$`)
	second := strings.TrimSpace(out)
	expect("alice", []string{"jobs", "cancel", second})
	expect("alice", []string{"jobs", "show", second}, `^state\s*: Finished$`, `^Health\s*: Canceled$|^health\s*: Canceled$`)
	// Administration.
	expect("admin", []string{"devices", "maintenance", "--no-wait", "qemu02"})
	expect("alice", []string{"devices", "list"}, `^\* qemu02 \(qemu\): Idle,Maintenance$`)
	expect("admin", []string{"devices", "update", "--health", "GOOD", "qemu02"})
	expect("alice", []string{"devices", "show", "qemu02"}, `^health\s*: Good$`)
	expect("admin", []string{"devices", "tags", "add", "qemu02", "usb"})
	expect("alice", []string{"devices", "tags", "list", "qemu02"}, `^\* usb$`)
	expect("admin", []string{"workers", "maintenance", "--no-wait", "w2"})
	expect("alice", []string{"jobs", "queue"})
}
