package web

// lists.go: LAVA's job tables (/scheduler/alljobs, activejobs, myjobs,
// queue, joberrors, healthcheck), the device types at work
// (/scheduler/running) and the devices' health (/scheduler/labhealth).
// Each is a server-rendered table, paged and filtered by the query string
// alone (a GET form), so it works without JavaScript; static/lists.js only
// refreshes the active lists in place.
//
// Jobs are never all read: a page is one CountJobs and one Jobs with
// Limit/Offset, the caller's visibility in the query (JobFilter.Viewer),
// then one ResultCounts for the page's ids.
//
// Stable ids and classes (the browser tests rely on them; keep them):
//
//	nav#list-tabs              links between the lists (a.active: this one)
//	form#list-filters          the filter form (GET). Fields: state, health,
//	                           device_type, device, submitter, search,
//	                           error_class (joberrors), length (page size)
//	p#list-count               "N jobs" / "Showing A–B of N"
//	nav.pager                  a[rel=prev], a[rel=next]: other pages, keeping the filters
//	p.list-empty               shown instead of the table when nothing matches
//	div.table-wrap             the box a wide table scrolls in (never the page)
//	table#job-table            the job table
//	  tr.job-row               one per job, data-job-id="<store id>"
//	  td.col-id a              link to /scheduler/job/<id>, text the display id ("N" or "N.M")
//	  td.col-state span.state  the layout's badge: st-<health> once finished
//	                           (st-complete, st-incomplete, st-canceled,
//	                           st-unknown), else st-<state> (st-running,
//	                           st-submitted, st-scheduled, st-canceling …)
//	  td.col-tests             span.tests-pass "N passed", span.tests-fail "N failed"
//	  td.col-error             the error class, its message as title (and
//	                           td.col-errmsg with the message on joberrors)
//	table#running-table        /scheduler/running: tr.type-row data-device-type="<name>"
//	table#labhealth-table      /scheduler/labhealth: tr.device-row data-device="<name>",
//	                           td.col-checks a: /scheduler/labhealth/device/<name>
//	                           (that device's health checks, a job table),
//	                           td.col-health span.health.st-<good|unknown|looping|bad|maintenance>
//	section#list[data-refresh] the part lists.js reloads every data-refresh seconds
//
// Every cell of a table carries data-label (its column's name), which the
// narrow-screen CSS shows when rows become stacked cards.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/store"
)

// Page sizes: LAVA's tables show 25 rows unless asked.
const (
	defaultPageSize = 25
	maxPageSize     = 100
	// refreshSeconds is how often the active lists reload themselves.
	refreshSeconds = 10
)

// jobList is one of LAVA's job tables: a fixed selection (base) that the
// query string narrows.
type jobList struct {
	path  string
	title string
	// intro says what the table holds, under the title.
	intro string
	// login: the page needs a logged-in user (myjobs, and joberrors as
	// LAVA's @login_required); mine narrows to the user's jobs.
	login, mine bool
	base        store.JobFilter
	// states are the states the state filter offers (none: no filter).
	states []store.JobState
	// errorFilter: the error-class filter of joberrors, whose base is
	// LAVA's classes (Configuration, Infrastructure, Bug).
	errorFilter bool
	// priority, errorMsg and inQueue (how long a job has waited, LAVA's
	// queue) add those columns; refresh reloads the page.
	priority, errorMsg, inQueue, refresh bool
}

var allStates = []store.JobState{store.JobSubmitted, store.JobScheduling, store.JobScheduled,
	store.JobRunning, store.JobCanceling, store.JobFinished}

var allHealths = []store.JobHealth{store.JobUnknown, store.JobComplete, store.JobIncomplete, store.JobCanceled}

// lavaErrorClasses are the classes LAVA's joberrors page lists: the
// lab's failures rather than the job writer's.
var lavaErrorClasses = []string{string(pipeline.ClassConfiguration), string(pipeline.ClassInfrastructure), string(pipeline.ClassBug)}

// errorClasses are all the classes a job may end with, for the filter.
var errorClasses = []string{
	string(pipeline.ClassInfrastructure), string(pipeline.ClassConfiguration), string(pipeline.ClassBug),
	string(pipeline.ClassJob), string(pipeline.ClassTest), string(pipeline.ClassCanceled),
	string(pipeline.ClassTimeout), string(pipeline.ClassMultinodeTimeout),
}

