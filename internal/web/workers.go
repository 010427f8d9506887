package web

// The worker pages: /scheduler/allworkers and /scheduler/worker/NAME.
//
// Stable element ids and classes: #workers (table, tr#worker-NAME with
// td.worker-state, td.worker-ping), #worker-props (dl), #worker-devices
// (table, as the device list's), #worker-jobs (table of the jobs on its
// devices). State badges: .badge.st-online / .st-offline; health badges
// dh-success (Active), dh-warning (Maintenance), dh-danger (Retired).

import (
	"errors"
	"html/template"
	"net/http"
	"sort"
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
	s.page(w, r, "worker.html", wk.Name+" · worker", data)
}
