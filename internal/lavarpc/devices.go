package lavarpc

import (
	"context"
	"errors"
	"slices"
	"sort"

	"go.yaml.in/yaml/v3"

	"github.com/basalt-lava/basalt/internal/store"
)

func (a *api) registerDevices() {
	a.reg("scheduler.devices.list", 0, 2, "list(show_all=False, offline_info=False): devices by hostname (Retired ones only with show_all).", a.deviceList)
	a.reg("scheduler.devices.show", 1, 1, "show(hostname): a device's details.", a.deviceShow)
	a.reg("scheduler.devices.get_dictionary", 1, 3, "get_dictionary(hostname, render=False, context=None): the device dictionary (Jinja2), or with render the device configuration rendered with the job context (YAML text).", a.deviceGetDictionary)
	a.reg("scheduler.devices.set_dictionary", 2, 2, "set_dictionary(hostname, dictionary): replace the device dictionary (\"\" removes it); returns true. [admin]", a.deviceSetDictionary)
	a.reg("scheduler.devices.update", 1, 9, "update(hostname, worker_hostname=None, user_name=None, group_name=None, public=True, health=None, description=None, device_type=None, reason=None): change a device. [admin]", a.deviceUpdate)
	a.reg("scheduler.devices.add", 3, 8, "add(hostname, type_name, worker_hostname, user_name=None, group_name=None, public=True, health=None, description=None): add a device (Idle). [admin]", a.deviceAdd)
	a.reg("scheduler.devices.delete", 1, 1, "delete(hostname): remove a device. [admin]", a.deviceDelete)
	a.reg("scheduler.devices.tags.add", 2, 2, "tags.add(hostname, name): tag a device. [admin]", a.deviceTagAdd)
	a.reg("scheduler.devices.tags.delete", 2, 2, "tags.delete(hostname, name): remove a device's tag. [admin]", a.deviceTagDelete)
	a.reg("scheduler.devices.tags.list", 1, 1, "tags.list(hostname): a device's tags.", a.deviceTagList)
	a.reg("scheduler.tags.list", 0, 0, "tags.list(): the device tags in use, by name (Basalt keeps no tag descriptions).", a.tagList)
	a.reg("scheduler.tags.show", 1, 1, "tags.show(name): a tag and the devices that have it.", a.tagShow)
	a.registerAliases()
}

// tagDevices maps each tag on a device to the devices that have it.
func (a *api) tagDevices(ctx context.Context) (map[string][]string, error) {
	ds, err := a.devicesSorted(ctx)
	if err != nil {
		return nil, err
	}
	tags := map[string][]string{}
	for _, d := range ds {
		for _, t := range d.Tags {
			tags[t] = append(tags[t], d.Name)
		}
	}
	return tags, nil
}

func (a *api) tagList(ctx context.Context, _ params) (any, error) {
	tags, err := a.tagDevices(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(tags))
	for t := range tags {
		names = append(names, t)
	}
	sort.Strings(names)
	out := make([]any, 0, len(names))
	for _, n := range names {
		out = append(out, st("name", n, "description", nil))
	}
	return out, nil
}

func (a *api) tagShow(ctx context.Context, p params) (any, error) {
	tags, err := a.tagDevices(ctx)
	if err != nil {
		return nil, err
	}
	name := p.str(0)
	devices, ok := tags[name]
	if !ok {
		return nil, notFound("Tag '%s' was not found.", name)
	}
	return st("name", name, "description", nil, "devices", devices), nil
}

// device looks up the device named by argument i (404 when absent).
func (a *api) device(ctx context.Context, p params, i int) (store.Device, error) {
	name := p.str(i)
	d, err := a.store.Device(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return d, notFound("Device '%s' was not found.", name)
	}
	return d, err
}

// adminDevice is device plus LAVA's can_change check: only superusers
// administer devices in Basalt (Fault 403, also for anonymous callers).
func (a *api) adminDevice(ctx context.Context, p params, i int) (store.Device, error) {
	d, err := a.device(ctx, p, i)
	if err != nil {
		return d, err
	}
	if !isSuperuser(ctx) {
		return d, forbidden("User '%s' needs admin permission on device %s.", callerName(ctx), d.Name)
	}
	return d, nil
}

// currentJobs maps each busy device to the id of the job on it (LAVA's
// Device.current_job: its primary key, not a display id).
func (a *api) currentJobs(ctx context.Context, device string) (map[string]int64, error) {
	js, err := a.store.Jobs(ctx, store.JobFilter{
		States: []store.JobState{store.JobScheduling, store.JobScheduled, store.JobRunning, store.JobCanceling},
		Device: device,
	})
	if err != nil {
		return nil, err
	}
	cur := map[string]int64{}
	for _, j := range js {
		if j.Device != "" {
			cur[j.Device] = j.ID
		}
	}
	return cur, nil
}

// jobOrNil is a current job id, or nil.
func jobOrNil(cur map[string]int64, device string) any {
	if id, ok := cur[device]; ok {
		return id
	}
	return nil
}

