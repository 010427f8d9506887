package lavarpc

import (
	"context"
	"errors"
	"math"
	"sort"
	"strings"

	"github.com/basalt-lava/basalt/internal/store"
)

func (a *api) registerDeviceTypes() {
	a.reg("scheduler.device_types.list", 0, 1, "list(show_all=False): device types with their device count.", a.dtList)
	a.reg("scheduler.device_types.show", 1, 1, "show(name): a device type's details.", a.dtShow)
	a.reg("scheduler.device_types.get_template", 1, 1, "get_template(name): the device type's Jinja2 template (an API override, else the --device-types folders, else Basalt's shipped one).", a.dtGetTemplate)
	a.reg("scheduler.device_types.set_template", 2, 2, "set_template(name, template): override the template (\"\" removes the override). [admin]", a.dtSetTemplate)
	a.reg("scheduler.device_types.get_health_check", 1, 1, "get_health_check(name): the device type's health-check job definition.", a.dtGetHealthCheck)
	a.reg("scheduler.device_types.set_health_check", 2, 2, "set_health_check(name, definition): set the health-check job (\"\" removes it). [admin]", a.dtSetHealthCheck)
	a.reg("scheduler.device_types.add", 6, 6, "add(name, description, display, owners_only, health_frequency, health_denominator): add a device type. [admin]", a.dtAdd)
	a.reg("scheduler.device_types.update", 7, 7, "update(name, description, display, owners_only, health_frequency, health_denominator, health_disabled): change a device type. [admin]", a.dtUpdate)
	a.reg("scheduler.device_types.devices", 1, 2, "devices(name, health=None): the devices of a type.", a.dtDevices)
}

// validTypeName is LAVA's check on a device-type name used as a file name.
func validTypeName(name string) bool {
	return name != "" && !strings.Contains(name, "/") && !strings.HasPrefix(name, ".")
}

// deviceType looks up the type of argument i (404 when absent).
func (a *api) deviceType(ctx context.Context, p params, i int) (store.DeviceType, error) {
	name := p.str(i)
	dt, err := a.store.DeviceType(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return dt, notFound("Device-type '%s' was not found.", name)
	}
	return dt, err
}

func (a *api) dtList(ctx context.Context, p params) (any, error) {
	dts, err := a.store.DeviceTypes(ctx)
	if err != nil {
		return nil, err
	}
	ds, err := a.store.Devices(ctx)
	if err != nil {
		return nil, err
	}
	count := map[string]int{}
	for _, d := range ds {
		count[d.DeviceType]++
	}
	sort.Slice(dts, func(i, j int) bool { return dts[i].Name < dts[j].Name })
	out := make([]any, 0, len(dts))
	for _, dt := range dts {
		_, terr := a.lab.Template(ctx, dt.Name)
		out = append(out, st(
			"name", dt.Name,
			"devices", count[dt.Name],
			"installed", true,
			"template", terr == nil,
		))
	}
	// show_all (p[0]) would add shipped templates without a database row;
	// Basalt lists the types it has rows for.
	return out, nil
}

