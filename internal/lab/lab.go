// Package lab is the brain of `basalt server`: job submission with every
// check `basalt validate` makes, the scheduling loop (scheduler.Pass over a
// snapshot of the store, applied in store transactions), the device health
// rules, worker leases, and the server's side of the worker protocol
// (workerapi.Server). It holds no job state of its own beyond what a pass
// or a held poll needs: the store is the truth, so a Lab started on the
// same store and data folder after a restart carries on where the last one
// stopped.
//
// It does not serve HTTP (internal/cli's server mounts the handlers), and
// does not store logs itself (Config.Logs, internal/logstore, does).
package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/basalt-lava/basalt/internal/device"
	"github.com/basalt-lava/basalt/internal/hostfiles"
	"github.com/basalt-lava/basalt/internal/jinja"
	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/scheduler"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/value"
)

// LogStore is what the lab needs of the job logs (internal/logstore's
// *Logs): lines appended by index, and how many are held.
type LogStore interface {
	// Append stores lines index, index+1, ... of job's log, skipping those
	// already held, and returns how many lines are held.
	Append(job int64, index int64, lines []string) (held int64, err error)
	// Len is the number of lines held, 0 for no log.
	Len(job int64) (int64, error)
}

// Defaults.
const (
	// DefaultLease is how long a worker may stay silent before it loses
	// its jobs (LAVA's PING_TIMEOUT is 60 s too).
	DefaultLease = 60 * time.Second
	// DefaultInterval is the periodic scheduling pass, LAVA's safety poll.
	DefaultInterval = 20 * time.Second
	// HealthUser submits health checks, as LAVA's lava-health does. New
	// creates it (without password or token) when missing.
	HealthUser = "lava-health"
)

// Config is what a Lab works with.
type Config struct {
	Store store.Store
	Logs  LogStore
	// DataDir is the server's data folder.
	DataDir string
	// DeviceTypeDirs are searched for device-type templates after the
	// templates set in the store and before Basalt's shipped ones.
	DeviceTypeDirs []string
	// Lease is how long a worker may go without polling before it goes
	// Offline and its jobs end Incomplete; zero means DefaultLease.
	Lease time.Duration
	// CoordinatorAddr is the MultiNode coordinator's address as workers
	// reach it (host:port), "" for none.
	CoordinatorAddr string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Interval is the periodic pass; zero means DefaultInterval.
	Interval time.Duration
	// Logger receives the lab's log; nil discards it.
	Logger *slog.Logger
	// AllowLocalFiles are the folders whose files a submitted job may
	// name (file:// images, local git repositories); none when empty.
	// The server cannot know each worker's folders, so a job naming any
	// other local file is refused at submit (internal/hostfiles); each
	// worker applies its own --allow-local-files again when it runs.
	AllowLocalFiles []string
	// OnJobChange, when set, is called after a job's change to Running
	// or to Finished is stored, with its health before the change
	// (basalt server's notify callbacks). It runs in the goroutine that
	// made the change (a worker's request, a scheduler pass), so it must
	// not block: it queues.
	OnJobChange func(job int64, state store.JobState, oldHealth store.JobHealth)
}

// Lab is the server's brain. Its methods are safe for concurrent use.
type Lab struct {
	cfg   Config
	st    store.Store
	logs  LogStore
	log   *slog.Logger
	lease time.Duration
	start time.Time
	// localFiles is the host-access policy of submission checks.
	localFiles *hostfiles.Policy

	kick     chan struct{}
	stopping chan struct{}
	stopOnce sync.Once

	mu sync.Mutex
	// waiters holds, per worker, a channel closed when there is news for
	// its held poll (a job scheduled or canceled).
	waiters map[string]chan struct{}
	// lastPoll is when each worker last polled in this server's life;
	// polling counts the polls being held. A worker not heard from since
	// the start is timed from the start, so a restart expires no one.
	lastPoll map[string]time.Time
	polling  map[string]int
	// missing counts the polls in a row that did not list a job the store
	// says the worker runs.
	missing map[int64]int
	// valid caches the configuration check of a dictionary by checkKey.
	valid map[string]error
	// fingerprint identifies, for checkKey, what a configuration check
	// depends on besides the store: the binary and the template folders.
	fingerprint string
	// stored holds the checks remembered in the store, by device, once
	// loaded (storedLoaded) by the first pass that needs them.
	stored       map[string]store.DeviceCheck
	storedLoaded bool
	// rendered counts the configuration checks done (not remembered).
	rendered atomic.Int64
	// checks remembers the submission checks of a job on a dictionary.
	checks map[[32]byte]checked
	// ifaces remembers the VLAN interfaces' tags of a dictionary by
	// checkKey (vland.go).
	ifaces map[string][][]string
	// vlans remembers the lava-vland VLANs of a MultiNode group's
	// sub-jobs by group, then job (vland.go).
	vlans map[string]map[int64][]scheduler.VLAN
}

