package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/sshdtest"
	"github.com/basalt-lava/basalt/internal/vland"
)

// The VLANd cases run a MultiNode group of three ssh devices, each an
// sshd (internal/sshdtest) in a network namespace of its own: eth0, a
// veth pair to the host, is the lab network the dispatcher reaches it
// by; test0 (and test1 for alpha) are veth pairs whose host ends are the
// ports of switch sw1 of `basalt vland`, started by the test with its
// bridge driver (one bridge per VLAN). The group is
// testdata/vland-group.yaml.

// vlandLab is the devices and cabling of one test.
type vlandLab struct {
	tag     string            // in every name the test makes
	devices map[string]string // role → device dictionary
	netns   map[string]string // role → namespace
	ports   []string          // switch port interfaces, port 1..n
	servers []*sshdtest.Server
}

// vlandRoles are the roles, their test interfaces and their switch
// ports (numbers on sw1).
var vlandRoles = []struct {
	role   string
	ifaces []string
}{
	{"alpha", []string{"test0", "test1"}},
	{"beta", []string{"test0"}},
	{"gamma", []string{"test0"}},
}

func ipRun(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// hostLinks lists the host's links and the namespaces whose name holds
// tag: what the test made, for the leftover checks.
func leftWith(tag string) []string {
	var out []string
	ents, _ := os.ReadDir("/sys/class/net")
	for _, e := range ents {
		if strings.Contains(e.Name(), tag) {
			out = append(out, "link "+e.Name())
		}
	}
	ns, _ := os.ReadDir("/run/netns")
	for _, e := range ns {
		if strings.Contains(e.Name(), tag) {
			out = append(out, "netns "+e.Name())
		}
	}
	return out
}

// newVlandLab makes the namespaces, links and sshd servers. Cleanup
// stops the servers, deletes the namespaces (which deletes their veth
// pairs) and checks that nothing the test made is left.
func newVlandLab(t *testing.T) *vlandLab {
	t.Helper()
	needSSH(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("ip (iproute2) is not installed")
	}
	n := rand.Intn(10000)
	lab := &vlandLab{tag: fmt.Sprintf("%04d", n), devices: map[string]string{}, netns: map[string]string{}}
	// The management links' /30s on the host, from the same number, so
	// that two runs on one machine do not route to each other's devices.
	mgmt := fmt.Sprintf("10.%d.%d", 200+n%50, n/50)
	t.Cleanup(func() {
		// Last: the servers were stopped, the namespaces deleted.
		deadline := time.Now().Add(5 * time.Second)
		for {
			left := leftWith(lab.tag)
			if len(left) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("left behind: %v", left)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	port := 0
	for i, r := range vlandRoles {
		ns := "bvn" + lab.tag + r.role
		ipRun(t, "netns", "add", ns)
		lab.netns[r.role] = ns
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		host, addr := fmt.Sprintf("bvm%s%d", lab.tag, i), fmt.Sprintf("%s.%d", mgmt, 4*i+2)
		ipRun(t, "link", "add", "name", host, "type", "veth", "peer", "name", "eth0", "netns", ns)
		ipRun(t, "addr", "add", fmt.Sprintf("%s.%d/30", mgmt, 4*i+1), "dev", host)
		ipRun(t, "link", "set", "dev", host, "up")
		ipRun(t, "-n", ns, "addr", "add", addr+"/30", "dev", "eth0")
		ipRun(t, "-n", ns, "link", "set", "dev", "eth0", "up")
		ipRun(t, "-n", ns, "link", "set", "dev", "lo", "up")
		var ifaces, sysfs, macs, maps, tags []string
		for j, iface := range r.ifaces {
			port++
			sp := fmt.Sprintf("bvs%sp%d", lab.tag, port)
			mac := fmt.Sprintf("02:00:00:00:%02x:%02x", i+1, j+1)
			ipRun(t, "link", "add", "name", sp, "type", "veth", "peer", "name", iface, "netns", ns)
			ipRun(t, "-n", ns, "link", "set", "dev", iface, "address", mac)
			lab.ports = append(lab.ports, sp)
			ifaces = append(ifaces, fmt.Sprintf("'%s'", iface))
			sysfs = append(sysfs, fmt.Sprintf("'%s': '/sys/devices/virtual/net/%s'", iface, iface))
			macs = append(macs, fmt.Sprintf("'%s': '%s'", iface, mac))
			maps = append(maps, fmt.Sprintf("'%s': {'sw1': %d}", iface, port))
			tags = append(tags, fmt.Sprintf("'%s': ['1G', 'RJ45']", iface))
		}
		srv := sshdtest.Start(t, sshdtest.Options{Listen: addr, Netns: ns})
		lab.servers = append(lab.servers, srv)
		dict := srv.Dictionary(false) + fmt.Sprintf(
			"{%% set interfaces = [%s] %%}\n{%% set sysfs = {%s} %%}\n{%% set mac_addr = {%s} %%}\n{%% set map = {%s} %%}\n{%% set tags = {%s} %%}\n",
			strings.Join(ifaces, ", "), strings.Join(sysfs, ", "), strings.Join(macs, ", "), strings.Join(maps, ", "), strings.Join(tags, ", "))
		lab.devices[r.role] = writeDevice(t, dict)
	}
	return lab
}

// vlandDaemon is a `basalt vland` process.
type vlandDaemon struct {
	addr   string
	cmd    *exec.Cmd
	out    *bytes.Buffer
	prefix string
}

// startVland starts basalt vland on the lab's switch; tags bounds the
// tags it allocates. Cleanup stops it if the test did not.
func (lab *vlandLab) startVland(t *testing.T, tags string) *vlandDaemon {
	t.Helper()
	prefix := "bve" + lab.tag
	var conf strings.Builder
	fmt.Fprintf(&conf, "bridge_prefix: %s\ntags: %s\nswitches:\n- name: sw1\n  driver: bridge\n  ports:\n", prefix, tags)
	for i, p := range lab.ports {
		fmt.Fprintf(&conf, "  - {number: %d, interface: %s}\n", i+1, p)
	}
	path := filepath.Join(t.TempDir(), "vland.yaml")
	if err := os.WriteFile(path, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &vlandDaemon{out: &bytes.Buffer{}, prefix: prefix}
	d.cmd = exec.Command(basalt, "vland", "--config", path, "--listen", "127.0.0.1:0", "--loglevel", "DEBUG")
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stderr = d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.stop(t) })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		d.stop(t)
		t.Fatalf("basalt vland did not start: %v\n%s", err, d.out)
	}
	go func() { _, _ = bufio.NewReader(stdout).WriteTo(new(bytes.Buffer)) }()
	f := strings.Fields(strings.TrimPrefix(line, "basalt vland: listening on "))
	if len(f) == 0 {
		t.Fatalf("unexpected first line %q", line)
	}
	d.addr = f[0]
	return d
}

// stop ends the daemon with SIGTERM (it takes its VLANs down) and
// checks it exited cleanly and left no bridge.
func (d *vlandDaemon) stop(t *testing.T) {
	t.Helper()
	if d.cmd.ProcessState != nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("basalt vland: %v\n%s", err, d.out)
		}
	case <-time.After(30 * time.Second):
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Errorf("basalt vland did not stop on SIGTERM\n%s", d.out)
	}
	for _, l := range leftWith(d.prefix) {
		t.Errorf("left after basalt vland stopped: %s", l)
	}
}