func boolRef(b bool) *bool { return &b }

var jobLists = []jobList{
	{path: "/scheduler/alljobs", title: "All jobs", intro: "Every job you may see, newest first.", states: allStates},
	{path: "/scheduler/activejobs", title: "Active jobs", intro: "Jobs running or being canceled.",
		base:   store.JobFilter{States: []store.JobState{store.JobRunning, store.JobCanceling}},
		states: []store.JobState{store.JobRunning, store.JobCanceling}, priority: true, refresh: true},
	{path: "/scheduler/myjobs", title: "My jobs", intro: "The jobs you submitted.", login: true, mine: true, states: allStates},
	{path: "/scheduler/queue", title: "Queue", intro: "Jobs submitted and waiting for a device.",
		base: store.JobFilter{States: []store.JobState{store.JobSubmitted}}, priority: true, inQueue: true, refresh: true},
	{path: "/scheduler/joberrors", title: "Job errors",
		intro: "Jobs that ended with an error; by default the lab's (Infrastructure, Configuration, Bug), as LAVA lists them.",
		login: true, base: store.JobFilter{ErrorClasses: lavaErrorClasses}, errorFilter: true, errorMsg: true},
	{path: "/scheduler/healthcheck", title: "Health checks", intro: "The devices' health-check jobs.",
		base: store.JobFilter{HealthCheck: boolRef(true)}, states: allStates},
}

func init() { addRoutes((*site).listRoutes) }

// listRoutes registers the list pages, each with and without its slash.
func (s *site) listRoutes() {
	for _, l := range jobLists {
		s.get(l.path, s.jobListHandler(l))
	}
	s.get("/scheduler/running", s.runningPage)
	s.get("/scheduler/labhealth", s.labHealthPage)
	s.get("/scheduler/labhealth/device/{name}", s.deviceHealthChecks)
}

// deviceHealthChecks is LAVA's /scheduler/labhealth/device/NAME: the
// health-check jobs of one device.
func (s *site) deviceHealthChecks(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, err := s.findDevice(r, name); err != nil {
		s.fail(w, r, err)
		return
	}
	s.jobListHandler(jobList{
		path: "/scheduler/labhealth/device/" + url.PathEscape(name), title: "Health checks of " + name,
		intro: "The health-check jobs of device " + name + ", newest first.",
		base:  store.JobFilter{HealthCheck: boolRef(true), Device: name}, states: allStates,
	})(w, r)
}

// listQuery is what the query string asks of a list.
type listQuery struct {
	States      []string
	Healths     []string
	DeviceType  string
	Device      string
	Submitter   string
	Search      string
	ErrorClass  string
	Page, Size  int
	values      url.Values // the filters alone, to keep in page links
	sizeChanged bool
}

func parseListQuery(q url.Values) listQuery {
	lq := listQuery{
		States:     cleanList(q["state"]),
		Healths:    cleanList(q["health"]),
		DeviceType: strings.TrimSpace(q.Get("device_type")),
		Device:     strings.TrimSpace(q.Get("device")),
		Submitter:  strings.TrimSpace(q.Get("submitter")),
		Search:     strings.TrimSpace(q.Get("search")),
		ErrorClass: strings.TrimSpace(q.Get("error_class")),
		Page:       1,
		Size:       defaultPageSize,
	}
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 {
		lq.Page = n
	}
	if n, err := strconv.Atoi(q.Get("length")); err == nil && n > 0 {
		lq.Size = min(n, maxPageSize)
		lq.sizeChanged = lq.Size != defaultPageSize
	}
	v := url.Values{}
	for _, st := range lq.States {
		v.Add("state", st)
	}
	for _, h := range lq.Healths {
		v.Add("health", h)
	}
	for k, val := range map[string]string{"device_type": lq.DeviceType, "device": lq.Device,
		"submitter": lq.Submitter, "search": lq.Search, "error_class": lq.ErrorClass} {
		if val != "" {
			v.Set(k, val)
		}
	}
	if lq.sizeChanged {
		v.Set("length", strconv.Itoa(lq.Size))
	}
	lq.values = v
	return lq
}

