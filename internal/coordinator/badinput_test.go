package coordinator

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// rawExchange writes data as is, shuts the write side and reads a reply
// frame.
func rawExchange(t testing.TB, addr string, data []byte) Reply {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	body, err := ReadFrame(c, 0)
	if err != nil {
		t.Fatalf("reading reply to %.60q: %v", data, err)
	}
	r, err := parseReply(body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func frame(body string) []byte {
	var b bytes.Buffer
	_ = WriteFrame(&b, []byte(body))
	return b.Bytes()
}

// base is a valid request for client 1 of a one-node group, plus extra
// (nil values delete keys).
func base(extra map[string]any) string {
	m := map[string]any{
		"port": 3079, "blocksize": 4096, "poll_delay": 1, "host": "localhost", "hostname": "h",
		"client_name": "1", "group_name": "solo", "role": "node", "group_size": 1, "request": "group_data",
	}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestBadInput sends every kind of malformed request; each gets a nack
// whose "error" says why, and the server goes on answering.
func TestBadInput(t *testing.T) {
	_, addr := startServer(t, Options{MaxBody: 64 << 10})
	tests := []struct {
		name string
		data []byte
		want string // in the nack's error
	}{
		{"non-hex header", []byte(`ZZZZZZZZ{"request": "group_data"}`), `header "ZZZZZZZZ" is not 8 hexadecimal digits`},
		{"json without header", []byte(base(nil)), `is not 8 hexadecimal digits`},
		{"truncated header", []byte(`0000`), `truncated header: 4 of 8 bytes`},
		{"truncated body", []byte(`00000100{"request":`), `truncated body: got 11 of 256 bytes`},
		{"body over the cap", []byte(`00100000`), `body of 1048576 bytes exceeds the limit of 65536 bytes`},
		{"invalid json", frame(`{"request": "group_data",}`), `request invalid JSON: invalid character '}'`},
		{"empty body", frame(``), `request invalid JSON: empty body`},
		{"data after the object", frame(`{"request": "group_data"} {}`), `data after the top-level value`},
		{"array", frame(`["group_data"]`), `JSON is an array, not an object`},
		{"string", frame(`"group_data"`), `JSON is a string, not an object`},
		{"null", frame(`null`), `JSON is null, not an object`},
		{"invalid utf-8", frame("{\"request\": \"\xff\"}"), `not valid UTF-8`},
		{"missing request", frame(base(map[string]any{"request": nil})), `missing "request"`},
		{"request not a string", frame(base(map[string]any{"request": true})), `"request" must be a string, not a boolean`},
		{"unknown request", frame(base(map[string]any{"request": "lava_frobnicate"})), `unknown request "lava_frobnicate"`},
		{"missing client_name", frame(base(map[string]any{"client_name": nil})), `group_data request is missing "client_name"`},
		{"empty client_name", frame(base(map[string]any{"client_name": ""})), `group_data request has an empty "client_name"`},
		{"client_name object", frame(base(map[string]any{"client_name": map[string]any{}})), `"client_name" must be a string, not an object`},
		{"client_name float", frame(base(map[string]any{"client_name": 1.5})), `"client_name" must be a string or an integer, not 1.5`},
		{"missing group_name", frame(base(map[string]any{"group_name": nil})), `group_data request is missing "group_name"`},
		{"long group_name", frame(base(map[string]any{"group_name": strings.Repeat("g", 2000)})), `"group_name" is longer than 1024 characters`},
		{"new group without size", frame(base(map[string]any{"group_name": "new", "group_size": nil})), `group "new" does not exist and the group_data request has no group_size to create it`},
		{"new group of size 0", frame(base(map[string]any{"group_name": "new", "group_size": 0})), `group "new" does not exist`},
		{"group_size not a number", frame(base(map[string]any{"group_size": "three"})), `"group_size" must be an integer, not "three"`},
		{"group_size negative", frame(base(map[string]any{"group_size": -2})), `"group_size" -2 is out of range`},
		{"group_size list", frame(base(map[string]any{"group_size": []any{1}})), `"group_size" must be an integer, not an array`},
		{"no role creating a group", frame(base(map[string]any{"group_name": "new", "role": nil})), `client "1" creating group "new" has no "role"`},
		{"role not a string", frame(base(map[string]any{"role": []any{}})), `"role" must be a string, not an array`},
		{"send without messageID", frame(base(map[string]any{"request": "lava_send"})), `lava_send request is missing "messageID"`},
		{"wait without messageID", frame(base(map[string]any{"request": "lava_wait"})), `lava_wait request is missing "messageID"`},
		{"wait_all without messageID", frame(base(map[string]any{"request": "lava_wait_all"})), `lava_wait_all request is missing "messageID"`},
		{"sync without messageID", frame(base(map[string]any{"request": "lava_sync"})), `lava_sync request is missing "messageID"`},
		{"messageID object", frame(base(map[string]any{"request": "lava_send", "messageID": map[string]any{}})), `"messageID" must be a string, not an object`},
		{"waitrole object", frame(base(map[string]any{"request": "lava_wait_all", "messageID": "m", "waitrole": map[string]any{}})), `"waitrole" must be a string, not an object`},
		{"aggregate without bundle", frame(base(map[string]any{"request": "aggregate", "sub_id": "1.0"})), `aggregate request is missing "bundle"`},
		{"aggregate sub_id number", frame(base(map[string]any{"request": "aggregate", "bundle": "b", "sub_id": 3})), `aggregate request needs a string "sub_id"`},
		{"joining a full group", frame(base(map[string]any{"client_name": "2"})), `group "solo" is full: client "2" would be number 2 of 1`},
	}
	good := frame(base(nil))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rawExchange(t, addr, tt.data)
			if r.Response != RespNack {
				t.Fatalf("response %q, want nack (%v)", r.Response, r.Raw)
			}
			if !strings.Contains(r.Error, tt.want) {
				t.Errorf("error %q, want it to contain %q", r.Error, tt.want)
			}
			// LAVA's client returns "message" instead of "nack" when
			// there is one, so a nack must never carry it.
			if _, ok := r.Raw["message"]; ok {
				t.Errorf("nack carries a message: %v", r.Raw)
			}
			if r := rawExchange(t, addr, good); r.Response != RespGroupData {
				t.Fatalf("after %s the server answers %v", tt.name, r.Raw)
			}
		})
	}
}