// New checks cfg and returns the Lab. It creates HealthUser when missing.
func New(cfg Config) (*Lab, error) {
	if cfg.Store == nil {
		return nil, errors.New("lab: no store")
	}
	if cfg.Logs == nil {
		return nil, errors.New("lab: no log store")
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx := context.Background()
	if _, err := cfg.Store.User(ctx, HealthUser); errors.Is(err, store.ErrNotFound) {
		if _, err := cfg.Store.CreateUser(ctx, HealthUser, "", false); err != nil && !errors.Is(err, store.ErrExists) {
			return nil, fmt.Errorf("lab: creating %s: %w", HealthUser, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	localFiles, err := hostfiles.New(hostfiles.Options{Dirs: cfg.AllowLocalFiles, GitSSH: true, LXC: true,
		Host: "server", Flag: "the server's --allow-local-files; each worker has its own"})
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	l := &Lab{
		cfg: cfg, st: cfg.Store, logs: cfg.Logs, log: cfg.Logger, lease: cfg.Lease, start: cfg.Now(),
		kick: make(chan struct{}, 1), stopping: make(chan struct{}),
		waiters: map[string]chan struct{}{}, lastPoll: map[string]time.Time{}, polling: map[string]int{},
		missing: map[int64]int{}, valid: map[string]error{}, checks: map[[32]byte]checked{}, ifaces: map[string][][]string{}, vlans: map[string]map[int64][]scheduler.VLAN{},
		localFiles: localFiles, fingerprint: fingerprint(cfg.DeviceTypeDirs),
	}
	return l, nil
}

// Kick asks for a scheduling pass now; it never blocks.
func (l *Lab) Kick() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// waiter returns the channel a held poll of worker waits on.
func (l *Lab) waiter(worker string) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch, ok := l.waiters[worker]
	if !ok {
		ch = make(chan struct{})
		l.waiters[worker] = ch
	}
	return ch
}

// wake answers the held polls of worker.
func (l *Lab) wake(worker string) {
	if worker == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if ch, ok := l.waiters[worker]; ok {
		close(ch)
		delete(l.waiters, worker)
	}
}

// wakeDevice wakes the worker of device.
func (l *Lab) wakeDevice(ctx context.Context, name string) {
	if name == "" {
		return
	}
	if d, err := l.st.Device(ctx, name); err == nil {
		l.wake(d.Worker)
	}
}

// DisplayID is the id LAVA's clients see: the job id for a single job,
// "<first id>.<sub_id>" for a MultiNode sub-job, first being the id of its
// group's sub_id 0.
func DisplayID(j store.Job) any {
	if j.Group == "" {
		return j.ID
	}
	first := j.GroupFirst
	if first == 0 {
		first = j.ID - int64(j.SubID) // a job read without its group's first id
	}
	return strconv.FormatInt(first, 10) + "." + strconv.Itoa(j.SubID)
}

// FindJob returns the job with the display id id: "123" or, for a
// MultiNode sub-job, "123.1" (also reachable by its own id). An id that is
// not one, or names no job, gives an error wrapping store.ErrNotFound.
func (l *Lab) FindJob(ctx context.Context, id string) (store.Job, error) {
	first, sub, multi := strings.Cut(strings.TrimSpace(id), ".")
	n, err := strconv.ParseInt(first, 10, 64)
	if err != nil || n <= 0 {
		return store.Job{}, fmt.Errorf("job %q: %w", id, store.ErrNotFound)
	}
	if !multi {
		return l.st.Job(ctx, n)
	}
	s, err := strconv.Atoi(sub)
	if err != nil || s < 0 {
		return store.Job{}, fmt.Errorf("job %q: %w", id, store.ErrNotFound)
	}
	return l.st.SubJob(ctx, n, s)
}

// Template returns a device type's template: the one set in the store
// (over the API), else <type>.jinja2 from the --device-types folders, else
// Basalt's shipped one. An unknown type without a template file gives an
// error wrapping store.ErrNotFound.
func (l *Lab) Template(ctx context.Context, deviceType string) (string, error) {
	dt, err := l.st.DeviceType(ctx, deviceType)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	if err == nil && dt.Template != "" {
		return dt.Template, nil
	}
	src, _, lerr := device.TemplateLoader(l.cfg.DeviceTypeDirs, limits.Limits{}).Load(deviceType + ".jinja2")
	var nf *jinja.NotFoundError
	if errors.As(lerr, &nf) {
		return "", fmt.Errorf("device type %s: no template: %w", deviceType, store.ErrNotFound)
	}
	return src, lerr
}

// templates is a renderer of dictionaries through the device-type
// templates: those set in the store (by "<type>.jinja2"), then the
// folders, then the shipped ones. Make one per batch of renders.
func (l *Lab) templates(types []store.DeviceType) *device.Renderer {
	m := jinja.MapLoader{}
	for _, dt := range types {
		if dt.Template != "" {
			m[dt.Name+".jinja2"] = dt.Template
		}
	}
	return device.NewRenderer(jinja.ChainLoader{m, device.TemplateLoader(l.cfg.DeviceTypeDirs, limits.Limits{})}, limits.Limits{})
}

func (l *Lab) loader(ctx context.Context) (*device.Renderer, error) {
	types, err := l.st.DeviceTypes(ctx)
	if err != nil {
		return nil, err
	}
	return l.templates(types), nil
}

// RenderDevice renders a device's dictionary through its templates with a
// job context given as YAML text (a map, or "" for none), as
// get_dictionary(render=True, context=…) and a worker's job see it.
func (l *Lab) RenderDevice(ctx context.Context, name string, jobContext string) (string, error) {
	d, err := l.st.Device(ctx, name)
	if err != nil {
		return "", err
	}
	var jc *value.Map
	if strings.TrimSpace(jobContext) != "" {
		v, err := value.DecodeYAMLLimit([]byte(jobContext), limits.Defaults().YAMLNodes)
		if err != nil {
			return "", fmt.Errorf("job context: %w", err)
		}
		if v != nil {
			m, ok := v.(*value.Map)
			if !ok {
				return "", errors.New("job context: expected a map of context variables")
			}
			jc = m
		}
	}
	loader, err := l.loader(ctx)
	if err != nil {
		return "", err
	}
	return renderDevice(d, jc, loader)
}

// RenderDictionary renders a device dictionary that belongs to no device
// through the device-type templates, as REST's devices/validate checks
// one (it renders and loads the YAML, without a job context).
func (l *Lab) RenderDictionary(ctx context.Context, dictionary string) (string, error) {
	loader, err := l.loader(ctx)
	if err != nil {
		return "", err
	}
	return loader.Render("devices/validate.jinja2", dictionary, nil)
}

// renderDevice renders d's dictionary with the job context jc plus, as
// LAVA's server adds them (Device.load_configuration), the device's name
// and type as scheduled_device_name and scheduled_device_type: base.jinja2
// prints them as the configuration's hostname and devicetype, and they
// win over a job context of the same names.
func renderDevice(d store.Device, jc *value.Map, r *device.Renderer) (string, error) {
	if strings.TrimSpace(d.Dictionary) == "" {
		return "", fmt.Errorf("device %s has no dictionary", d.Name)
	}
	// The server's values are not the job's: the context check (a job
	// value must not change the configuration's shape) skips them, which
	// spares two YAML parses a render.
	server := value.NewMap()
	server.Set("scheduled_device_name", d.Name)
	server.Set("scheduled_device_type", d.DeviceType)
	return r.RenderWith("devices/"+d.Name+".jinja2", d.Dictionary, jc, server)
}

func (l *Lab) now() time.Time { return l.cfg.Now() }

// changed reports a stored change of job to state (see
// Config.OnJobChange).
func (l *Lab) changed(job int64, state store.JobState, oldHealth store.JobHealth) {
	if l.cfg.OnJobChange != nil {
		l.cfg.OnJobChange(job, state, oldHealth)
	}
}
