package coordinator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// startServer serves on a free 127.0.0.1 port until the test ends.
func startServer(t testing.TB, opts Options) (*Server, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(opts)
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return s, l.Addr().String()
}

// node is one MultiNode job's client.
func node(addr, group, client, role string, size int) *Client {
	return &Client{
		Addr:      addr,
		PollDelay: 5 * time.Millisecond,
		Base: map[string]any{
			"port": 3079, "blocksize": 4096, "poll_delay": 1, "host": "localhost",
			"hostname": "host-" + client, "client_name": client, "group_name": group,
			"role": role, "group_size": size,
		},
	}
}

// testCtx is a context that ends with the test (or after a generous
// minute, so a hang fails instead of stalling the run).
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func exchange(t testing.TB, c *Client, req map[string]any) Reply {
	t.Helper()
	r, err := c.Exchange(testCtx(t), req)
	if err != nil {
		t.Fatalf("%s: %v", describe(req), err)
	}
	return r
}

func poll(t testing.TB, c *Client, req map[string]any) Reply {
	t.Helper()
	r, err := c.Poll(testCtx(t), req, time.Minute)
	if err != nil {
		t.Fatalf("client %v %s: %v", c.Base["client_name"], describe(req), err)
	}
	return r
}

func wantResponse(t testing.TB, r Reply, want string) {
	t.Helper()
	if r.Response != want {
		t.Fatalf("response %q, want %q (reply %v)", r.Response, want, r.Raw)
	}
}

// joinAll creates a group of n nodes named 1..n with the given roles (one
// per node, cycling) and waits until group_data completes for all.
func joinAll(t testing.TB, addr, group string, n int, roles ...string) []*Client {
	t.Helper()
	if len(roles) == 0 {
		roles = []string{"node"}
	}
	nodes := make([]*Client, n)
	for i := range nodes {
		nodes[i] = node(addr, group, fmt.Sprint(i+1), roles[i%len(roles)], n)
	}
	parallel(t, nodes, func(c *Client) error {
		r, err := c.Poll(testCtx(t), map[string]any{"request": "group_data"}, time.Minute)
		if err == nil && r.Response != RespGroupData {
			err = fmt.Errorf("group_data response %q", r.Response)
		}
		if err == nil && len(r.Roles) != n {
			err = fmt.Errorf("group_data has %d roles, want %d", len(r.Roles), n)
		}
		return err
	})
	return nodes
}

// parallel runs f for every node at once and fails on the first error.
func parallel(t testing.TB, nodes []*Client, f func(*Client) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(nodes))
	for _, c := range nodes {
		wg.Go(func() {
			if err := f(c); err != nil {
				errs <- fmt.Errorf("client %v: %w", c.Base["client_name"], err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
