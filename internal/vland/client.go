package vland

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Client calls a VLAN daemon as lava-dispatcher does: one connection per
// request, the request sent and the write side shut, then one reply.
type Client struct {
	// Addr is the daemon's host:port.
	Addr string
	// ClientName goes in every request (lava-dispatcher sends its host
	// name).
	ClientName string
	// Attempts is how many times a connection is tried before the daemon
	// counts as unreachable (3 if 0), RetryDelay the pause between two
	// (1s if 0).
	Attempts   int
	RetryDelay time.Duration
}

// UnreachableError is a daemon that could not be reached or did not
// answer: the lab's infrastructure failing, not the job.
type UnreachableError struct {
	Addr    string
	Command string
	Err     error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("VLANd at %s: %s: %v", e.Addr, e.Command, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// inUseText is in the reason VLANd gives for not deleting a VLAN a port
// is still on.
const inUseText = "is still the current VLAN of port(s)"

// InUse reports whether err is VLANd refusing to delete a VLAN because a
// port is still on it: another job of the group has not left yet.
func InUse(err error) bool {
	var r *RefusedError
	return errors.As(err, &r) && strings.Contains(r.Reason, inUseText)
}

// RefusedError is the daemon answering ERROR.
type RefusedError struct {
	Command string
	Reason  string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("VLANd refused %s: %s", e.Command, e.Reason)
}

// Call sends one request and returns the reply's data (JSON; "null" when
// a query found nothing).
func (c *Client) Call(ctx context.Context, typ, command string, data map[string]any) (json.RawMessage, error) {
	host, port, _ := net.SplitHostPort(c.Addr)
	pn, _ := strconv.Atoi(port)
	msg, err := json.Marshal(map[string]any{
		"type": typ, "command": command, "data": data,
		"port": pn, "poll_delay": 1, "host": host, "client_name": c.ClientName,
	})
	if err != nil {
		return nil, err
	}
	attempts, delay := c.Attempts, c.RetryDelay
	if attempts <= 0 {
		attempts = 3
	}
	if delay <= 0 {
		delay = time.Second
	}
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(delay):
			}
		}
		var raw []byte
		raw, last = c.once(ctx, msg)
		if last != nil {
			var ne net.Error
			if errors.As(last, &ne) || errors.Is(last, errDial) {
				continue
			}
			break
		}
		var r struct {
			Response string          `json:"response"`
			Data     json.RawMessage `json:"data"`
			Error    string          `json:"error"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, &UnreachableError{c.Addr, command, fmt.Errorf("reply is not JSON: %.60q", raw)}
		}
		switch r.Response {
		case "ACK":
			if len(r.Data) == 0 {
				r.Data = json.RawMessage("null")
			}
			return r.Data, nil
		case "ERROR":
			return nil, &RefusedError{command, r.Error}
		}
		return nil, &UnreachableError{c.Addr, command, fmt.Errorf("unexpected reply %.60q", raw)}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, &UnreachableError{c.Addr, command, fmt.Errorf("%v (%d attempts)", last, attempts)}
}

var errDial = errors.New("no connection")

func (c *Client) once(ctx context.Context, msg []byte) ([]byte, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errDial, err)
	}
	defer conn.Close()
	deadline := time.Now().Add(callTimeout + readTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	conn.SetDeadline(deadline)
	var buf bytes.Buffer
	if err := writeFrame(&buf, msg); err != nil {
		return nil, err
	}
	if _, err := conn.Write(buf.Bytes()); err != nil {
		return nil, err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	b, err := readFrame(conn, MaxMessage)
	if err != nil {
		return nil, fmt.Errorf("no reply: %v", err)
	}
	return b, nil
}

// CreateVLAN asks for a VLAN named name with the next free tag (tag -1,
// never a base VLAN, as lava-dispatcher asks) and returns its id and tag.
func (c *Client) CreateVLAN(ctx context.Context, name string) (id, tag int, err error) {
	raw, err := c.Call(ctx, "vlan_update", "api.create_vlan", map[string]any{"name": name, "tag": -1, "is_base_vlan": false})
	if err != nil {
		return 0, 0, err
	}
	var pair []int
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
		return 0, 0, &UnreachableError{c.Addr, "api.create_vlan", fmt.Errorf("reply data %.60q is not [vlan_id, tag]", raw)}
	}
	return pair[0], pair[1], nil
}

// DeleteVLAN deletes VLAN id.
func (c *Client) DeleteVLAN(ctx context.Context, id int) error {
	_, err := c.Call(ctx, "vlan_update", "api.delete_vlan", map[string]any{"vlan_id": id})
	return err
}

// SwitchID looks a switch up by name.
func (c *Client) SwitchID(ctx context.Context, name string) (int, error) {
	return c.lookup(ctx, "db.get_switch_id_by_name", map[string]any{"name": name}, "switch "+name)
}

// PortID looks a port up by its switch and number.
func (c *Client) PortID(ctx context.Context, switchID int, number any) (int, error) {
	return c.lookup(ctx, "db.get_port_by_switch_and_number", map[string]any{"switch_id": switchID, "number": number},
		fmt.Sprintf("port %v of switch %d", number, switchID))
}

func (c *Client) lookup(ctx context.Context, command string, data map[string]any, what string) (int, error) {
	raw, err := c.Call(ctx, "db_query", command, data)
	if err != nil {
		return 0, err
	}
	var id *int
	if err := json.Unmarshal(raw, &id); err != nil {
		return 0, &UnreachableError{c.Addr, command, fmt.Errorf("reply data %.60q is not an id", raw)}
	}
	if id == nil {
		return 0, &RefusedError{command, what + " is not known to VLANd"}
	}
	return *id, nil
}

// SetCurrentVLAN puts a port on a VLAN.
func (c *Client) SetCurrentVLAN(ctx context.Context, portID, vlanID int) error {
	_, err := c.Call(ctx, "vlan_update", "api.set_current_vlan", map[string]any{"port_id": portID, "vlan_id": vlanID})
	return err
}

// RestoreBaseVLAN puts a port back on its base VLAN.
func (c *Client) RestoreBaseVLAN(ctx context.Context, portID int) error {
	_, err := c.Call(ctx, "vlan_update", "api.restore_base_vlan", map[string]any{"port_id": portID})
	return err
}
