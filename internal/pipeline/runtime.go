package pipeline

import (
	"fmt"
	"sync"
	"time"

	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/value"
)

// Runtime is what a running job provides to its actions: the log, a
// scratch folder, and the data actions hand to later actions (LAVA's
// namespace data: where a download landed, the overlay disk's UUID, …).
type Runtime struct {
	// Log receives the job log; nil means nothing is logged.
	Log *joblog.Logger
	// Publish, when set, hands a file the job produces to whoever runs
	// it (the CLI writes it beside logs.yaml, a worker uploads it); name
	// is a plain file name. Nil drops the file.
	Publish func(name string, data []byte) error
	// TmpDir is the job's scratch folder; removed when the job ends.
	TmpDir string
	// OutputDir is where logs and results go.
	OutputDir string
	// ProcessGrace is how long a child process an action started
	// (QEMU, a host command, git…) gets between SIGTERM and SIGKILL when
	// the action stops it; process.DefaultGrace when zero. Job.Run hands
	// it to every child through the context (process.WithGrace).
	ProcessGrace time.Duration

	mu   sync.Mutex
	data map[string]any
}

// SetData records v under the namespace and key, for later actions. Keys
// are DataKeys (datakeys.go), slash-separated paths as LAVA's (action,
// label, key) triples: "download-action/kernel/file".
func (r *Runtime) SetData(ns string, key DataKey, v any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.data == nil {
		r.data = map[string]any{}
	}
	r.data[ns+"\x00"+string(key)] = v
}

// Data returns what SetData recorded, or nil.
func (r *Runtime) Data(ns string, key DataKey) any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.data[ns+"\x00"+string(key)]
}

// DataString returns the recorded string, or "".
func (r *Runtime) DataString(ns string, key DataKey) string {
	s, _ := r.Data(ns, key).(string)
	return s
}

// Log returns the job's logger; never nil, so actions log without checks.
func (b *Base) Log() *joblog.Logger {
	if b.Job != nil && b.Job.Runtime.Log != nil {
		return b.Job.Runtime.Log
	}
	return discard
}

var discard = joblog.Discard()

// Namespace returns the namespace of the action's block.
func (b *Base) Namespace() string { return Namespace(b.Params) }

// SetData records data for later actions of this action's namespace.
func (b *Base) SetData(key DataKey, v any) { b.Job.Runtime.SetData(b.Namespace(), key, v) }

// Data returns data recorded by an earlier action of this namespace.
func (b *Base) Data(key DataKey) any { return b.Job.Runtime.Data(b.Namespace(), key) }

// DataString returns string data recorded by an earlier action.
func (b *Base) DataString(key DataKey) string { return b.Job.Runtime.DataString(b.Namespace(), key) }

// SetResult adds key: v to the action's results, which LAVA reports as
// the `extra` of the action's case in the lava suite.
func (b *Base) SetResult(key string, v any) {
	if b.Results == nil {
		b.Results = value.NewMap()
	}
	b.Results.Set(key, v)
}

// logStart and logEnd write LAVA's start/end lines around each action,
// and the action's result in the lava suite.
func (b *Base) logStart() {
	l := b.Log()
	l.Infof("start: %s %s (timeout %s) [%s]", b.Level, b.Name, clock(b.Timeout.Seconds), b.Namespace())
}

func (b *Base) logEnd(d time.Duration, err error) {
	l := b.Log()
	l.Infof("end: %s %s (duration %s) [%s]", b.Level, b.Name, clock(int(d.Seconds())), b.Namespace())
	res := "pass"
	if err != nil {
		res = "fail"
	}
	m := value.MapOf(
		"definition", "lava",
		"namespace", b.Namespace(),
		"case", b.Name,
		"level", b.Level,
		"duration", fmt.Sprintf("%.02f", d.Seconds()),
		"result", res,
	)
	if b.Results != nil && b.Results.Len() > 0 {
		m.Set("extra", b.Results)
	}
	l.Result(m)
}

// clock is LAVA's HH:MM:SS form of a duration.
func clock(s int) string {
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}
