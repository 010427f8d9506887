package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/sshdtest"
	"github.com/basalt-lava/basalt/internal/value"
)

// The SSH device cases run a job on LAVA's ssh device type against a real
// sshd (internal/sshdtest: Debian's openssh-server, started by the test,
// its logins in a chroot of their own): the overlay goes over scp, the
// test shell runs in the ssh session.

// needSSH skips under -short (TestMain builds no binary then) and where
// sshd cannot run (sshdtest.Need: a failure with BASALT_E2E=1).
func needSSH(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs basalt against a real sshd: skipped under -short")
	}
	sshdtest.Need(t)
}

// sshJob renders testdata/ssh-job.yaml.
func sshJob(t *testing.T, name, prompt string, retry, bootTimeout int) string {
	t.Helper()
	b, err := os.ReadFile("testdata/ssh-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := strings.NewReplacer("@CASE@", name, "@PROMPT@", prompt, "@RETRY@", strconv.Itoa(retry), "@BOOT_TIMEOUT@", strconv.Itoa(bootTimeout))
	path := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(path, []byte(r.Replace(string(b))), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeDevice writes a device dictionary for the job.
func writeDevice(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ssh-device.jinja2")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runOn runs basalt on the job with the device (or devices, ROLE=PATH)
// and reads its outcome, as runJob does.
func runOn(t *testing.T, jobPath string, devices ...string) *outcome {
	t.Helper()
	return basaltRun(t, runSpec{job: jobPath, devices: devices, id: "4242", limit: 5 * time.Minute, tail: 80})
}

// noSessionLeft checks that, once the job ended, nothing runs in the
// device's chroot: the job's ssh session and test shell are gone.
func noSessionLeft(t *testing.T, s *sshdtest.Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := s.Leftovers()
		var procs []string
		for _, l := range left {
			if strings.HasPrefix(l, "process") {
				procs = append(procs, l)
			}
		}
		if len(procs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job left processes on the device: %v", procs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func stopAndCheck(t *testing.T, s *sshdtest.Server) {
	t.Helper()
	s.Stop(t)
	if left := s.Leftovers(); len(left) > 0 {
		t.Errorf("left behind after sshd stopped: %v", left)
	}
}

func TestSSHDeviceJob(t *testing.T) {
	needSSH(t)
	srv := sshdtest.Start(t, sshdtest.Options{})
	dev := writeDevice(t, srv.Dictionary(false))
	o := runOn(t, sshJob(t, "complete", srv.Prompt, 1, 60), dev)
	o.readLog(t)
	if o.code != 0 {
		t.Fatalf("exit %d, job %v", o.code, value.GoString(o.job))
	}
	for name, want := range map[string]string{"on-the-device": "pass", "overlay-unpacked": "pass", "always-fail": "fail", "measured": "pass"} {
		if r := o.result("0_ssh-smoke", name); r == nil || r.String("result") != want {
			t.Errorf("%s: got %v, want %s", name, value.GoString(r), want)
		}
	}
	for _, a := range []string{"scp-deploy", "ssh-connection", "scp-overlay-unpack", "lava-test-shell"} {
		if r := o.result("lava", a); r == nil || r.String("result") != "pass" {
			t.Errorf("lava/%s: %v", a, value.GoString(r))
		}
	}
	// Unpacked as LAVA does for os: debian, with GNU tar's flags.
	if !o.logHas("", "tar --warning no-timestamp -C / -xzf /lava-4242/overlay-") {
		t.Errorf("the overlay was not unpacked with the deployment's tar_flags")
	}
	// The overlay landed in the device's file system, not the
	// dispatcher's.
	if _, err := os.Stat(filepath.Join(srv.Root, "lava-4242", "bin", "lava-test-runner")); err != nil {
		t.Errorf("overlay not on the device: %v", err)
	}
	if _, err := os.Stat("/lava-4242"); err == nil {
		t.Errorf("/lava-4242 exists on the dispatcher")
	}
	noSessionLeft(t, srv)
	stopAndCheck(t, srv)
}

// The ways an ssh device job fails end the job incomplete with the
// class LAVA gives them, a message naming the host, and nothing left
// running on the dispatcher or the device.
func TestSSHDeviceFailures(t *testing.T) {
	needSSH(t)
	cases := []struct {
		name      string
		opts      sshdtest.Options
		device    func(s *sshdtest.Server) string
		prompt    string
		timeout   int
		retry     int
		errorType string
		message   []string
	}{
		{
			name: "key-refused",
			opts: sshdtest.Options{RefuseClientKey: true},
			// Each attempt makes a new connection, the failed one closed.
			retry:     2,
			errorType: "Infrastructure",
			message:   []string{"refused the login of root with the key", "client_key", "127.0.0.2"},
		},
		{
			name: "unreachable",
			device: func(s *sshdtest.Server) string {
				// A port nothing listens on.
				_, port, _ := strings.Cut(closedPort(t), ":")
				return strings.Replace(s.Dictionary(false), fmt.Sprintf("ssh_port = %d ", s.Port), "ssh_port = "+port+" ", 1)
			},
			errorType: "Infrastructure",
			message:   []string{"the host cannot be reached", "127.0.0.2", "connection refused"},
		},
		{
			name:      "prompt-never-seen",
			prompt:    "no-such-prompt# ",
			timeout:   8,
			errorType: "Infrastructure",
			message:   []string{"scp-deploy timed out after 8 seconds"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := sshdtest.Start(t, c.opts)
			dict := srv.Dictionary(false)
			if c.device != nil {
				dict = c.device(srv)
			}
			prompt, timeout := srv.Prompt, c.timeout
			if c.prompt != "" {
				prompt = c.prompt
			}
			jobPath := sshJob(t, c.name, prompt, max(c.retry, 1), 60)
			if c.timeout != 0 {
				// scp-deploy's own timeout, as LAVA's timeouts.actions
				// sets it, is the one that runs out.
				b, _ := os.ReadFile(jobPath)
				b = []byte(strings.Replace(string(b), "timeouts:\n", fmt.Sprintf("timeouts:\n  actions:\n    scp-deploy:\n      seconds: %d\n", timeout), 1))
				if err := os.WriteFile(jobPath, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			o := runOn(t, jobPath, writeDevice(t, dict))
			o.readLog(t)
			if o.code == 0 {
				t.Fatalf("the job passed: %v", value.GoString(o.job))
			}
			if o.job.String("result") != "fail" || o.errorType() != c.errorType {
				t.Errorf("job result %v, want fail with error_type %s", value.GoString(o.job), c.errorType)
			}
			t.Logf("error_msg: %s", o.job.String("error_msg"))
			for _, m := range c.message {
				if !strings.Contains(o.job.String("error_msg"), m) {
					t.Errorf("error_msg %q lacks %q", o.job.String("error_msg"), m)
				}
			}
			if c.retry > 1 && !o.logHas("", fmt.Sprintf("login-ssh failed: %d of %d attempts", c.retry, c.retry)) {
				t.Errorf("login-ssh was not tried %d times", c.retry)
			}
			noSessionLeft(t, srv)
			stopAndCheck(t, srv)
		})
	}
}

// runSecondary runs testdata/ssh-secondary.yaml, after edit, with the
// server as the host role's device and the guest role's (secondary)
// device, and returns basalt's exit status, its output folder and
// output.
func runSecondary(t *testing.T, srv *sshdtest.Server, edit func(string) string) (int, string, string) {
	t.Helper()
	b, err := os.ReadFile("testdata/ssh-secondary.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "@PROMPT@", srv.Prompt)
	if edit != nil {
		text = edit(text)
	}
	jobPath := filepath.Join(t.TempDir(), "group.yaml")
	if err := os.WriteFile(jobPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	host := writeDevice(t, srv.Dictionary(false))
	guest := writeDevice(t, srv.Dictionary(true))
	o := basaltRun(t, runSpec{job: jobPath, devices: []string{"host=" + host, "guest=" + guest}, id: "100",
		limit: 5 * time.Minute, tail: 150})
	return o.code, o.dir, o.stdout
}

// A MultiNode group with a secondary ssh connection (LAVA's
// connection: ssh, host_role): the host role runs on an ssh device (the
// real sshd) and lava-sends the address sshd answered on; the guest role,
// with no device of its own, waits for that message in
// prepare-scp-overlay, copies its overlay to that address and runs its
// tests on the host role's device. Both meet at a lava-sync.
func TestSSHSecondaryConnection(t *testing.T) {
	needSSH(t)
	srv := sshdtest.Start(t, sshdtest.Options{})
	code, out, _ := runSecondary(t, srv, nil)
	if code != 0 {
		t.Fatalf("basalt run: exit %d", code)
	}
	hostJob := readOutcome(t, filepath.Join(out, "host-0"))
	guestJob := readOutcome(t, filepath.Join(out, "guest-0"))
	for _, c := range []string{"host-address", "multinode-send-ipv4", "multinode-send-lava_start", "multinode-sync-clients"} {
		wantPass(t, "host-0", hostJob, "0_ssh-host", c)
	}
	for _, c := range []string{"on-the-device", "my-role", "multinode-sync-clients"} {
		wantPass(t, "guest-0", guestJob, "0_ssh-guest", c)
	}
	if !guestJob.logHas("", "lava-start received from role host") {
		t.Errorf("guest-0: no delayed start in its log")
	}
	if !guestJob.logHas("", "secondary connection") || !guestJob.logHas("", "root@"+srv.Addr) {
		t.Errorf("guest-0: did not connect to %s as a secondary connection", srv.Addr)
	}
	// Both overlays are on the one device: the guest's tests ran there.
	for _, id := range []string{"100", "101"} {
		if _, err := os.Stat(filepath.Join(srv.Root, "lava-"+id, "bin", "lava-test-runner")); err != nil {
			t.Errorf("overlay of job %s not on the host role's device: %v", id, err)
		}
	}
	noSessionLeft(t, srv)
	stopAndCheck(t, srv)
}

// The address a host role sends is another job's data: one that would be
// read as an ssh option ends the guest with a Job error before ssh or
// scp runs, and the host, which does not wait for the guest here, ends
// complete.
func TestSSHSecondaryHostileAddress(t *testing.T) {
	needSSH(t)
	srv := sshdtest.Start(t, sshdtest.Options{})
	code, out, _ := runSecondary(t, srv, func(s string) string {
		s = strings.Replace(s, "lava-send ipv4 ipaddr=$ADDR", "lava-send ipv4 ipaddr=-F/tmp/pwned", 1)
		// The host's lava-sync: the guest never gets there.
		return strings.Replace(s, "          - lava-sync clients\n      from: inline\n      name: ssh-host", "      from: inline\n      name: ssh-host", 1)
	})
	if code == 0 {
		t.Fatal("the group passed")
	}
	guestJob := readOutcome(t, filepath.Join(out, "guest-0"))
	msg := guestJob.job.String("error_msg")
	if guestJob.errorType() != "Job" || !strings.Contains(msg, "-F/tmp/pwned") || !strings.Contains(msg, "not a host name or an IP address") {
		t.Errorf("guest-0 ended %v, want a Job error refusing the address", value.GoString(guestJob.job))
	}
	if guestJob.logHas("", "Connecting to device") {
		t.Errorf("guest-0 started ssh with the hostile address")
	}
	hostJob := readOutcome(t, filepath.Join(out, "host-0"))
	if hostJob.job.String("result") != "pass" {
		t.Errorf("host-0 ended %v, want complete", value.GoString(hostJob.job))
	}
	noSessionLeft(t, srv)
	stopAndCheck(t, srv)
}

// TestSSHTimingBesideLAVA runs the same ssh device job with Debian's
// lava-dispatcher (lava-run, 2023.01) and with basalt run against the
// same sshd, alternately, and logs each run's wall time and the medians.
// It measures, it asserts nothing about times; it runs only when asked:
//
//	BASALT_SSH_TIMING=5 go test ./internal/e2e -run TestSSHTimingBesideLAVA -v
func TestSSHTimingBesideLAVA(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("BASALT_SSH_TIMING"))
	if n <= 0 {
		t.Skip("set BASALT_SSH_TIMING=N to time N runs of each")
	}
	needSSH(t)
	if _, err := exec.LookPath("lava-run"); err != nil {
		t.Skip("lava-run (Debian's lava-dispatcher) is not installed")
	}
	srv := sshdtest.Start(t, sshdtest.Options{})
	corpus := filepath.Join("..", "..", "..", "shared", "lava-corpus")
	rendered, err := os.ReadFile(filepath.Join(corpus, "rendered", "dev", "ssh-host-01.yaml"))
	if err != nil {
		t.Skipf("LAVA's rendering of ssh-host-01 (the corpus): %v", err)
	}
	// LAVA's own rendering of an ssh device, pointed at the server.
	lavaDev := strings.NewReplacer(`host: "localhost"`, `host: "`+srv.Addr+`"`, "port: 8022", "port: "+strconv.Itoa(srv.Port),
		`identity_file: "dynamic_vm_keys/lava"`, `identity_file: "`+srv.ClientKey+`"`).Replace(string(rendered))
	dir := t.TempDir()
	lavaDevPath := filepath.Join(dir, "lava-device.yaml")
	if err := os.WriteFile(lavaDevPath, []byte(lavaDev), 0o644); err != nil {
		t.Fatal(err)
	}
	jobPath := sshJob(t, "timing", srv.Prompt, 1, 60)
	basaltDev := writeDevice(t, srv.Dictionary(false))
	// Debian's Python, not a pyenv one first on PATH.
	env := append(os.Environ(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	var lava, ours []time.Duration
	for i := 0; i < n; i++ {
		out := filepath.Join(dir, fmt.Sprintf("lava-%d", i))
		cmd := exec.Command("lava-run", "--job-id", "4242", "--output-dir", out, "--device", lavaDevPath, jobPath)
		cmd.Env = env
		var log bytes.Buffer
		cmd.Stdout, cmd.Stderr = &log, &log
		start := time.Now()
		err := cmd.Run()
		lava = append(lava, time.Since(start))
		// lava-run logs on stdout; the job's own result ends it.
		if err != nil || !strings.Contains(log.String(), `"case": "job", "definition": "lava", "result": "pass"`) ||
			!strings.Contains(log.String(), "TEST_CASE_ID=on-the-device RESULT=pass") {
			t.Fatalf("lava-run: %v\n%s", err, lastLines(log.String(), 60))
		}
		start = time.Now()
		o := runOn(t, jobPath, basaltDev)
		ours = append(ours, time.Since(start))
		if o.code != 0 {
			t.Fatalf("basalt run: exit %d\n%s", o.code, lastLines(o.stdout, 40))
		}
		t.Logf("run %d: lava-run %.2fs, basalt run %.2fs", i+1, lava[i].Seconds(), ours[i].Seconds())
	}
	ml, mb := median(lava), median(ours)
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("median of %d: lava-run %.2fs, basalt run %.2fs, ratio %.1fx (load average %s)", n, ml.Seconds(), mb.Seconds(), ml.Seconds()/mb.Seconds(), strings.TrimSpace(string(load)))
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
