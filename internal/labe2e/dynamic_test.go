package labe2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/labtest"
	"github.com/basalt-lava/basalt/internal/sshdtest"
)

// MultiNode secondary connections through the lab (LAVA's dynamic
// connections): the e2e tests' ssh-secondary.yaml group submitted to
// `basalt server`, its host role on an ssh device (a real sshd) of a
// `basalt worker`, its guest role (connection: ssh, host_role: host)
// without a device of its own, started by the same worker and running
// its tests on the host role's device at the address the host sends.

// secondaryLab starts sshd and a lab whose one worker has it as device
// ssh01, with the MultiNode coordinator; lease is the server's (zero
// for its default).
func secondaryLab(t *testing.T, lease time.Duration) (*lab, *sshdtest.Server) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs a lab with a real sshd: skipped under -short")
	}
	sshdtest.Need(t)
	srv := sshdtest.Start(t, sshdtest.Options{})
	dict := labtest.File(t, "ssh01.jinja2", srv.Dictionary(false))
	l := newLab(t, labtest.Config{Coordinator: true, Workers: []string{"w1"}, Lease: lease,
		Devices: []labtest.Device{{Name: "ssh01", Worker: "w1", DeviceType: "ssh", Dictionary: dict}}})
	return l, srv
}

// secondaryJob is the e2e group for srv, after edit.
func secondaryJob(t *testing.T, srv *sshdtest.Server, edit func(string) string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(labtest.Root, "internal", "e2e", "testdata", "ssh-secondary.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "@PROMPT@", srv.Prompt)
	if edit != nil {
		text = edit(text)
	}
	return labtest.File(t, "group.yaml", text)
}

// submitGroup submits a group of two and returns the host's and the
// guest's ids (N.0, N.1: the roles in the submission's order).
func submitGroup(t *testing.T, l *lab, c lavacli, file string) (string, string) {
	t.Helper()
	r := ok(t, l.lavacli(t, c, "admin", "jobs", "submit", file))
	ids := subJobLine.FindAllStringSubmatch(r.stdout, -1)
	if len(ids) != 2 {
		t.Fatalf("jobs submit of a group of 2: want two sub-job ids: %s", r)
	}
	return ids[0][1], ids[1][1]
}

// nothingLeft checks that no job process of the worker, no ssh client
// with the device's key and no session on the device is left.
func nothingLeft(t *testing.T, l *lab, srv *sshdtest.Server) {
	t.Helper()
	labtest.WaitFor(t, 30*time.Second, "the group's processes gone", func() bool {
		return len(labtest.ProcessesMentioning(l.JobsDir("w1"))) == 0 && len(labtest.ProcessesMentioning(srv.ClientKey)) == 0
	})
	labtest.WaitFor(t, 10*time.Second, "no session left on the device", func() bool {
		for _, s := range srv.Leftovers() {
			if strings.HasPrefix(s, "process") {
				return false
			}
		}
		return true
	})
	f := fields(ok(t, l.lavacli(t, anyLavacli(t), "admin", "devices", "show", "ssh01")).stdout)
	if f["state"] != "Idle" {
		t.Errorf("device ssh01 is %q after the group, want Idle", f["state"])
	}
}

// TestSecondaryConnection: the group completes; the guest ran on the
// host role's device (both overlays are there), both jobs' results are
// recorded, and lavacli 1.2 and 2.9 show the guest as LAVA shows a
// dynamic connection: no device type, no device.
func TestSecondaryConnection(t *testing.T) {
	l, srv := secondaryLab(t, 0)
	c := anyLavacli(t)
	host, guest := submitGroup(t, l, c, secondaryJob(t, srv, nil))
	for _, id := range []string{host, guest} {
		ok(t, l.lavacli(t, c, "admin", "jobs", "wait", id, "--polling", "1"))
	}
	clients := []lavacli{c}
	if c.name == "lavacli-2.9" {
		if _, err := os.Stat("/usr/bin/lavacli"); err == nil {
			clients = append(clients, lavacli12(t))
		}
	}
	for _, c := range clients {
		wantFields(t, l.lavacli(t, c, "admin", "jobs", "show", host), map[string]string{
			"id": host, "state": "Finished", "Health": "Complete", "device-type": "ssh", "device": "ssh01"})
		wantFields(t, l.lavacli(t, c, "admin", "jobs", "show", guest), map[string]string{
			"id": guest, "state": "Finished", "Health": "Complete", "device-type": "None", "device": "None"})
	}
	results := map[string][]string{
		host:  {"* 0_ssh-host.host-address [pass]", "* 0_ssh-host.multinode-send-ipv4 [pass]", "* 0_ssh-host.multinode-sync-clients [pass]", "* lava.job [pass]"},
		guest: {"* 0_ssh-guest.on-the-device [pass]", "* 0_ssh-guest.my-role [pass]", "* 0_ssh-guest.multinode-sync-clients [pass]", "* lava.job [pass]"},
	}
	for id, want := range results {
		r := ok(t, l.lavacli(t, c, "admin", "results", id))
		for _, w := range want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("results %s lack %q:\n%s", id, w, clip(r.stdout, 40))
			}
		}
	}
	log := ok(t, l.lavacli(t, c, "admin", "jobs", "logs", guest, "--raw", "--no-follow")).stdout
	for _, w := range []string{"lava-start received from role host", "secondary connection", "root@" + srv.Addr} {
		if !strings.Contains(log, w) {
			t.Errorf("the guest's log lacks %q", w)
		}
	}
	// Both overlays were unpacked on the one device.
	overlays, _ := filepath.Glob(filepath.Join(srv.Root, "lava-*", "bin", "lava-test-runner"))
	if len(overlays) != 2 {
		t.Errorf("overlays on the host role's device: %v, want the host's and the guest's", overlays)
	}
	nothingLeft(t, l, srv)
}

