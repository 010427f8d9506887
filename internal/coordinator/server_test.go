package coordinator

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGroupData(t *testing.T) {
	_, addr := startServer(t, Options{})
	a := node(addr, "g", "10", "server", 3)
	b := node(addr, "g", "11", "client", 3)
	c := node(addr, "g", "12", "client", 3)
	gd := map[string]any{"request": "group_data"}
	wantResponse(t, exchange(t, a, gd), RespWait)
	wantResponse(t, exchange(t, b, gd), RespWait)
	wantResponse(t, exchange(t, a, gd), RespWait) // asking again does not count twice
	want := map[string]string{"10": "server", "11": "client", "12": "client"}
	for _, n := range []*Client{c, a, b} {
		r := exchange(t, n, gd)
		wantResponse(t, r, RespGroupData)
		if diff := cmp.Diff(want, r.Roles); diff != "" {
			t.Errorf("roles (-want +got):\n%s", diff)
		}
	}
}

func TestSendWait(t *testing.T) {
	_, addr := startServer(t, Options{})
	n := joinAll(t, addr, "g", 3, "server", "client")
	steps := []struct {
		who  int
		req  map[string]any
		resp string
		msg  string // JSON of Message; "" for none
	}{
		// Nobody sent "ip" yet: everyone waits.
		{1, map[string]any{"request": "lava_wait", "messageID": "ip", "nodeID": "2"}, RespWait, ""},
		{0, map[string]any{"request": "lava_send", "messageID": "ip", "message": map[string]any{"ipaddr": "10.0.0.1", "n": 7}}, RespAck, ""},
		// Every client, the sender too, now sees {sender: message}.
		{1, map[string]any{"request": "lava_wait", "messageID": "ip"}, RespAck, `{"1":{"ipaddr":"10.0.0.1","n":7}}`},
		{2, map[string]any{"request": "lava_wait", "messageID": "ip"}, RespAck, `{"1":{"ipaddr":"10.0.0.1","n":7}}`},
		{0, map[string]any{"request": "lava_wait", "messageID": "ip"}, RespAck, `{"1":{"ipaddr":"10.0.0.1","n":7}}`},
		// A second sender of the same ID adds to it.
		{2, map[string]any{"request": "lava_send", "messageID": "ip", "message": map[string]any{"ipaddr": "10.0.0.3"}}, RespAck, ""},
		{1, map[string]any{"request": "lava_wait", "messageID": "ip"}, RespAck, `{"1":{"ipaddr":"10.0.0.1","n":7},"3":{"ipaddr":"10.0.0.3"}}`},
		// Sending again replaces the sender's own entry.
		{0, map[string]any{"request": "lava_send", "messageID": "ip", "message": map[string]any{"ipaddr": "10.0.0.9"}}, RespAck, ""},
		{1, map[string]any{"request": "lava_wait", "messageID": "ip"}, RespAck, `{"1":{"ipaddr":"10.0.0.9"},"3":{"ipaddr":"10.0.0.3"}}`},
		// No message, or null, is an empty object.
		{1, map[string]any{"request": "lava_send", "messageID": "bare"}, RespAck, ""},
		{2, map[string]any{"request": "lava_send", "messageID": "bare", "message": nil}, RespAck, ""},
		{0, map[string]any{"request": "lava_wait", "messageID": "bare"}, RespAck, `{"2":{},"3":{}}`},
		// IDs are separate.
		{0, map[string]any{"request": "lava_wait", "messageID": "other"}, RespWait, ""},
		// Non-ASCII survives the round trip.
		{0, map[string]any{"request": "lava_send", "messageID": "utf", "message": map[string]any{"k": "café 🙂"}}, RespAck, ""},
		{1, map[string]any{"request": "lava_wait", "messageID": "utf"}, RespAck, `{"1":{"k":"café 🙂"}}`},
		// An integer messageID is its decimal text.
		{0, map[string]any{"request": "lava_send", "messageID": 42}, RespAck, ""},
		{1, map[string]any{"request": "lava_wait", "messageID": "42"}, RespAck, `{"1":{}}`},
	}
	for i, s := range steps {
		r := exchange(t, n[s.who], s.req)
		if r.Response != s.resp {
			t.Fatalf("step %d %v: response %q, want %q (%v)", i, s.req, r.Response, s.resp, r.Raw)
		}
		if got := messageJSON(t, r); got != s.msg {
			t.Fatalf("step %d %v: message %s, want %s", i, s.req, got, s.msg)
		}
	}
}

