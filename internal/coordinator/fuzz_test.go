package coordinator

import (
	"bytes"
	"testing"
)

// FuzzServer feeds raw bytes to the server's request handling as a
// sequence of frames on one server, so that state built by earlier
// requests (groups, sends, syncs, clears) meets later ones. It must never
// panic, and every reply must be a well-formed frame body: a JSON object
// with a known response, nacks with a reason and no "message".
func FuzzServer(f *testing.F) {
	seed := func(bodies ...string) []byte {
		var b bytes.Buffer
		for _, body := range bodies {
			b.Write(frame(body))
		}
		return b.Bytes()
	}
	g := func(client, extra string) string {
		return `{"client_name": "` + client + `", "group_name": "g", "role": "r` + client + `", "group_size": 2, "hostname": "h"` + extra + `}`
	}
	f.Add(seed(g("1", `, "request": "group_data"`), g("2", `, "request": "group_data"`), g("1", `, "request": "group_data"`)))
	f.Add(seed(g("1", `, "request": "lava_send", "messageID": "m", "message": {"k": "v"}`), g("2", `, "request": "lava_wait", "messageID": "m"`)))
	f.Add(seed(g("1", `, "request": "lava_sync", "messageID": "s"`), g("2", `, "request": "lava_sync", "messageID": "s"`), g("1", `, "request": "lava_sync", "messageID": "s"`), g("2", `, "request": "lava_sync", "messageID": "s"`)))
	f.Add(seed(g("1", `, "request": "lava_send", "messageID": "m"`), g("2", `, "request": "lava_send", "messageID": "m"`), g("1", `, "request": "lava_wait_all", "messageID": "m", "waitrole": "r2"`), g("2", `, "request": "lava_wait_all", "messageID": "m"`)))
	f.Add(seed(g("1", `, "request": "lava_sync", "messageID": "m"`), g("1", `, "request": "lava_send", "messageID": "m"`)))
	f.Add(seed(g("1", `, "request": "aggregate", "bundle": {}, "sub_id": "3.0"`), g("2", `, "request": "aggregate", "bundle": 1, "sub_id": "3.1"`)))
	f.Add(seed(g("1", `, "request": "clear_group"`), g("2", `, "request": "clear_group"`), g("1", `, "request": "complete"`)))
	f.Add(seed(g("3", `, "request": "lava_wait_all", "messageID": 5, "waitrole": "r4"`)))
	f.Add(seed(`{"request": "group_data"}`, `[]`, `{`, `"x"`))
	f.Add([]byte("ZZZZZZZZ{}"))
	f.Add([]byte("00000010{\"request\":"))
	f.Add([]byte("FFFFFFFF"))
	f.Add([]byte("0000"))

	f.Fuzz(func(t *testing.T, data []byte) {
		// Small limits, so that inputs reach them.
		s := NewServer(Options{MaxBody: 4096, Limits: Limits{MaxGroups: 3, MaxMessages: 4, MaxGroupBytes: 8192, MaxBytes: 12000}})
		defer checkBudget(t, s)
		r := bytes.NewReader(data)
		for range 16 {
			if r.Len() == 0 {
				return
			}
			body, ok := s.respondTo(r, "fuzz")
			if !ok {
				return
			}
			checkReply(t, body)
		}
	})
}

func checkReply(t *testing.T, body []byte) {
	t.Helper()
	for _, c := range body {
		if c >= 0x80 {
			t.Fatalf("reply is not ASCII: %q", body)
		}
	}
	r, err := parseReply(body)
	if err != nil {
		t.Fatalf("reply %q: %v", body, err)
	}
	switch r.Response {
	case RespAck, RespWait:
	case RespGroupData:
		if r.Roles == nil {
			t.Fatalf("group_data reply without roles: %q", body)
		}
	case RespNack:
		if r.Error == "" {
			t.Fatalf("nack without a reason: %q", body)
		}
		if _, ok := r.Raw["message"]; ok {
			t.Fatalf("nack with a message: %q", body)
		}
	default:
		t.Fatalf("unknown response %q", r.Response)
	}
}

// checkBudget checks that the bytes counted for the server are those its
// groups keep, within the limits.
func checkBudget(t *testing.T, s *Server) {
	t.Helper()
	var sum int64
	s.mu.Lock()
	groups := len(s.groups)
	for _, g := range s.groups {
		g.mu.Lock()
		var slots int64
		for _, n := range g.slots {
			slots += n
		}
		if slots != g.bytes || g.bytes > s.budget.MaxGroupBytes {
			t.Errorf("group %q: %d bytes counted, its slots hold %d (limit %d)", g.name, g.bytes, slots, s.budget.MaxGroupBytes)
		}
		for c, n := range g.messageCount {
			if n > s.budget.MaxMessages {
				t.Errorf("client %q keeps %d messages", c, n)
			}
		}
		sum += g.bytes
		g.mu.Unlock()
	}
	s.mu.Unlock()
	if total := s.budget.total.Load(); total != sum || total > s.budget.MaxBytes || groups > s.budget.MaxGroups {
		t.Errorf("server counts %d bytes, its %d groups hold %d", total, groups, sum)
	}
}
