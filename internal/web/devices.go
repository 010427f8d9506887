package web

// The device pages: one device (/scheduler/device/NAME), its dictionary
// (/devicedict, /devicedict/plain), the admin health change (POST
// /health), the device list (/scheduler/alldevices) and the device types
// (/scheduler/device_types, /scheduler/device_type/NAME). Workers are in
// workers.go, the results pages in results.go.
//
// Stable element ids and classes (tests and the browser helper use them):
//
//	device page      #device-props (dl), #device-health (the health badge),
//	                 #device-health-reason, #device-dict-status (the
//	                 "Configuration" property, with a#device-dict-link),
//	                 #prev-device / #next-device (a, absent at the ends),
//	                 #health-form (superusers: select[name=health],
//	                 textarea[name=reason]), #recent-jobs (table, a row
//	                 per job), #all-device-jobs (a), #transitions (table),
//	                 .alert#no-worker, .alert#config-error,
//	                 .alert#no-health-check (superusers)
//	dictionary page  #dict-props, #dict-extends, #dict-jinja and #dict-yaml
//	                 (div.code, one div.line#jinja-L<n> / #yaml-L<n> per
//	                 line), #dict-plain (the download link)
//	device list      #device-filters (form: device_type, health, state,
//	                 worker, tag, retired), #devices (table, tr#device-NAME)
//	device types     #device-types (table, tr#dt-NAME)
//	device type      #dt-props, #dt-template (details with div.code
//	                 #template), #dt-health-check (details),
//	                 #dt-devices (table), #dt-jobs (table)
//
// Badges: .badge with dh-<tone> for a device health in LAVA's colours
// (good → success, unknown/looping → info, maintenance → warning,
// bad → danger, retired → muted in tables, danger on the device page as
// LAVA shows it).

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/basalt-lava/basalt/internal/store"
)

func init() {
	addRoutes(func(s *site) { s.deviceRoutes() })
	addFuncs(template.FuncMap{
		"dvHealthClass": dvHealthClass,
		"dvDeviceURL":   func(name string) string { return "/scheduler/device/" + url.PathEscape(name) },
		"dvTypeURL":     func(name string) string { return "/scheduler/device_type/" + url.PathEscape(name) },
		"dvWorkerURL":   func(name string) string { return "/scheduler/worker/" + url.PathEscape(name) },
		"dvDeviceTable": newDeviceTable,
		"dvCodeBlock":   newCodeBlock,
	})
}

func (s *site) deviceRoutes() {
	s.get("/scheduler/device/{hostname}", s.devicePage)
	s.get("/scheduler/device/{hostname}/devicedict", s.deviceDictPage)
	s.get("/scheduler/device/{hostname}/devicedict/plain", s.deviceDictPlain)
	s.post("/scheduler/device/{hostname}/health", s.deviceHealthPost)
	s.get("/scheduler/alldevices", s.deviceList)
	s.get("/scheduler/device_types", s.deviceTypeList)
	s.get("/scheduler/device_type/{name}", s.deviceTypePage)
}

// Bounds of the device page's tables.
const (
	deviceRecentJobs  = 10
	deviceTransitions = 20
)

// dvHealthClass is the badge class of a device health (LAVA's device
// page colours).
func dvHealthClass(h store.DeviceHealth) string {
	switch h {
	case store.HealthGood:
		return "dh-success"
	case store.HealthUnknown, store.HealthLooping:
		return "dh-info"
	case store.HealthMaintenance:
		return "dh-warning"
	case store.HealthRetired:
		return "dh-muted"
	}
	return "dh-danger"
}

// deviceSimpleState is LAVA's Device.get_simple_state_display: an idle device
// in Maintenance or Retired shows its health.
func deviceSimpleState(d store.Device) string {
	if d.State == store.DeviceIdle && (d.Health == store.HealthMaintenance || d.Health == store.HealthRetired) {
		return string(d.Health)
	}
	return string(d.State)
}

// workerLink is a device's worker as LAVA shows it: a plain link when it
// is online and active, red when an active worker is offline, orange when
// the worker is not active.
type workerLink struct {
	Name  string
	Class string // "", "tone-danger" or "tone-warning"
	Title string
}

func newWorkerLink(w store.Worker) workerLink {
	switch {
	case w.Health != store.WorkerActive:
		return workerLink{w.Name, "tone-warning", "worker in " + string(w.Health)}
	case w.State != store.WorkerOnline:
		return workerLink{w.Name, "tone-danger", "worker offline"}
	}
	return workerLink{Name: w.Name}
}

