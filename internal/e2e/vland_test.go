package e2e

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/vlandtest"
)

// The VLANd cases run a MultiNode group of three ssh devices, each an
// sshd (internal/sshdtest) in a network namespace of its own
// (internal/vlandtest, shared with internal/labe2e): eth0, a
// veth pair to the host, is the lab network the dispatcher reaches it
// by; test0 (and test1 for alpha) are veth pairs whose host ends are the
// ports of switch sw1 of `basalt vland`, started by the test with its
// bridge driver (one bridge per VLAN). The group is
// testdata/vland-group.yaml.

// vlandLab is the devices and cabling of one test, a device by role.
type vlandLab struct {
	*vlandtest.Lab
	devices map[string]string // role → device dictionary file
}

// vlandRoles are the roles' devices: their test interfaces, each a port
// of sw1, and its tags.
var vlandRoles = []vlandtest.Device{
	{Name: "alpha", Ifaces: []string{"test0", "test1"}, Tags: []string{"1G", "RJ45"}},
	{Name: "beta", Ifaces: []string{"test0"}, Tags: []string{"1G", "RJ45"}},
	{Name: "gamma", Ifaces: []string{"test0"}, Tags: []string{"1G", "RJ45"}},
}

// newVlandLab makes the lab (vlandtest.New) and writes the dictionaries.
func newVlandLab(t *testing.T) *vlandLab {
	t.Helper()
	needSSH(t)
	lab := &vlandLab{Lab: vlandtest.New(t, vlandRoles), devices: map[string]string{}}
	for _, r := range vlandRoles {
		lab.devices[r.Name] = writeDevice(t, lab.Dicts[r.Name])
	}
	return lab
}

// startVland starts basalt vland on the lab's switch.
func (lab *vlandLab) startVland(t *testing.T, tags string) *vlandtest.Daemon {
	return lab.StartVland(t, basalt, tags)
}

// runVlandGroup runs the group with the lab's devices against VLANd at
// addr; essential makes alpha the group's essential role; edit, if not
// nil, changes the job; during, if not nil, runs while basalt does.
func (lab *vlandLab) runVlandGroup(t *testing.T, addr string, essential bool, edit func(string) string, during func(*exec.Cmd)) (int, string) {
	t.Helper()
	b, err := os.ReadFile("testdata/vland-group.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ess := ""
	if essential {
		ess = "        essential: true"
	}
	text := strings.Replace(string(b), "@ESSENTIAL@", ess, 1)
	if edit != nil {
		text = edit(text)
	}
	jobPath := filepath.Join(t.TempDir(), "group.yaml")
	if err := os.WriteFile(jobPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out, tmp := filepath.Join(dir, "out"), filepath.Join(dir, "tmp")
	argv := []string{"run", jobPath, "--output-dir", out, "--tmp-dir", tmp, "--job-id", "300", "--vland", addr}
	for _, r := range vlandRoles {
		argv = append(argv, "--device", r.Name+"="+lab.devices[r.Name])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, basalt, argv...)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &lockedBuffer{b: &stdout}, &lockedBuffer{b: &stdout}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if during != nil {
		during(cmd)
	}
	err = cmd.Wait()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("basalt output:\n%s", lastLines(stdout.String(), 200))
		}
	})
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	assertNoLeftovers(t, tmp)
	return code, out
}