func (a *api) devicesSorted(ctx context.Context) ([]store.Device, error) {
	ds, err := a.store.Devices(ctx)
	if err != nil {
		return nil, err
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].Name < ds[j].Name })
	return ds, nil
}

func (a *api) deviceList(ctx context.Context, p params) (any, error) {
	all := p.bool(0, false)
	ds, err := a.devicesSorted(ctx)
	if err != nil {
		return nil, err
	}
	cur, err := a.currentJobs(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(ds))
	for _, d := range ds {
		if d.Health == store.HealthRetired && !all {
			continue
		}
		// offline_info (p[1]) is documented by LAVA but adds nothing.
		out = append(out, st(
			"hostname", d.Name,
			"type", d.DeviceType,
			"health", string(d.Health),
			"state", string(d.State),
			"current_job", jobOrNil(cur, d.Name),
			"pipeline", true,
		))
	}
	return out, nil
}

func (a *api) deviceShow(ctx context.Context, p params) (any, error) {
	d, err := a.device(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	cur, err := a.currentJobs(ctx, d.Name)
	if err != nil {
		return nil, err
	}
	dt, err := a.store.DeviceType(ctx, d.DeviceType)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	tags := slices.Clone(d.Tags)
	if tags == nil {
		tags = []string{}
	}
	sort.Strings(tags)
	return st(
		"hostname", d.Name,
		"device_type", d.DeviceType,
		"health", string(d.Health),
		"state", string(d.State),
		"health_job", dt.HealthCheck != "",
		"description", orNil(d.Description),
		"pipeline", true,
		"has_device_dict", d.Dictionary != "",
		"worker", orNil(d.Worker),
		"current_job", jobOrNil(cur, d.Name),
		"tags", tags,
		"permissions", []any{},
	), nil
}

func (a *api) deviceGetDictionary(ctx context.Context, p params) (any, error) {
	d, err := a.device(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	jobCtx, hasCtx := p.optStr(2)
	if hasCtx {
		var v any
		if err := yaml.Unmarshal([]byte(jobCtx), &v); err != nil {
			return nil, badRequest("Job Context '%s' is not valid: %v", jobCtx, err)
		}
	}
	if d.Dictionary == "" {
		return nil, notFound("Device '%s' does not have a configuration", d.Name)
	}
	if !p.bool(1, false) {
		return []byte(d.Dictionary), nil
	}
	out, err := a.lab.RenderDevice(ctx, d.Name, jobCtx)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound("Device '%s' does not have a configuration", d.Name)
		}
		return nil, badRequest("Unable to render the configuration of device %s: %v", d.Name, err)
	}
	return []byte(out), nil
}