func cleanList(vs []string) []string {
	var out []string
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// filter narrows l's base selection by lq for user; empty is true when
// the request can match nothing (a state the list does not hold).
func (l jobList) filter(lq listQuery, user store.User) (f store.JobFilter, empty bool) {
	f = l.base
	f.Viewer = store.ViewerOf(user)
	f.NewestFirst = true
	f.WithoutDefinitions = true
	if len(lq.States) > 0 && len(l.states) > 0 {
		var sts []store.JobState
		for _, s := range lq.States {
			for _, st := range l.states {
				if strings.EqualFold(s, string(st)) {
					sts = append(sts, st)
				}
			}
		}
		if len(sts) == 0 {
			return f, true
		}
		f.States = sts
	}
	if len(lq.Healths) > 0 {
		var hs []store.JobHealth
		for _, s := range lq.Healths {
			for _, h := range allHealths {
				if strings.EqualFold(s, string(h)) {
					hs = append(hs, h)
				}
			}
		}
		if len(hs) == 0 {
			return f, true
		}
		f.Healths = hs
	}
	if lq.DeviceType != "" {
		f.DeviceTypes = []string{lq.DeviceType}
	}
	if l.base.Device == "" {
		f.Device = lq.Device
	}
	if l.mine {
		f.Submitter = user.Name
	} else {
		f.Submitter = lq.Submitter
	}
	f.DescriptionContains = lq.Search
	if l.errorFilter && lq.ErrorClass != "" {
		switch i := slices.IndexFunc(errorClasses, func(c string) bool { return strings.EqualFold(c, lq.ErrorClass) }); {
		case strings.EqualFold(lq.ErrorClass, "all"):
			f.ErrorClasses = errorClasses
		case i >= 0:
			f.ErrorClasses = []string{errorClasses[i]}
		default:
			return f, true
		}
	}
	return f, false
}

// pager is a page's place in its table and the links to its neighbours.
type pager struct {
	Total, First, Last int // rows First..Last (from 1) of Total
	Page, Pages        int
	Prev, Next         string // links, "" at the ends
}

// newPager places page (from 1, clamped to the last) of size rows among
// total, links keeping the filters in keep.
func newPager(path string, keep url.Values, total, page, size int) pager {
	p := pager{Total: total, Pages: max(1, (total+size-1)/size)}
	p.Page = min(max(page, 1), p.Pages)
	if total > 0 {
		p.First = (p.Page-1)*size + 1
		p.Last = min(total, p.Page*size)
	}
	link := func(n int) string {
		v := url.Values{}
		for k, vs := range keep {
			v[k] = vs
		}
		if n > 1 {
			v.Set("page", strconv.Itoa(n))
		}
		if len(v) == 0 {
			return path
		}
		return path + "?" + v.Encode()
	}
	if p.Page > 1 {
		p.Prev = link(p.Page - 1)
	}
	if p.Page < p.Pages {
		p.Next = link(p.Page + 1)
	}
	return p
}

func (p pager) offset(size int) int { return (p.Page - 1) * size }

// jobRow is one job as the tables show it.
type jobRow struct {
	ID          int64
	DisplayID   string
	Link        string
	Description string
	Label       string // the state, or the health once finished
	LabelClass  string
	Priority    int
	DeviceType  string
	Device      string
	Connection  bool // a MultiNode dynamic connection: no device, "connection" (LAVA's tables)
	Submitter   string
	Submitted   timeCell
	Ended       timeCell
	Duration    string
	Live        bool   // Duration is still growing
	InQueue     string // how long since it was submitted
	ErrorClass  string
	ErrorMsg    string
	HasResults  bool
	Pass, Fail  int
	Skip        int
}

// stateLabel is the label LAVA's tables show for a job (JobStateColumn):
// the health of a finished job, else its state; class is the layout's
// badge of that word (LAVA's colours, basalt.css).
func stateLabel(j store.Job) (text, class string) {
	text = jobStatus(j)
	return text, "state badge st-" + strings.ToLower(text)
}

// lavaDuration prints d as LAVA does (Python's timedelta, to the
// second): "0:05:07", "2 days, 3:04:05".
func lavaDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	secs := int64(d / time.Second)
	days := secs / 86400
	secs %= 86400
	s := fmt.Sprintf("%d:%02d:%02d", secs/3600, secs/60%60, secs%60)
	switch {
	case days == 1:
		return "1 day, " + s
	case days > 1:
		return fmt.Sprintf("%d days, %s", days, s)
	}
	return s
}