func TestVland(t *testing.T) {
	lab := newVlandLab(t)

	// Daemon down: every sub-job finds it so before waiting on the
	// others, and ends with an Infrastructure error.
	t.Run("daemon down", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		code, out := lab.runVlandGroup(t, addr, false, nil, nil)
		if code == 0 {
			t.Fatal("the group completed without VLANd")
		}
		for _, r := range vlandRoles {
			o := readOutcome(t, filepath.Join(out, r.Name+"-0"))
			if o.errorType() != "Infrastructure" || !strings.Contains(o.job.String("error_msg"), "VLANd at "+addr) {
				t.Errorf("%s: %s error: %s, want an Infrastructure error naming VLANd at %s", r.Name, o.errorType(), o.job.String("error_msg"), addr)
			}
		}
	})

	// VLANd refusing the second VLAN (one tag to allocate): alpha, the
	// essential role that creates them, ends with an Infrastructure
	// error, the others are canceled, and the VLAN it did create is
	// deleted.
	t.Run("creation refused", func(t *testing.T) {
		d := lab.startVland(t, "{min: 100, max: 100}")
		code, out := lab.runVlandGroup(t, d.Addr, true, nil, nil)
		if code == 0 {
			t.Fatal("the group completed although VLANd refused a VLAN")
		}
		alpha := readOutcome(t, filepath.Join(out, "alpha-0"))
		if alpha.errorType() != "Infrastructure" || !strings.Contains(alpha.job.String("error_msg"), "no free tag left in 100..100") {
			t.Errorf("alpha: %s error: %s, want VLANd's refusal as an Infrastructure error", alpha.errorType(), alpha.job.String("error_msg"))
		}
		// gamma waits for vlan_two, which never comes, until the group
		// cancels it; beta may be canceled too, or find vlan_one already
		// deleted by alpha's tear-down when it sets its port.
		if o := readOutcome(t, filepath.Join(out, "gamma-0")); o.errorType() != "Canceled" {
			t.Errorf("gamma: %s error: %s, want Canceled by the essential role", o.errorType(), o.job.String("error_msg"))
		}
		if o := readOutcome(t, filepath.Join(out, "beta-0")); o.errorType() != "Canceled" &&
			!(o.errorType() == "Infrastructure" && strings.Contains(o.job.String("error_msg"), "VLANd refused")) {
			t.Errorf("beta: %s error: %s, want Canceled, or VLANd's refusal", o.errorType(), o.job.String("error_msg"))
		}
		d.CheckClean(t)
		d.Stop(t)
	})

	// The group: beta and alpha meet on vlan_one, gamma and alpha on
	// vlan_two; beta and gamma, which reach each other on the default
	// VLAN before the job, do not on their VLANs.
	t.Run("isolation", func(t *testing.T) {
		d := lab.startVland(t, "{min: 100, max: 199}")
		vlandtest.CheckDefaultVLAN(t, lab.Netns["beta"], lab.Netns["gamma"])

		code, out := lab.runVlandGroup(t, d.Addr, false, nil, nil)
		if code != 0 {
			t.Errorf("basalt run: exit %d", code)
		}
		want := map[string][]string{
			"alpha": {"vlan-names", "addressed", "reach-beta", "reach-gamma"},
			"beta":  {"vlan-names", "addressed", "reach-alpha", "isolated-from-gamma"},
			"gamma": {"vlan-names", "addressed", "reach-alpha", "isolated-from-beta"},
		}
		for role, cases := range want {
			o := readOutcome(t, filepath.Join(out, role+"-0"))
			for _, c := range cases {
				wantPass(t, role, o, "0_vland-"+role, c)
			}
			if !o.logHas("", "Setting switch sw1 port") {
				t.Errorf("%s: no port set onto its VLAN in the log", role)
			}
		}
		d.CheckClean(t)
		d.Stop(t)
	})
}

// lockedBuffer lets basalt's stdout and stderr share one buffer.
type lockedBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// holdGroup makes beta sleep instead of meeting the others at "done":
// the group stays in its tests until it is stopped.
func holdGroup(s string) string {
	i := strings.Index(s, "name: vland-beta")
	j := strings.Index(s[i:], "- lava-sync done")
	return s[:i+j] + "- sleep 120" + s[i+j+len("- lava-sync done"):]
}

// signalOnVLANs waits until every port is on a VLAN, lets the tests
// start, and sends sig to basalt; it reports whether the ports got there.
func signalOnVLANs(t *testing.T, d *vlandtest.Daemon, cmd *exec.Cmd, sig os.Signal) bool {
	deadline := time.Now().Add(2 * time.Minute)
	onVLANs := false
	for time.Now().Before(deadline) && !onVLANs {
		_, ports := d.State(t)
		moved := 0
		for _, p := range ports {
			if p["current_vlan_id"] != p["base_vlan_id"] {
				moved++
			}
		}
		onVLANs = moved == len(ports)
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	cmd.Process.Signal(sig)
	return onVLANs
}

// Canceled mid-test (SIGINT to basalt run once every port is on its
// VLAN): every job ends Canceled, and their tear-down still puts the
// ports back and deletes the VLANs.
func TestVlandCanceled(t *testing.T) {
	lab := newVlandLab(t)
	d := lab.startVland(t, "{min: 100, max: 199}")
	onVLANs := false
	code, out := lab.runVlandGroup(t, d.Addr, false, holdGroup, func(cmd *exec.Cmd) {
		onVLANs = signalOnVLANs(t, d, cmd, os.Interrupt)
	})
	if !onVLANs {
		t.Fatal("the ports never all went onto their VLANs")
	}
	if code == 0 {
		t.Fatal("basalt run exited 0 after SIGINT")
	}
	for _, r := range vlandRoles {
		o := readOutcome(t, filepath.Join(out, r.Name+"-0"))
		if o.errorType() != "Canceled" {
			t.Errorf("%s: %s error: %s, want Canceled", r.Name, o.errorType(), o.job.String("error_msg"))
		}
		if !o.logHas("", "Finalizing port") {
			t.Errorf("%s: its ports were not restored", r.Name)
		}
	}
	d.CheckClean(t)
	d.Stop(t)
}

// Killed mid-test (SIGKILL to basalt run): no tear-down of its own runs,
// but the janitor's helper (internal/janitor) runs each job's
// `basalt vland release`, which puts the ports back and deletes the
// VLANs.
func TestVlandKilled(t *testing.T) {
	lab := newVlandLab(t)
	d := lab.startVland(t, "{min: 100, max: 199}")
	onVLANs := false
	lab.runVlandGroup(t, d.Addr, false, holdGroup, func(cmd *exec.Cmd) {
		onVLANs = signalOnVLANs(t, d, cmd, syscall.SIGKILL)
	})
	if !onVLANs {
		t.Fatal("the ports never all went onto their VLANs")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		vlans, _ := d.State(t)
		if len(vlans) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	d.CheckClean(t)
	d.Stop(t)
}
