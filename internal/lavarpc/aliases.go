package lavarpc

import (
	"context"
	"errors"

	"github.com/basalt-lava/basalt/internal/store"
)

// Device-type aliases: another name for a device type, which a job may
// request (the lab stores and schedules it with the aliased type).

func (a *api) registerAliases() {
	a.reg("scheduler.aliases.add", 2, 2, "aliases.add(name, device_type_name): make name an alias of a device type. [admin]", a.aliasAdd)
	a.reg("scheduler.aliases.delete", 1, 1, "aliases.delete(name): remove an alias. [admin]", a.aliasDelete)
	a.reg("scheduler.aliases.list", 0, 0, "aliases.list(): the aliases, by name.", a.aliasList)
	a.reg("scheduler.aliases.show", 1, 1, "aliases.show(name): an alias and the device type it names.", a.aliasShow)
	a.reg("scheduler.device_types.aliases.add", 2, 2, "aliases.add(name, alias): make alias name this device type (an existing alias moves to it). [admin]", a.dtAliasAdd)
	a.reg("scheduler.device_types.aliases.delete", 2, 2, "aliases.delete(name, alias): remove an alias of this device type. [admin]", a.dtAliasDelete)
	a.reg("scheduler.device_types.aliases.list", 1, 1, "aliases.list(name): a device type's aliases, by name.", a.dtAliases)
}

// aliasExists is LAVA's answer to an alias whose name is taken.
func aliasExists() error {
	return badRequest("Bad request. Alias or DeviceType name already exists.")
}

func (a *api) aliasAdd(ctx context.Context, p params) (any, error) {
	if _, err := needPerm(ctx, "lava_scheduler_app.add_alias"); err != nil {
		return nil, err
	}
	name, dt := p.str(0), p.str(1)
	if name == "" {
		return nil, notFound("This field cannot be blank.")
	}
	err := a.store.AddAlias(ctx, name, dt, false)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, badRequest("Bad request. DeviceType does not exist")
	case errors.Is(err, store.ErrExists):
		return nil, aliasExists()
	}
	return nil, err
}

func (a *api) aliasDelete(ctx context.Context, p params) (any, error) {
	if _, err := needPerm(ctx, "lava_scheduler_app.delete_alias"); err != nil {
		return nil, err
	}
	name := p.str(0)
	if err := a.store.DeleteAlias(ctx, name); errors.Is(err, store.ErrNotFound) {
		return nil, notFound("Alias '%s' was not found.", name)
	} else if err != nil {
		return nil, err
	}
	return nil, nil
}

func (a *api) aliasList(ctx context.Context, _ params) (any, error) {
	as, err := a.store.Aliases(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(as))
	for _, al := range as {
		names = append(names, al.Name)
	}
	return names, nil
}

func (a *api) aliasShow(ctx context.Context, p params) (any, error) {
	name := p.str(0)
	al, err := a.store.Alias(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("Alias '%s' was not found.", name)
	} else if err != nil {
		return nil, err
	}
	return st("name", al.Name, "device_type", al.DeviceType), nil
}

// typeAliases lists the aliases of device type dt by name.
func (a *api) typeAliases(ctx context.Context, dt string) ([]string, error) {
	as, err := a.store.Aliases(ctx)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, al := range as {
		if al.DeviceType == dt {
			out = append(out, al.Name)
		}
	}
	return out, nil
}

func (a *api) dtAliases(ctx context.Context, p params) (any, error) {
	dt, err := a.deviceType(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	return a.typeAliases(ctx, dt.Name)
}

func (a *api) dtAliasAdd(ctx context.Context, p params) (any, error) {
	dt, err := a.adminType(ctx, p, "admin")
	if err != nil {
		return nil, err
	}
	name := p.str(1)
	if name == "" {
		return nil, notFound("This field cannot be blank.")
	}
	if err := a.store.AddAlias(ctx, name, dt.Name, true); errors.Is(err, store.ErrExists) {
		return nil, aliasExists()
	} else if err != nil {
		return nil, err
	}
	return nil, nil
}

func (a *api) dtAliasDelete(ctx context.Context, p params) (any, error) {
	dt, err := a.adminType(ctx, p, "admin")
	if err != nil {
		return nil, err
	}
	name := p.str(1)
	al, err := a.store.Alias(ctx, name)
	if errors.Is(err, store.ErrNotFound) || err == nil && al.DeviceType != dt.Name {
		return nil, notFound("Alias '%s' was not found.", name)
	} else if err != nil {
		return nil, err
	}
	if err := a.store.DeleteAlias(ctx, name); err != nil {
		return nil, err
	}
	return nil, nil
}
