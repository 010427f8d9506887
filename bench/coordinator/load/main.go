// Command load puts a MultiNode coordinator (Basalt's or LAVA's) under the
// load of many dispatchers at once and prints one JSON line of what it
// saw. Every simulated node talks to the coordinator the way LAVA's
// dispatcher does, through Basalt's coordinator client, so the requests
// on the wire are a dispatcher's: a new connection per request, the same
// request again after the poll delay while the answer is "wait", and
// after a connection error (refused, reset, ...) a retry after a delay,
// each error counted by kind.
//
//	load -addr 127.0.0.1:3079 -scenario sync -groups 1 -nodes 100 -rounds 5
//
// Scenarios (every node first sends group_data and last clear_group):
//
//	sync          R rounds of lava_sync by every node.
//	sendwait      R rounds: node 0 lava_send, the others lava_wait (odd
//	              nodes) or lava_wait_all on node 0's role (even nodes),
//	              then all lava_sync.
//	waitall-role  R rounds: the -role-members nodes of role "server"
//	              lava_send one after the other (-stagger apart) while the
//	              rest lava_wait_all on role "server", then all lava_sync.
//	              The report says how many senders each waiter's reply
//	              held: a coordinator that waits for the whole role gives
//	              every waiter all of them.
//
// The run stops at -limit and reports what completed by then. A round is
// complete when every node of the group got its final answer; its time
// runs from the first node entering it to the last leaving it.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/basalt-lava/basalt/internal/coordinator"
)

type config struct {
	Addr        string        `json:"addr"`
	Label       string        `json:"label,omitempty"`
	Scenario    string        `json:"scenario"`
	Groups      int           `json:"groups"`
	Nodes       int           `json:"nodes"`
	Rounds      int           `json:"rounds"`
	RoleMembers int           `json:"role_members,omitempty"`
	Poll        time.Duration `json:"-"`
	Retry       time.Duration `json:"-"`
	RetryGrowth time.Duration `json:"-"`
	Stagger     time.Duration `json:"-"`
	Limit       time.Duration `json:"-"`
	ReqTimeout  time.Duration `json:"-"`
	FirstJob    int           `json:"-"`
}

// Result is the JSON line load prints.
type Result struct {
	config
	PollDelayS      float64           `json:"poll_delay_s"`
	LimitS          float64           `json:"limit_s"`
	Requests        int               `json:"requests"`
	Replies         int               `json:"replies"`
	Responses       map[string]int    `json:"responses"`
	Nacks           map[string]int    `json:"nacks,omitempty"`
	ConnErrors      map[string]int    `json:"conn_errors"`
	ConnErrorsTotal int               `json:"conn_errors_total"`
	ErrorSamples    map[string]string `json:"error_samples,omitempty"`
	RoundsExpected  int               `json:"rounds_expected"`
	RoundsCompleted int               `json:"rounds_completed"`
	NodesFinished   int               `json:"nodes_finished"`
	TimedOut        bool              `json:"timed_out"`
	WallS           float64           `json:"wall_s"`
	RequestsPerS    float64           `json:"requests_per_s"`
	RoundsPerS      float64           `json:"rounds_per_s"`
	RoundS          Summary           `json:"round_s"`
	GroupDataS      Summary           `json:"group_data_s"`
	LatencyS        Summary           `json:"request_latency_s"`
	ClientCPUS      float64           `json:"client_cpu_s"`
	WaitAll         *WaitAllResult    `json:"waitall_role,omitempty"`
}

// WaitAllResult is what the waitall-role scenario is about: each waiter's
// reply names the senders it covers.
type WaitAllResult struct {
	RoleMembers   int `json:"role_members"`
	Waiters       int `json:"waiter_replies"`
	SendersMin    int `json:"senders_in_reply_min"`
	SendersMax    int `json:"senders_in_reply_max"`
	ReturnedEarly int `json:"returned_before_all_sent"`
	BadReplies    int `json:"replies_without_senders,omitempty"`
}

