package main

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/coordinator"
)

// startServer runs Basalt's coordinator on a free 127.0.0.1 port for the
// test and closes it at the end.
func startServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := coordinator.NewServer(coordinator.Options{})
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-served; !errors.Is(err, coordinator.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return l.Addr().String()
}

// TestScenarios plays every scenario against a real server: every round
// must complete, with no nack and no connection error, and the counters
// must agree with each other.
func TestScenarios(t *testing.T) {
	for _, tc := range []struct {
		scenario      string
		groups, nodes int
		members       int
		// acks a node gets besides group_data: per round and at the end
		acksPerRound int
	}{
		{"sync", 3, 4, 0, 1},
		{"sendwait", 2, 5, 0, 2},
		{"waitall-role", 1, 5, 3, 2},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			c := config{Addr: startServer(t), Scenario: tc.scenario, Groups: tc.groups, Nodes: tc.nodes,
				Rounds: 2, RoleMembers: tc.members, Poll: 5 * time.Millisecond, Retry: 5 * time.Millisecond,
				Stagger: 20 * time.Millisecond, Limit: time.Minute, FirstJob: 100}
			if err := c.check(); err != nil {
				t.Fatal(err)
			}
			res := run(c)
			nodes := tc.groups * tc.nodes
			if res.TimedOut || res.RoundsCompleted != tc.groups*2 || res.RoundsExpected != tc.groups*2 || res.NodesFinished != nodes {
				t.Fatalf("timed out %v, rounds %d of %d, nodes finished %d of %d", res.TimedOut,
					res.RoundsCompleted, res.RoundsExpected, res.NodesFinished, nodes)
			}
			if res.ConnErrorsTotal != 0 || len(res.Nacks) != 0 {
				t.Errorf("connection errors %v, nacks %v", res.ConnErrors, res.Nacks)
			}
			if res.Requests != res.Replies {
				t.Errorf("%d requests but %d replies without any connection error", res.Requests, res.Replies)
			}
			sum := 0
			for _, v := range res.Responses {
				sum += v
			}
			if sum != res.Replies {
				t.Errorf("responses %v add up to %d, not the %d replies", res.Responses, sum, res.Replies)
			}
			if got := res.Responses["group_data"]; got != nodes {
				t.Errorf("%d group_data replies, want one per node (%d)", got, nodes)
			}
			// each round's calls, then clear_group
			if got, want := res.Responses["ack"], nodes*(2*tc.acksPerRound+1); got != want {
				t.Errorf("%d acks, want %d", got, want)
			}
			if res.GroupDataS.N != tc.groups || res.RoundS.N != tc.groups*2 {
				t.Errorf("timed %d group_data barriers and %d rounds, want %d and %d",
					res.GroupDataS.N, res.RoundS.N, tc.groups, tc.groups*2)
			}
			if tc.scenario == "waitall-role" {
				w := res.WaitAll
				waiters := (tc.nodes - tc.members) * 2
				if w == nil || w.Waiters != waiters || w.SendersMin != tc.members || w.ReturnedEarly != 0 {
					t.Errorf("waitall_role = %+v, want %d replies each naming all %d senders", w, waiters, tc.members)
				}
			}
		})
	}
}

// TestRefusedIsCountedAndBounded points the tool at a port nobody
// listens on: it must count the refusals, keep retrying, and stop at
// the limit with nothing completed.
func TestRefusedIsCountedAndBounded(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := config{Addr: addr, Scenario: "sync", Groups: 1, Nodes: 2, Rounds: 1, Poll: 5 * time.Millisecond,
		Retry: 5 * time.Millisecond, Limit: 200 * time.Millisecond, FirstJob: 1}
	res := run(c)
	// Whether the limit or a node's own poll timeout ends the run first,
	// and whether the last dial is cut by the limit, depends on the
	// machine's load: only what does not is checked.
	if res.RoundsCompleted != 0 || res.NodesFinished != 0 || res.Replies != 0 {
		t.Errorf("rounds %d, nodes finished %d, replies %d; want nothing done",
			res.RoundsCompleted, res.NodesFinished, res.Replies)
	}
	if res.ConnErrors["refused"] < 2 {
		t.Errorf("conn errors %v: want the refusals counted, at least one per node", res.ConnErrors)
	}
}
