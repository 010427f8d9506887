package coordinator

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"
)

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("coordinator: server closed")

// DefaultConnTimeout bounds reading one request and writing its reply.
// Requests are tiny and the server never blocks a connection waiting for
// other clients (they poll), so a peer slower than this is broken or
// hostile.
const DefaultConnTimeout = 30 * time.Second

// Options configure a Server. The zero value is usable.
type Options struct {
	MaxBody     int           // request body cap; 0 means DefaultMaxBody
	ConnTimeout time.Duration // per connection; 0 means DefaultConnTimeout
	// GroupTTL removes a group nobody has sent a request for in this
	// long, so that a group whose jobs crashed before clear_group does
	// not stay forever. 0 means DefaultGroupTTL; negative keeps groups
	// until cleared, as LAVA does.
	GroupTTL time.Duration
	// Limits bound the groups, clients, messages and bytes peers can
	// make the server keep; a request over one gets a nack naming it.
	Limits Limits
	Logger *slog.Logger // nil: discard
}

// Server is a coordinator. Each connection is served on its own
// goroutine; groups are independent and each has its own lock.
type Server struct {
	opts Options
	log  *slog.Logger
	now  func() time.Time

	mu     sync.Mutex // guards groups; never held while taking a group's lock
	groups map[string]*group
	budget *budget

	lmu       sync.Mutex // guards the fields below
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup
	sweeping  bool
	done      chan struct{}
	// connSlots holds a token per connection served (Limits.MaxConns);
	// nil for no limit. peakConns is the most served at once.
	connSlots chan struct{}
	peakConns int
}

// NewServer returns a server with no groups.
func NewServer(opts Options) *Server {
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.ConnTimeout <= 0 {
		opts.ConnTimeout = DefaultConnTimeout
	}
	if opts.GroupTTL == 0 {
		opts.GroupTTL = DefaultGroupTTL
	}
	opts.Limits = opts.Limits.withDefaults()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{
		opts:      opts,
		log:       log,
		now:       time.Now,
		groups:    map[string]*group{},
		budget:    &budget{Limits: opts.Limits},
		connSlots: connSlots(opts.Limits.MaxConns),
		listeners: map[net.Listener]struct{}{},
		conns:     map[net.Conn]struct{}{},
		done:      make(chan struct{}),
	}
}

// Serve accepts connections on l until Close. It returns ErrServerClosed
// after Close, or the listener's error.
func (s *Server) Serve(l net.Listener) error {
	s.lmu.Lock()
	if s.closed {
		s.lmu.Unlock()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	if s.opts.GroupTTL > 0 && !s.sweeping {
		s.sweeping = true
		s.wg.Add(1)
		go s.sweep()
	}
	s.lmu.Unlock()
	defer func() {
		s.lmu.Lock()
		delete(s.listeners, l)
		s.lmu.Unlock()
	}()
	var backoff time.Duration
	for {
		if s.connSlots != nil {
			select {
			case s.connSlots <- struct{}{}:
			case <-s.done:
				return ErrServerClosed
			}
		}
		c, err := l.Accept()
		if err != nil {
			s.releaseSlot()
			if s.isClosed() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors and the like: wait and go on,
			// rather than take the coordinator down for every group.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-s.done:
			}
			continue
		}
		backoff = 0
		if !s.track(c) {
			s.releaseSlot()
			c.Close()
			return ErrServerClosed
		}
		go s.serveConn(c)
	}
}

func connSlots(n int) chan struct{} {
	if n < 0 {
		return nil
	}
	return make(chan struct{}, n)
}

// releaseSlot gives back the token of a connection that ended.
func (s *Server) releaseSlot() {
	if s.connSlots != nil {
		<-s.connSlots
	}
}

func (s *Server) isClosed() bool {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	return s.closed
}

// track registers a live connection; false once the server is closed.
func (s *Server) track(c net.Conn) bool {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.peakConns = max(s.peakConns, len(s.conns))
	s.wg.Add(1)
	return true
}

