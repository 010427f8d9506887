package lab

import (
	"context"
	"fmt"

	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/value"
)

// MultiNode dynamic connections (LAVA's dynamic_connection): a role with
// `connection:` (and `host_role:`) instead of a device type. Its sub-job
// gets no device: it is scheduled with its group, runs on the worker of
// its host role's device, and is given a minimised copy of that device's
// configuration (LAVA's Device.minimise_configuration) rendered with its
// own context. It reaches the host role's device through the address the
// host sends over the MultiNode protocol.

// minimiseDevice keeps of a rendered device configuration what a dynamic
// connection needs, as LAVA's minimise_configuration does: the host's
// name and type, constants (without a kernel start message: the
// connection never sees a kernel boot), timeouts, and the connections and
// methods of deploy and boot. Power commands and every other top-level
// key are dropped: a dynamic connection must never power the host's
// device on or off.
func minimiseDevice(rendered string, d store.Device) (string, error) {
	v, err := value.DecodeYAML([]byte(rendered))
	if err != nil {
		return "", fmt.Errorf("device %s: %w", d.Name, err)
	}
	full, ok := v.(*value.Map)
	if !ok {
		return "", fmt.Errorf("device %s: the rendered configuration is not a mapping", d.Name)
	}
	constants := full.Map("constants")
	if constants == nil {
		constants = value.NewMap()
	}
	constants.Set("kernel-start-message", "")
	timeouts := full.Map("timeouts")
	if timeouts == nil {
		timeouts = value.NewMap()
	}
	part := func(action, key string) any {
		if m := full.Map("actions").Map(action).Map(key); m != nil {
			return m
		}
		return value.NewMap()
	}
	actions := value.NewMap()
	for _, a := range []string{"deploy", "boot"} {
		m := value.NewMap()
		m.Set("connections", part(a, "connections"))
		m.Set("methods", part(a, "methods"))
		actions.Set(a, m)
	}
	out := value.NewMap()
	out.Set("hostname", d.Name)
	out.Set("devicetype", d.DeviceType)
	out.Set("constants", constants)
	out.Set("timeouts", timeouts)
	out.Set("actions", actions)
	b, err := value.EncodeYAML(out)
	if err != nil {
		return "", fmt.Errorf("device %s: %w", d.Name, err)
	}
	return string(b), nil
}

// hostJob returns the job whose device a dynamic connection j runs on.
func (l *Lab) hostJob(ctx context.Context, j store.Job) (store.Job, error) {
	h, err := l.st.Job(ctx, j.HostJob)
	if err != nil {
		return h, fmt.Errorf("job %d: its host job %d: %w", j.ID, j.HostJob, err)
	}
	if h.Device == "" {
		return h, fmt.Errorf("job %d: its host job %d has no device", j.ID, h.ID)
	}
	return h, nil
}

// jobDevice is the device j runs on: its own, or for a dynamic
// connection its host job's.
func (l *Lab) jobDevice(ctx context.Context, j store.Job) (store.Device, error) {
	name := j.Device
	if j.Dynamic() {
		h, err := l.hostJob(ctx, j)
		if err != nil {
			return store.Device{}, err
		}
		name = h.Device
	}
	if name == "" {
		return store.Device{}, fmt.Errorf("job %d has no device", j.ID)
	}
	return l.st.Device(ctx, name)
}

// groupDynamic returns the dynamic connections of a MultiNode group that
// are still Submitted: they are scheduled, or canceled, with the group's
// jobs that have devices.
func (l *Lab) groupDynamic(ctx context.Context, group string) ([]store.Job, error) {
	jobs, err := l.st.GroupJobs(ctx, group)
	if err != nil {
		return nil, err
	}
	var out []store.Job
	for _, j := range jobs {
		if j.Dynamic() && j.State == store.JobSubmitted {
			out = append(out, j)
		}
	}
	return out, nil
}