func (a *api) dtShow(ctx context.Context, p params) (any, error) {
	dt, err := a.deviceType(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	ds, err := a.store.Devices(ctx)
	if err != nil {
		return nil, err
	}
	devices := []string{}
	for _, d := range ds {
		if d.DeviceType == dt.Name {
			devices = append(devices, d.Name)
		}
	}
	sort.Strings(devices)
	aliases, err := a.typeAliases(ctx, dt.Name)
	if err != nil {
		return nil, err
	}
	den := dt.HealthDenominator
	if den == "" {
		den = store.PerHours
	}
	return st(
		"name", dt.Name,
		"description", orNil(dt.Description),
		"display", dt.Display,
		"health_disabled", dt.HealthDisabled,
		"health_denominator", string(den),
		"health_frequency", dt.HealthFrequency,
		"aliases", aliases,
		"devices", devices,
		"default_template", dt.Template == "",
		"permissions", []any{},
	), nil
}

func (a *api) dtGetTemplate(ctx context.Context, p params) (any, error) {
	name := p.str(0)
	if !validTypeName(name) {
		return nil, badRequest("Invalid device-type '%s'", name)
	}
	text, err := a.lab.Template(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("Device-type '%s' was not found.", name)
	}
	if err != nil {
		return nil, badRequest("Unable to read device-type configuration: %v", err)
	}
	return []byte(text), nil
}

// adminType checks the type of argument i exists and the caller may change
// it (a superuser): 404, then 403 with LAVA's message.
func (a *api) adminType(ctx context.Context, p params, perm string) (store.DeviceType, error) {
	name := p.str(0)
	if !validTypeName(name) {
		return store.DeviceType{}, badRequest("Invalid device-type '%s'", name)
	}
	dt, err := a.deviceType(ctx, p, 0)
	if err != nil {
		return dt, err
	}
	if !isSuperuser(ctx) {
		return dt, forbidden("No '%s' permissions for device-type '%s'.", perm, name)
	}
	return dt, nil
}

func (a *api) dtSetTemplate(ctx context.Context, p params) (any, error) {
	dt, err := a.adminType(ctx, p, "change")
	if err != nil {
		return nil, err
	}
	text, err := p.text(1)
	if err != nil {
		return nil, err
	}
	dt.Template = text
	if err := a.store.PutDeviceType(ctx, dt); err != nil {
		return nil, err
	}
	a.lab.Kick()
	return nil, nil
}

func (a *api) dtGetHealthCheck(ctx context.Context, p params) (any, error) {
	name := p.str(0)
	if !validTypeName(name) {
		return nil, badRequest("Invalid device-type '%s'", name)
	}
	dt, err := a.deviceType(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	if dt.HealthCheck == "" {
		return nil, notFound("Device-type '%s' was not found.", name)
	}
	return []byte(dt.HealthCheck), nil
}

func (a *api) dtSetHealthCheck(ctx context.Context, p params) (any, error) {
	dt, err := a.adminType(ctx, p, "change")
	if err != nil {
		return nil, err
	}
	text, err := p.text(1)
	if err != nil {
		return nil, err
	}
	dt.HealthCheck = text
	if err := a.store.PutDeviceType(ctx, dt); err != nil {
		return nil, err
	}
	a.lab.Kick()
	return nil, nil
}

// typeUpdate reads the arguments device_types.add and update share,
// from description at 1 to health_disabled at 6 (add has no 6): nil
// leaves a field as it is. A bad health_denominator is LAVA's 400.
func typeUpdate(p params) (store.DeviceTypeUpdate, error) {
	var u store.DeviceTypeUpdate
	if d, ok := p.optStr(1); ok {
		u.Description = &d
	}
	if p[2] != nil {
		b := p.bool(2, true)
		u.Display = &b
	}
	if p[3] != nil {
		b := p.bool(3, false)
		u.OwnersOnly = &b
	}
	if p[4] != nil {
		n, err := p.int(4, 0)
		if err != nil {
			return u, err
		}
		if n < 0 || n > math.MaxInt32 {
			return u, badRequest("Bad request: invalid health_frequency.")
		}
		f := int(n)
		u.HealthFrequency = &f
	}
	if d, ok := p.optStr(5); ok {
		if d != "hours" && d != "jobs" {
			return u, badRequest("Bad request: invalid health_denominator.")
		}
		den := store.HealthDenominator(d)
		u.HealthDenominator = &den
	}
	if len(p) > 6 && p[6] != nil {
		b := p.bool(6, false)
		u.HealthDisabled = &b
	}
	return u, nil
}

func (a *api) dtAdd(ctx context.Context, p params) (any, error) {
	if _, err := needPerm(ctx, "lava_scheduler_app.change_devicetype"); err != nil {
		return nil, err
	}
	name := p.str(0)
	if !validTypeName(name) {
		return nil, badRequest("Invalid device-type '%s'", name)
	}
	u, err := typeUpdate(p)
	if err != nil {
		return nil, err
	}
	if _, err := a.store.DeviceType(ctx, name); err == nil {
		return nil, badRequest("Bad request: device-type name is already used.")
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if _, err := a.store.Alias(ctx, name); err == nil {
		return nil, badRequest("Bad request: device-type name is already used.")
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err := a.store.PutDeviceType(ctx, store.DeviceType{Name: name}); err != nil {
		return nil, err
	}
	return nil, a.store.UpdateDeviceType(ctx, name, u)
}

func (a *api) dtUpdate(ctx context.Context, p params) (any, error) {
	dt, err := a.adminType(ctx, p, "admin")
	if err != nil {
		return nil, err
	}
	u, err := typeUpdate(p)
	if err != nil {
		return nil, err
	}
	if err := a.store.UpdateDeviceType(ctx, dt.Name, u); err != nil {
		return nil, err
	}
	// A new health-check schedule may make checks due now.
	a.lab.Kick()
	return nil, nil
}

func (a *api) dtDevices(ctx context.Context, p params) (any, error) {
	dt, err := a.deviceType(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	var health store.DeviceHealth
	if h, ok := p.optStr(1); ok && h != "" {
		if health, ok = store.ParseDeviceHealthAPI(strings.ToUpper(h)); !ok {
			return nil, badRequest("Invalid health '%s'", h)
		}
	}
	ds, err := a.devicesSorted(ctx)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, d := range ds {
		if d.DeviceType != dt.Name || health != "" && d.Health != health {
			continue
		}
		out = append(out, st("hostname", d.Name, "health", string(d.Health), "state", string(d.State)))
	}
	return out, nil
}
