package coordinator

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// wantNack checks that r is a nack whose error names the flag and the
// config key of a limit.
func wantNack(t *testing.T, r Reply, flag, key string) {
	t.Helper()
	msg, _ := r.Raw["error"].(string)
	if r.Response != RespNack || !strings.Contains(msg, flag) || !strings.Contains(msg, `"`+key+`"`) {
		t.Fatalf("reply %v, want a nack naming %s and %q", r.Raw, flag, key)
	}
}

// TestMaxGroupsDefault: a peer creating groups in a loop (each request
// from a new group name, as an unauthenticated peer may send) is refused
// past DefaultMaxGroups with the server at its defaults, and a group
// cleared frees its place.
func TestMaxGroupsDefault(t *testing.T) {
	s, addr := startServer(t, Options{})
	var first *Client
	for i := range DefaultMaxGroups {
		c := node(addr, fmt.Sprint("spam-", i), "c", "r", 2)
		wantResponse(t, exchange(t, c, map[string]any{"request": "group_data"}), RespWait)
		if i == 0 {
			first = c
		}
	}
	extra := node(addr, "one-more", "c", "r", 2)
	wantNack(t, exchange(t, extra, map[string]any{"request": "group_data"}), "--max-groups", "max_groups")
	if n := s.groupCount(); n != DefaultMaxGroups {
		t.Fatalf("%d groups, want %d", n, DefaultMaxGroups)
	}
	wantResponse(t, exchange(t, first, map[string]any{"request": "clear_group"}), RespAck)
	wantResponse(t, exchange(t, extra, map[string]any{"request": "group_data"}), RespWait)
}

// TestMaxGroupSize: a group_size past the limit is refused when the group
// would be created.
func TestMaxGroupSize(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := node(addr, "huge", "c", "r", DefaultMaxGroupSize+1)
	wantNack(t, exchange(t, c, map[string]any{"request": "group_data"}), "--max-group-size", "max_group_size")
	c = node(addr, "big", "c", "r", DefaultMaxGroupSize)
	wantResponse(t, exchange(t, c, map[string]any{"request": "group_data"}), RespWait)
}

// TestMaxMessages: a client sending new message IDs in a loop is refused
// past its limit; sending again under an ID it has is not a new message,
// and another client of the group keeps its own count.
func TestMaxMessages(t *testing.T) {
	_, addr := startServer(t, Options{Limits: Limits{MaxMessages: 10}})
	n := joinAll(t, addr, "g", 2)
	send := func(c *Client, id string) Reply {
		return exchange(t, c, map[string]any{"request": "lava_send", "messageID": id, "message": map[string]any{"k": "v"}})
	}
	for i := range 9 {
		wantResponse(t, send(n[0], fmt.Sprint("id-", i)), RespAck)
	}
	wantResponse(t, exchange(t, n[0], map[string]any{"request": "lava_sync", "messageID": "s"}), RespWait)
	wantNack(t, send(n[0], "id-x"), "--max-messages", "max_messages")
	wantNack(t, exchange(t, n[0], map[string]any{"request": "aggregate", "bundle": "b", "sub_id": "1.0"}), "--max-messages", "max_messages")
	wantResponse(t, send(n[0], "id-3"), RespAck)
	wantResponse(t, send(n[1], "id-x"), RespAck)
	// The refused message was not kept: n[0] has not sent id-x.
	wantResponse(t, exchange(t, n[1], map[string]any{"request": "lava_wait_all", "messageID": "id-x"}), RespWait)
}

