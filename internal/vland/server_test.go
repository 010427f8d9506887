package vland

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// needNet skips unless the test can make links (root, ip(8)), or fails
// under BASALT_E2E=1, where it must run.
func needNet(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "making bridges and veth pairs needs root"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "ip (iproute2) is not installed"
	}
	if why == "" {
		return
	}
	if os.Getenv("BASALT_E2E") == "1" {
		t.Fatal(why)
	}
	t.Skip(why)
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// links lists the host's links whose name starts with prefix.
func links(t *testing.T, prefix string) []string {
	t.Helper()
	ents, err := os.ReadDir("/sys/class/net")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

func master(name string) string {
	l, err := os.Readlink("/sys/class/net/" + name + "/master")
	if err != nil {
		return ""
	}
	return l[strings.LastIndex(l, "/")+1:]
}

// testDaemon starts a daemon on 127.0.0.1 with the bridge driver over
// three veth pairs (the host ends are the ports of switch sw1; port 3 is
// locked) and returns a client, the bridge prefix and the port
// interfaces. Cleanup stops it and checks that no bridge is left.
func testDaemon(t *testing.T) (*Client, *Server, string, []string) {
	t.Helper()
	needNet(t)
	tag := fmt.Sprintf("%04d", rand.Intn(10000))
	prefix := "bvt" + tag
	var ports []string
	var conf strings.Builder
	fmt.Fprintf(&conf, "bridge_prefix: bvt%s\ntags: {min: 100, max: 101}\nswitches:\n- name: sw1\n  driver: bridge\n  ports:\n", tag)
	for i := 1; i <= 3; i++ {
		host, dev := fmt.Sprintf("vt%sh%d", tag, i), fmt.Sprintf("vt%sd%d", tag, i)
		run(t, "ip", "link", "add", "name", host, "type", "veth", "peer", "name", dev)
		t.Cleanup(func() { exec.Command("ip", "link", "del", "dev", host).Run() })
		ports = append(ports, host)
		fmt.Fprintf(&conf, "  - {number: %d, interface: %s, locked: %v}\n", i, host, i == 3)
	}
	cfg, err := ParseConfig([]byte(conf.String()))
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(cfg, &Bridge{Prefix: prefix}, nil)
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() {
		if err := srv.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
		if left := links(t, prefix); len(left) > 0 {
			t.Errorf("bridges left after the daemon stopped: %v", left)
		}
	})
	return &Client{Addr: l.Addr().String(), ClientName: "test", Attempts: 1}, srv, prefix, ports
}

// A job's life on the daemon, as lava-dispatcher drives it: switch and
// port looked up, a VLAN created (a bridge of its own), the port moved
// onto it, moved back, the VLAN deleted (the bridge gone).
func TestDaemonJobLife(t *testing.T) {
	c, _, prefix, ports := testDaemon(t)
	ctx := context.Background()
	if m := master(ports[0]); m != prefix+"1" {
		t.Fatalf("port 1 starts on %q, want the default VLAN's bridge %s1", m, prefix)
	}
	sw, err := c.SwitchID(ctx, "sw1")
	if err != nil {
		t.Fatal(err)
	}
	port, err := c.PortID(ctx, sw, "1") // a string, as a dictionary may give
	if err != nil {
		t.Fatal(err)
	}
	id, tag, err := c.CreateVLAN(ctx, "4212vlanone")
	if err != nil {
		t.Fatal(err)
	}
	if tag != 100 {
		t.Errorf("tag %d, want the first of the range, 100", tag)
	}
	bridge := fmt.Sprintf("%s%d", prefix, tag)
	if _, err := os.Stat("/sys/class/net/" + bridge); err != nil {
		t.Fatalf("no bridge %s for the VLAN: %v", bridge, err)
	}
	if err := c.SetCurrentVLAN(ctx, port, id); err != nil {
		t.Fatal(err)
	}
	if m := master(ports[0]); m != bridge {
		t.Errorf("port 1 on %q, want %s", m, bridge)
	}
	var refused *RefusedError
	if err := c.DeleteVLAN(ctx, id); !errors.As(err, &refused) || !strings.Contains(refused.Reason, "still the current VLAN of port(s) 1") {
		t.Errorf("deleting a VLAN in use = %v, want a refusal", err)
	}
	if err := c.RestoreBaseVLAN(ctx, port); err != nil {
		t.Fatal(err)
	}
	if m := master(ports[0]); m != prefix+"1" {
		t.Errorf("port 1 back on %q, want %s1", m, prefix)
	}
	if err := c.DeleteVLAN(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/sys/class/net/" + bridge); err == nil {
		t.Errorf("bridge %s left after its VLAN was deleted", bridge)
	}
}