func main() {
	var c config
	flag.StringVar(&c.Addr, "addr", "127.0.0.1:3079", "coordinator address host:port")
	flag.StringVar(&c.Label, "label", "", "free text copied into the result (e.g. which server)")
	flag.StringVar(&c.Scenario, "scenario", "sync", "sync, sendwait or waitall-role")
	flag.IntVar(&c.Groups, "groups", 1, "MultiNode groups running at once")
	flag.IntVar(&c.Nodes, "nodes", 10, "nodes (dispatchers) per group")
	flag.IntVar(&c.Rounds, "rounds", 3, "rounds per node")
	flag.IntVar(&c.RoleMembers, "role-members", 3, "waitall-role: nodes in the waited-for role")
	flag.DurationVar(&c.Poll, "poll", 100*time.Millisecond, "poll delay between two requests answered \"wait\"")
	flag.DurationVar(&c.Retry, "retry", 0, "delay before retrying after a connection error (default: the poll delay)")
	flag.DurationVar(&c.RetryGrowth, "retry-growth", 0, "added to the retry delay after each further consecutive error (LAVA's client: 2s)")
	flag.DurationVar(&c.Stagger, "stagger", 0, "waitall-role: time between two senders' lava_send (default: 5 poll delays)")
	flag.DurationVar(&c.Limit, "limit", time.Minute, "overall time limit; the run reports what completed by then")
	flag.DurationVar(&c.ReqTimeout, "request-timeout", 0, "limit on one exchange (0: the client's default, 60s)")
	flag.IntVar(&c.FirstJob, "first-job", 1000, "job id (client_name) of the first node")
	flag.Parse()
	if c.Retry == 0 {
		c.Retry = c.Poll
	}
	if c.Stagger == 0 {
		c.Stagger = 5 * c.Poll
	}
	if err := c.check(); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	res := run(c)
	b, err := json.Marshal(res)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	fmt.Println(string(b))
}

func (c config) check() error {
	switch c.Scenario {
	case "sync", "sendwait", "waitall-role":
	default:
		return fmt.Errorf("-scenario %q: want sync, sendwait or waitall-role", c.Scenario)
	}
	if c.Groups < 1 || c.Nodes < 1 || c.Rounds < 0 {
		return fmt.Errorf("-groups %d -nodes %d -rounds %d: groups and nodes must be at least 1, rounds at least 0", c.Groups, c.Nodes, c.Rounds)
	}
	if c.Scenario != "sync" && c.Nodes < 2 {
		return fmt.Errorf("-scenario %s needs at least 2 nodes, got %d", c.Scenario, c.Nodes)
	}
	if c.Scenario == "waitall-role" && (c.RoleMembers < 1 || c.RoleMembers >= c.Nodes) {
		return fmt.Errorf("-role-members %d: must be from 1 to nodes-1 (%d) so that someone waits", c.RoleMembers, c.Nodes-1)
	}
	if c.Poll <= 0 || c.Limit <= 0 || c.Retry < 0 || c.RetryGrowth < 0 || c.Stagger < 0 || c.ReqTimeout < 0 {
		return fmt.Errorf("-poll and -limit must be positive, other durations not negative")
	}
	return nil
}

// group is what the nodes of one MultiNode group share.
type group struct {
	index int
	name  string
	// first is closed once node 0 has been seen by the coordinator, in
	// waitall-role, so that it is the first of its role to register:
	// LAVA's coordinator only looks at the role's first registered member.
	first     chan struct{}
	firstOnce sync.Once
}

type node struct {
	c      config
	g      *group
	index  int
	name   string // client_name: the job id
	role   string
	client *coordinator.Client
	rec    *recorder
}