// messageJSON is the reply's "message" as compact JSON, "" when absent.
func messageJSON(t testing.TB, r Reply) string {
	t.Helper()
	if _, ok := r.Raw["message"]; !ok {
		return ""
	}
	b, err := json.Marshal(r.Message)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWaitAll(t *testing.T) {
	// Nodes 1 and 4 are servers, 2, 3, 5 clients.
	roles := []string{"server", "client", "client"}
	type step struct {
		who  int
		req  map[string]any
		resp string
		msg  string
	}
	send := func(who int, id string) step {
		return step{who, map[string]any{"request": "lava_send", "messageID": id, "message": map[string]any{"from": fmt.Sprint(who + 1)}}, RespAck, ""}
	}
	waitAll := func(who int, id, role, resp, msg string) step {
		req := map[string]any{"request": "lava_wait_all", "messageID": id}
		if role != "" {
			req["waitrole"] = role
		}
		return step{who, req, resp, msg}
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"no role waits for every client", []step{
			waitAll(0, "ready", "", RespWait, ""),
			send(0, "ready"), send(1, "ready"),
			waitAll(0, "ready", "", RespWait, ""),
			send(2, "ready"), send(3, "ready"),
			waitAll(1, "ready", "", RespWait, ""),
			send(4, "ready"),
			waitAll(1, "ready", "", RespAck, `{"1":{"from":"1"},"2":{"from":"2"},"3":{"from":"3"},"4":{"from":"4"},"5":{"from":"5"}}`),
			waitAll(4, "ready", "", RespAck, `{"1":{"from":"1"},"2":{"from":"2"},"3":{"from":"3"},"4":{"from":"4"},"5":{"from":"5"}}`),
		}},
		// LAVA answers nack here: its client then fails the call
		// although the ID may simply not have been sent yet.
		{"no role and nobody sent yet waits", []step{
			waitAll(2, "never", "", RespWait, ""),
		}},
		// LAVA's returns as soon as the role's first member (node 2)
		// has sent; every client must have.
		{"role waits for every member of the role", []step{
			waitAll(0, "up", "client", RespWait, ""),
			send(1, "up"),
			waitAll(0, "up", "client", RespWait, ""),
			send(2, "up"),
			waitAll(0, "up", "client", RespWait, ""),
			send(0, "up"), // a server's send does not complete the clients
			waitAll(0, "up", "client", RespWait, ""),
			send(4, "up"),
			waitAll(0, "up", "client", RespAck, `{"1":{"from":"1"},"2":{"from":"2"},"3":{"from":"3"},"5":{"from":"5"}}`),
			// The requester need not have sent or have that role.
			waitAll(3, "up", "client", RespAck, `{"1":{"from":"1"},"2":{"from":"2"},"3":{"from":"3"},"5":{"from":"5"}}`),
			// LAVA iterates the requester's role, not waitrole: for
			// a client asking about servers that is the wrong set.
			waitAll(1, "up", "server", RespWait, ""),
			send(3, "up"),
			waitAll(1, "up", "server", RespAck, `{"1":{"from":"1"},"2":{"from":"2"},"3":{"from":"3"},"4":{"from":"4"},"5":{"from":"5"}}`),
		}},
		{"delayed start", []step{
			waitAll(1, "lava_start", "server", RespWait, ""),
			{0, map[string]any{"request": "lava_send", "messageID": "lava_start", "message": map[string]any{}}, RespAck, ""},
			waitAll(1, "lava_start", "server", RespWait, ""),
			{3, map[string]any{"request": "lava_send", "messageID": "lava_start"}, RespAck, ""},
			waitAll(1, "lava_start", "server", RespAck, `{"1":{},"4":{}}`),
		}},
		{"empty waitrole is no role", []step{
			send(0, "e"), send(1, "e"), send(2, "e"), send(3, "e"),
			waitAll(0, "e", "", RespWait, ""),
			{0, map[string]any{"request": "lava_wait_all", "messageID": "e", "waitrole": ""}, RespWait, ""},
			send(4, "e"),
			{0, map[string]any{"request": "lava_wait_all", "messageID": "e", "waitrole": nil}, RespAck, `{"1":{"from":"1"},"2":{"from":"2"},"3":{"from":"3"},"4":{"from":"4"},"5":{"from":"5"}}`},
		}},
		{"unknown role", []step{
			{0, map[string]any{"request": "lava_wait_all", "messageID": "x", "waitrole": "db"}, RespNack, ""},
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, addr := startServer(t, Options{})
			n := joinAll(t, addr, fmt.Sprint("g", i), 5, roles...)
			for j, s := range tt.steps {
				r := exchange(t, n[s.who], s.req)
				if r.Response != s.resp {
					t.Fatalf("step %d, node %d %v: response %q, want %q (%v)", j, s.who+1, s.req, r.Response, s.resp, r.Raw)
				}
				if got := messageJSON(t, r); got != s.msg {
					t.Fatalf("step %d, node %d %v: message %s, want %s", j, s.who+1, s.req, got, s.msg)
				}
			}
		})
	}
}

