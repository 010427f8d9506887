package events

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/basalt-lava/basalt/internal/store"
)

// PathPrefix is where the WebSocket is served (LAVA's Apache proxies
// /ws/ to lava-publisher).
const PathPrefix = "/ws/"

// WSConfig sets the WebSocket up.
type WSConfig struct {
	Hub   *Hub
	Store store.Store // who a connection is, and its groups
	// Topic is the topic prefix, default DefaultTopic (LAVA's EVENT_TOPIC).
	Topic string
	// Buffer is the events a connection may fall behind by before it
	// loses some (default 256).
	Buffer int
	// WriteTimeout bounds the sending of one event (default 30s): a
	// client that does not read is disconnected.
	WriteTimeout time.Duration
	// Logf reports connections and clients that fell behind.
	Logf func(format string, args ...any)
}

// WS is lava-publisher's WebSocket: GET /ws/ upgrades and streams the
// events the connection may see, GET /ws/v1/healthz answers
// {"health": "good"}. Close ends every connection.
type WS struct {
	cfg  WSConfig
	done chan struct{}
	once sync.Once
}

// NewWS returns the handler.
func NewWS(cfg WSConfig) *WS {
	if cfg.Topic == "" {
		cfg.Topic = DefaultTopic
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 256
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	return &WS{cfg: cfg, done: make(chan struct{})}
}

// Close ends the connections ("going away", as lava-publisher on
// shutdown) and refuses new ones.
func (s *WS) Close() {
	s.once.Do(func() { close(s.done) })
}

// peer is who a connection is: a user (the zero User when anonymous) or
// a worker.
type peer struct {
	worker string
	user   store.User
	groups []string
}

func (s *WS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/ws/v1/healthz", "/ws/v1/healthz/":
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write([]byte(`{"health": "good"}`))
		return
	case "/ws/", "/ws":
	default:
		http.NotFound(w, r)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept answered the request
	}
	defer c.CloseNow()
	ctx := r.Context()
	// As lava-publisher: the connection is made first, then a bad
	// credential is answered with {"error": ...} and a close.
	p, problem := s.who(ctx, r)
	if problem != "" {
		b, _ := json.Marshal(map[string]string{"error": problem})
		wctx, cancel := context.WithTimeout(ctx, s.cfg.WriteTimeout)
		_ = c.Write(wctx, websocket.MessageText, b)
		cancel()
		c.Close(websocket.StatusPolicyViolation, problem)
		return
	}
	select {
	case <-s.done:
		c.Close(websocket.StatusGoingAway, "Server shutdown")
		return
	default:
	}
	events, cancel := s.cfg.Hub.Subscribe(s.cfg.Buffer)
	defer cancel()
	who := p.worker
	kind := "worker"
	if who == "" {
		kind, who = "user", p.user.Name
	}
	if who == "" {
		who = "anonymous"
	}
	// As lava-publisher logs them; said once the connection is
	// subscribed, so it gets every event from then on.
	s.cfg.Logf("[WS] connection from %s %s@%s", kind, who, r.RemoteAddr)
	defer s.cfg.Logf("[WS] connection closed from %s %s@%s", kind, who, r.RemoteAddr)
	// Reading answers the client's pings (lavacli's 30 s heartbeat) and
	// notices its close; what it sends is ignored, as LAVA does.
	ctx = c.CloseRead(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			c.Close(websocket.StatusGoingAway, "Server shutdown")
			return
		case e, ok := <-events:
			if !ok {
				return
			}
			if e.Missed > 0 {
				s.cfg.Logf("events: a WebSocket client fell behind and lost %d events", e.Missed)
			}
			if !p.sees(e) {
				continue
			}
			b, _ := json.Marshal(e.Message(s.cfg.Topic)) // five strings: cannot fail
			wctx, cancel := context.WithTimeout(ctx, s.cfg.WriteTimeout)
			err := c.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				return
			}
		}
	}
}

// who authenticates a connection as lava-publisher does: Basic
// user:token for a user, LAVA-Token and LAVA-Host for a worker, nothing
// for an anonymous user. problem is the error sent back.
func (s *WS) who(ctx context.Context, r *http.Request) (p peer, problem string) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		enc, ok := strings.CutPrefix(auth, "Basic ")
		if !ok {
			return p, "Only Basic authentication is supported"
		}
		raw, err := base64.StdEncoding.DecodeString(enc)
		name, secret, found := strings.Cut(string(raw), ":")
		if err != nil || !found {
			return p, "Invalid basic authentication"
		}
		u, err := s.cfg.Store.Authenticate(ctx, name, secret)
		if err != nil {
			return p, "Unknown user"
		}
		p.user = u
		if p.groups, err = s.cfg.Store.UserGroups(ctx, u.Name); err != nil {
			s.cfg.Logf("events: groups of %s: %v", u.Name, err)
		}
		return p, ""
	}
	if token := r.Header.Get("LAVA-Token"); token != "" {
		name := r.Header.Get("LAVA-Host")
		if _, err := s.cfg.Store.Worker(ctx, name); err != nil {
			return p, "Unknown worker"
		}
		w, err := s.cfg.Store.AuthenticateWorker(ctx, name, token)
		if err != nil || subtle.ConstantTimeCompare([]byte(w.Name), []byte(name)) != 1 {
			return p, "Invalid worker token"
		}
		p.worker = name
	}
	return p, ""
}

// sees is lava-publisher's filter: a user gets the jobs it may view
// (store.Visible) and every device and worker (Basalt keeps no per-group
// device permissions); a worker gets only the jobs on its devices.
func (p peer) sees(e Event) bool {
	if p.worker != "" {
		return e.Kind == TestJob && e.Job != nil && e.Job.Device != "" && e.JobWorker == p.worker
	}
	switch e.Kind {
	case TestJob:
		return e.Job != nil && store.Visible(*e.Job, p.user, p.groups)
	case Device:
		return e.Device != nil
	case Worker:
		return e.Worker != nil
	}
	return false
}
