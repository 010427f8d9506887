package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
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
			if spec == nil || len(spec.Callbacks) == 0 {
				return nil
			}
			sj.State = state
			if state != store.JobFinished {
				sj.Health = store.JobUnknown
			}
			if !spec.Criteria.Match(sj.State, sj.Health, oldHealth) {
				return nil
			}
			j := Job{Job: sj, ID: id}
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
			return Deliveries(spec, j, oldHealth)
		})
	}
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