// TestSilentPeer: a peer that connects and says nothing holds neither the
// server nor anyone else, and is sent away once its time is up.
func TestSilentPeer(t *testing.T) {
	_, addr := startServer(t, Options{ConnTimeout: 200 * time.Millisecond})
	silent := make([]net.Conn, 5)
	for i := range silent {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent[i] = c
	}
	// A half-sent frame, left hanging.
	if _, err := silent[0].Write([]byte("000000FF{")); err != nil {
		t.Fatal(err)
	}
	if r := rawExchange(t, addr, frame(base(nil))); r.Response != RespGroupData {
		t.Fatalf("with silent peers connected the server answers %v", r.Raw)
	}
	for i, c := range silent {
		_ = c.SetDeadline(time.Now().Add(time.Minute))
		body, err := ReadFrame(c, 0)
		if err != nil {
			t.Fatalf("silent peer %d: %v", i, err)
		}
		r, err := parseReply(body)
		if err != nil || r.Response != RespNack || !strings.Contains(r.Error, "i/o timeout") {
			t.Fatalf("silent peer %d got %v, %v; want a nack for the timeout", i, r.Raw, err)
		}
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("silent peer %d: connection still open after the nack (%v)", i, err)
		}
	}
}

// TestDroppedConnection: a client that goes away mid-request, by not
// reading the reply or not finishing the frame, carries on afterwards on
// a new connection: state belongs to the client name.
func TestDroppedConnection(t *testing.T) {
	_, addr := startServer(t, Options{})
	n := joinAll(t, addr, "g", 2)
	req := map[string]any{"request": "lava_sync", "messageID": "after-drop"}
	body := func(c *Client) []byte {
		m := map[string]any{}
		for k, v := range c.Base {
			m[k] = v
		}
		for k, v := range req {
			m[k] = v
		}
		b, _ := Marshal(m)
		return frame(string(b))
	}
	// Node 1 enters the sync and drops the connection before the reply.
	full := body(n[0])
	dropAfter(t, addr, full)
	// Then sends only half of its next frame and drops it.
	dropAfter(t, addr, full[:len(full)/2])
	// Node 2 enters too; both now poll normally and are released.
	parallel(t, n, func(c *Client) error {
		r, err := c.Poll(testCtx(t), req, time.Minute)
		if err == nil && r.Response != RespAck {
			err = fmt.Errorf("reply %v", r.Raw)
		}
		return err
	})
}

// dropAfter writes data and closes without reading.
func dropAfter(t testing.TB, addr string, data []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	c.Close()
}