// What the daemon refuses, each with its reason; nothing changes.
func TestDaemonRefusals(t *testing.T) {
	c, _, _, ports := testDaemon(t)
	ctx := context.Background()
	id, _, err := c.CreateVLAN(ctx, "one")
	if err != nil {
		t.Fatal(err)
	}
	call := func(typ, cmd string, data map[string]any) error {
		_, err := c.Call(ctx, typ, cmd, data)
		return err
	}
	for _, r := range []struct {
		name string
		err  error
		want string
	}{
		{"same name", call("vlan_update", "api.create_vlan", map[string]any{"name": "one", "tag": -1, "is_base_vlan": false}), "a VLAN named one already exists"},
		{"hostile name", call("vlan_update", "api.create_vlan", map[string]any{"name": "x; reboot", "tag": -1, "is_base_vlan": false}), "a VLAN name is 1 to 32"},
		{"long name", call("vlan_update", "api.create_vlan", map[string]any{"name": strings.Repeat("a", 33), "tag": -1, "is_base_vlan": false}), "a VLAN name is 1 to 32"},
		{"tag in use", call("vlan_update", "api.create_vlan", map[string]any{"name": "two", "tag": 100, "is_base_vlan": false}), "tag 100 is in use"},
		{"tag out of range", call("vlan_update", "api.create_vlan", map[string]any{"name": "two", "tag": 5000, "is_base_vlan": false}), "not within 1..4094"},
		{"locked port", call("vlan_update", "api.set_current_vlan", map[string]any{"port_id": 3, "vlan_id": id}), "port 3 (sw1/3) is locked"},
		{"unknown port", call("vlan_update", "api.set_current_vlan", map[string]any{"port_id": 9, "vlan_id": id}), "no port 9"},
		{"unknown VLAN", call("vlan_update", "api.set_current_vlan", map[string]any{"port_id": 1, "vlan_id": 77}), "no VLAN 77"},
		{"default VLAN", call("vlan_update", "api.delete_vlan", map[string]any{"vlan_id": 1}), "is the default VLAN"},
		{"trunk", call("vlan_update", "api.set_port_mode", map[string]any{"port_id": 1, "mode": "trunk"}), "no tagged (trunk) ports"},
		{"wrong type", call("db_query", "api.delete_vlan", map[string]any{"vlan_id": id}), "is of type vlan_update"},
		{"unknown command", call("vlan_update", "api.reboot_switch", nil), `unknown command "api.reboot_switch"`},
		{"id not a number", call("vlan_update", "api.delete_vlan", map[string]any{"vlan_id": "1; x"}), "must be an integer"},
	} {
		var refused *RefusedError
		if !errors.As(r.err, &refused) || !strings.Contains(refused.Reason, r.want) {
			t.Errorf("%s: %v, want a refusal with %q", r.name, r.err, r.want)
		}
	}
	// The last free tag, then none.
	if _, tag, err := c.CreateVLAN(ctx, "two"); err != nil || tag != 101 {
		t.Errorf("second VLAN: tag %d, %v", tag, err)
	}
	var refused *RefusedError
	if _, _, err := c.CreateVLAN(ctx, "three"); !errors.As(err, &refused) || !strings.Contains(refused.Reason, "no free tag left in 100..101") {
		t.Errorf("third VLAN: %v, want no free tag", err)
	}
	for _, p := range ports {
		if m := master(p); !strings.HasSuffix(m, "1") {
			t.Errorf("%s moved to %s", p, m)
		}
	}
}

// A daemon that is not there is UnreachableError, after the attempts.
func TestClientUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := &Client{Addr: addr, Attempts: 2, RetryDelay: 10 * time.Millisecond}
	_, err = c.SwitchID(context.Background(), "sw1")
	var u *UnreachableError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), "2 attempts") {
		t.Errorf("SwitchID = %v, want UnreachableError after 2 attempts", err)
	}
}

// Query answers: null for what is not there.
func TestDaemonQueries(t *testing.T) {
	c, _, _, _ := testDaemon(t)
	ctx := context.Background()
	var refused *RefusedError
	if _, err := c.SwitchID(ctx, "nosuch"); !errors.As(err, &refused) || !strings.Contains(err.Error(), "switch nosuch is not known to VLANd") {
		t.Errorf("unknown switch: %v", err)
	}
	if _, err := c.PortID(ctx, 1, 42); !errors.As(err, &refused) {
		t.Errorf("unknown port: %v", err)
	}
	raw, err := c.Call(ctx, "db_query", "db.all_vlans", nil)
	if err != nil || !strings.Contains(string(raw), `"name":"DEFAULT"`) {
		t.Errorf("db.all_vlans = %s, %v", raw, err)
	}
}

// A port whose interface is not there stops the start, naming it, and
// Close removes what the start made.
func TestDaemonStartFailure(t *testing.T) {
	needNet(t)
	tag := fmt.Sprintf("%04d", rand.Intn(10000))
	cfg, err := ParseConfig([]byte(fmt.Sprintf("bridge_prefix: bvt%s\nswitches: [{name: sw1, driver: bridge, ports: [{number: 1, interface: vt%snone}]}]\n", tag, tag)))
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(cfg, &Bridge{Prefix: "bvt" + tag}, nil)
	err = srv.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "interface vt"+tag+"none does not exist") {
		t.Errorf("Start = %v, want the missing interface named", err)
	}
	if err := srv.Close(context.Background()); err != nil {
		t.Errorf("Close: %v", err)
	}
	if left := links(t, "bvt"+tag); len(left) > 0 {
		t.Errorf("left after a failed start: %v", left)
	}
}