// Close stops every Serve, drops open connections and waits for their
// goroutines. Group state is discarded with the server.
func (s *Server) Close() error {
	s.lmu.Lock()
	if s.closed {
		s.lmu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	var err error
	for l := range s.listeners {
		if e := l.Close(); e != nil && !errors.Is(e, net.ErrClosed) && err == nil {
			err = e
		}
	}
	for c := range s.conns {
		c.Close()
	}
	s.lmu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Server) serveConn(c net.Conn) {
	defer func() {
		s.lmu.Lock()
		delete(s.conns, c)
		s.lmu.Unlock()
		s.releaseSlot()
		s.wg.Done()
	}()
	defer c.Close()
	peer := c.RemoteAddr().String()
	defer func() {
		// Last resort: a bug must cost one connection, not every group.
		if v := recover(); v != nil {
			s.log.Error("panic serving connection", "peer", peer, "panic", v, "stack", string(debug.Stack()))
		}
	}()
	_ = c.SetDeadline(s.now().Add(s.opts.ConnTimeout))
	reply, ok := s.respondTo(c, peer)
	if !ok {
		return
	}
	// A fresh deadline for the reply: a peer that was merely slow to
	// send still gets its nack.
	_ = c.SetWriteDeadline(s.now().Add(s.opts.ConnTimeout))
	if err := WriteFrame(c, reply); err != nil {
		s.log.Debug("writing reply failed", "peer", peer, "err", err)
	}
}

// respondTo reads one request frame from r and returns the reply body.
// ok is false when the peer sent nothing at all (a port probe): there is
// nobody to answer.
func (s *Server) respondTo(r io.Reader, peer string) (body []byte, ok bool) {
	req, err := ReadFrame(r, s.opts.MaxBody)
	var reply map[string]any
	switch {
	case err == io.EOF:
		s.log.Debug("connection closed without a request", "peer", peer)
		return nil, false
	case err != nil:
		s.log.Warn("bad frame", "peer", peer, "err", err)
		reply = nack("%v", err)
	default:
		reply = s.handle(req, peer)
	}
	b, err := Marshal(reply)
	if err != nil {
		// Only possible for values that decoded from JSON and so
		// encode again; still, answer rather than go silent.
		s.log.Error("encoding reply failed", "peer", peer, "err", err)
		b, _ = Marshal(nack("internal error encoding the reply"))
	}
	return b, true
}

// handle answers one request body.
func (s *Server) handle(body []byte, peer string) map[string]any {
	r, err := parseRequest(body)
	if err != nil {
		s.log.Warn("bad request", "peer", peer, "err", err)
		return nack("%v", err)
	}
	log := s.log.With("group", r.group, "client", r.client, "request", r.kind)
	g, err := s.join(r, log)
	if err != nil {
		log.Warn("request refused", "peer", peer, "err", err)
		return nack("%v", err)
	}
	reply, cleared := s.dispatch(g, r)
	if cleared {
		s.remove(g)
		log.Info("group cleared by every client, deleted")
	}
	if reply["response"] == RespNack {
		log.Warn("nack", "peer", peer, "err", reply["error"])
	} else {
		log.Debug("reply", "peer", peer, "response", reply["response"])
	}
	return reply
}

// dispatch runs the request on its group, whose lock join took.
func (s *Server) dispatch(g *group, r *request) (reply map[string]any, cleared bool) {
	defer g.mu.Unlock()
	switch r.kind {
	case ReqGroupData:
		return g.groupData(), false
	case ReqSend:
		return g.send(r), false
	case ReqWait:
		return g.wait(r), false
	case ReqWaitAll:
		return g.waitAll(r), false
	case ReqSync:
		return g.sync(r), false
	case ReqAggregate:
		return g.aggregate(r), false
	case ReqComplete:
		// LAVA's coordinator closes without a reply, which its own
		// client reads as "wait" and polls again until its timeout.
		return replyAck, false
	case ReqClearGroup:
		all := g.clear(r)
		if all {
			g.gone = true
		}
		return replyAck, all
	}
	// parseRequest accepts only the kinds above.
	return nack("unknown request %q", truncate(r.kind)), false
}

// join finds or creates the request's group, registers the client, and
// returns the group locked.
func (s *Server) join(r *request, log *slog.Logger) (*group, error) {
	for {
		s.mu.Lock()
		g := s.groups[r.group]
		if g == nil {
			if r.groupSize <= 0 {
				s.mu.Unlock()
				return nil, fmt.Errorf("group %q does not exist and the %s request has no group_size to create it", truncate(r.group), r.kind)
			}
			if !r.hasRole {
				s.mu.Unlock()
				return nil, fmt.Errorf("client %q creating group %q has no \"role\"", truncate(r.client), truncate(r.group))
			}
			lim := s.budget.Limits
			if lim.MaxGroupSize >= 0 && r.groupSize > lim.MaxGroupSize {
				s.mu.Unlock()
				return nil, limitError("group_size", "group %q of group_size %d has more than %d clients", truncate(r.group), r.groupSize, lim.MaxGroupSize)
			}
			if lim.MaxGroups >= 0 && len(s.groups) >= lim.MaxGroups {
				s.mu.Unlock()
				return nil, limitError("groups", "group %q would be one more than %d groups", truncate(r.group), lim.MaxGroups)
			}
			g = newGroup(r.group, r.groupSize, s.now(), s.budget)
			s.groups[r.group] = g
			log.Info("group created", "size", r.groupSize)
		}
		s.mu.Unlock()
		g.mu.Lock()
		if g.gone {
			// Deleted between the lookup and the lock: look again.
			g.mu.Unlock()
			continue
		}
		if err := g.register(r); err != nil {
			// A group its creator could not join (over a byte limit)
			// must not stay, empty, until it expires.
			empty := len(g.clients) == 0
			g.gone = g.gone || empty
			g.mu.Unlock()
			if empty {
				s.remove(g)
			}
			return nil, err
		}
		g.lastUsed = s.now()
		return g, nil
	}
}

// remove deletes a group marked gone. The caller must not hold g.mu or s.mu.
func (s *Server) remove(g *group) {
	s.mu.Lock()
	if s.groups[g.name] == g {
		delete(s.groups, g.name)
	}
	s.mu.Unlock()
	g.release()
}

// sweep expires idle groups until Close.
func (s *Server) sweep() {
	defer s.wg.Done()
	every := min(max(s.opts.GroupTTL/4, time.Second), time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			s.expireIdle(s.now())
		}
	}
}

// expireIdle removes every group unused since now-GroupTTL.
func (s *Server) expireIdle(now time.Time) {
	s.mu.Lock()
	all := make([]*group, 0, len(s.groups))
	for _, g := range s.groups {
		all = append(all, g)
	}
	s.mu.Unlock()
	for _, g := range all {
		g.mu.Lock()
		idle := now.Sub(g.lastUsed)
		expired := !g.gone && idle >= s.opts.GroupTTL
		if expired {
			g.gone = true
		}
		clients := len(g.clients)
		g.mu.Unlock()
		if expired {
			s.remove(g)
			s.log.Info("idle group expired", "group", g.name, "idle", idle.Round(time.Second), "clients", clients, "size", g.size)
		}
	}
}

// groupCount is the number of live groups (for tests and logs).
func (s *Server) groupCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.groups)
}
