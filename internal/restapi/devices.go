package restapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/basalt-lava/basalt/internal/store"
)

// deviceOut is LAVA's DeviceSerializer.
type deviceOut struct {
	Hostname            string  `json:"hostname"`
	DeviceType          string  `json:"device_type"`
	DeviceVersion       any     `json:"device_version"`
	PhysicalOwner       any     `json:"physical_owner"`
	PhysicalGroup       any     `json:"physical_group"`
	Description         string  `json:"description"`
	Tags                []int64 `json:"tags"`
	State               string  `json:"state"`
	Health              string  `json:"health"`
	LastHealthReportJob any     `json:"last_health_report_job"`
	WorkerHost          any     `json:"worker_host"`
	IsSynced            bool    `json:"is_synced"`
}

// devicesJSON is ds as the API shows them, their last health checks
// read in one query.
func (a *api) devicesJSON(rq *req, ds []store.Device) ([]any, error) {
	names := make([]string, len(ds))
	for i, d := range ds {
		names[i] = d.Name
	}
	hcs, err := a.store.LastHealthChecks(rq.r.Context(), names)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(ds))
	for _, d := range ds {
		out = append(out, deviceJSON(d, hcs))
	}
	return out, nil
}

// deviceJSON is d with its last health check (LAVA's
// last_health_report_job) from hcs.
func deviceJSON(d store.Device, hcs map[string]store.Job) deviceOut {
	o := deviceOut{Hostname: d.Name, DeviceType: d.DeviceType, Description: d.Description, Tags: []int64{},
		State: string(d.State), Health: string(d.Health), WorkerHost: orNull(d.Worker)}
	if d.PhysicalOwner != "" {
		o.PhysicalOwner = NameID("user", d.PhysicalOwner)
	}
	if d.PhysicalGroup != "" {
		o.PhysicalGroup = NameID("group", d.PhysicalGroup)
	}
	for _, t := range d.Tags {
		o.Tags = append(o.Tags, NameID("tag", t))
	}
	if hc, ok := hcs[d.Name]; ok {
		o.LastHealthReportJob = hc.ID
	}
	return o
}

// textMatch applies a django-filter text lookup of a query parameter
// ("name", "name__in", "name__contains"...) to value; ok is false when
// key is not a lookup of base.
func textMatch(key, base, v, value string) (match, ok bool) {
	if key == base {
		return value == v, true
	}
	op, found := strings.CutPrefix(key, base+"__")
	if !found {
		return false, false
	}
	lv, lvalue := strings.ToLower(v), strings.ToLower(value)
	switch op {
	case "exact":
		return value == v, true
	case "iexact":
		return lvalue == lv, true
	case "in":
		for _, x := range strings.Split(v, ",") {
			if x == value {
				return true, true
			}
		}
		return false, true
	case "contains":
		return strings.Contains(value, v), true
	case "icontains":
		return strings.Contains(lvalue, lv), true
	case "startswith":
		return strings.HasPrefix(value, v), true
	case "istartswith":
		return strings.HasPrefix(lvalue, lv), true
	case "endswith":
		return strings.HasSuffix(value, v), true
	case "iendswith":
		return strings.HasSuffix(lvalue, lv), true
	}
	return false, false
}

// matches applies every filter of q that fields knows (a filter's base
// name → the object's value, or values for a list such as tags); other
// parameters are ignored.
func matches(q url.Values, fields map[string][]string) bool {
	for key, vals := range q {
		if len(vals) == 0 {
			continue
		}
		v := vals[len(vals)-1]
		for base, values := range fields {
			if _, known := textMatch(key, base, v, ""); !known {
				continue
			}
			found := false
			for _, value := range values {
				m, _ := textMatch(key, base, v, value)
				found = found || m
			}
			if !found {
				return false
			}
		}
	}
	return true
}

