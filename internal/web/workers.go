package web

// The worker pages: /scheduler/allworkers and /scheduler/worker/NAME.
//
// Stable element ids and classes: #workers (table, tr#worker-NAME with
// td.worker-state, td.worker-ping), #worker-props (dl),
// #worker-health-form (superusers: select[name=health],
// textarea[name=reason]), #worker-devices
// (table, as the device list's), #worker-jobs (table of the jobs on its
// devices). State badges: .badge.st-online / .st-offline; health badges
// dh-success (Active), dh-warning (Maintenance), dh-danger (Retired).

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
)

func init() {
	addRoutes(func(s *site) { s.workerRoutes() })
	addFuncs(template.FuncMap{"dvWorkerHealthClass": workerHealthClass})
}

func (s *site) workerRoutes() {
	s.get("/scheduler/allworkers", s.workerList)
	s.get("/scheduler/worker/{name}", s.workerPage)
	s.post("/scheduler/worker/{name}/health", s.workerHealthPost)
}

// workerHealthClass is LAVA's colour of a worker health.
func workerHealthClass(h store.WorkerHealth) string {
	switch h {
	case store.WorkerActive:
		return "dh-success"
	case store.WorkerMaintenance:
		return "dh-warning"
	}
	return "dh-danger"
}

// workerTableRow is a worker with its device count and the age of its last
// ping.
type workerTableRow struct {
	store.Worker
	Devices int
	Running int // devices Reserved or Running
	PingAge string
}

func workerTableRows(ws []store.Worker, devs []store.Device, now time.Time) []workerTableRow {
	count, busy := map[string]int{}, map[string]int{}
	for _, d := range devs {
		if d.Health == store.HealthRetired {
			continue
		}
		count[d.Worker]++
		if d.State != store.DeviceIdle {
			busy[d.Worker]++
		}
	}
	out := make([]workerTableRow, len(ws))
	for i, w := range ws {
		out[i] = workerTableRow{Worker: w, Devices: count[w.Name], Running: busy[w.Name], PingAge: "never"}
		if !w.LastPing.IsZero() {
			out[i].PingAge = formatDuration(now.Sub(w.LastPing)) + " ago"
		}
	}
	return out
}

func (s *site) workerList(w http.ResponseWriter, r *http.Request) {
	ws, err := s.c.Store.Workers(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	devs, err := s.c.Store.Devices(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].Name < ws[j].Name })
	s.page(w, r, "workers.html", "Workers", workerTableRows(ws, devs, time.Now()))
}

type workerPageData struct {
	Worker  workerTableRow
	Devices []deviceTableRow
	Retired bool
	Jobs    []store.Job
	// CanChange: a superuser may change the health, to one of Healths.
	CanChange bool
	Healths   []store.WorkerHealth
}

func (s *site) workerPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("name")
	wk, err := s.c.Store.Worker(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, notFound("worker "+name))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	devs, err := s.c.Store.Devices(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	data := workerPageData{Worker: workerTableRows([]store.Worker{wk}, devs, time.Now())[0],
		Retired: r.URL.Query().Get("retired") != "" && r.URL.Query().Get("retired") != "0"}
	var mine []store.Device
	for _, d := range devs {
		if d.Worker == wk.Name && (data.Retired || d.Health != store.HealthRetired) {
			mine = append(mine, d)
		}
	}
	sort.Slice(mine, func(i, j int) bool { return mine[i].Name < mine[j].Name })
	if data.Devices, err = s.deviceRows(r, mine); err != nil {
		s.fail(w, r, err)
		return
	}
	if data.Jobs, err = s.c.Store.Jobs(ctx, store.JobFilter{Worker: wk.Name, Viewer: s.viewer(r),
		States: []store.JobState{store.JobScheduled, store.JobRunning, store.JobCanceling}}); err != nil {
		s.fail(w, r, err)
		return
	}
	if u, ok := s.user(r); ok && u.Superuser {
		data.CanChange = true
		for _, h := range []store.WorkerHealth{store.WorkerActive, store.WorkerMaintenance, store.WorkerRetired} {
			if h != wk.Health {
				data.Healths = append(data.Healths, h)
			}
		}
	}
	s.page(w, r, "worker.html", wk.Name+" · worker", data)
}

// workerHealthPost is the superuser's health change from the worker page
// (LAVA's worker health modal); the store cascades it to the devices as
// LAVA does and logs each device's change with the user and reason.
func (s *site) workerHealthPost(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	u, ok := s.user(r)
	if !ok || !u.Superuser {
		s.fail(w, r, &httpError{Code: http.StatusForbidden, Msg: "only an administrator can change a worker's health"})
		return
	}
	var health store.WorkerHealth
	want := strings.TrimSpace(r.PostFormValue("health"))
	for _, h := range []store.WorkerHealth{store.WorkerActive, store.WorkerMaintenance, store.WorkerRetired} {
		if strings.EqualFold(want, string(h)) {
			health = h
		}
	}
	if health == "" {
		s.fail(w, r, &httpError{Code: http.StatusBadRequest, Msg: fmt.Sprintf("unknown worker health %q", want)})
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if len(reason) > 2000 {
		s.fail(w, r, &httpError{Code: http.StatusBadRequest, Msg: "the reason is longer than 2000 characters"})
		return
	}
	err := s.c.Store.UpdateWorker(r.Context(), name, store.WorkerUpdate{Health: &health}, store.Change{By: u.Name, Reason: reason})
	if errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, notFound("worker "+name))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.c.Lab.Kick()
	http.Redirect(w, r, "/scheduler/worker/"+url.PathEscape(name), http.StatusSeeOther)
}
