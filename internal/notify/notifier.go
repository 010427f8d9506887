package notify

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"path"
	"sync"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
)

// task is a queued unit of work: build runs in a sender goroutine, so
// reading the job, its log and results never delays whoever queued it.
type task struct {
	job   int64
	build func(ctx context.Context) []Delivery
}

// Delivery is one callback request, or one e-mail (Mail set), built
// when the transition fired.
type Delivery struct {
	Job      int64 // for log messages
	Callback Callback
	URL      string // ExpandURL'd
	Payload  Payload
	Mail     *Mail
}

// Request builds the HTTP request of a delivery: GET has no body (the
// dataset is ignored, as in LAVA); the token header carries the raw value
// with no prefix, only when a token is set.
func (d Delivery) Request(ctx context.Context) (*http.Request, error) {
	var body io.Reader
	ctype := ""
	if d.Callback.Method == "POST" {
		if d.Callback.ContentType == "json" {
			body, ctype = bytes.NewReader(d.Payload.JSON()), "application/json"
		} else {
			body, ctype = bytes.NewReader([]byte(d.Payload.Form())), "application/x-www-form-urlencoded"
		}
	}
	req, err := http.NewRequestWithContext(ctx, d.Callback.Method, d.URL, body)
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if d.Callback.Token != "" {
		req.Header.Set(d.Callback.Header, d.Callback.Token)
	}
	return req, nil
}

// Config sets a Notifier up; zero values take the defaults.
type Config struct {
	Workers   int           // sender goroutines, default 2
	Timeout   time.Duration // per request, default 5s (LAVA's CALLBACK_TIMEOUT)
	QueueSize int           // pending deliveries, default 256
	Logf      func(format string, args ...any)
	// Client, when set, replaces the HTTP client (its Timeout is overridden).
	Client *http.Client
	// AllowedHosts, when not empty, are the hostname patterns
	// (path.Match) a callback may reach, as LAVA's CALLBACK_ALLOWED_HOSTS;
	// a callback to another host is not sent (logged). Empty allows any
	// host, LAVA's default.
	AllowedHosts []string
	// Mail, when set, is the SMTP server e-mail recipients are sent
	// through; nil sends no e-mail.
	Mail *MailConfig
	// MailTimeout bounds one SMTP session, default 30s.
	MailTimeout time.Duration
}

// Notifier sends deliveries in the background. Enqueue never blocks: a
// full queue drops the delivery with a warning naming the job. There is
// no retry (as in LAVA): failures are only logged.
type Notifier struct {
	cfg    Config
	queue  chan task
	client *http.Client
	wg     sync.WaitGroup
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
}

// New returns a Notifier; call Start before Enqueue's deliveries are sent.
func New(cfg Config) *Notifier {
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 256
	}
	if cfg.MailTimeout <= 0 {
		cfg.MailTimeout = 30 * time.Second
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	c := &http.Client{}
	if cfg.Client != nil {
		cc := *cfg.Client
		c = &cc
	}
	c.Timeout = cfg.Timeout
	ctx, cancel := context.WithCancel(context.Background())
	return &Notifier{cfg: cfg, queue: make(chan task, cfg.QueueSize), client: c, ctx: ctx, cancel: cancel}
}

// Start starts the sender goroutines.
func (n *Notifier) Start() {
	for i := 0; i < n.cfg.Workers; i++ {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			for {
				select {
				case <-n.ctx.Done():
					return
				case t := <-n.queue:
					for _, d := range t.build(n.ctx) {
						n.send(d)
					}
				}
			}
		}()
	}
}

// Stop abandons pending deliveries, cancels those in flight and waits for
// the senders.
func (n *Notifier) Stop() {
	n.once.Do(n.cancel)
	n.wg.Wait()
}

// Enqueue queues a delivery and reports whether it was queued.
func (n *Notifier) Enqueue(d Delivery) bool {
	return n.Submit(d.Job, func(context.Context) []Delivery { return []Delivery{d} })
}

// Submit queues build (run later by a sender, its deliveries sent in
// order) and reports whether it was queued; it never blocks.
func (n *Notifier) Submit(job int64, build func(ctx context.Context) []Delivery) bool {
	select {
	case n.queue <- task{job, build}:
		return true
	default:
		n.cfg.Logf("notify: job %d: callback queue full (%d): its callbacks are dropped", job, n.cfg.QueueSize)
		return false
	}
}

// allowed reports whether a request may go to u's host.
func (n *Notifier) allowed(u *url.URL) bool {
	if u.Scheme != "http" && u.Scheme != "https" {
		return false
	}
	if len(n.cfg.AllowedHosts) == 0 {
		return true
	}
	for _, p := range n.cfg.AllowedHosts {
		if ok, _ := path.Match(p, u.Hostname()); ok {
			return true
		}
	}
	return false
}

func (n *Notifier) send(d Delivery) {
	if d.Mail != nil {
		n.sendMail(d.Job, *d.Mail)
		return
	}
	req, err := d.Request(n.ctx)
	if err != nil {
		n.cfg.Logf("notify: job %d: callback %s: %v", d.Job, d.URL, err)
		return
	}
	if !n.allowed(req.URL) {
		n.cfg.Logf("notify: job %d: callback %s: not sent: only http(s) to the allowed hosts %v", d.Job, d.URL, n.cfg.AllowedHosts)
		return
	}
	resp, err := n.client.Do(req)
	if err != nil {
		n.cfg.Logf("notify: job %d: callback %s: %v", d.Job, d.URL, err)
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		n.cfg.Logf("notify: job %d: callback %s: %s", d.Job, d.URL, resp.Status)
	}
}

// Deliveries returns the deliveries a transition fires for a job with
// notify spec s (none when the criteria do not match).
func Deliveries(s *Spec, j Job, oldHealth store.JobHealth) []Delivery {
	if s == nil || !s.Criteria.Match(j.State, j.Health, oldHealth) {
		return nil
	}
	var out []Delivery
	for _, c := range s.Callbacks {
		out = append(out, Delivery{Job: j.ID, Callback: c, URL: ExpandURL(c.URL, j.State, j.Health), Payload: Build(j, c.Dataset)})
	}
	return out
}

// sendMail sends one e-mail unless the recipient had it already: the
// claim is taken first (so two transitions sent at once cannot both
// send) and given back when sending fails, so that a later transition
// tries again.
func (n *Notifier) sendMail(job int64, m Mail) {
	mc := n.cfg.Mail
	if mc == nil {
		return
	}
	if mc.Sent != nil {
		first, err := mc.Sent.ClaimNotification(n.ctx, job, m.Key)
		if err != nil {
			n.cfg.Logf("notify: job %d: e-mail to %s: %v", job, m.To, err)
			return
		}
		if !first {
			return
		}
	}
	err := mc.sendMail(n.ctx, n.cfg.MailTimeout, m)
	if err == nil {
		return
	}
	n.cfg.Logf("notify: job %d: e-mail to %s through %s: %v", job, m.To, mc.Server, err)
	if mc.Sent != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(n.ctx), 5*time.Second)
		defer cancel()
		if err := mc.Sent.ReleaseNotification(ctx, job, m.Key); err != nil {
			n.cfg.Logf("notify: job %d: e-mail to %s: %v", job, m.To, err)
		}
	}
}