// ordered sorts items by the ordering parameter when it names one of
// keys (a "-" prefix descending), else leaves their order.
func ordered[T any](rq *req, items []T, keys map[string]func(T) string) {
	o := rq.r.URL.Query().Get("ordering")
	desc := strings.HasPrefix(o, "-")
	key, ok := keys[strings.TrimPrefix(o, "-")]
	if !ok {
		return
	}
	sort.SliceStable(items, func(i, j int) bool {
		if desc {
			return key(items[j]) < key(items[i])
		}
		return key(items[i]) < key(items[j])
	})
}

func (a *api) devices(rq *req, seg []string) error {
	ctx := rq.r.Context()
	if len(seg) == 0 {
		if err := rq.methods(http.MethodGet); err != nil {
			return err
		}
		ds, err := a.store.Devices(ctx)
		if err != nil {
			return err
		}
		q := rq.r.URL.Query()
		var out []store.Device
		for _, d := range ds {
			if d.Health == store.HealthRetired && q.Get("all") == "" {
				continue
			}
			f := map[string][]string{
				"hostname": {d.Name}, "device_type": {d.DeviceType}, "device_type__name": {d.DeviceType},
				"state": {string(d.State)}, "worker_host": {d.Worker}, "worker_host__hostname": {d.Worker},
				"tags__name": d.Tags, "description": {d.Description},
			}
			if !matches(q, f) {
				continue
			}
			// LAVA upper()s the health filter: any case matches.
			if h := q.Get("health"); h != "" && !strings.EqualFold(h, string(d.Health)) {
				continue
			}
			out = append(out, d)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		ordered(rq, out, map[string]func(store.Device) string{
			"hostname": func(d store.Device) string { return d.Name }, "device_type": func(d store.Device) string { return d.DeviceType },
			"state": func(d store.Device) string { return string(d.State) }, "health": func(d store.Device) string { return string(d.Health) },
			"worker_host": func(d store.Device) string { return d.Worker }, "description": func(d store.Device) string { return d.Description },
		})
		limit, offset := rq.pageArgs()
		page, err := a.devicesJSON(rq, out[min(offset, len(out)):min(offset+limit, len(out))])
		if err != nil {
			return err
		}
		return rq.page(len(out), limit, offset, page)
	}
	if seg[0] == "validate" && len(seg) == 1 {
		return a.deviceValidate(rq)
	}
	d, err := a.store.Device(ctx, seg[0])
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	} else if err != nil {
		return err
	}
	if len(seg) == 1 {
		if err := rq.methods(http.MethodGet); err != nil {
			return err
		}
		o, err := a.devicesJSON(rq, []store.Device{d})
		if err != nil {
			return err
		}
		return rq.ok(o[0])
	}
	if len(seg) != 2 {
		return errNotFound
	}
	switch seg[1] {
	case "dictionary":
		return a.deviceDictionary(rq, d)
	case "set_health":
		return a.deviceSetHealth(rq, d)
	}
	return errNotFound
}

func (a *api) deviceDictionary(rq *req, d store.Device) error {
	if err := rq.methods(http.MethodGet, http.MethodPost); err != nil {
		return err
	}
	ctx := rq.r.Context()
	if rq.r.Method == http.MethodPost {
		if err := rq.needSuperuser(); err != nil {
			return err
		}
		text, ok := rq.str("dictionary")
		if !ok || text == "" {
			return fieldError("dictionary", "This field is required.")
		}
		if err := a.store.SetDictionary(ctx, d.Name, text); err != nil {
			return err
		}
		a.lab.Kick()
		return rq.ok(map[string]any{"message": "device config successfully updated"})
	}
	q := rq.r.URL.Query()
	jobCtx, hasCtx := q.Get("context"), q.Has("context")
	if hasCtx {
		var v any
		if err := yaml.Unmarshal([]byte(jobCtx), &v); err != nil {
			return detail(http.StatusBadRequest, fmt.Sprintf("Job Context '%s' is not valid: %v", jobCtx, err))
		}
	}
	if d.Dictionary == "" {
		return detail(http.StatusBadRequest, fmt.Sprintf("Device '%s' does not have a configuration", d.Name))
	}
	if q.Get("render") == "" {
		return rq.attachment("text/plain", d.Name+".jinja2", []byte(d.Dictionary))
	}
	out, err := a.lab.RenderDevice(ctx, d.Name, jobCtx)
	if err != nil {
		return detail(http.StatusBadRequest, fmt.Sprintf("Device '%s' does not have a configuration: %v", d.Name, err))
	}
	return rq.attachment("application/yaml", d.Name+".yaml", []byte(out))
}