// deviceTableRow is a device in a table (the device list, a type's or a
// worker's devices).
type deviceTableRow struct {
	store.Device
	Worker       *workerLink
	StateText    string
	Current      *store.Job // the job reserving or running on it, when visible
	HealthReason string
}

// deviceRows makes the table rows of devs: their workers, current jobs
// (those r's user may see) and last health reasons.
func (s *site) deviceRows(r *http.Request, devs []store.Device) ([]deviceTableRow, error) {
	ctx := r.Context()
	workers, err := s.c.Store.Workers(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]store.Worker{}
	for _, w := range workers {
		byName[w.Name] = w
	}
	// One device (its page) asks for its own jobs only: the lists read
	// every held device's job, definitions included, in one query.
	only := ""
	if len(devs) == 1 {
		only = devs[0].Name
	}
	current, err := s.deviceCurrentJobs(r, only)
	if err != nil {
		return nil, err
	}
	rows := make([]deviceTableRow, 0, len(devs))
	for _, d := range devs {
		row := deviceTableRow{Device: d, StateText: deviceSimpleState(d)}
		if w, ok := byName[d.Worker]; ok {
			wl := newWorkerLink(w)
			row.Worker = &wl
		}
		if j, ok := current[d.Name]; ok {
			row.Current = &j
		}
		if d.Health != store.HealthGood && d.Health != store.HealthUnknown {
			// The reason matters for a device out of service; one
			// indexed read per such device.
			log, err := s.c.Store.DeviceLog(ctx, d.Name, 1)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			if len(log) > 0 {
				row.HealthReason = log[0].String()
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// deviceTable is what the dv-device-table partial draws: rows under an
// element id, without the columns named in omit ("worker", "type").
type deviceTable struct {
	ID               string
	Rows             []deviceTableRow
	NoWorker, NoType bool
}

func newDeviceTable(id string, rows []deviceTableRow, omit ...string) deviceTable {
	return deviceTable{ID: id, Rows: rows, NoWorker: slices.Contains(omit, "worker"), NoType: slices.Contains(omit, "type")}
}

// deviceCurrentJobs maps each device (or only the device named, when not
// "") to the visible job that holds it (Scheduled, Running or Canceling).
func (s *site) deviceCurrentJobs(r *http.Request, only string) (map[string]store.Job, error) {
	js, err := s.c.Store.Jobs(r.Context(), store.JobFilter{
		States: []store.JobState{store.JobScheduled, store.JobRunning, store.JobCanceling},
		Device: only,
		Viewer: s.viewer(r),
	})
	if err != nil {
		return nil, err
	}
	out := map[string]store.Job{}
	for _, j := range js {
		if j.Device != "" {
			out[j.Device] = j
		}
	}
	return out, nil
}

// dictStatus says whether a device's dictionary renders.
type dictStatus struct {
	Present bool
	Extends string
	Problem string // "" when the configuration renders
}

type devicePageData struct {
	Device       store.Device
	Worker       *workerLink
	StateText    string
	Current      *store.Job
	HealthReason string
	Dict         dictStatus
	Prev, Next   string
	Jobs         []store.Job
	JobsURL      string
	Log          []store.DeviceLogEntry
	CanChange    bool
	Healths      []store.DeviceHealth // the choices of the health form
	// NoHealthCheck warns an administrator that the device's type has no
	// health-check job while its health checks are on (LAVA's page does).
	NoHealthCheck bool
}

func (s *site) devicePage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("hostname")
	d, err := s.findDevice(r, name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rows, err := s.deviceRows(r, []store.Device{d})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	data := devicePageData{Device: d, Worker: rows[0].Worker, StateText: rows[0].StateText, Current: rows[0].Current,
		JobsURL: "/scheduler/alljobs?device=" + url.QueryEscape(d.Name)}
	if data.Log, err = s.c.Store.DeviceLog(ctx, d.Name, deviceTransitions); err != nil {
		s.fail(w, r, err)
		return
	}
	if len(data.Log) > 0 {
		data.HealthReason = data.Log[0].String()
	}
	data.Dict = s.dictStatus(r, d)
	// Previous and next device of the same type, by name (LAVA's pager).
	all, err := s.c.Store.Devices(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var same []string
	for _, o := range all {
		if o.DeviceType == d.DeviceType {
			same = append(same, o.Name)
		}
	}
	sort.Strings(same)
	if i := slices.Index(same, d.Name); i >= 0 {
		if i > 0 {
			data.Prev = same[i-1]
		}
		if i+1 < len(same) {
			data.Next = same[i+1]
		}
	}
	if data.Jobs, err = s.c.Store.Jobs(ctx, store.JobFilter{Device: d.Name, Viewer: s.viewer(r), NewestFirst: true, Limit: deviceRecentJobs}); err != nil {
		s.fail(w, r, err)
		return
	}
	if u, ok := s.user(r); ok && u.Superuser {
		data.CanChange = true
		if dt, err := s.c.Store.DeviceType(ctx, d.DeviceType); err == nil {
			data.NoHealthCheck = dt.HealthCheck == "" && !dt.HealthDisabled && d.Health != store.HealthRetired
		}
		for _, h := range []store.DeviceHealth{store.HealthGood, store.HealthUnknown, store.HealthMaintenance, store.HealthLooping, store.HealthBad, store.HealthRetired} {
			if h != d.Health {
				data.Healths = append(data.Healths, h)
			}
		}
	}
	s.page(w, r, "device.html", d.Name, data)
}

// findDevice is the device named name, or a 404 error naming it when
// there is none.
func (s *site) findDevice(r *http.Request, name string) (store.Device, error) {
	d, err := s.c.Store.Device(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return store.Device{}, notFound("device " + name)
	}
	return d, err
}

// dictStatus renders d's configuration to tell whether it is valid (what
// LAVA's device page checks with load_configuration).
func (s *site) dictStatus(r *http.Request, d store.Device) dictStatus {
	st := dictStatus{Present: strings.TrimSpace(d.Dictionary) != "", Extends: extendsOf(d.Dictionary)}
	if !st.Present {
		return st
	}
	if _, err := s.c.Lab.RenderDevice(r.Context(), d.Name, ""); err != nil {
		st.Problem = err.Error()
	}
	return st
}

type deviceDictData struct {
	Device  store.Device
	Extends string
	Jinja   []hlLine
	YAML    []hlLine
	Problem string
}

func (s *site) deviceDictPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("hostname")
	d, err := s.findDevice(r, name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if strings.TrimSpace(d.Dictionary) == "" {
		s.fail(w, r, notFound("the dictionary of device "+name))
		return
	}
	data := deviceDictData{Device: d, Extends: extendsOf(d.Dictionary), Jinja: highlightJinja(d.Dictionary)}
	out, err := s.c.Lab.RenderDevice(ctx, d.Name, "")
	if err != nil {
		data.Problem = err.Error()
	} else {
		data.YAML = highlightYAML(out)
	}
	s.page(w, r, "devicedict.html", d.Name+" · device dictionary", data)
}

// deviceDictPlain is the rendered configuration as a download (LAVA's
// text/yaml attachment NAME.yaml).
func (s *site) deviceDictPlain(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("hostname")
	d, err := s.c.Store.Device(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) || err == nil && strings.TrimSpace(d.Dictionary) == "" {
		s.fail(w, r, notFound("the dictionary of device "+name))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out, err := s.c.Lab.RenderDevice(r.Context(), name, "")
	if err != nil {
		s.fail(w, r, &httpError{Code: http.StatusInternalServerError, Msg: "the device configuration does not render: " + err.Error()})
		return
	}
	w.Header().Set("Content-Type", "text/yaml; charset=utf-8")
	w.Header().Set("Content-Disposition", downloadDisposition(name+".yaml"))
	_, _ = w.Write([]byte(out))
}

// attachment is a Content-Disposition naming a download; the name is
// reduced to characters that need no quoting.
func downloadDisposition(name string) string {
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r) {
			return r
		}
		return '_'
	}, name)
	return `attachment; filename="` + clean + `"`
}

// deviceHealthPost is the superuser's health change from the device page
// (LAVA's health modal): health and a reason, logged with the user.
func (s *site) deviceHealthPost(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("hostname")
	u, ok := s.user(r)
	if !ok || !u.Superuser {
		s.fail(w, r, &httpError{Code: http.StatusForbidden, Msg: "only an administrator can change a device's health"})
		return
	}
	var health store.DeviceHealth
	want := strings.TrimSpace(r.PostFormValue("health"))
	for _, h := range []store.DeviceHealth{store.HealthGood, store.HealthUnknown, store.HealthMaintenance, store.HealthLooping, store.HealthBad, store.HealthRetired} {
		if strings.EqualFold(want, string(h)) {
			health = h
		}
	}
	if health == "" {
		s.fail(w, r, &httpError{Code: http.StatusBadRequest, Msg: fmt.Sprintf("unknown device health %q", want)})
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if len(reason) > 2000 {
		s.fail(w, r, &httpError{Code: http.StatusBadRequest, Msg: "the reason is longer than 2000 characters"})
		return
	}
	err := s.c.Store.ChangeDeviceHealth(r.Context(), name, health, store.Change{By: u.Name, Reason: reason})
	if errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, notFound("device "+name))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// A device back in service may take a queued job now.
	s.c.Lab.Kick()
	http.Redirect(w, r, "/scheduler/device/"+url.PathEscape(name), http.StatusSeeOther)
}

// deviceFilter is the device list's selection, from its query.
type deviceFilter struct {
	DeviceType, Health, State, Worker, Tag string
	Retired                                bool
}

func (f deviceFilter) keep(d store.Device) bool {
	switch {
	case f.DeviceType != "" && d.DeviceType != f.DeviceType,
		f.Health != "" && !strings.EqualFold(string(d.Health), f.Health),
		f.State != "" && !strings.EqualFold(string(d.State), f.State),
		f.Worker != "" && d.Worker != f.Worker,
		f.Tag != "" && !slices.Contains(d.Tags, f.Tag):
		return false
	}
	// A retired device shows when asked for, or when its health is what
	// the filter asks.
	return d.Health != store.HealthRetired || f.Retired || strings.EqualFold(f.Health, string(store.HealthRetired))
}

type deviceListData struct {
	Filter  deviceFilter
	Devices []deviceTableRow
	Total   int // devices before filtering
	Types   []string
	Workers []string
	Tags    []string
	Healths []store.DeviceHealth
	States  []store.DeviceState
}

func (s *site) deviceList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := deviceFilter{DeviceType: q.Get("device_type"), Health: q.Get("health"), State: q.Get("state"),
		Worker: q.Get("worker"), Tag: q.Get("tag"), Retired: q.Get("retired") != "" && q.Get("retired") != "0"}
	all, err := s.c.Store.Devices(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	data := deviceListData{Filter: f, Total: len(all),
		Healths: []store.DeviceHealth{store.HealthGood, store.HealthUnknown, store.HealthLooping, store.HealthBad, store.HealthMaintenance, store.HealthRetired},
		States:  []store.DeviceState{store.DeviceIdle, store.DeviceReserved, store.DeviceRunning}}
	seen := map[string]bool{}
	var keep []store.Device
	for _, d := range all {
		for _, v := range append([]string{"t:" + d.DeviceType, "w:" + d.Worker}, devicePrefixed("g:", d.Tags)...) {
			if seen[v] || v == "w:" {
				continue
			}
			seen[v] = true
			switch v[0] {
			case 't':
				data.Types = append(data.Types, v[2:])
			case 'w':
				data.Workers = append(data.Workers, v[2:])
			default:
				data.Tags = append(data.Tags, v[2:])
			}
		}
		if f.keep(d) {
			keep = append(keep, d)
		}
	}
	sort.Strings(data.Types)
	sort.Strings(data.Workers)
	sort.Strings(data.Tags)
	if data.Devices, err = s.deviceRows(r, keep); err != nil {
		s.fail(w, r, err)
		return
	}
	s.page(w, r, "devices.html", "Devices", data)
}

func devicePrefixed(p string, vs []string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = p + v
	}
	return out
}

// deviceTypeSummary is a device type's row: its devices by availability (LAVA's
// device_type_summary; retired devices are not counted).
type deviceTypeSummary struct {
	Name                             string
	Idle, Busy, Offline, Maintenance int
	Retired, Devices, Queued         int
	Description                      string
	healthDisabled                   bool
	healthFrequency                  int
	healthDenominator                store.HealthDenominator
}

// summariseTypes counts devs (all the lab's devices) into the type summaries
// of types, with the queue of submitted jobs by requested type.
func summariseTypes(types []store.DeviceType, devs []store.Device, workers []store.Worker, queue []store.Job) []deviceTypeSummary {
	online := map[string]bool{}
	for _, w := range workers {
		online[w.Name] = w.State == store.WorkerOnline
	}
	by := map[string]*deviceTypeSummary{}
	out := make([]deviceTypeSummary, len(types))
	for i, dt := range types {
		out[i] = deviceTypeSummary{Name: dt.Name, Description: dt.Description, healthDisabled: dt.HealthDisabled,
			healthFrequency: dt.HealthFrequency, healthDenominator: dt.HealthDenominator}
		by[dt.Name] = &out[i]
	}
	for _, d := range devs {
		t := by[d.DeviceType]
		if t == nil {
			continue
		}
		if d.Health == store.HealthRetired {
			t.Retired++
			continue
		}
		t.Devices++
		good := d.Health == store.HealthGood || d.Health == store.HealthUnknown
		switch {
		case d.State == store.DeviceReserved || d.State == store.DeviceRunning:
			t.Busy++
		case d.Health == store.HealthMaintenance:
			t.Maintenance++
		case good && online[d.Worker]:
			t.Idle++
		default:
			t.Offline++
		}
	}
	for _, j := range queue {
		if t := by[j.DeviceType]; t != nil {
			t.Queued++
		}
	}
	return out
}

// HealthFrequency is LAVA's sentence for a type's health checks.
func (t deviceTypeSummary) HealthFrequency() string {
	switch {
	case t.healthDisabled:
		return "disabled"
	case t.healthDenominator == store.PerJobs:
		return fmt.Sprintf("one every %d jobs", t.healthFrequency)
	}
	return fmt.Sprintf("one every %d hours", t.healthFrequency)
}

// AvailableClass is LAVA's colour of "available / all": all available
// green, some (or none but some busy) orange, none red.
func (t deviceTypeSummary) AvailableClass() string {
	switch {
	case t.Idle > 0 && t.Idle == t.Devices:
		return "dh-success"
	case t.Idle > 0 || t.Busy > 0:
		return "dh-warning"
	}
	return "dh-danger"
}

func (s *site) typeSummaries(r *http.Request) ([]deviceTypeSummary, error) {
	ctx := r.Context()
	types, err := s.c.Store.DeviceTypes(ctx)
	if err != nil {
		return nil, err
	}
	sort.Slice(types, func(i, j int) bool { return types[i].Name < types[j].Name })
	devs, err := s.c.Store.Devices(ctx)
	if err != nil {
		return nil, err
	}
	workers, err := s.c.Store.Workers(ctx)
	if err != nil {
		return nil, err
	}
	queue, err := s.c.Store.Queue(ctx)
	if err != nil {
		return nil, err
	}
	// LAVA lists the types marked for display; a superuser sees all.
	u, _ := s.user(r)
	shown := types[:0]
	for _, dt := range types {
		if dt.Display || u.Superuser {
			shown = append(shown, dt)
		}
	}
	return summariseTypes(shown, devs, workers, queue), nil
}

func (s *site) deviceTypeList(w http.ResponseWriter, r *http.Request) {
	sums, err := s.typeSummaries(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.page(w, r, "device_types.html", "Device types", sums)
}

type deviceTypePageData struct {
	Type           store.DeviceType
	Summary        deviceTypeSummary
	Aliases        []string
	Template       []hlLine
	TemplateOrigin string
	TemplateError  string
	HealthCheck    []hlLine
	Devices        []deviceTableRow
	Retired        bool // retired devices listed
	Jobs           []store.Job
	JobsURL        string
}

func (s *site) deviceTypePage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("name")
	dt, err := s.c.Store.DeviceType(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, notFound("device type "+name))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	data := deviceTypePageData{Type: dt, Retired: r.URL.Query().Get("retired") != "" && r.URL.Query().Get("retired") != "0",
		JobsURL: "/scheduler/alljobs?device_type=" + url.QueryEscape(dt.Name)}
	devs, err := s.c.Store.Devices(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	workers, err := s.c.Store.Workers(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	queue, err := s.c.Store.Queue(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	data.Summary = summariseTypes([]store.DeviceType{dt}, devs, workers, queue)[0]
	var mine []store.Device
	for _, d := range devs {
		if d.DeviceType == dt.Name && (data.Retired || d.Health != store.HealthRetired) {
			mine = append(mine, d)
		}
	}
	sort.Slice(mine, func(i, j int) bool { return mine[i].Name < mine[j].Name })
	if data.Devices, err = s.deviceRows(r, mine); err != nil {
		s.fail(w, r, err)
		return
	}
	aliases, err := s.c.Store.Aliases(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, a := range aliases {
		if a.DeviceType == dt.Name {
			data.Aliases = append(data.Aliases, a.Name)
		}
	}
	src, origin, err := s.c.Lab.TemplateSource(ctx, dt.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		data.TemplateError = "no template: jobs for this type cannot run until one is set (lavacli device-types template set) or installed in a --device-types folder"
	case err != nil:
		data.TemplateError = err.Error()
	default:
		data.Template, data.TemplateOrigin = highlightJinja(src), origin
	}
	if dt.HealthCheck != "" {
		data.HealthCheck = highlightYAML(dt.HealthCheck)
	}
	if data.Jobs, err = s.c.Store.Jobs(ctx, store.JobFilter{DeviceTypes: []string{dt.Name}, Viewer: s.viewer(r), NewestFirst: true, Limit: deviceRecentJobs}); err != nil {
		s.fail(w, r, err)
		return
	}
	s.page(w, r, "device_type.html", dt.Name+" · device type", data)
}