func TestWaitAllBeforeGroupComplete(t *testing.T) {
	_, addr := startServer(t, Options{})
	a := node(addr, "g", "1", "a", 2)
	wantResponse(t, exchange(t, a, map[string]any{"request": "lava_send", "messageID": "m"}), RespAck)
	// Node 2 has not joined, so it cannot have sent: wait, not ack.
	wantResponse(t, exchange(t, a, map[string]any{"request": "lava_wait_all", "messageID": "m"}), RespWait)
	// Nor can "b" members be counted yet.
	wantResponse(t, exchange(t, a, map[string]any{"request": "lava_wait_all", "messageID": "m", "waitrole": "b"}), RespWait)
}

// TestSync runs lava_sync with whole groups polling at once.
func TestSync(t *testing.T) {
	for _, size := range []int{2, 100, 1000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			s, addr := startServer(t, Options{})
			n := joinAll(t, addr, "g", size)
			// The same ID twice: the second round works only if the
			// first cleared its state.
			for round := range 2 {
				parallel(t, n, func(c *Client) error {
					r, err := c.Poll(testCtx(t), map[string]any{"request": "lava_sync", "messageID": "sync-1", "message": nil}, 0)
					if err == nil && (r.Response != RespAck || r.Message != "sync-1") {
						err = fmt.Errorf("round %d: reply %v", round, r.Raw)
					}
					return err
				})
				if left := syncsLeft(s, "g"); left != 0 {
					t.Fatalf("round %d: %d sync IDs left after every client was released", round, left)
				}
			}
		})
	}
}

func syncsLeft(s *Server, name string) int {
	s.mu.Lock()
	g := s.groups[name]
	s.mu.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.syncs)
}

// TestSyncCounting follows LAVA's counting step by step: the last client
// to enter also waits; everyone is released on their next poll.
func TestSyncCounting(t *testing.T) {
	_, addr := startServer(t, Options{})
	n := joinAll(t, addr, "g", 3)
	sync := func(i int, msg any) Reply {
		return exchange(t, n[i], map[string]any{"request": "lava_sync", "messageID": "s", "message": msg})
	}
	wantResponse(t, sync(0, nil), RespWait)
	wantResponse(t, sync(1, nil), RespWait)
	wantResponse(t, sync(0, nil), RespWait) // polling again does not count twice
	wantResponse(t, sync(2, nil), RespWait) // the third enters, and waits too
	r := sync(2, nil)
	wantResponse(t, r, RespAck)
	if r.Message != "s" {
		t.Fatalf("sync message %v, want the messageID", r.Message)
	}
	// A message given to lava_sync comes back instead of the ID.
	r = sync(0, map[string]any{"k": "v"})
	wantResponse(t, r, RespAck)
	if got := messageJSON(t, r); got != `{"k":"v"}` {
		t.Fatalf("sync message %s", got)
	}
	wantResponse(t, sync(1, nil), RespAck)
	// All released: the ID starts afresh.
	wantResponse(t, sync(1, nil), RespWait)
}

func TestManyGroups(t *testing.T) {
	s, addr := startServer(t, Options{})
	const groups, size = 40, 4
	var all []*Client
	for g := range groups {
		for i := range size {
			all = append(all, node(addr, fmt.Sprint("group-", g), fmt.Sprint(1000*g+i), []string{"server", "client"}[i%2], size))
		}
	}
	parallel(t, all, func(c *Client) error {
		ctx := testCtx(t)
		steps := []struct {
			req  map[string]any
			want string
		}{
			{map[string]any{"request": "group_data"}, RespGroupData},
			{map[string]any{"request": "lava_send", "messageID": "hello", "message": map[string]any{"me": c.Base["client_name"]}}, RespAck},
			{map[string]any{"request": "lava_wait_all", "messageID": "hello"}, RespAck},
			{map[string]any{"request": "lava_wait_all", "messageID": "hello", "waitrole": "server"}, RespAck},
			{map[string]any{"request": "lava_sync", "messageID": "done"}, RespAck},
			{map[string]any{"request": "clear_group", "group_size": size}, RespAck},
		}
		for _, st := range steps {
			r, err := c.Poll(ctx, st.req, 0)
			if err != nil {
				return err
			}
			if r.Response != st.want {
				return fmt.Errorf("%s: reply %v", describe(st.req), r.Raw)
			}
			if st.req["request"] == "lava_wait_all" && st.req["waitrole"] == nil {
				// Only this group's members, all of them.
				if m, _ := r.Message.(map[string]any); len(m) != size {
					return fmt.Errorf("wait_all message %v", r.Message)
				}
				me, _ := strconv.Atoi(c.Base["client_name"].(string))
				for sender := range r.Message.(map[string]any) {
					if id, _ := strconv.Atoi(sender); id/1000 != me/1000 {
						return fmt.Errorf("wait_all message from another group: %v", r.Message)
					}
				}
			}
		}
		return nil
	})
	if n := s.groupCount(); n != 0 {
		t.Fatalf("%d groups left after every client cleared", n)
	}
}

