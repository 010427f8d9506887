package vland

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Bridge is the driver that makes VLANs real on one Linux machine
// without 802.1Q: every VLAN is a bridge of its own, named after its tag
// (PREFIX<tag>, so no name from a job reaches the command line), and a
// port is on a VLAN when its interface (the host's end of a veth pair
// whose other end is the device's network interface) is enslaved to that
// VLAN's bridge. An interface has one master at a time, so a port is on
// exactly one VLAN, as a VLANd access port is; frames never cross from
// one bridge to another, which is the isolation.
//
// On a kernel with bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)
// a driver would instead keep one bridge with vlan_filtering 1 and give
// each port "bridge vlan add vid TAG pvid untagged"; with 802.1Q
// (CONFIG_VLAN_8021Q) trunk ports would carry tagged frames ("bridge vlan
// add vid TAG" for each VLAN of the trunk) and a VLAN could span hosts.
// This machine's kernel has neither, so SetTrunk is ErrNoTrunks.
//
// Every command is ip(8) run with an argument vector; interface names
// come from the checked configuration, bridge names from the prefix and
// a number.
type Bridge struct {
	// Prefix names the bridges: Prefix + tag.
	Prefix string
	// IP is the ip(8) binary; "ip" from PATH if empty.
	IP string

	mu   sync.Mutex
	made map[int]bool // the bridges this driver created
}

var _ Driver = (*Bridge)(nil)

// BridgeName is the bridge of VLAN tag.
func (b *Bridge) BridgeName(tag int) string { return b.Prefix + strconv.Itoa(tag) }

// ip runs ip(8) with args and returns a clear error with its output.
func (b *Bridge) ip(ctx context.Context, args ...string) error {
	bin := b.IP
	if bin == "" {
		bin = "ip"
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

func linkExists(name string) bool {
	_, err := os.Stat("/sys/class/net/" + name)
	return err == nil
}

// CreateVLAN adds the VLAN's bridge and brings it up. A bridge of that
// name that this driver did not make is refused: another daemon (or a
// previous one that did not stop cleanly) owns it.
func (b *Bridge) CreateVLAN(ctx context.Context, tag int, _ string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.made == nil {
		b.made = map[int]bool{}
	}
	name := b.BridgeName(tag)
	if b.made[tag] {
		return nil
	}
	if linkExists(name) {
		return fmt.Errorf("bridge %s already exists and is not this daemon's (another basalt vland with bridge_prefix %q, or one that did not stop cleanly: ip link del %s)", name, b.Prefix, name)
	}
	if err := b.ip(ctx, "link", "add", "name", name, "type", "bridge"); err != nil {
		return err
	}
	b.made[tag] = true
	return b.ip(ctx, "link", "set", "dev", name, "up")
}

// DeleteVLAN deletes the VLAN's bridge (its ports, if any were left, are
// released by the kernel).
func (b *Bridge) DeleteVLAN(ctx context.Context, tag int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	name := b.BridgeName(tag)
	if !b.made[tag] {
		return nil
	}
	if linkExists(name) {
		if err := b.ip(ctx, "link", "del", "dev", name); err != nil {
			return err
		}
	}
	delete(b.made, tag)
	return nil
}

// SetAccess enslaves the port's interface to the VLAN's bridge (which
// takes it off the bridge it was on) and brings it up.
func (b *Bridge) SetAccess(ctx context.Context, port PortRef, tag int) error {
	b.mu.Lock()
	made := b.made[tag]
	b.mu.Unlock()
	if !made {
		return fmt.Errorf("VLAN %d has no bridge", tag)
	}
	if !ValidInterfaceName(port.Interface) {
		return fmt.Errorf("port %s/%d: interface %q is not a valid interface name", port.Switch, port.Number, port.Interface)
	}
	if !linkExists(port.Interface) {
		return fmt.Errorf("port %s/%d: interface %s does not exist (is the device's link there?)", port.Switch, port.Number, port.Interface)
	}
	if err := b.ip(ctx, "link", "set", "dev", port.Interface, "master", b.BridgeName(tag)); err != nil {
		return err
	}
	return b.ip(ctx, "link", "set", "dev", port.Interface, "up")
}

// SetTrunk is ErrNoTrunks: a bridge per VLAN cannot tag frames.
func (b *Bridge) SetTrunk(context.Context, PortRef, []int) error { return ErrNoTrunks }

// Close deletes every bridge the driver made.
func (b *Bridge) Close(ctx context.Context) error {
	b.mu.Lock()
	tags := make([]int, 0, len(b.made))
	for t := range b.made {
		tags = append(tags, t)
	}
	b.mu.Unlock()
	sort.Ints(tags)
	var first error
	for _, t := range tags {
		if err := b.DeleteVLAN(ctx, t); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Bridges lists the bridges the driver has made, for tests and status.
func (b *Bridge) Bridges() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for t := range b.made {
		out = append(out, b.BridgeName(t))
	}
	sort.Strings(out)
	return out
}