func newJobRow(j store.Job, counts map[int64]store.ResultCount, now time.Time) jobRow {
	r := jobRow{
		ID: j.ID, DisplayID: fmt.Sprint(lab.DisplayID(j)), Link: "/scheduler/job/" + strconv.FormatInt(j.ID, 10),
		Description: j.Description, Priority: j.Priority, DeviceType: j.DeviceType, Device: j.Device, Connection: j.Dynamic(),
		Submitter: j.Submitter, Submitted: newTimeCell(j.Submitted), Ended: newTimeCell(j.Ended), ErrorClass: j.ErrorClass, ErrorMsg: j.ErrorMsg,
	}
	r.Label, r.LabelClass = stateLabel(j)
	r.InQueue = formatDuration(now.Sub(j.Submitted))
	switch {
	case !j.Started.IsZero() && !j.Ended.IsZero():
		r.Duration = lavaDuration(j.Ended.Sub(j.Started))
	case !j.Started.IsZero():
		r.Duration, r.Live = lavaDuration(now.Sub(j.Started)), true
	}
	if c, ok := counts[j.ID]; ok {
		r.HasResults = true
		r.Pass, r.Fail, r.Skip = c.Pass, c.Fail, c.Skip
	}
	return r
}

// option is one choice of a filter's select.
type option struct {
	Value, Label string
	Selected     bool
}

// options are a select's choices: anyLabel (the empty value), values,
// and any chosen value that is not among them (a device type since
// removed still names old jobs), so that the select shows what filters
// the table.
func options(values []string, chosen []string, anyLabel string) []option {
	out := []option{{Value: "", Label: anyLabel, Selected: len(chosen) == 0}}
	for _, v := range values {
		out = append(out, option{Value: v, Label: v, Selected: slices.ContainsFunc(chosen, func(c string) bool { return strings.EqualFold(c, v) })})
	}
	for _, c := range chosen {
		if c != "" && !slices.ContainsFunc(values, func(v string) bool { return strings.EqualFold(c, v) }) {
			out = append(out, option{Value: c, Label: c, Selected: true})
		}
	}
	return out
}

func stateNames(sts []store.JobState) []string {
	out := make([]string, len(sts))
	for i, s := range sts {
		out[i] = string(s)
	}
	return out
}

// jobListData is what templates/list-jobs.html renders.
type jobListData struct {
	Path, Title, Intro string
	Query              listQuery
	States             []option // nil: no state filter
	Healths            []option
	DeviceTypes        []option
	Devices            []string // the datalist of the device field
	ErrorClasses       []option // nil: no error-class filter
	Mine               bool     // the submitter is the user (no submitter filter)
	FixedDevice        bool     // the list is one device's (no device filter)
	Rows               []jobRow
	Pager              pager
	Priority, ErrorMsg bool
	InQueue            bool
	Refresh            int // seconds, 0 for none
	Filtered           bool
	Tabs               []listTab
}

// listTab links one of the job lists from the others (LAVA's Scheduler
// menu): the lists that are not in the layout's navigation are found here.
type listTab struct {
	Path, Title string
	Active      bool
}

func listTabs(current string) []listTab {
	out := make([]listTab, 0, len(jobLists)+2)
	for _, l := range jobLists {
		out = append(out, listTab{Path: l.path, Title: l.title, Active: l.path == current})
	}
	return append(out, listTab{Path: "/scheduler/running", Title: "Running", Active: current == "/scheduler/running"},
		listTab{Path: "/scheduler/labhealth", Title: "Lab health", Active: current == "/scheduler/labhealth"})
}

func (s *site) jobListHandler(l jobList) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user, loggedIn := s.user(r)
		if l.login && !loggedIn {
			s.requireLogin(w, r)
			return
		}
		data, err := s.jobListData(r.Context(), l, parseListQuery(r.URL.Query()), user)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.page(w, r, "list-jobs.html", l.title, data)
	}
}

