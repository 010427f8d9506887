// Package vland is Basalt's VLAN daemon and the client of its protocol.
//
// LAVA's lava-vland protocol asks a lab-wide daemon, Linaro's VLANd, to
// create VLANs on the lab's managed switches and to move the switch ports
// of a MultiNode group's devices onto them. This package owns:
//
//   - the wire protocol, as lava-dispatcher speaks it: one request per TCP
//     connection, each message a length as eight hexadecimal digits then
//     that many bytes of JSON; requests {type, command, data, client_name,
//     ...}; replies {"response": "ACK", "data": ...} or {"response":
//     "ERROR", "error": ...} (frame.go, client.go);
//   - the daemon (Server): VLANd's database of switches, ports and VLANs
//     (kept in memory, built from a configuration file the daemon is
//     given, never from a job) and the API calls the dispatcher makes
//     (api.create_vlan, api.delete_vlan, api.set_current_vlan,
//     api.restore_base_vlan, db.get_switch_id_by_name,
//     db.get_port_by_switch_and_number, ...) and those an admin makes;
//   - the switch drivers behind it (Driver), and one that makes the
//     isolation real on one Linux machine: every VLAN a bridge of its own,
//     a port on a VLAN when its interface (a veth end) is enslaved to that
//     bridge (bridge.go);
//   - the dispatcher's side of the job: which interface of the device each
//     of the job's VLANs uses (Plan, from the device dictionary's
//     parameters.interfaces and the job's tags) and the names VLANd knows
//     the VLANs by.
//
// The job-level protocol that calls all this during a job lives in
// internal/protocol (it needs the lava-multinode protocol to share the
// VLANs across the group). Nothing here runs a command built from job
// data: VLAN names never reach a command line (bridges are named after
// the VLAN's tag, a number the daemon allocates), and the interface names
// the driver uses come from the daemon's configuration, checked when it
// is loaded.
package vland