func (a *api) deviceSetDictionary(ctx context.Context, p params) (any, error) {
	d, err := a.adminDevice(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	text, err := p.text(1)
	if err != nil {
		return nil, err
	}
	if err := a.store.SetDictionary(ctx, d.Name, text); err != nil {
		return nil, err
	}
	// A device whose dictionary was missing or broken may take jobs now.
	a.lab.Kick()
	return true, nil
}

func (a *api) deviceUpdate(ctx context.Context, p params) (any, error) {
	d, err := a.adminDevice(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	by, _ := caller(ctx)
	// Check every argument before changing anything, so a bad one changes
	// nothing (LAVA runs the whole update in one transaction).
	var u store.DeviceUpdate
	if w, ok := p.optStr(1); ok {
		if _, err := a.store.Worker(ctx, w); errors.Is(err, store.ErrNotFound) {
			return nil, notFound("Unable to find worker '%s'", w)
		} else if err != nil {
			return nil, err
		}
		u.Worker = &w
	}
	if name, ok := p.optStr(2); ok {
		if _, err := a.store.User(ctx, name); errors.Is(err, store.ErrNotFound) {
			return nil, notFound("Unable to find username '%s'", name)
		} else if err != nil {
			return nil, err
		}
		u.PhysicalOwner = &name
	}
	// group_name (3) is kept as the physical group (LAVA no longer uses
	// it); public (4) is accepted and ignored, as by LAVA.
	if g, ok := p.optStr(3); ok {
		u.PhysicalGroup = &g
	}
	var health store.DeviceHealth
	if h, ok := p.optStr(5); ok {
		if health, ok = store.ParseDeviceHealthAPI(h); !ok {
			return nil, badRequest("Health '%s' is invalid", h)
		}
	}
	if desc, ok := p.optStr(6); ok {
		u.Description = &desc
	}
	if t, ok := p.optStr(7); ok {
		if _, err := a.store.DeviceType(ctx, t); errors.Is(err, store.ErrNotFound) {
			return nil, notFound("Unable to find device-type '%s'", t)
		} else if err != nil {
			return nil, err
		}
		u.DeviceType = &t
	}
	if err := a.store.UpdateDevice(ctx, d.Name, u); err != nil {
		return nil, err
	}
	if health != "" {
		// The device log keeps the change with its reason, as LAVA's
		// admin log does ("Good → Maintenance (reason)").
		reason, _ := p.optStr(8)
		if reason == "" {
			reason = "xmlrpc api"
		}
		if err := a.store.ChangeDeviceHealth(ctx, d.Name, health, store.Change{By: by.Name, Reason: reason}); err != nil {
			return nil, err
		}
	}
	// Back in service, on another worker or of another type: the
	// scheduler may place jobs differently now.
	a.lab.Kick()
	return nil, nil
}

func (a *api) deviceAdd(ctx context.Context, p params) (any, error) {
	by, err := needPerm(ctx, "lava_scheduler_app.change_device")
	if err != nil {
		return nil, err
	}
	name, typeName, workerName := p.str(0), p.str(1), p.str(2)
	if _, err := a.store.DeviceType(ctx, typeName); errors.Is(err, store.ErrNotFound) {
		return nil, notFound("DeviceType '%s' was not found.", typeName)
	} else if err != nil {
		return nil, err
	}
	if _, err := a.store.Worker(ctx, workerName); errors.Is(err, store.ErrNotFound) {
		return nil, notFound("Worker '%s' was not found.", workerName)
	} else if err != nil {
		return nil, err
	}
	var health store.DeviceHealth
	if h, ok := p.optStr(6); ok {
		if health, ok = store.ParseDeviceHealthAPI(h); !ok {
			return nil, badRequest("Invalid health")
		}
	}
	// user_name (3) and group_name (4) are kept as the physical owner and
	// group (LAVA's add ignores them now); public (5) is ignored.
	owner, _ := p.optStr(3)
	if owner != "" {
		if _, err := a.store.User(ctx, owner); errors.Is(err, store.ErrNotFound) {
			return nil, notFound("Unable to find username '%s'", owner)
		} else if err != nil {
			return nil, err
		}
	}
	group, _ := p.optStr(4)
	desc, _ := p.optStr(7)
	if name == "" {
		return nil, badRequest("Bad request: device already exists?")
	}
	err = a.store.CreateDevice(ctx, store.Device{Name: name, DeviceType: typeName, Worker: workerName,
		Description: desc, PhysicalOwner: owner, PhysicalGroup: group})
	if errors.Is(err, store.ErrExists) {
		return nil, badRequest("Bad request: device already exists?")
	} else if err != nil {
		return nil, err
	}
	if health != "" && health != store.HealthUnknown {
		if err := a.store.ChangeDeviceHealth(ctx, name, health, store.Change{By: by.Name, Reason: "device added"}); err != nil {
			return nil, err
		}
	}
	a.lab.Kick()
	return nil, nil
}

func (a *api) deviceDelete(ctx context.Context, p params) (any, error) {
	if _, err := needPerm(ctx, "lava_scheduler_app.delete_device"); err != nil {
		return nil, err
	}
	name := p.str(0)
	err := a.store.DeleteDevice(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("Device '%s' was not found.", name)
	}
	if err != nil {
		return nil, badRequest("Unable to delete device %s: %v", name, err)
	}
	return nil, nil
}

func (a *api) deviceTagAdd(ctx context.Context, p params) (any, error) {
	d, err := a.adminDevice(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	tag := p.str(1)
	if tag == "" {
		return nil, badRequest("Bad request: the tag name is empty")
	}
	if slices.Contains(d.Tags, tag) {
		return nil, nil
	}
	tags := append(slices.Clone(d.Tags), tag)
	if err := a.store.UpdateDevice(ctx, d.Name, store.DeviceUpdate{Tags: &tags}); err != nil {
		return nil, err
	}
	a.lab.Kick()
	return nil, nil
}

func (a *api) deviceTagDelete(ctx context.Context, p params) (any, error) {
	d, err := a.adminDevice(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	tag := p.str(1)
	i := slices.Index(d.Tags, tag)
	if i < 0 {
		return nil, notFound("Tag '%s' was not found.", tag)
	}
	tags := slices.Delete(slices.Clone(d.Tags), i, i+1)
	if err := a.store.UpdateDevice(ctx, d.Name, store.DeviceUpdate{Tags: &tags}); err != nil {
		return nil, err
	}
	a.lab.Kick()
	return nil, nil
}

func (a *api) deviceTagList(ctx context.Context, p params) (any, error) {
	d, err := a.device(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	tags := slices.Clone(d.Tags)
	if tags == nil {
		tags = []string{}
	}
	return tags, nil
}

// deviceStatus is the legacy status string of scheduler.all_devices
// (LAVA's build_device_status_display).
func deviceStatus(d store.Device) string {
	switch d.State {
	case store.DeviceIdle:
		switch d.Health {
		case store.HealthGood, store.HealthUnknown:
			return "idle"
		case store.HealthRetired:
			return "retired"
		default:
			return "offline"
		}
	case store.DeviceReserved:
		return "reserved"
	default:
		return "running"
	}
}