func (s *site) jobListData(ctx context.Context, l jobList, lq listQuery, user store.User) (jobListData, error) {
	st := s.c.Store
	d := jobListData{Path: l.path, Title: l.title, Intro: l.intro, Query: lq, Mine: l.mine, FixedDevice: l.base.Device != "",
		Priority: l.priority, ErrorMsg: l.errorMsg, InQueue: l.inQueue, Filtered: len(lq.values) > 0, Tabs: listTabs(l.path)}
	if l.refresh {
		d.Refresh = refreshSeconds
	}
	if len(l.states) > 0 {
		d.States = options(stateNames(l.states), lq.States, "any state")
	}
	d.Healths = options(healthNames(allHealths), lq.Healths, "any health")
	if l.errorFilter {
		d.ErrorClasses = options(append([]string{"all"}, errorClasses...), []string{lq.ErrorClass}, "lab errors (LAVA's)")
		d.ErrorClasses[0].Selected = lq.ErrorClass == ""
	}
	types, err := st.DeviceTypes(ctx)
	if err != nil {
		return d, err
	}
	var typeNames []string
	for _, t := range types {
		typeNames = append(typeNames, t.Name)
	}
	sort.Strings(typeNames)
	d.DeviceTypes = options(typeNames, []string{lq.DeviceType}, "any device type")
	d.DeviceTypes[0].Selected = lq.DeviceType == ""
	devices, err := st.Devices(ctx)
	if err != nil {
		return d, err
	}
	for _, dev := range devices {
		d.Devices = append(d.Devices, dev.Name)
	}
	sort.Strings(d.Devices)

	f, empty := l.filter(lq, user)
	total := 0
	if !empty {
		if total, err = st.CountJobs(ctx, f); err != nil {
			return d, err
		}
	}
	d.Pager = newPager(l.path, lq.values, total, lq.Page, lq.Size)
	if total == 0 {
		return d, nil
	}
	f.Offset, f.Limit = d.Pager.offset(lq.Size), lq.Size
	jobs, err := st.Jobs(ctx, f)
	if err != nil {
		return d, err
	}
	ids := make([]int64, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	counts, err := st.ResultCounts(ctx, ids)
	if err != nil {
		return d, err
	}
	now := time.Now()
	for _, j := range jobs {
		d.Rows = append(d.Rows, newJobRow(j, counts, now))
	}
	return d, nil
}

func healthNames(hs []store.JobHealth) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = string(h)
	}
	return out
}

// typeRow is one device type of /scheduler/running.
type typeRow struct {
	Name                                  string
	Idle, Reserved, Running, Jobs, Queued int
	Devices                               int
	HealthFrequency                       string
}

type runningData struct {
	Tabs    []listTab
	Rows    []typeRow
	Pager   pager
	Refresh int
}