func (a *api) deviceSetHealth(rq *req, d store.Device) error {
	if err := rq.methods(http.MethodPost); err != nil {
		return err
	}
	if err := rq.needSuperuser(); err != nil {
		return err
	}
	h, _ := rq.str("health")
	// LAVA upper()s the health.
	health, ok := store.ParseDeviceHealthAPI(strings.ToUpper(h))
	if !ok {
		return message(http.StatusBadRequest, fmt.Sprintf("Invalid health: %s", h))
	}
	reason, _ := rq.str("reason")
	if err := a.store.ChangeDeviceHealth(rq.r.Context(), d.Name, health, store.Change{By: rq.user.Name, Reason: reason}); err != nil {
		return err
	}
	a.lab.Kick()
	writeJSON(rq.w, http.StatusAccepted, map[string]any{"message": "OK"})
	return nil
}

func (a *api) deviceValidate(rq *req) error {
	if err := rq.methods(http.MethodPost); err != nil {
		return err
	}
	if err := rq.needSuperuser(); err != nil {
		return err
	}
	text, _ := rq.str("_text")
	if text == "" {
		text, _ = rq.str("dictionary")
	}
	if strings.TrimSpace(text) == "" {
		return &apiError{http.StatusBadRequest, map[string]any{"device": "Device dictionary is required."}}
	}
	if _, err := a.lab.RenderDictionary(rq.r.Context(), text); err != nil {
		return rq.ok(map[string]any{"message": "Device dictionary invalid: " + err.Error()})
	}
	return rq.ok(map[string]any{"message": "Device dictionary valid."})
}

// deviceTypeOut is LAVA's DeviceTypeSerializer.
type deviceTypeOut struct {
	Name               string   `json:"name"`
	Architecture       any      `json:"architecture"`
	Processor          any      `json:"processor"`
	CPUModel           any      `json:"cpu_model"`
	Aliases            []string `json:"aliases"`
	Bits               any      `json:"bits"`
	Cores              []int64  `json:"cores"`
	CoreCount          any      `json:"core_count"`
	Description        string   `json:"description"`
	HealthFrequency    int      `json:"health_frequency"`
	DisableHealthCheck bool     `json:"disable_health_check"`
	HealthDenominator  string   `json:"health_denominator"`
	Display            bool     `json:"display"`
}

func deviceTypeJSON(dt store.DeviceType, aliases []store.Alias) deviceTypeOut {
	o := deviceTypeOut{Name: dt.Name, Aliases: []string{}, Cores: []int64{}, Description: dt.Description,
		HealthFrequency: dt.HealthFrequency, DisableHealthCheck: dt.HealthDisabled,
		HealthDenominator: string(dt.HealthDenominator), Display: dt.Display}
	if o.HealthDenominator == "" {
		o.HealthDenominator = string(store.PerHours)
	}
	for _, al := range aliases {
		if al.DeviceType == dt.Name {
			o.Aliases = append(o.Aliases, al.Name)
		}
	}
	return o
}

