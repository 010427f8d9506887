package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/coordinator"
	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func at(ms ...int) []time.Time {
	var ts []time.Time
	for _, m := range ms {
		ts = append(ts, t0.Add(time.Duration(m)*time.Millisecond))
	}
	return ts
}

func TestSpanTime(t *testing.T) {
	for _, tc := range []struct {
		name     string
		s        span
		n        int
		want     time.Duration
		complete bool
	}{
		{"first enter to last leave", span{at(30, 0, 10), at(500, 900, 700)}, 3, 900 * time.Millisecond, true},
		{"order of arrival does not matter", span{at(10, 30, 0), at(900, 500, 700)}, 3, 900 * time.Millisecond, true},
		{"one node still inside", span{at(0, 10, 30), at(500, 700)}, 3, 0, false},
		{"no one entered", span{}, 3, 0, false},
		{"single node", span{at(5), at(25)}, 1, 20 * time.Millisecond, true},
		{"no nodes", span{at(5), at(25)}, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, complete := spanTime(tc.s, tc.n)
			if got != tc.want || complete != tc.complete {
				t.Errorf("spanTime = %v, %v; want %v, %v", got, complete, tc.want, tc.complete)
			}
		})
	}
}

func ms(v ...int) []time.Duration {
	var ds []time.Duration
	for _, m := range v {
		ds = append(ds, time.Duration(m)*time.Millisecond)
	}
	return ds
}

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name string
		ds   []time.Duration
		p99  bool
		want Summary
	}{
		{"empty", nil, true, Summary{}},
		{"odd count", ms(300, 100, 200), false, Summary{N: 3, Median: 0.2, Max: 0.3}},
		{"even count takes the middle mean", ms(400, 100, 200, 300), false, Summary{N: 4, Median: 0.25, Max: 0.4}},
		{"p99 of 100 is the 99th", ms(seq(1, 100)...), true, Summary{N: 100, Median: 0.0505, Max: 0.1, P99: 0.099}},
		{"p99 of few is the max", ms(1, 2, 3), true, Summary{N: 3, Median: 0.002, Max: 0.003, P99: 0.003}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := summarize(tc.ds, tc.p99)
			// medians are rounded to the millisecond
			tc.want.Median = round3(tc.want.Median)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("summarize (-want +got):\n%s", diff)
			}
		})
	}
}

func seq(from, to int) []int {
	var v []int
	for i := from; i <= to; i++ {
		v = append(v, i)
	}
	return v
}

func TestErrKind(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("connecting to coordinator 127.0.0.1:1: %w", err) }
	for _, tc := range []struct {
		err  error
		want string
	}{
		{wrap(&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), "refused"},
		{wrap(&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), "reset"},
		{wrap(syscall.EPIPE), "broken_pipe"},
		{wrap(syscall.EADDRNOTAVAIL), "no_local_port"},
		{wrap(syscall.EMFILE), "too_many_files"},
		{wrap(io.ErrUnexpectedEOF), "eof"},
		{errors.New("receiving reply to lava_sync: connection closed without a reply"), "eof"},
		{wrap(&coordinator.FrameError{Reason: "truncated body", Truncated: true}), "truncated_reply"},
		{wrap(os.ErrDeadlineExceeded), "timeout"},
		{errors.New("coordinator reply has no \"response\" string"), "other"},
	} {
		if got := errKind(tc.err); got != tc.want {
			t.Errorf("errKind(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestRecorderRounds(t *testing.T) {
	r := newRecorder()
	// group 0: group_data and round 1 complete, round 2 cut off (one
	// node never left); group 1: round 1 complete.
	for i, e := range at(0, 5) {
		r.enter(0, 0, e)
		r.leave(0, 0, at(100, 120)[i])
		r.enter(0, 1, at(200, 210)[i])
		r.leave(0, 1, at(400, 450)[i])
		r.enter(0, 2, at(500, 500)[i])
		r.enter(1, 1, at(0, 0)[i])
		r.leave(1, 1, at(1000, 1)[i])
	}
	r.leave(0, 2, at(600)[0])
	rounds, gd := r.rounds(2)
	slices.Sort(rounds) // they come from a map
	if diff := cmp.Diff(ms(250, 1000), rounds); diff != "" {
		t.Errorf("rounds (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(ms(120), gd); diff != "" {
		t.Errorf("group_data (-want +got):\n%s", diff)
	}
}

func TestWaitAllSummary(t *testing.T) {
	for _, tc := range []struct {
		name    string
		members int
		got     []int
		bad     int
		want    WaitAllResult
	}{
		{"waits for the whole role", 4, []int{4, 4, 4}, 0,
			WaitAllResult{RoleMembers: 4, Waiters: 3, SendersMin: 4, SendersMax: 4}},
		{"returns after the first", 4, []int{1, 4, 2}, 1,
			WaitAllResult{RoleMembers: 4, Waiters: 3, SendersMin: 1, SendersMax: 4, ReturnedEarly: 2, BadReplies: 1}},
		{"no replies", 4, nil, 0, WaitAllResult{RoleMembers: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(&tc.want, waitAllSummary(tc.members, tc.got, tc.bad)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigCheck(t *testing.T) {
	good := config{Scenario: "sync", Groups: 1, Nodes: 1, Rounds: 1, Poll: time.Second, Limit: time.Minute}
	for _, tc := range []struct {
		name  string
		edit  func(*config)
		valid bool
	}{
		{"defaults", func(*config) {}, true},
		{"unknown scenario", func(c *config) { c.Scenario = "flood" }, false},
		{"no nodes", func(c *config) { c.Nodes = 0 }, false},
		{"no groups", func(c *config) { c.Groups = 0 }, false},
		{"sendwait alone", func(c *config) { c.Scenario = "sendwait" }, false},
		{"role covers everyone", func(c *config) { c.Scenario, c.Nodes, c.RoleMembers = "waitall-role", 4, 4 }, false},
		{"role of three among four", func(c *config) { c.Scenario, c.Nodes, c.RoleMembers = "waitall-role", 4, 3 }, true},
		{"zero poll delay", func(c *config) { c.Poll = 0 }, false},
		{"negative retry", func(c *config) { c.Retry = -time.Second }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			if err := c.check(); (err == nil) != tc.valid {
				t.Errorf("check() = %v, want valid=%v", err, tc.valid)
			}
		})
	}
}
