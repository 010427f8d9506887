package protocol

import (
	"context"
	"errors"
	"math"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/coordinator"
	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// startCoordinator serves a real coordinator on 127.0.0.1 for one test.
func startCoordinator(t *testing.T) Settings {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := coordinator.NewServer(coordinator.Options{})
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return Settings{Addr: l.Addr().String(), PollDelay: 10 * time.Millisecond, Blocksize: 4096}
}

// subJob is a sub-job's pipeline.Job with the protocol block LAVA's
// server writes; extra keys are added to the block.
func subJob(id, group, role string, size int, extra ...any) *pipeline.Job {
	mn := value.MapOf("target_group", group, "role", role, "group_size", size, "sub_id", 0)
	for i := 0; i+1 < len(extra); i += 2 {
		mn.Set(extra[i].(string), extra[i+1])
	}
	params := value.MapOf("job_name", "mn", "protocols", value.MapOf(MultinodeName, mn))
	return &pipeline.Job{ID: id, Params: params}
}

func newNode(t *testing.T, s Settings, id, group, role string, size int, extra ...any) *Multinode {
	t.Helper()
	m, err := NewMultinode(subJob(id, group, role, size, extra...), s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// each runs f for every node at once and returns their errors.
func each(nodes []*Multinode, f func(i int, m *Multinode) error) []error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, m := range nodes {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f(i, m) }()
	}
	wg.Wait()
	return errs
}

func noErrors(t *testing.T, errs []error) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
}

func TestGroupSendWaitSync(t *testing.T) {
	s := startCoordinator(t)
	ctx := context.Background()
	nodes := []*Multinode{
		newNode(t, s, "10", "g1", "server", 3),
		newNode(t, s, "11", "g1", "client", 3),
		newNode(t, s, "12", "g1", "client", 3),
	}
	noErrors(t, each(nodes, func(_ int, m *Multinode) error { return m.SetUp(ctx) }))
	for _, m := range nodes {
		if got := m.Roles(); len(got) != 3 || got["10"] != "server" || got["12"] != "client" {
			t.Fatalf("roles = %v", got)
		}
	}
	lines := make([]string, 3)
	noErrors(t, each(nodes, func(i int, m *Multinode) error {
		if i == 0 {
			_, err := m.Signal(ctx, "SEND", []string{"ipv4", "ipaddr=10.0.2.15", "path=/a:b"})
			return err
		}
		var err error
		lines[i], err = m.Signal(ctx, "WAIT", []string{"ipv4"})
		return err
	}))
	for _, l := range lines[1:] {
		if l != "<LAVA_WAIT_COMPLETE 10:ipaddr=10.0.2.15 10:path=/a:b>" {
			t.Errorf("wait reply = %q", l)
		}
	}
	noErrors(t, each(nodes, func(i int, m *Multinode) error {
		l, err := m.Signal(ctx, "SYNC", []string{"done"})
		lines[i] = l
		return err
	}))
	for _, l := range lines {
		if l != "<LAVA_SYNC_COMPLETE>" {
			t.Errorf("sync reply = %q", l)
		}
	}
	// lava-wait-all for the clients' role answers once both have sent.
	noErrors(t, each(nodes, func(i int, m *Multinode) error {
		if i == 0 {
			l, err := m.Signal(ctx, "WAIT_ALL", []string{"ready", "client"})
			lines[0] = l
			return err
		}
		_, err := m.Signal(ctx, "SEND", []string{"ready", "n=" + strconv.Itoa(i)})
		return err
	}))
	if lines[0] != "<LAVA_WAIT_ALL_COMPLETE 11:n=1 12:n=2>" {
		t.Errorf("wait-all reply = %q", lines[0])
	}
	noErrors(t, each(nodes, func(_ int, m *Multinode) error { return m.Finalise(ctx) }))
}

func TestTimeoutIsMultinodeTimeout(t *testing.T) {
	s := startCoordinator(t)
	ctx := context.Background()
	nodes := []*Multinode{
		newNode(t, s, "1", "g2", "a", 2, "timeout", value.MapOf("seconds", 1)),
		newNode(t, s, "2", "g2", "b", 2, "timeout", value.MapOf("seconds", 1)),
	}
	noErrors(t, each(nodes, func(_ int, m *Multinode) error { return m.SetUp(ctx) }))
	// Nobody sends "never": the wait runs out of the protocol's time.
	_, err := nodes[0].Signal(ctx, "WAIT", []string{"never"})
	if pipeline.ClassOf(err) != pipeline.ClassMultinodeTimeout {
		t.Fatalf("err = %v (class %s), want MultinodeTimeout", err, pipeline.ClassOf(err))
	}
	// A group that never fills up times out at set-up as well.
	lone := newNode(t, s, "3", "g3", "a", 2, "timeout", value.MapOf("seconds", 1))
	lone.system = time.Second
	if err := lone.SetUp(ctx); pipeline.ClassOf(err) != pipeline.ClassMultinodeTimeout {
		t.Fatalf("set-up of an incomplete group: %v", err)
	}
}

