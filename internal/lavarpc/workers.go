package lavarpc

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
)

func (a *api) registerWorkers() {
	a.reg("scheduler.workers.list", 0, 1, "list(show_all=False): worker hostnames.", a.workerList)
	a.reg("scheduler.workers.show", 1, 1, "show(hostname): a worker's details.", a.workerShow)
	a.reg("scheduler.workers.update", 1, 4, "update(hostname, description=None, health=None, job_limit=None): change a worker (health ACTIVE, MAINTENANCE or RETIRED). [admin]", a.workerUpdate)
	for _, f := range []struct{ name, what string }{
		{"get_config", "a dispatcher configuration"}, {"get_env", "an env file"}, {"get_env_dut", "an env-dut file"},
	} {
		a.reg("scheduler.workers."+f.name, 1, 1, f.name+"(hostname): the worker's file on the server; Basalt keeps none (Fault 404, which lavacli reads as absent).",
			func(ctx context.Context, p params) (any, error) {
				name := p.str(0)
				if strings.ContainsAny(name, "/") || name == "." || name == ".." || name == "" {
					return nil, badRequest("Invalid worker name")
				}
				if _, err := a.worker(ctx, p, 0); err != nil {
					return nil, err
				}
				return nil, notFound("Worker '%s' does not have %s", name, f.what)
			})
	}
	a.reg("scheduler.workers.add", 1, 3, "add(hostname, description=None, disabled=False): add a worker (its token: basalt manage workers add). [admin]", a.workerAdd)
}

func (a *api) workerList(ctx context.Context, p params) (any, error) {
	ws, err := a.store.Workers(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ws))
	for _, w := range ws {
		names = append(names, w.Name)
	}
	sort.Strings(names)
	return names, nil
}

// worker looks up the worker of argument i (404 when absent).
func (a *api) worker(ctx context.Context, p params, i int) (store.Worker, error) {
	name := p.str(i)
	w, err := a.store.Worker(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return w, notFound("Worker '%s' was not found.", name)
	}
	return w, err
}

func (a *api) workerShow(ctx context.Context, p params) (any, error) {
	w, err := a.worker(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	ds, err := a.devicesSorted(ctx)
	if err != nil {
		return nil, err
	}
	devices := []string{}
	for _, d := range ds {
		if d.Worker == w.Name {
			devices = append(devices, d.Name)
		}
	}
	// last_ping is never nil in LAVA (lavacli calls .value on it); a worker
	// that never pinged shows the Unix epoch.
	ping := w.LastPing
	if ping.IsZero() {
		ping = time.Unix(0, 0)
	}
	state := w.State
	if state == "" {
		state = store.WorkerOffline
	}
	return st(
		"hostname", w.Name,
		"description", nil, // not stored
		"state", string(state),
		"health", "Active", // not stored: LAVA's default
		"devices", devices,
		"last_ping", ping.UTC(),
		"job_limit", 0, // not stored: LAVA's default (no limit)
		"version", nil,
		"default_config", true,
		"default_env", true,
		"default_env_dut", true,
	), nil
}

func (a *api) workerUpdate(ctx context.Context, p params) (any, error) {
	if _, err := needPerm(ctx, "lava_scheduler_app.change_worker"); err != nil {
		return nil, err
	}
	if _, err := a.worker(ctx, p, 0); err != nil {
		return nil, err
	}
	if h, ok := p.optStr(2); ok {
		switch h {
		case "ACTIVE", "MAINTENANCE", "RETIRED":
		default:
			return nil, badRequest("Invalid health: %s", h)
		}
	}
	if p[3] != nil {
		n, ok := p[3].(int64)
		if !ok || n < 0 {
			return nil, badRequest("Invalid job limit")
		}
	}
	// A worker's description, health and job limit have no column yet:
	// the arguments are checked as LAVA checks them and not kept.
	return nil, nil
}

func (a *api) workerAdd(ctx context.Context, p params) (any, error) {
	if _, err := needPerm(ctx, "lava_scheduler_app.add_worker"); err != nil {
		return nil, err
	}
	name := p.str(0)
	if name == "" {
		return nil, badRequest("Bad request: worker already exists?")
	}
	// The worker's token is made and stored hashed; it is not returned
	// (LAVA's add returns None): basalt manage workers add prints one.
	if _, err := a.store.CreateWorker(ctx, name, ""); errors.Is(err, store.ErrExists) {
		return nil, badRequest("Bad request: worker already exists?")
	} else if err != nil {
		return nil, err
	}
	return nil, nil
}