// TestMaxBytes: large messages fill a group's budget, then the server's;
// a cleared group gives its bytes back.
func TestMaxBytes(t *testing.T) {
	const kb = 1 << 10
	s, addr := startServer(t, Options{Limits: Limits{MaxGroupBytes: 100 * kb, MaxBytes: 250 * kb}})
	big := strings.Repeat("x", 16*kb)
	send := func(c *Client, id string) Reply {
		return exchange(t, c, map[string]any{"request": "lava_send", "messageID": id, "message": map[string]any{"data": big}})
	}
	fill := func(c *Client, flag, key string) {
		t.Helper()
		for i := 0; ; i++ {
			r := send(c, fmt.Sprint("m", i))
			if r.Response == RespNack {
				wantNack(t, r, flag, key)
				return
			}
			wantResponse(t, r, RespAck)
			if i > 100 {
				t.Fatalf("%d messages of 16 KB accepted", i)
			}
		}
	}
	a := joinAll(t, addr, "a", 1)[0]
	fill(a, "--max-group-bytes", "max_group_bytes")
	b := joinAll(t, addr, "b", 1)[0]
	fill(b, "--max-group-bytes", "max_group_bytes")
	c := joinAll(t, addr, "c", 1)[0]
	fill(c, "--max-bytes", "max_bytes")
	if used := s.budget.total.Load(); used > 250*kb {
		t.Fatalf("the groups keep %d bytes, past the limit", used)
	}
	wantResponse(t, exchange(t, a, map[string]any{"request": "clear_group"}), RespAck)
	wantResponse(t, send(c, "after-a-cleared"), RespAck)
	// A new client whose names pass the server's budget is refused, and
	// the group it would have created does not stay.
	for i := 0; ; i++ {
		d := node(addr, fmt.Sprint("d", i), strings.Repeat("n", 1000), "r", 1)
		r := exchange(t, d, map[string]any{"request": "group_data"})
		if r.Response == RespNack {
			wantNack(t, r, "--max-bytes", "max_bytes")
			s.mu.Lock()
			stayed := s.groups[fmt.Sprint("d", i)] != nil
			s.mu.Unlock()
			if stayed {
				t.Fatalf("the refused group d%d stayed", i)
			}
			break
		}
		if i > 1000 {
			t.Fatal("clients without end accepted")
		}
	}
}

// TestDefaultGroupTTL: groups expire after a day by default; a negative
// GroupTTL keeps them until cleared, as LAVA does.
func TestDefaultGroupTTL(t *testing.T) {
	s, addr := startServer(t, Options{})
	if s.opts.GroupTTL != DefaultGroupTTL || DefaultGroupTTL != 24*time.Hour {
		t.Fatalf("GroupTTL %s, want a day", s.opts.GroupTTL)
	}
	joinAll(t, addr, "crashed", 2)
	s.expireIdle(s.now().Add(DefaultGroupTTL + time.Second))
	if n := s.groupCount(); n != 0 {
		t.Fatalf("%d groups a day after their last request", n)
	}
	if used := s.budget.total.Load(); used != 0 {
		t.Fatalf("%d bytes still counted after the group expired", used)
	}
	keep, addr2 := startServer(t, Options{GroupTTL: -1})
	joinAll(t, addr2, "kept", 1)
	keep.lmu.Lock()
	sweeping := keep.sweeping
	keep.lmu.Unlock()
	if sweeping {
		t.Fatal("a server with a negative GroupTTL expires groups")
	}
}

// TestMaxConns: peers holding connections open (each may hold a body of
// up to MaxBody) take at most MaxConns of them; the others' requests
// wait and are answered once those time out.
func TestMaxConns(t *testing.T) {
	s, addr := startServer(t, Options{ConnTimeout: 300 * time.Millisecond, Limits: Limits{MaxConns: 2}})
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	for {
		s.lmu.Lock()
		n := len(s.conns)
		s.lmu.Unlock()
		if n == 2 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	nodes := make([]*Client, 5)
	for i := range nodes {
		nodes[i] = node(addr, "g", fmt.Sprint(i), "r", 5)
	}
	parallel(t, nodes, func(c *Client) error {
		_, err := c.Poll(testCtx(t), map[string]any{"request": "group_data"}, time.Minute)
		return err
	})
	s.lmu.Lock()
	peak := s.peakConns
	s.lmu.Unlock()
	if peak > 2 {
		t.Fatalf("%d connections served at once, want at most 2", peak)
	}
}
