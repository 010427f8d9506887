package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/basalt-lava/basalt/internal/coordinator"
)

// span is one barrier of one group as every node saw it: when each node
// entered it (sent its first request for it) and when each left it (got
// its final answer). A node that gave up or was cut off by the time limit
// has an enter time but no leave.
type span struct {
	enters []time.Time
	leaves []time.Time
}

// spanTime is the time from the first node entering the barrier to the
// last node leaving it. It is only meaningful when all n nodes left:
// complete is false otherwise, and so a round cut off by the time limit
// never counts as completed nor weighs on the round times.
func spanTime(s span, n int) (d time.Duration, complete bool) {
	if n <= 0 || len(s.leaves) < n || len(s.enters) == 0 {
		return 0, false
	}
	first := slices.MinFunc(s.enters, func(a, b time.Time) int { return a.Compare(b) })
	last := slices.MaxFunc(s.leaves, func(a, b time.Time) int { return a.Compare(b) })
	return last.Sub(first), true
}

// Summary is the median and the maximum of a set of durations, in seconds.
type Summary struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	P99    float64 `json:"p99,omitempty"`
	Max    float64 `json:"max"`
}

// summarize sorts ds in place. The median of an even count is the mean of
// the two middle values; p99 is the nearest-rank percentile.
func summarize(ds []time.Duration, withP99 bool) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	slices.Sort(ds)
	n := len(ds)
	med := ds[n/2]
	if n%2 == 0 {
		med = (ds[n/2-1] + ds[n/2]) / 2
	}
	s := Summary{N: n, Median: secs(med), Max: secs(ds[n-1])}
	if withP99 {
		// nearest rank: the smallest value with at least 99 % of the
		// values at or below it.
		s.P99 = secs(ds[(99*n+99)/100-1])
	}
	return s
}

func secs(d time.Duration) float64 { return round3(d.Seconds()) }

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// errKind names a failed exchange the way the report counts it. Refused
// and reset are what a coordinator with a full or tiny listen queue
// produces; eof is a connection closed before any reply (LAVA's client
// takes that as "wait"); no_local_port is the client running out of
// ephemeral ports, a limit of the machine, not of the server.
func errKind(err error) string {
	var ne net.Error
	var fe *coordinator.FrameError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken_pipe"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no_local_port"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too_many_files"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		// The client says so in words rather than wrapping io.EOF.
		strings.Contains(err.Error(), "closed without a reply"):
		return "eof"
	case errors.As(err, &fe) && fe.Truncated:
		return "truncated_reply"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "other"
}

// recorder collects what every node did. One mutex is enough: nodes
// record a few times per exchange, and an exchange is a TCP connection.
type recorder struct {
	mu         sync.Mutex
	requests   int
	replies    int
	responses  map[string]int    // reply "response" field → count
	nacks      map[string]int    // request kind → nacks
	connErrs   map[string]int    // errKind → count
	errSample  map[string]string // errKind → its first error, to say what it was
	latencies  []time.Duration
	spans      map[spanKey]*span
	waitAllGot []int // waitall-role: senders in each waiter's reply
	waitAllErr int   // waitall-role: waiters whose reply carried no usable message
}

type spanKey struct{ group, round int }

func newRecorder() *recorder {
	return &recorder{
		responses: map[string]int{},
		nacks:     map[string]int{},
		connErrs:  map[string]int{},
		errSample: map[string]string{},
		spans:     map[spanKey]*span{},
	}
}

func (r *recorder) exchange(request string, lat time.Duration, response string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	if err != nil {
		k := errKind(err)
		r.connErrs[k]++
		if _, ok := r.errSample[k]; !ok {
			r.errSample[k] = err.Error()
		}
		return
	}
	r.replies++
	r.latencies = append(r.latencies, lat)
	r.responses[response]++
	if response == "nack" {
		r.nacks[request]++
	}
}

func (r *recorder) enter(group, round int, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.span(group, round)
	s.enters = append(s.enters, t)
}

func (r *recorder) leave(group, round int, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.span(group, round)
	s.leaves = append(s.leaves, t)
}

func (r *recorder) span(group, round int) *span {
	k := spanKey{group, round}
	s := r.spans[k]
	if s == nil {
		s = &span{}
		r.spans[k] = s
	}
	return s
}

func (r *recorder) waitAll(senders int, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !ok {
		r.waitAllErr++
		return
	}
	r.waitAllGot = append(r.waitAllGot, senders)
}

// rounds returns the times of the completed spans of rounds 1..R (round 0
// is group_data) and of the completed group_data barriers.
func (r *recorder) rounds(nodes int) (rounds, groupData []time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, s := range r.spans {
		d, ok := spanTime(*s, nodes)
		if !ok {
			continue
		}
		if k.round == 0 {
			groupData = append(groupData, d)
		} else {
			rounds = append(rounds, d)
		}
	}
	return rounds, groupData
}