func (a *api) deviceTypes(rq *req, seg []string) error {
	ctx := rq.r.Context()
	aliases, err := a.store.Aliases(ctx)
	if err != nil {
		return err
	}
	if len(seg) == 0 {
		if err := rq.methods(http.MethodGet); err != nil {
			return err
		}
		dts, err := a.store.DeviceTypes(ctx)
		if err != nil {
			return err
		}
		q := rq.r.URL.Query()
		var out []deviceTypeOut
		for _, dt := range dts {
			if !matches(q, map[string][]string{"name": {dt.Name}, "description": {dt.Description}}) {
				continue
			}
			if v := q.Get("display"); v != "" {
				if b, ok := parseBool(v); ok && b != dt.Display {
					continue
				}
			}
			out = append(out, deviceTypeJSON(dt, aliases))
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		ordered(rq, out, map[string]func(deviceTypeOut) string{"name": func(d deviceTypeOut) string { return d.Name }})
		return pageOf(rq, out)
	}
	dt, err := a.store.DeviceType(ctx, seg[0])
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	} else if err != nil {
		return err
	}
	if len(seg) == 1 {
		if err := rq.methods(http.MethodGet); err != nil {
			return err
		}
		return rq.ok(deviceTypeJSON(dt, aliases))
	}
	if len(seg) != 2 || seg[1] != "template" && seg[1] != "health_check" && seg[1] != "health-check" {
		return errNotFound
	}
	if err := rq.methods(http.MethodGet, http.MethodPost); err != nil {
		return err
	}
	if rq.r.Method == http.MethodPost {
		if err := rq.needAuth(); err != nil {
			return err
		}
		if !rq.user.Superuser {
			return errInsufficient
		}
		if seg[1] == "template" {
			text, _ := rq.str("template")
			if text == "" {
				return &apiError{http.StatusBadRequest, map[string]any{"template": "Device type template is required."}}
			}
			dt.Template = text
		} else {
			text, _ := rq.str("config")
			if text == "" {
				return &apiError{http.StatusBadRequest, map[string]any{"config": "Health check configuration is required."}}
			}
			dt.HealthCheck = text
		}
		if err := a.store.PutDeviceType(ctx, dt); err != nil {
			return err
		}
		a.lab.Kick()
		rq.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if seg[1] == "template" {
		text, err := a.lab.Template(ctx, dt.Name)
		if errors.Is(err, store.ErrNotFound) {
			return detail(http.StatusBadRequest, fmt.Sprintf("Device-type '%s' template was not found.", dt.Name))
		} else if err != nil {
			return detail(http.StatusBadRequest, "Unable to read device-type configuration: "+err.Error())
		}
		return rq.attachment("application/yaml", dt.Name+".jinja2", []byte(text))
	}
	if dt.HealthCheck == "" {
		return detail(http.StatusBadRequest, fmt.Sprintf("Device-type '%s' health check was not found.", dt.Name))
	}
	return rq.attachment("application/yaml", dt.Name+"_health_check.yaml", []byte(dt.HealthCheck))
}

// workerOut is LAVA's WorkerSerializer (every model field but the
// token, which Basalt keeps hashed).
type workerOut struct {
	Hostname              string `json:"hostname"`
	State                 string `json:"state"`
	Health                string `json:"health"`
	Description           string `json:"description"`
	LastPing              any    `json:"last_ping"`
	JobLimit              int    `json:"job_limit"`
	Version               any    `json:"version"`
	MasterVersionNotified any    `json:"master_version_notified"`
}

func workerJSON(w store.Worker) workerOut {
	h := string(w.Health)
	if h == "" {
		h = string(store.WorkerActive)
	}
	return workerOut{Hostname: w.Name, State: string(w.State), Health: h, Description: w.Description,
		LastPing: isoTime(w.LastPing), JobLimit: w.JobLimit}
}

func (a *api) workers(rq *req, seg []string) error {
	ctx := rq.r.Context()
	if len(seg) == 0 {
		if err := rq.methods(http.MethodGet); err != nil {
			return err
		}
		ws, err := a.store.Workers(ctx)
		if err != nil {
			return err
		}
		q := rq.r.URL.Query()
		var out []workerOut
		for _, w := range ws {
			o := workerJSON(w)
			if matches(q, map[string][]string{"hostname": {o.Hostname}, "state": {o.State}, "health": {o.Health}, "description": {o.Description}}) {
				out = append(out, o)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Hostname < out[j].Hostname })
		ordered(rq, out, map[string]func(workerOut) string{
			"hostname": func(w workerOut) string { return w.Hostname }, "state": func(w workerOut) string { return w.State },
			"health":    func(w workerOut) string { return w.Health },
			"last_ping": func(w workerOut) string { s, _ := w.LastPing.(string); return s },
		})
		return pageOf(rq, out)
	}
	w, err := a.store.Worker(ctx, seg[0])
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	} else if err != nil {
		return err
	}
	if len(seg) == 1 {
		if err := rq.methods(http.MethodGet); err != nil {
			return err
		}
		return rq.ok(workerJSON(w))
	}
	if len(seg) != 2 {
		return errNotFound
	}
	switch seg[1] {
	case "config", "env":
		if err := rq.methods(http.MethodGet, http.MethodPost); err != nil {
			return err
		}
		kind := map[string]string{"config": "dispatcher", "env": "env"}[seg[1]]
		if rq.r.Method == http.MethodPost {
			if err := rq.needSuperuser(); err != nil {
				return err
			}
			// Basalt's workers keep their configuration themselves.
			return detail(http.StatusBadRequest, fmt.Sprintf("Error updating '%s' for worker %s: Basalt keeps no worker files on the server", kind, w.Name))
		}
		return detail(http.StatusBadRequest, fmt.Sprintf("Worker '%s' does not have '%s' file", w.Name, kind))
	case "set_health":
		if err := rq.methods(http.MethodPost); err != nil {
			return err
		}
		if err := rq.needSuperuser(); err != nil {
			return err
		}
		h, _ := rq.str("health")
		health := store.WorkerHealth(capitalize(h))
		if !store.ValidWorkerHealth(health) {
			return message(http.StatusBadRequest, fmt.Sprintf("Invalid health: %s", h))
		}
		reason, _ := rq.str("reason")
		if err := a.store.UpdateWorker(ctx, w.Name, store.WorkerUpdate{Health: &health}, store.Change{By: rq.user.Name, Reason: reason}); err != nil {
			return err
		}
		a.lab.Kick()
		writeJSON(rq.w, http.StatusAccepted, map[string]any{"message": "OK"})
		return nil
	}
	return errNotFound
}