// TestSecondaryConnectionEnds: one side of the group fails mid-test
// (lava-test-raise, an essential role) while the other waits for it at
// a lava-sync: the failing job ends Incomplete with a Test error, the
// other is canceled by the server and ends Canceled. A user canceling
// the guest while it runs on the host's device cancels both. Nothing is
// left running on the worker or the device.
func TestSecondaryConnectionEnds(t *testing.T) {
	l, srv := secondaryLab(t, 0)
	c := anyLavacli(t)
	cases := []struct {
		name, failing string
		edit          func(string) string
	}{
		{"host fails", "host", func(s string) string {
			return strings.Replace(s, "          - lava-sync clients\n      from: inline\n      name: ssh-host",
				"          - lava-test-raise host-gives-up\n      from: inline\n      name: ssh-host", 1)
		}},
		{"guest fails", "guest", func(s string) string {
			s = strings.Replace(s, "        host_role: host\n", "        host_role: host\n        essential: true\n", 1)
			return strings.Replace(s, "          - lava-sync clients\n      from: inline\n      name: ssh-guest",
				"          - lava-test-raise guest-gives-up\n      from: inline\n      name: ssh-guest", 1)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			host, guest := submitGroup(t, l, c, secondaryJob(t, srv, tc.edit))
			for _, id := range []string{host, guest} {
				ok(t, l.lavacli(t, c, "admin", "jobs", "wait", id, "--polling", "1"))
			}
			failing, other := host, guest
			if tc.failing == "guest" {
				failing, other = guest, host
			}
			y := l.showYAML(t, c, failing)
			if y.String("health") != "Incomplete" || y.String("error_type") != "Test" || !strings.Contains(y.String("error_msg"), "gives-up") {
				t.Errorf("%s (%s): health %v error %v %q, want Incomplete with the Test error it raised", tc.failing, failing,
					y.Value("health"), y.Value("error_type"), y.String("error_msg"))
			}
			if h := l.showYAML(t, c, other).String("health"); h != "Canceled" {
				t.Errorf("the other side (%s): health %q, want Canceled", other, h)
			}
			if t.Failed() {
				for _, id := range []string{host, guest} {
					t.Logf("log of %s:\n%s", id, clip(l.lavacli(t, c, "admin", "jobs", "logs", id, "--raw", "--no-follow").stdout, 400))
				}
			}
			nothingLeft(t, l, srv)
		})
	}
	t.Run("guest canceled", func(t *testing.T) {
		// The host never reaches its lava-sync: it waits for the
		// guest's message, which never comes.
		host, guest := submitGroup(t, l, c, secondaryJob(t, srv, hostWaits))
		l.waitLogged(t, c, guest, "on-the-device")
		ok(t, l.lavacli(t, c, "admin", "jobs", "cancel", guest))
		for _, id := range []string{host, guest} {
			ok(t, l.lavacli(t, c, "admin", "jobs", "wait", id, "--polling", "1"))
			if h := l.showYAML(t, c, id).String("health"); h != "Canceled" {
				t.Errorf("%s after canceling the guest: health %q, want Canceled", id, h)
			}
		}
		nothingLeft(t, l, srv)
	})
}

// hostWaits makes the host role wait at its end for a message that never
// comes, so that the group is still running when the test acts.
func hostWaits(s string) string {
	return strings.Replace(s, "          - lava-sync clients\n      from: inline\n      name: ssh-host",
		"          - lava-wait never-sent\n      from: inline\n      name: ssh-host", 1)
}

// TestSecondaryConnectionLeaseLost: the worker running both roles of the
// group is killed while the guest runs on the host's device: once its
// lease ran out both jobs end Incomplete with an infrastructure error
// naming the worker, and the device goes to health Unknown.
func TestSecondaryConnectionLeaseLost(t *testing.T) {
	l, srv := secondaryLab(t, 10*time.Second)
	c := anyLavacli(t)
	host, guest := submitGroup(t, l, c, secondaryJob(t, srv, hostWaits))
	l.waitLogged(t, c, guest, "on-the-device")
	l.KillWorker("w1")
	// What the killed worker had started (its jobs' ssh sessions) is
	// not the lab's to end: ended here, as a host's reboot would.
	for _, pid := range labtest.ProcessesMentioning(l.JobsDir("w1")) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, pid := range labtest.ProcessesMentioning(srv.ClientKey) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, id := range []string{host, guest} {
		ok(t, l.lavacli(t, c, "admin", "jobs", "wait", id, "--polling", "1"))
		y := l.showYAML(t, c, id)
		if y.String("health") != "Incomplete" || y.String("error_type") != "Infrastructure" || !strings.Contains(y.String("error_msg"), "w1") {
			t.Errorf("%s after its worker was lost: health %v, error %v %q; want Incomplete, Infrastructure, naming w1",
				id, y.Value("health"), y.Value("error_type"), y.String("error_msg"))
		}
	}
	wantFields(t, l.lavacli(t, c, "admin", "devices", "show", "ssh01"), map[string]string{"health": "Unknown", "state": "Idle"})
}
