// Package vlandtest is the VLANd test lab the end-to-end tests share
// (internal/e2e through `basalt run`, internal/labe2e through `basalt
// server` and `basalt worker`): ssh devices, each an sshd
// (internal/sshdtest) in a network namespace of its own, whose test
// interfaces are cabled to the ports of switch sw1 of a `basalt vland`
// started with its bridge driver (one bridge per VLAN).
//
// In a device's namespace, eth0 (a veth pair to the host, a /30 of its
// own) is the lab network the dispatcher reaches sshd by; each test
// interface is a veth pair whose host end is a switch port. Every name
// the lab makes (namespaces, links, bridges) holds its random tag, so
// that Left finds what one test left and two runs on one machine do not
// meet. It needs root, iproute2, busybox and openssh-server.
package vlandtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/sshdtest"
	"github.com/basalt-lava/basalt/internal/vland"
)

// Device is one device of the lab.
type Device struct {
	// Name is the device's name in the lab's maps and in its
	// namespace's name: letters and digits, a few of them.
	Name string
	// Ifaces are its test interfaces, each on the next port of sw1.
	Ifaces []string
	// Tags are the tags of each of its test interfaces in its
	// dictionary (parameters.interfaces).
	Tags []string
}

// Lab is the devices and cabling of one test.
type Lab struct {
	Tag   string            // in every name the lab makes
	Dicts map[string]string // device → its dictionary (Jinja2 text)
	Netns map[string]string // device → its namespace
	Ports []string          // the switch port interfaces, ports 1..n of sw1
	// Servers are the devices' sshd.
	Servers map[string]*sshdtest.Server
}

