package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/basalt-lava/basalt/internal/store"
)

// DefaultMaxLog bounds the log text a logs/all callback carries: LAVA
// sends the whole output.yaml; Basalt omits the log key (as LAVA does when
// the log cannot be read) for a log over this size, so a callback never
// holds an unbounded log in memory.
const DefaultMaxLog = 8 << 20

// LogReader reads a job's log (internal/logstore.Logs).
type LogReader interface {
	Read(job, start, end int64, w io.Writer) (int64, error)
}

// Source is where a hook reads what a payload needs.
type Source struct {
	Store store.Store
	Logs  LogReader
	// MaxLog is the largest log sent, in bytes; zero means DefaultMaxLog.
	MaxLog int64
	// SuiteYAML renders a job's results suite by suite as
	// results.get_testsuite_results_yaml does (lavarpc.SuiteYAML).
	SuiteYAML func(job int64, rs []store.Result) (map[string]string, error)
	// URLPrefix is scheme://host[:port] of the server's pages, for the
	// links of e-mails.
	URLPrefix string
}

// Hook returns the lab's OnJobChange: it only queues; the job, its
// notify block, log and results are read in a sender goroutine. The
// payload carries the state and health of the change that fired (LAVA
// overwrites them before building), even when the job has moved on
// since.
func (n *Notifier) Hook(src Source) func(job int64, state store.JobState, oldHealth store.JobHealth) {
	if src.MaxLog <= 0 {
		src.MaxLog = DefaultMaxLog
	}
	return func(id int64, state store.JobState, oldHealth store.JobHealth) {
		n.Submit(id, func(ctx context.Context) []Delivery {
			sj, err := src.Store.Job(ctx, id)
			if err != nil {
				n.cfg.Logf("notify: job %d: %v", id, err)
				return nil
			}
			spec, err := Parse(sj.Definition)
			if err != nil {
				n.cfg.Logf("notify: job %d: %v", id, err)
				return nil
			}
			if spec == nil {
				return nil
			}
			sj.State = state
			if state != store.JobFinished {
				sj.Health = store.JobUnknown
			}
			if !spec.Criteria.Match(sj.State, sj.Health, oldHealth) {
				return nil
			}
			var out []Delivery
			if len(spec.Callbacks) > 0 {
				out = n.callbacks(ctx, src, spec, sj, id, oldHealth)
			}
			if n.cfg.Mail != nil {
				out = append(out, n.mails(ctx, src, spec, sj, id)...)
			}
			return out
		})
	}
}

// callbacks builds the callback deliveries of a transition.
func (n *Notifier) callbacks(ctx context.Context, src Source, spec *Spec, sj store.Job, id int64, oldHealth store.JobHealth) []Delivery {
	j := Job{Job: sj, ID: id}
	if u, err := src.Store.User(ctx, sj.Submitter); err == nil {
		j.SubmitterEmail = u.Email
	}
	logs, results := false, false
	for _, c := range spec.Callbacks {
		if c.Method == "POST" {
			logs = logs || c.Dataset == "logs" || c.Dataset == "all"
			results = results || c.Dataset == "results" || c.Dataset == "all"
		}
	}
	if logs && src.Logs != nil {
		j.Log, j.HasLog = readLog(src.Logs, id, src.MaxLog, n.cfg.Logf)
	}
	if results && src.SuiteYAML != nil {
		rs, err := src.Store.Results(ctx, id)
		if err == nil {
			j.Results, err = src.SuiteYAML(id, rs)
		}
		if err != nil {
			n.cfg.Logf("notify: job %d: results: %v", id, err)
		}
	}
	return Deliveries(withTokens(ctx, src.Store, spec, sj.Submitter, n.cfg.Logf), j, oldHealth)
}

// withTokens returns spec with each callback's token looked up as LAVA's
// get_token_from_description does: the value of the submitter's remote
// artifact token of that name, else the value verbatim. LAVA first
// looks among the submitter's API token descriptions and sends that
// token's secret; Basalt keeps API tokens hashed (SHA-256), so that step
// cannot be made. spec itself is not changed.
func withTokens(ctx context.Context, st store.Store, spec *Spec, submitter string, logf func(string, ...any)) *Spec {
	cp := *spec
	cp.Callbacks = append([]Callback(nil), spec.Callbacks...)
	for i, c := range cp.Callbacks {
		if c.Token == "" {
			continue
		}
		v, err := st.RemoteToken(ctx, submitter, c.Token)
		switch {
		case err == nil:
			cp.Callbacks[i].Token = v
		case !errors.Is(err, store.ErrNotFound):
			logf("notify: callback token of %s: %v (sent as written)", submitter, err)
		}
	}
	return &cp
}