// state asks the daemon for its VLANs and its ports.
func (d *vlandDaemon) state(t *testing.T) (vlans []map[string]any, ports []map[string]any) {
	t.Helper()
	c := &vland.Client{Addr: d.addr, ClientName: "e2e"}
	for _, q := range []struct {
		cmd string
		out *[]map[string]any
	}{{"db.all_vlans", &vlans}, {"db.all_ports", &ports}} {
		raw, err := c.Call(context.Background(), "db_query", q.cmd, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, q.out); err != nil {
			t.Fatal(err)
		}
	}
	return vlans, ports
}

// checkClean checks that, after a group, the daemon has only its
// default VLAN (one bridge) and every port is back on it.
func (d *vlandDaemon) checkClean(t *testing.T) {
	t.Helper()
	vlans, ports := d.state(t)
	if len(vlans) != 1 || vlans[0]["name"] != "DEFAULT" {
		t.Errorf("VLANs left after the group: %v", vlans)
	}
	for _, p := range ports {
		if p["current_vlan_id"] != p["base_vlan_id"] {
			t.Errorf("port %v left on VLAN %v", p["port_id"], p["current_vlan_id"])
		}
	}
	if left := leftWith(d.prefix); len(left) != 1 || left[0] != "link "+d.prefix+"1" {
		t.Errorf("bridges after the group: %v, want only the default VLAN's %s1", left, d.prefix)
	}
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
		argv = append(argv, "--device", r.role+"="+lab.devices[r.role])
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

// pingFrom reports whether ns reaches addr: any of five pings answered
// (a link just set up may drop the first ones, more so under load).
func pingFrom(ns, addr string) bool {
	return exec.Command("ip", "netns", "exec", ns, "busybox", "ping", "-c", "5", "-W", "2", addr).Run() == nil
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
			o := readOutcome(t, filepath.Join(out, r.role+"-0"))
			if o.errorType() != "Infrastructure" || !strings.Contains(o.job.String("error_msg"), "VLANd at "+addr) {
				t.Errorf("%s: %s error: %s, want an Infrastructure error naming VLANd at %s", r.role, o.errorType(), o.job.String("error_msg"), addr)
			}
		}
	})

	// VLANd refusing the second VLAN (one tag to allocate): alpha, the
	// essential role that creates them, ends with an Infrastructure
	// error, the others are canceled, and the VLAN it did create is
	// deleted.
	t.Run("creation refused", func(t *testing.T) {
		d := lab.startVland(t, "{min: 100, max: 100}")
		code, out := lab.runVlandGroup(t, d.addr, true, nil, nil)
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
		d.checkClean(t)
		d.stop(t)
	})

	// The group: beta and alpha meet on vlan_one, gamma and alpha on
	// vlan_two; beta and gamma, which reach each other on the default
	// VLAN before the job, do not on their VLANs.
	t.Run("isolation", func(t *testing.T) {
		d := lab.startVland(t, "{min: 100, max: 199}")
		beta, gamma := lab.netns["beta"], lab.netns["gamma"]
		ipRun(t, "-n", beta, "addr", "add", "10.88.9.2/24", "dev", "test0")
		ipRun(t, "-n", beta, "link", "set", "test0", "up")
		ipRun(t, "-n", gamma, "addr", "add", "10.88.9.3/24", "dev", "test0")
		ipRun(t, "-n", gamma, "link", "set", "test0", "up")
		if !pingFrom(beta, "10.88.9.3") {
			t.Fatal("beta does not reach gamma on the default VLAN: the lab is not cabled as the test thinks")
		}
		ipRun(t, "-n", beta, "addr", "flush", "dev", "test0")
		ipRun(t, "-n", gamma, "addr", "flush", "dev", "test0")

		code, out := lab.runVlandGroup(t, d.addr, false, nil, nil)
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
		d.checkClean(t)
		d.stop(t)
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
func signalOnVLANs(t *testing.T, d *vlandDaemon, cmd *exec.Cmd, sig os.Signal) bool {
	deadline := time.Now().Add(2 * time.Minute)
	onVLANs := false
	for time.Now().Before(deadline) && !onVLANs {
		_, ports := d.state(t)
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
	code, out := lab.runVlandGroup(t, d.addr, false, holdGroup, func(cmd *exec.Cmd) {
		onVLANs = signalOnVLANs(t, d, cmd, os.Interrupt)
	})
	if !onVLANs {
		t.Fatal("the ports never all went onto their VLANs")
	}
	if code == 0 {
		t.Fatal("basalt run exited 0 after SIGINT")
	}
	for _, r := range vlandRoles {
		o := readOutcome(t, filepath.Join(out, r.role+"-0"))
		if o.errorType() != "Canceled" {
			t.Errorf("%s: %s error: %s, want Canceled", r.role, o.errorType(), o.job.String("error_msg"))
		}
		if !o.logHas("", "Finalizing port") {
			t.Errorf("%s: its ports were not restored", r.role)
		}
	}
	d.checkClean(t)
	d.stop(t)
}

// Killed mid-test (SIGKILL to basalt run): no tear-down of its own runs,
// but the janitor's helper (internal/janitor) runs each job's
// `basalt vland release`, which puts the ports back and deletes the
// VLANs.
func TestVlandKilled(t *testing.T) {
	lab := newVlandLab(t)
	d := lab.startVland(t, "{min: 100, max: 199}")
	onVLANs := false
	lab.runVlandGroup(t, d.addr, false, holdGroup, func(cmd *exec.Cmd) {
		onVLANs = signalOnVLANs(t, d, cmd, syscall.SIGKILL)
	})
	if !onVLANs {
		t.Fatal("the ports never all went onto their VLANs")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		vlans, _ := d.state(t)
		if len(vlans) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	d.checkClean(t)
	d.stop(t)
}