// runningPage is LAVA's /scheduler/running: each displayed device type
// with its devices reserved and running and its jobs running; Basalt adds
// the jobs queued for it.
func (s *site) runningPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	st := s.c.Store
	types, err := st.DeviceTypes(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	devices, err := st.Devices(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	running, err := st.JobCountsByType(ctx, store.JobFilter{States: []store.JobState{store.JobRunning}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	queued, err := st.JobCountsByType(ctx, store.JobFilter{States: []store.JobState{store.JobSubmitted}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	byType := map[string]*typeRow{}
	var rows []*typeRow
	for _, t := range types {
		if !t.Display {
			continue
		}
		row := &typeRow{Name: t.Name, Jobs: running[t.Name], Queued: queued[t.Name], HealthFrequency: healthFrequency(t)}
		byType[t.Name] = row
		rows = append(rows, row)
	}
	for _, d := range devices {
		row := byType[d.DeviceType]
		if row == nil || d.Health == store.HealthRetired {
			continue
		}
		row.Devices++
		switch d.State {
		case store.DeviceIdle:
			row.Idle++
		case store.DeviceReserved:
			row.Reserved++
		case store.DeviceRunning:
			row.Running++
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	lq := parseListQuery(r.URL.Query())
	keep := url.Values{}
	if lq.sizeChanged {
		keep.Set("length", strconv.Itoa(lq.Size))
	}
	p := newPager(r.URL.Path, keep, len(rows), lq.Page, lq.Size)
	d := runningData{Pager: p, Refresh: refreshSeconds, Tabs: listTabs("/scheduler/running")}
	for _, row := range rows[p.offset(lq.Size):min(len(rows), p.offset(lq.Size)+lq.Size)] {
		d.Rows = append(d.Rows, *row)
	}
	s.page(w, r, "list-running.html", "Running", d)
}

// healthFrequency says how often a type's devices run their health check.
func healthFrequency(t store.DeviceType) string {
	if t.HealthDisabled {
		return "disabled"
	}
	unit := "hours"
	if t.HealthDenominator == store.PerJobs {
		unit = "jobs"
	}
	return fmt.Sprintf("every %d %s", t.HealthFrequency, unit)
}

// deviceRow is one device of /scheduler/labhealth.
type deviceRow struct {
	Name, DeviceType, Worker string
	Health, HealthClass      string
	LastCheck                *jobRow // nil: no finished health check
}

type labHealthData struct {
	Tabs        []listTab
	Query       listQuery
	Healths     []option
	DeviceTypes []option
	Rows        []deviceRow
	Pager       pager
	Filtered    bool
}

var deviceHealths = []store.DeviceHealth{store.HealthGood, store.HealthUnknown, store.HealthLooping,
	store.HealthBad, store.HealthMaintenance}

// labHealthPage is LAVA's /scheduler/labhealth: every device that is not
// retired, its health and its last health check. The devices are few (a
// lab's inventory); only the page's last checks are read.
func (s *site) labHealthPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	st := s.c.Store
	lq := parseListQuery(r.URL.Query())
	devices, err := st.Devices(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	types, err := st.DeviceTypes(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var typeNames []string
	for _, t := range types {
		typeNames = append(typeNames, t.Name)
	}
	sort.Strings(typeNames)
	var hnames []string
	for _, h := range deviceHealths {
		hnames = append(hnames, string(h))
	}
	d := labHealthData{Tabs: listTabs("/scheduler/labhealth"), Query: lq, Healths: options(hnames, lq.Healths, "any health"),
		DeviceTypes: options(typeNames, []string{lq.DeviceType}, "any device type")}
	d.DeviceTypes[0].Selected = lq.DeviceType == ""
	keep := url.Values{}
	for _, k := range []string{"health", "device_type", "search", "length"} {
		if vs, ok := lq.values[k]; ok {
			keep[k] = vs
		}
	}
	d.Filtered = len(keep) > 0
	var sel []store.Device
	for _, dev := range devices {
		if dev.Health == store.HealthRetired ||
			len(lq.Healths) > 0 && !slices.ContainsFunc(lq.Healths, func(h string) bool { return strings.EqualFold(h, string(dev.Health)) }) ||
			lq.DeviceType != "" && dev.DeviceType != lq.DeviceType ||
			lq.Search != "" && !strings.Contains(strings.ToLower(dev.Name), strings.ToLower(lq.Search)) {
			continue
		}
		sel = append(sel, dev)
	}
	sort.Slice(sel, func(i, j int) bool { return sel[i].Name < sel[j].Name })
	d.Pager = newPager(r.URL.Path, keep, len(sel), lq.Page, lq.Size)
	sel = sel[d.Pager.offset(lq.Size):min(len(sel), d.Pager.offset(lq.Size)+lq.Size)]
	names := make([]string, len(sel))
	for i, dev := range sel {
		names[i] = dev.Name
	}
	last, err := st.LastHealthChecks(ctx, names)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := time.Now()
	for _, dev := range sel {
		row := deviceRow{Name: dev.Name, DeviceType: dev.DeviceType, Worker: dev.Worker,
			Health: string(dev.Health), HealthClass: "health badge st-" + strings.ToLower(string(dev.Health))}
		if j, ok := last[dev.Name]; ok {
			jr := newJobRow(j, nil, now)
			row.LastCheck = &jr
		}
		d.Rows = append(d.Rows, row)
	}
	s.page(w, r, "list-labhealth.html", "Lab health", d)
}

// timeCell is a time as the tables print it (UTC) and as <time datetime>
// carries it; both empty for the zero time.
type timeCell struct{ Text, ISO string }

func newTimeCell(t time.Time) timeCell {
	if t.IsZero() {
		return timeCell{}
	}
	t = t.UTC()
	return timeCell{Text: t.Format("2006-01-02 15:04:05"), ISO: t.Format(time.RFC3339)}
}
