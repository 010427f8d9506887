package vland

import (
	"context"
	"errors"
)

// Driver configures VLANs on the switches it serves. The daemon holds
// its database (which VLANs exist, which port is on which) and calls the
// driver to make the switches match it, one call at a time (never
// concurrently). A driver for real switches (SNMP, a vendor CLI over ssh)
// implements the same calls.
type Driver interface {
	// CreateVLAN makes VLAN tag exist on the switches. name is the
	// daemon's name for it, already checked (vlanNameRE); a driver may
	// label the VLAN with it, or ignore it.
	CreateVLAN(ctx context.Context, tag int, name string) error
	// DeleteVLAN removes VLAN tag. The daemon has moved every port off
	// it first. Deleting a VLAN the switches do not have is not an error.
	DeleteVLAN(ctx context.Context, tag int) error
	// SetAccess makes port an untagged (access) port of VLAN tag, and
	// only of it: traffic of the port reaches the VLAN's other ports
	// and nothing else.
	SetAccess(ctx context.Context, port PortRef, tag int) error
	// SetTrunk makes port a tagged (trunk) port carrying the given VLANs.
	// A driver that cannot tag frames returns ErrNoTrunks.
	SetTrunk(ctx context.Context, port PortRef, tags []int) error
	// Close removes what the driver made and releases its ports; the
	// daemon calls it once, when it stops, even after a failed start.
	Close(ctx context.Context) error
}

// PortRef names a port for a driver: its switch, its number and name on
// that switch, and the host interface the configuration gives it.
type PortRef struct {
	Switch    string
	Number    int
	Name      string
	Interface string
}

// ErrNoTrunks is a driver without tagged trunk ports.
var ErrNoTrunks = errors.New("this switch driver has no tagged (trunk) ports")