// IP runs ip with args, failing the test on an error.
func IP(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// Left lists the host's links and the namespaces whose name holds tag:
// what a lab (or a daemon, by its bridge prefix) made, for the
// leftover checks.
func Left(tag string) []string {
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

// Need skips (or fails, as sshdtest.Need does) when the lab cannot be
// made here.
func Need(t testing.TB) {
	t.Helper()
	sshdtest.Need(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("ip (iproute2) is not installed")
	}
}

// New makes the namespaces, links and sshd servers of devices. Cleanup
// stops the servers, deletes the namespaces (which deletes their veth
// pairs) and checks that nothing the lab made is left.
func New(t testing.TB, devices []Device) *Lab {
	t.Helper()
	Need(t)
	n := rand.Intn(10000)
	lab := &Lab{Tag: fmt.Sprintf("%04d", n), Dicts: map[string]string{}, Netns: map[string]string{}, Servers: map[string]*sshdtest.Server{}}
	// The management links' /30s on the host, from the same number, so
	// that two runs on one machine do not route to each other's devices.
	mgmt := fmt.Sprintf("10.%d.%d", 200+n%50, n/50)
	t.Cleanup(func() {
		// Last: the servers were stopped, the namespaces deleted.
		deadline := time.Now().Add(5 * time.Second)
		for {
			left := Left(lab.Tag)
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
	for i, d := range devices {
		ns := "bvn" + lab.Tag + d.Name
		IP(t, "netns", "add", ns)
		lab.Netns[d.Name] = ns
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		host, addr := fmt.Sprintf("bvm%s%d", lab.Tag, i), fmt.Sprintf("%s.%d", mgmt, 4*i+2)
		IP(t, "link", "add", "name", host, "type", "veth", "peer", "name", "eth0", "netns", ns)
		IP(t, "addr", "add", fmt.Sprintf("%s.%d/30", mgmt, 4*i+1), "dev", host)
		IP(t, "link", "set", "dev", host, "up")
		IP(t, "-n", ns, "addr", "add", addr+"/30", "dev", "eth0")
		IP(t, "-n", ns, "link", "set", "dev", "eth0", "up")
		IP(t, "-n", ns, "link", "set", "dev", "lo", "up")
		var ifaces, sysfs, macs, maps, tags []string
		for j, iface := range d.Ifaces {
			port++
			sp := fmt.Sprintf("bvs%sp%d", lab.Tag, port)
			mac := fmt.Sprintf("02:00:00:00:%02x:%02x", i+1, j+1)
			IP(t, "link", "add", "name", sp, "type", "veth", "peer", "name", iface, "netns", ns)
			IP(t, "-n", ns, "link", "set", "dev", iface, "address", mac)
			lab.Ports = append(lab.Ports, sp)
			ifaces = append(ifaces, fmt.Sprintf("'%s'", iface))
			sysfs = append(sysfs, fmt.Sprintf("'%s': '/sys/devices/virtual/net/%s'", iface, iface))
			macs = append(macs, fmt.Sprintf("'%s': '%s'", iface, mac))
			maps = append(maps, fmt.Sprintf("'%s': {'sw1': %d}", iface, port))
			tags = append(tags, fmt.Sprintf("'%s': ['%s']", iface, strings.Join(d.Tags, "', '")))
		}
		srv := sshdtest.Start(t, sshdtest.Options{Listen: addr, Netns: ns})
		lab.Servers[d.Name] = srv
		lab.Dicts[d.Name] = srv.Dictionary(false) + fmt.Sprintf(
			"{%% set interfaces = [%s] %%}\n{%% set sysfs = {%s} %%}\n{%% set mac_addr = {%s} %%}\n{%% set map = {%s} %%}\n{%% set tags = {%s} %%}\n",
			strings.Join(ifaces, ", "), strings.Join(sysfs, ", "), strings.Join(macs, ", "), strings.Join(maps, ", "), strings.Join(tags, ", "))
	}
	return lab
}

// Daemon is a `basalt vland` process.
type Daemon struct {
	Addr   string
	cmd    *exec.Cmd
	out    *bytes.Buffer
	prefix string
}

// StartVland starts basalt (the binary) vland on the lab's switch;
// tags bounds the tags it allocates ("{min: 100, max: 199}"). Cleanup
// stops it if the test did not.
func (lab *Lab) StartVland(t testing.TB, basalt, tags string) *Daemon {
	t.Helper()
	prefix := "bve" + lab.Tag
	var conf strings.Builder
	fmt.Fprintf(&conf, "bridge_prefix: %s\ntags: %s\nswitches:\n- name: sw1\n  driver: bridge\n  ports:\n", prefix, tags)
	for i, p := range lab.Ports {
		fmt.Fprintf(&conf, "  - {number: %d, interface: %s}\n", i+1, p)
	}
	path := filepath.Join(t.TempDir(), "vland.yaml")
	if err := os.WriteFile(path, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &Daemon{out: &bytes.Buffer{}, prefix: prefix}
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
	t.Cleanup(func() { d.Stop(t) })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		d.Stop(t)
		t.Fatalf("basalt vland did not start: %v\n%s", err, d.out)
	}
	go func() { _, _ = bufio.NewReader(stdout).WriteTo(new(bytes.Buffer)) }()
	f := strings.Fields(strings.TrimPrefix(line, "basalt vland: listening on "))
	if len(f) == 0 {
		t.Fatalf("unexpected first line %q", line)
	}
	d.Addr = f[0]
	return d
}

// Stop ends the daemon with SIGTERM (it takes its VLANs down) and
// checks it exited cleanly and left no bridge.
func (d *Daemon) Stop(t testing.TB) {
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
	for _, l := range Left(d.prefix) {
		t.Errorf("left after basalt vland stopped: %s", l)
	}
}

// State asks the daemon for its VLANs and its ports.
func (d *Daemon) State(t testing.TB) (vlans []map[string]any, ports []map[string]any) {
	t.Helper()
	c := &vland.Client{Addr: d.Addr, ClientName: "vlandtest"}
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

// CheckClean checks that, after a group, the daemon has only its
// default VLAN (one bridge) and every port is back on it.
func (d *Daemon) CheckClean(t testing.TB) {
	t.Helper()
	vlans, ports := d.State(t)
	if len(vlans) != 1 || vlans[0]["name"] != "DEFAULT" {
		t.Errorf("VLANs left after the group: %v", vlans)
	}
	for _, p := range ports {
		if p["current_vlan_id"] != p["base_vlan_id"] {
			t.Errorf("port %v left on VLAN %v", p["port_id"], p["current_vlan_id"])
		}
	}
	if left := Left(d.prefix); len(left) != 1 || left[0] != "link "+d.prefix+"1" {
		t.Errorf("bridges after the group: %v, want only the default VLAN's %s1", left, d.prefix)
	}
}

// PingFrom reports whether namespace ns reaches addr: any of five pings
// answered (a link just set up may drop the first ones, more so under
// load).
func PingFrom(ns, addr string) bool {
	return exec.Command("ip", "netns", "exec", ns, "busybox", "ping", "-c", "5", "-W", "2", addr).Run() == nil
}

// CheckDefaultVLAN checks that the test interfaces test0 of namespaces
// a and b, given addresses on one subnet, reach each other on the
// switch's default VLAN before a job (the cabling is as the test thinks),
// then takes the addresses away.
func CheckDefaultVLAN(t testing.TB, a, b string) {
	t.Helper()
	IP(t, "-n", a, "addr", "add", "10.88.9.2/24", "dev", "test0")
	IP(t, "-n", a, "link", "set", "test0", "up")
	IP(t, "-n", b, "addr", "add", "10.88.9.3/24", "dev", "test0")
	IP(t, "-n", b, "link", "set", "test0", "up")
	if !PingFrom(a, "10.88.9.3") {
		t.Fatalf("%s does not reach %s on the default VLAN: the lab is not cabled as the test thinks", a, b)
	}
	IP(t, "-n", a, "addr", "flush", "dev", "test0")
	IP(t, "-n", b, "addr", "flush", "dev", "test0")
}
