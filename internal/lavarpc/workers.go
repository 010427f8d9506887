package lavarpc

import (
	"context"
	"errors"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/xmlrpc"
)

func (a *api) registerWorkers() {
	a.reg("scheduler.workers.list", 0, 1, "list(show_all=False): worker hostnames (Retired ones only with show_all).", a.workerList)
	a.reg("scheduler.workers.show", 1, 1, "show(hostname): a worker's details (its token is kept hashed: never shown again after workers.add).", a.workerShow)
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
	a.reg("scheduler.workers.add", 1, 3, "add(hostname, description=None, disabled=False): add a worker (Retired when disabled); returns the worker's token, which Basalt keeps hashed and shows only here (LAVA returns None). [admin]", a.workerAdd)
}

func (a *api) workerList(ctx context.Context, p params) (any, error) {
	ws, err := a.store.Workers(ctx)
	if err != nil {
		return nil, err
	}
	all := p.bool(0, false)
	names := make([]string, 0, len(ws))
	for _, w := range ws {
		if w.Health == store.WorkerRetired && !all {
			continue
		}
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
	health := w.Health
	if health == "" {
		health = store.WorkerActive
	}
	out := st(
		"hostname", w.Name,
		"description", orNil(w.Description),
		"state", string(state),
		"health", string(health),
		"devices", devices,
		"last_ping", ping.UTC(),
		"job_limit", w.JobLimit,
		"version", nil,
		"default_config", true,
		"default_env", true,
		"default_env_dut", true,
	)
	if isSuperuser(ctx) {
		// LAVA keeps worker tokens in clear and shows them to superusers;
		// Basalt keeps a hash only, so it says where a token comes from
		// rather than omit the key lavacli prints.
		out = append(out, xmlrpc.Member{Name: "token", Value: tokenNotice})
	}
	return out, nil
}

// tokenNotice is what workers.show gives superusers for "token".
const tokenNotice = "(kept hashed: shown only when made, by scheduler.workers.add or basalt manage workers add; basalt manage workers update NAME --new-token replaces it)"

// workerHealths maps the names workers.update takes to the store's.
var workerHealths = map[string]store.WorkerHealth{
	"ACTIVE": store.WorkerActive, "MAINTENANCE": store.WorkerMaintenance, "RETIRED": store.WorkerRetired,
}

func (a *api) workerUpdate(ctx context.Context, p params) (any, error) {
	u, err := needPerm(ctx, "lava_scheduler_app.change_worker")
	if err != nil {
		return nil, err
	}
	w, err := a.worker(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	var up store.WorkerUpdate
	if d, ok := p.optStr(1); ok {
		up.Description = &d
	}
	if h, ok := p.optStr(2); ok {
		health, ok := workerHealths[h]
		if !ok {
			return nil, badRequest("Invalid health: %s", h)
		}
		up.Health = &health
	}
	if p[3] != nil {
		n, ok := p[3].(int64)
		if !ok || n < 0 || n > math.MaxInt32 {
			return nil, badRequest("Invalid job limit")
		}
		limit := int(n)
		up.JobLimit = &limit
	}
	if err := a.store.UpdateWorker(ctx, w.Name, up, store.Change{By: u.Name, Reason: "xmlrpc api"}); err != nil {
		return nil, err
	}
	// Back to Active, or a higher limit: its devices may take work now.
	a.lab.Kick()
	return nil, nil
}

func (a *api) workerAdd(ctx context.Context, p params) (any, error) {
	u, err := needPerm(ctx, "lava_scheduler_app.add_worker")
	if err != nil {
		return nil, err
	}
	name := p.str(0)
	if name == "" {
		return nil, badRequest("Bad request: worker already exists?")
	}
	// The worker's token is made and stored hashed, so this reply is the
	// only place it is seen (LAVA returns None and shows the token, kept
	// in clear, in workers.show; lavacli ignores the reply).
	token, err := a.store.CreateWorker(ctx, name, "")
	if errors.Is(err, store.ErrExists) {
		return nil, badRequest("Bad request: worker already exists?")
	} else if err != nil {
		return nil, err
	}
	var up store.WorkerUpdate
	if d, ok := p.optStr(1); ok && d != "" {
		up.Description = &d
	}
	if p.bool(2, false) {
		retired := store.WorkerRetired
		up.Health = &retired
	}
	if err := a.store.UpdateWorker(ctx, name, up, store.Change{By: u.Name, Reason: "xmlrpc api"}); err != nil {
		return nil, err
	}
	return token, nil
}