func TestDelayedStart(t *testing.T) {
	s := startCoordinator(t)
	ctx := context.Background()
	server := newNode(t, s, "1", "g4", "server", 3)
	clients := []*Multinode{
		newNode(t, s, "2", "g4", "client", 3, "request", "lava-start", "expect_role", "server"),
		newNode(t, s, "3", "g4", "client", 3, "request", "lava-start", "expect_role", "server"),
	}
	started := make(chan string, 2)
	errs := make(chan error, 3)
	for _, c := range clients {
		go func() {
			err := c.SetUp(ctx)
			started <- c.job.ID
			errs <- err
		}()
	}
	if err := server.SetUp(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-started:
		t.Fatalf("client %s started before lava-start", id)
	case <-time.After(200 * time.Millisecond):
	}
	// The server's test block names the action that sends lava-start
	// once it has succeeded.
	b := &pipeline.Base{Name: "multinode-test", Params: value.MapOf("protocols", value.MapOf(MultinodeName,
		[]any{value.MapOf("action", "multinode-test", "request", "lava-start", "roles", []any{"client"})}))}
	b.Job = server.job
	if err := server.BeforeAction(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := server.AfterAction(ctx, b, errors.New("failed")); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-started:
		t.Fatalf("client %s started although the action failed", id)
	case <-time.After(200 * time.Millisecond):
	}
	if err := server.AfterAction(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	for range clients {
		<-started
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestActionCallCollates(t *testing.T) {
	s := startCoordinator(t)
	ctx := context.Background()
	server := newNode(t, s, "1", "g5", "server", 2)
	client := newNode(t, s, "2", "g5", "client", 2)
	noErrors(t, each([]*Multinode{server, client}, func(_ int, m *Multinode) error { return m.SetUp(ctx) }))
	if err := server.Send(ctx, "ipv4", map[string]any{"ipaddr": "192.168.0.3", "other": "x"}, time.Second); err != nil {
		t.Fatal(err)
	}
	params := value.MapOf("namespace", "common", "protocols", value.MapOf(MultinodeName, []any{
		value.MapOf("action", "execute-qemu", "request", "lava-wait", "messageID", "ipv4",
			"message", value.MapOf("ipaddr", "$IPADDR"), "timeout", value.MapOf("seconds", 5)),
	}))
	b := &pipeline.Base{Name: "execute-qemu", Params: params}
	b.Job = client.job
	other := &pipeline.Base{Name: "boot-qemu-image", Params: params}
	other.Job = client.job
	if err := client.BeforeAction(ctx, other); err != nil {
		t.Fatal(err)
	}
	if got := client.job.Runtime.Data("common", MultinodeName+"/ipv4"); got != nil {
		t.Fatalf("an action the block does not name made the call: %v", got)
	}
	if err := client.BeforeAction(ctx, b); err != nil {
		t.Fatal(err)
	}
	got, _ := client.job.Runtime.Data("common", MultinodeName+"/ipv4").(*value.Map)
	if got.String("ipaddr") != "192.168.0.3" || got.Has("other") {
		t.Fatalf("collated = %s", value.GoString(got))
	}
}

func TestNewMultinodeRejects(t *testing.T) {
	s := Settings{Addr: "127.0.0.1:3079"}
	for _, tc := range []struct {
		name string
		job  *pipeline.Job
	}{
		{"same role expected", subJob("1", "g", "server", 2, "request", "lava-start", "expect_role", "server")},
		{"no role", subJob("1", "g", "", 2)},
		{"zero group", subJob("1", "g", "a", 0)},
		{"bad timeout", subJob("1", "g", "a", 2, "timeout", "soon")},
		{"timeout that wrapped to 44 s", subJob("1", "g", "a", 2, "timeout", value.MapOf("minutes", 307445734561825861))},
		{"timeout beyond Duration", subJob("1", "g", "a", 2, "timeout", value.MapOf("days", 200000))},
		{"negative timeout", subJob("1", "g", "a", 2, "timeout", value.MapOf("seconds", -5))},
	} {
		if _, err := NewMultinode(tc.job, s); pipeline.ClassOf(err) != pipeline.ClassJob {
			t.Errorf("%s: err = %v, want a Job error", tc.name, err)
		}
	}
}

// TestCallTimeoutRange: a call's timeout, a bare number of seconds or a
// block, is refused out of range rather than wrapped into a Duration.
func TestCallTimeoutRange(t *testing.T) {
	m := &Multinode{callTimeout: DefaultCallTimeout}
	for _, tc := range []struct {
		name    string
		timeout any
		want    time.Duration // 0: refused
	}{
		{"seconds", 90, 90 * time.Second},
		{"fraction", 1.5, 1500 * time.Millisecond},
		{"block", value.MapOf("minutes", 2), 2 * time.Minute},
		{"largest", job.MaxTimeoutSeconds, job.MaxTimeoutSeconds * time.Second},
		{"int64 seconds", math.MaxInt64, 0},
		{"wrapping seconds", 9223372037, 0},
		{"negative", -1, 0},
		{"huge float", 1e300, 0},
		{"NaN", math.NaN(), 0},
		{"wrapping block", value.MapOf("minutes", 307445734561825861), 0},
	} {
		got, err := m.timeoutOf(value.MapOf("timeout", tc.timeout))
		if tc.want == 0 {
			if err == nil || pipeline.ClassOf(err) != pipeline.ClassJob || !strings.Contains(err.Error(), "maximum") {
				t.Errorf("%s: timeoutOf = %v, %v; want a Job error naming the maximum", tc.name, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: timeoutOf = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestCompleteLine(t *testing.T) {
	for _, tc := range []struct {
		msgs Messages
		err  error
		want string
	}{
		{Messages{}, nil, "<X>"},
		{Messages{"10": {"b": "2", "a": "1"}, "9": {"k": "v"}}, nil, "<X 9:k=v 10:a=1 10:b=2>"},
		{nil, &nackError{"lava_wait", "id", "why"}, "<X nack>"},
	} {
		got, err := completeLine("X", tc.msgs, tc.err)
		if err != nil || got != tc.want {
			t.Errorf("completeLine(%v, %v) = %q, %v; want %q", tc.msgs, tc.err, got, err, tc.want)
		}
	}
}
