package web

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/basalt-lava/basalt/internal/store"
)

// Element ids: #home-jobs (counts of jobs by state), #home-devices
// (devices by health), #recent-jobs (the table).

func init() {
	addFuncs(template.FuncMap{
		// healthSummary is "3 Good, 1 Bad" for a home page card's title.
		"healthSummary": func(hs []healthCount) string {
			parts := make([]string, len(hs))
			for i, h := range hs {
				parts[i] = fmt.Sprintf("%d %s", h.Count, h.Health)
			}
			return strings.Join(parts, ", ")
		},
	})
}

type homeData struct {
	Running, Queued int
	Health          []healthCount
	Devices         int
	Recent          []store.Job
}

type healthCount struct {
	Health store.DeviceHealth
	Count  int
}

// homeRecent is how many jobs the home page lists.
const homeRecent = 10

// home is the lab at a glance: what runs, what waits, the devices'
// health and the latest jobs this user may see.
func (s *site) home(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := s.viewer(r)
	var d homeData
	var err error
	if d.Running, err = s.c.Store.CountJobs(ctx, store.JobFilter{States: []store.JobState{store.JobRunning}, Viewer: v}); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Queued, err = s.c.Store.CountJobs(ctx, store.JobFilter{States: []store.JobState{store.JobSubmitted}, Viewer: v}); err != nil {
		s.fail(w, r, err)
		return
	}
	devs, err := s.c.Store.Devices(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	counts := map[store.DeviceHealth]int{}
	for _, dv := range devs {
		if dv.Health == store.HealthRetired {
			continue
		}
		d.Devices++
		counts[dv.Health]++
	}
	for _, h := range []store.DeviceHealth{store.HealthGood, store.HealthUnknown, store.HealthLooping, store.HealthBad, store.HealthMaintenance} {
		if counts[h] > 0 {
			d.Health = append(d.Health, healthCount{h, counts[h]})
		}
	}
	if d.Recent, err = s.c.Store.Jobs(ctx, store.JobFilter{Viewer: v, NewestFirst: true, Limit: homeRecent}); err != nil {
		s.fail(w, r, err)
		return
	}
	s.page(w, r, "home.html", "Basalt lab", d)
}