func run(c config) *Result {
	rec := newRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), c.Limit)
	defer cancel()

	var nodes []*node
	for gi := 0; gi < c.Groups; gi++ {
		g := &group{index: gi, name: uuid4(), first: make(chan struct{})}
		for i := 0; i < c.Nodes; i++ {
			n := &node{c: c, g: g, index: i, rec: rec,
				name: strconv.Itoa(c.FirstJob + gi*c.Nodes + i)}
			n.role = roleOf(c, i)
			n.client = &coordinator.Client{
				Addr:      c.Addr,
				PollDelay: c.Poll,
				Blocksize: 4096,
				IOTimeout: c.ReqTimeout,
				Base: map[string]any{
					"port":        port(c.Addr),
					"blocksize":   4096,
					"poll_delay":  c.Poll.Seconds(),
					"host":        host(c.Addr),
					"hostname":    "bench-" + n.name,
					"client_name": n.name,
					"group_name":  g.name,
					"role":        n.role,
				},
			}
			nodes = append(nodes, n)
		}
	}

	start := time.Now()
	var wg sync.WaitGroup
	var finished sync.Mutex
	done := 0
	for _, n := range nodes {
		wg.Go(func() {
			if n.run(ctx) {
				finished.Lock()
				done++
				finished.Unlock()
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)

	res := &Result{config: c, PollDelayS: c.Poll.Seconds(), LimitS: c.Limit.Seconds()}
	rec.mu.Lock()
	res.Requests, res.Replies = rec.requests, rec.replies
	res.Responses, res.Nacks, res.ConnErrors = rec.responses, rec.nacks, rec.connErrs
	res.ErrorSamples = rec.errSample
	for _, v := range rec.connErrs {
		res.ConnErrorsTotal += v
	}
	res.LatencyS = summarize(rec.latencies, true)
	waitAllGot, waitAllErr := rec.waitAllGot, rec.waitAllErr
	rec.mu.Unlock()

	rounds, gd := rec.rounds(c.Nodes)
	res.RoundsExpected = c.Groups * c.Rounds
	res.RoundsCompleted = len(rounds)
	res.RoundS = summarize(rounds, false)
	res.GroupDataS = summarize(gd, false)
	res.NodesFinished = done
	res.TimedOut = ctx.Err() != nil
	res.WallS = secs(wall)
	if s := wall.Seconds(); s > 0 {
		res.RequestsPerS = round3(float64(res.Requests) / s)
		res.RoundsPerS = round3(float64(res.RoundsCompleted) / s)
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		res.ClientCPUS = round3(time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds())
	}
	if c.Scenario == "waitall-role" {
		res.WaitAll = waitAllSummary(c.RoleMembers, waitAllGot, waitAllErr)
	}
	return res
}

func waitAllSummary(members int, got []int, bad int) *WaitAllResult {
	w := &WaitAllResult{RoleMembers: members, Waiters: len(got), BadReplies: bad}
	for i, g := range got {
		if i == 0 || g < w.SendersMin {
			w.SendersMin = g
		}
		w.SendersMax = max(w.SendersMax, g)
		if g < members {
			w.ReturnedEarly++
		}
	}
	return w
}

// roleOf gives node i of a group its role: in waitall-role the first
// RoleMembers nodes are "server", in sendwait node 0 is "sender".
func roleOf(c config, i int) string {
	switch c.Scenario {
	case "waitall-role":
		if i < c.RoleMembers {
			return "server"
		}
		return "client"
	case "sendwait":
		if i == 0 {
			return "sender"
		}
		return "receiver"
	}
	return "node"
}

// run plays the node's part and reports whether it got through all of it
// (group_data, every round, clear_group) without a nack.
func (n *node) run(ctx context.Context) bool {
	c := n.c
	if c.Scenario == "waitall-role" && n.index != 0 {
		select {
		case <-n.g.first:
		case <-ctx.Done():
			return false
		}
	}
	n.rec.enter(n.g.index, 0, time.Now())
	r, ok := n.poll(ctx, map[string]any{"request": "group_data", "group_size": c.Nodes}, func() {
		n.g.firstOnce.Do(func() { close(n.g.first) })
	})
	if !ok || r.Response != "group_data" {
		return false
	}
	n.rec.leave(n.g.index, 0, time.Now())
	all := true
	for round := 1; round <= c.Rounds; round++ {
		n.rec.enter(n.g.index, round, time.Now())
		if !n.round(ctx, round) {
			if ctx.Err() != nil {
				return false
			}
			all = false
			continue
		}
		n.rec.leave(n.g.index, round, time.Now())
	}
	if _, ok := n.poll(ctx, map[string]any{"request": "clear_group", "group_size": c.Nodes}, nil); !ok {
		return false
	}
	return all
}

func (n *node) round(ctx context.Context, round int) bool {
	r := strconv.Itoa(round)
	switch n.c.Scenario {
	case "sync":
		return n.sync(ctx, "round-"+r)
	case "sendwait":
		id := "msg-" + r
		var ok bool
		switch {
		case n.index == 0:
			_, ok = n.poll(ctx, map[string]any{"request": "lava_send", "messageID": id,
				"message": map[string]any{"round": r, "from": n.name}}, nil)
		case n.index%2 == 1:
			_, ok = n.poll(ctx, map[string]any{"request": "lava_wait", "messageID": id, "nodeID": n.name}, nil)
		default:
			_, ok = n.poll(ctx, map[string]any{"request": "lava_wait_all", "messageID": id, "waitrole": "sender"}, nil)
		}
		return ok && n.sync(ctx, "done-"+r)
	case "waitall-role":
		id := "ready-" + r
		var ok bool
		if n.role == "server" {
			// The servers send one after the other, node 0 first.
			if !sleep(ctx, time.Duration(n.index)*n.c.Stagger) {
				return false
			}
			_, ok = n.poll(ctx, map[string]any{"request": "lava_send", "messageID": id,
				"message": map[string]any{"round": r, "from": n.name}}, nil)
		} else {
			var rep coordinator.Reply
			rep, ok = n.poll(ctx, map[string]any{"request": "lava_wait_all", "messageID": id, "waitrole": "server"}, nil)
			if ok {
				m, isMap := rep.Message.(map[string]any)
				n.rec.waitAll(len(m), isMap && len(m) > 0)
			}
		}
		return ok && n.sync(ctx, "done-"+r)
	}
	return false
}

func (n *node) sync(ctx context.Context, id string) bool {
	_, ok := n.poll(ctx, map[string]any{"request": "lava_sync", "messageID": id}, nil)
	return ok
}

// poll sends req until the answer is something else than "wait", like
// LAVA's client: a new connection each time, the poll delay after "wait",
// the retry delay after a connection error. ok is false on a nack or
// when ctx ends first. seen, when not nil, runs after the first exchange
// that got any reply.
func (n *node) poll(ctx context.Context, req map[string]any, seen func()) (coordinator.Reply, bool) {
	kind, _ := req["request"].(string)
	failures := 0
	for {
		if ctx.Err() != nil {
			return coordinator.Reply{}, false
		}
		t0 := time.Now()
		rep, err := n.client.Exchange(ctx, req)
		lat := time.Since(t0)
		if err != nil && limitReached(ctx) {
			// Cut off by the time limit: not the server's doing.
			return coordinator.Reply{}, false
		}
		n.rec.exchange(kind, lat, rep.Response, err)
		if err != nil {
			delay := n.c.Retry + time.Duration(failures)*n.c.RetryGrowth
			failures++
			if !sleep(ctx, delay) {
				return coordinator.Reply{}, false
			}
			continue
		}
		failures = 0
		if seen != nil {
			seen()
			seen = nil
		}
		switch rep.Response {
		case "wait":
			if !sleep(ctx, n.c.Poll) {
				return coordinator.Reply{}, false
			}
		case "nack":
			return rep, false
		default:
			return rep, true
		}
	}
}

// limitReached says whether ctx is over. A dial cut short by ctx's
// deadline can return (as an i/o timeout) a moment before ctx.Err() is
// set, so the deadline itself is looked at too.
func limitReached(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// uuid4 names a group as LAVA's server does (target_group is a uuid4), so
// that two runs against one coordinator never share a group.
func uuid4() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func host(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}

func port(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	v, _ := strconv.Atoi(p)
	return v
}