func TestClearGroup(t *testing.T) {
	s, addr := startServer(t, Options{})
	n := joinAll(t, addr, "g", 3)
	clear := map[string]any{"request": "clear_group", "group_size": 3}
	wantResponse(t, exchange(t, n[0], clear), RespAck)
	wantResponse(t, exchange(t, n[0], clear), RespAck) // a retried clear counts once
	wantResponse(t, exchange(t, n[1], clear), RespAck)
	if s.groupCount() != 1 {
		t.Fatal("group deleted before its last client cleared")
	}
	wantResponse(t, exchange(t, n[2], clear), RespAck)
	if s.groupCount() != 0 {
		t.Fatal("group still there after every client cleared")
	}
	// Gone: without group_size nothing can recreate it...
	bare := &Client{Addr: addr, Base: map[string]any{"client_name": "1", "group_name": "g", "role": "node"}}
	r := exchange(t, bare, map[string]any{"request": "lava_wait", "messageID": "x"})
	wantResponse(t, r, RespNack)
	if !strings.Contains(r.Error, `group "g" does not exist`) {
		t.Fatalf("error %q", r.Error)
	}
	// ...and with it, a fresh group starts empty.
	wantResponse(t, exchange(t, n[0], map[string]any{"request": "group_data"}), RespWait)
}

func TestFullGroup(t *testing.T) {
	_, addr := startServer(t, Options{})
	joinAll(t, addr, "g", 2)
	r := exchange(t, node(addr, "g", "3", "node", 2), map[string]any{"request": "group_data"})
	wantResponse(t, r, RespNack)
	if want := `group "g" is full: client "3" would be number 3 of 2`; r.Error != want {
		t.Fatalf("error %q, want %q", r.Error, want)
	}
}

func TestAggregate(t *testing.T) {
	_, addr := startServer(t, Options{})
	n := joinAll(t, addr, "g", 2)
	agg := func(i int, sub string) Reply {
		return exchange(t, n[i], map[string]any{"request": "aggregate", "bundle": fmt.Sprint("b", i+1), "sub_id": sub})
	}
	wantResponse(t, agg(0, "7.0"), RespWait) // sub_id zero waits for the rest
	wantResponse(t, agg(1, "7.1"), RespAck)
	wantResponse(t, agg(0, "7.0"), RespWait) // then LAVA's rpc_delay: two more waits
	wantResponse(t, agg(0, "7.0"), RespWait)
	r := agg(0, "7.0")
	wantResponse(t, r, RespAck)
	if got := messageJSON(t, r); got != `{"bundle":{"1":"b1","2":"b2"}}` {
		t.Fatalf("message %s", got)
	}
}

func TestComplete(t *testing.T) {
	_, addr := startServer(t, Options{})
	n := joinAll(t, addr, "g", 1)
	// LAVA closes without a reply; an ack lets a polling client finish.
	wantResponse(t, poll(t, n[0], map[string]any{"request": "complete"}), RespAck)
}

func TestExpireIdleGroups(t *testing.T) {
	s, addr := startServer(t, Options{GroupTTL: 24 * 3600e9})
	n := joinAll(t, addr, "idle", 2)
	joinAll(t, addr, "busy", 1)
	now := s.now()
	s.mu.Lock()
	s.groups["busy"].lastUsed = now.Add(48 * 3600e9) // used "later"
	s.mu.Unlock()
	s.expireIdle(now.Add(25 * 3600e9))
	if s.groupCount() != 1 {
		t.Fatalf("%d groups after expiry, want 1", s.groupCount())
	}
	// A client of the expired group finds it gone and starts afresh.
	wantResponse(t, exchange(t, n[0], map[string]any{"request": "group_data"}), RespWait)
}