// capitalize is Python's str.title() of one word.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + strings.ToLower(s[1:])
}

// aliases is AliasViewSet (DjangoModelPermissions: authenticated users
// only, even to read).
func (a *api) aliases(rq *req, seg []string) error {
	if err := rq.authedRead(); err != nil {
		return err
	}
	als, err := a.store.Aliases(rq.r.Context())
	if err != nil {
		return err
	}
	type aliasOut struct {
		Name       string `json:"name"`
		DeviceType string `json:"device_type"`
	}
	q := rq.r.URL.Query()
	var out []aliasOut
	for _, al := range als {
		if len(seg) == 1 && al.Name == seg[0] {
			return rq.ok(aliasOut(al))
		}
		if matches(q, map[string][]string{"name": {al.Name}, "device_type": {al.DeviceType}}) {
			out = append(out, aliasOut(al))
		}
	}
	if len(seg) != 0 {
		return errNotFound
	}
	return pageOf(rq, out)
}

// tags is TagViewSet: the tags the lab's devices carry, each with its
// NameID (what jobs' and devices' "tags" hold).
func (a *api) tags(rq *req, seg []string) error {
	if err := rq.authedRead(); err != nil {
		return err
	}
	ds, err := a.store.Devices(rq.r.Context())
	if err != nil {
		return err
	}
	type tagOut struct {
		ID          int64  `json:"id"`
		Name        string `json:"name"`
		Description any    `json:"description"`
	}
	seen := map[string]bool{}
	var out []tagOut
	for _, d := range ds {
		for _, t := range d.Tags {
			if !seen[t] {
				seen[t] = true
				out = append(out, tagOut{ID: NameID("tag", t), Name: t})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if len(seg) == 1 {
		id, err := strconv.ParseInt(seg[0], 10, 64)
		if err != nil {
			return errNotFound
		}
		for _, t := range out {
			if t.ID == id {
				return rq.ok(t)
			}
		}
		return errNotFound
	} else if len(seg) > 1 {
		return errNotFound
	}
	q := rq.r.URL.Query()
	var kept []tagOut
	for _, t := range out {
		if matches(q, map[string][]string{"name": {t.Name}}) {
			kept = append(kept, t)
		}
	}
	return pageOf(rq, kept)
}