// mails builds the e-mails of a transition: one per e-mail recipient
// (by address), the submitter when the block has neither recipients nor
// callbacks (as LAVA). A recipient that cannot be resolved (an unknown
// user, one without an address, no device owner) is logged and skipped.
func (n *Notifier) mails(ctx context.Context, src Source, spec *Spec, sj store.Job, id int64) []Delivery {
	rcpts := spec.Recipients
	if len(rcpts) == 0 && len(spec.Callbacks) == 0 {
		rcpts = []Recipient{{Method: "email", User: sj.Submitter}}
	}
	m := MailJob{Job: sj, DisplayID: displayID(sj, id), URLPrefix: src.URLPrefix, Verbosity: spec.Verbosity, Blacklist: spec.Blacklist}
	m.Job.ID = id
	if sj.Device != "" {
		if d, err := src.Store.Device(ctx, sj.Device); err == nil {
			m.Device = &d
		} else {
			n.cfg.Logf("notify: job %d: device %s: %v", id, sj.Device, err)
		}
	}
	if sj.State == store.JobFinished && spec.Verbosity < StatusOnly {
		rs, err := src.Store.Results(ctx, id)
		if err != nil {
			n.cfg.Logf("notify: job %d: results: %v", id, err)
		}
		m.LavaJob = lavaJobMetadata(rs)
		if spec.Verbosity == Verbose {
			m.Results = rs
		}
	}
	var out []Delivery
	seen := map[string]bool{}
	for _, r := range rcpts {
		if r.Method != "email" {
			continue
		}
		user, addr := r.User, r.Email
		if user == DeviceOwner {
			if m.Device == nil || m.Device.PhysicalOwner == "" {
				continue // LAVA skips it too
			}
			user = m.Device.PhysicalOwner
		}
		if addr == "" {
			u, err := src.Store.User(ctx, user)
			if err != nil {
				n.cfg.Logf("notify: job %d: e-mail recipient: %v", id, err)
				continue
			}
			if addr = u.Email; addr == "" {
				n.cfg.Logf("notify: job %d: e-mail recipient %s has no e-mail address (basalt manage users update %s --email ADDR)", id, user, user)
				continue
			}
		}
		if err := store.CheckEmail(addr); err != nil {
			n.cfg.Logf("notify: job %d: e-mail recipient: %v", id, err)
			continue
		}
		if seen[addr] {
			continue
		}
		seen[addr] = true
		mj := m
		mj.User = user
		out = append(out, Delivery{Job: id, Mail: &Mail{To: addr, Key: "email:" + addr, Subject: Subject(m.Job), Body: Body(mj)}})
	}
	return out
}

// displayID is LAVA's display_id: the id, or "first.sub" for a MultiNode
// sub-job.
func displayID(j store.Job, id int64) string {
	if j.Group == "" {
		return strconv.FormatInt(id, 10)
	}
	first := j.GroupFirst
	if first == 0 {
		first = id - int64(j.SubID)
	}
	return strconv.FormatInt(first, 10) + "." + strconv.Itoa(j.SubID)
}

var errTooLong = errors.New("log over the limit")

type limitWriter struct {
	b   strings.Builder
	max int64
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if int64(w.b.Len()+len(p)) > w.max {
		return 0, errTooLong
	}
	return w.b.Write(p)
}

func readLog(r LogReader, id, max int64, logf func(string, ...any)) (string, bool) {
	if e, ok := r.(interface{ Exists(int64) bool }); ok && !e.Exists(id) {
		return "", false // no log file: LAVA's read fails and the key is left out
	}
	w := &limitWriter{max: max}
	if _, err := r.Read(id, 0, -1, w); err != nil {
		if errors.Is(err, errTooLong) {
			err = fmt.Errorf("over %d bytes", max)
		}
		logf("notify: job %d: log not sent: %v", id, err)
		return "", false
	}
	return w.b.String(), true
}
