package coordinator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestExchangeSendsBaseAndRequest(t *testing.T) {
	got := make(chan map[string]any, 1)
	addr := fakeCoordinator(t, func(c net.Conn, _ int) {
		body, err := ReadFrame(c, 0)
		if err != nil {
			t.Error(err)
			return
		}
		// The client shut its write side: nothing follows the frame.
		if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Errorf("after the frame: %d bytes, %v; want EOF", n, err)
		}
		m, err := decodeObject(body)
		if err != nil {
			t.Error(err)
		}
		got <- m
		_ = WriteFrame(c, []byte(`{"response": "group_data", "roles": {"12": "server", "13": "client"}}`))
	})
	c := &Client{Addr: addr, Base: map[string]any{"client_name": "12", "group_name": "g", "role": "server", "request": "overridden"}}
	r := exchange(t, c, map[string]any{"request": "group_data", "group_size": 2})
	if r.Response != RespGroupData || r.Roles["13"] != "client" || len(r.Roles) != 2 {
		t.Fatalf("reply %+v", r)
	}
	m := <-got
	want := `{"client_name":"12","group_name":"g","group_size":2,"request":"group_data","role":"server"}`
	if b, _ := Marshal(m); string(b) != want {
		t.Fatalf("request %s, want %s", b, want)
	}
}

// fakeCoordinator accepts connections and hands each to serve with its
// sequence number, until the test ends.
func fakeCoordinator(t *testing.T, serve func(c net.Conn, n int)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for n := 0; ; n++ {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(time.Minute))
				serve(c, n)
			})
		}
	})
	return l.Addr().String()
}

// TestClientBadReplies: replies that make no sense end Poll at once
// (polling again would get the same) with an error saying what was wrong.
func TestClientBadReplies(t *testing.T) {
	tests := []struct {
		name  string
		reply string
		want  string
	}{
		{"garbage header", "HELLO!!!", `header "HELLO!!!" is not 8 hexadecimal digits`},
		{"not json", "00000003abc", "coordinator reply: invalid JSON"},
		{"not an object", `00000002[]`, "JSON is an array, not an object"},
		{"no response", `00000002{}`, `reply has no "response" string`},
		{"bad roles", string(frame(`{"response": "group_data", "roles": {"1": 2}}`)), `role of client "1" is a number`},
		{"too large", "7FFFFFFF", "exceeds the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := fakeCoordinator(t, func(c net.Conn, _ int) {
				_, _ = ReadFrame(c, 0)
				_, _ = io.WriteString(c, tt.reply)
			})
			c := &Client{Addr: addr, PollDelay: time.Millisecond}
			_, err := c.Poll(testCtx(t), map[string]any{"request": "lava_wait", "messageID": "m"}, time.Minute)
			if err == nil || !strings.Contains(err.Error(), tt.want) || errors.Is(err, ErrTimeout) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), `lava_wait "m"`) {
				t.Errorf("error %q does not name the request", err)
			}
		})
	}
}

func TestPollTimeout(t *testing.T) {
	_, addr := startServer(t, Options{})
	lonely := node(addr, "g", "1", "node", 2)
	_, err := lonely.Poll(testCtx(t), map[string]any{"request": "group_data"}, 200*time.Millisecond)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("error %v, want ErrTimeout", err)
	}
	if !strings.Contains(err.Error(), "group_data after 200ms") {
		t.Errorf("error %q does not say what timed out", err)
	}
}

func TestPollUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nobody listens there now
	var logged atomic.Int32
	c := &Client{Addr: addr, PollDelay: time.Millisecond, Logf: func(string, ...any) { logged.Add(1) }}
	_, err = c.Poll(testCtx(t), map[string]any{"request": "lava_sync", "messageID": "s"}, 300*time.Millisecond)
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "last error: connecting to coordinator") {
		t.Fatalf("error %v, want ErrTimeout with the connection error", err)
	}
	if logged.Load() == 0 {
		t.Error("no retry was logged")
	}
}

func TestPollHonoursContext(t *testing.T) {
	_, addr := startServer(t, Options{})
	lonely := node(addr, "g", "1", "node", 2)
	ctx, cancel := context.WithCancel(context.Background())
	var polls atomic.Int32
	lonely.Logf = nil
	go func() {
		// Cancel once the client is visibly polling.
		for polls.Load() < 3 {
			r, _ := lonely.Exchange(context.Background(), map[string]any{"request": "group_data"})
			if r.Response == RespWait {
				polls.Add(1)
			}
		}
		cancel()
	}()
	_, err := lonely.Poll(ctx, map[string]any{"request": "group_data"}, time.Hour)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// TestExchangeCancelledWhileBlocked: a coordinator that accepts and never
// answers holds Exchange only until ctx ends or IOTimeout passes.
func TestExchangeCancelledWhileBlocked(t *testing.T) {
	release := make(chan struct{})
	addr := fakeCoordinator(t, func(c net.Conn, _ int) { <-release })
	t.Cleanup(func() { close(release) }) // runs before fakeCoordinator's

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := (&Client{Addr: addr}).Exchange(ctx, map[string]any{"request": "group_data"})
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}

	_, err := (&Client{Addr: addr, IOTimeout: 100 * time.Millisecond}).Exchange(context.Background(), map[string]any{"request": "group_data"})
	if err == nil || !strings.Contains(err.Error(), "i/o timeout") {
		t.Fatalf("error %v, want an i/o timeout", err)
	}
}

// TestPollRetriesDroppedConnections: the coordinator drops the first
// connection before answering and cuts the second reply short; Poll
// reconnects and gets the real answer, logging each retry.
func TestPollRetriesDroppedConnections(t *testing.T) {
	_, real := startServer(t, Options{})
	addr := fakeCoordinator(t, func(c net.Conn, n int) {
		req, err := ReadFrame(c, 0)
		if err != nil {
			return
		}
		switch n {
		case 0:
			return // dropped: no reply at all
		case 1:
			_, _ = io.WriteString(c, "00000040{\"resp") // truncated
			return
		}
		// Then a faithful proxy to the real server.
		b, err := net.Dial("tcp", real)
		if err != nil {
			t.Error(err)
			return
		}
		defer b.Close()
		_ = WriteFrame(b, req)
		b.(*net.TCPConn).CloseWrite()
		_, _ = io.Copy(c, b)
	})
	var logs []string
	var mu sync.Mutex
	c := node(addr, "g", "1", "node", 1)
	c.Logf = func(f string, a ...any) {
		mu.Lock()
		logs = append(logs, fmt.Sprintf(f, a...))
		mu.Unlock()
	}
	r := poll(t, c, map[string]any{"request": "group_data"})
	if r.Response != RespGroupData || r.Roles["1"] != "node" {
		t.Fatalf("reply %v", r.Raw)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logs) != 2 || !strings.Contains(logs[0], "connection closed without a reply") || !strings.Contains(logs[1], "truncated body") {
		t.Fatalf("retry log %q", logs)
	}
}
