package boot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/lxc"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/process"
	"github.com/basalt-lava/basalt/internal/value"
)

// boot method: lxc (LAVA's BootLxc, dropped by LAVA in 2026 and kept by
// Basalt): starts the job's container and attaches a shell to it, which
// becomes the connection the test shell runs in.

func init() {
	pipeline.Register(&strategy{
		name: "BootLxc",
		accepts: func(_, params *value.Map) (bool, string) {
			if params.String("method") == "lxc" {
				return true, "accepted"
			}
			return false, `"method" was not in parameters or "method" was not "lxc"`
		},
		action: func(*value.Map) pipeline.Action { return NewBootLxc() },
	})
}

// BootLxc is LAVA's BootLxcAction (lxc-boot), a retrying action.
type BootLxc struct{ pipeline.Base }

var _ pipeline.Action = (*BootLxc)(nil)

// NewBootLxc returns lxc-boot.
func NewBootLxc() *BootLxc {
	a := &BootLxc{pipeline.NewBase("BootLxcAction", "lxc-boot", "lxc boot into the system", "lxc boot")}
	a.Retry = true
	return a
}

// Populate starts the container, adds the static devices, attaches a
// shell and waits for its prompt. There is no auto-login: a container
// prints no kernel messages (LAVA skips it unconditionally too).
func (a *BootLxc) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(NewLxcStart(), nil)
	p.Add(NewLxcAddStatic(), nil)
	p.Add(NewConnectLxc(), nil)
	p.Add(NewExpectShell(), nil)
	p.Add(NewExportDeviceEnv(), nil)
}

// Validate needs the job's lava-lxc protocol.
func (a *BootLxc) Validate() {
	a.Base.Validate()
	if a.Job != nil && !lxc.Requested(a.Job.Params) {
		a.Errorf("Missing protocol '%s'", lxc.ProtocolName)
	}
}

// LxcStart is LAVA's LxcStartAction (boot-lxc).
type LxcStart struct{ pipeline.Base }

// NewLxcStart returns boot-lxc.
func NewLxcStart() *LxcStart {
	return &LxcStart{pipeline.NewBase("LxcStartAction", "boot-lxc", "boot into lxc container", "attempt to boot")}
}

// Validate warns when lxc-start is missing.
func (a *LxcStart) Validate() {
	a.Base.Validate()
	warnMissingTool(&a.Base, "lxc-start")
}

// Poll intervals of boot-lxc: LAVA polls every 10 s; a container is up
// in well under a second.
const (
	lxcPoll = 200 * time.Millisecond
	// lxcStoppedPolls is how many polls in a row a container may be
	// STOPPED after lxc-start -d returned before it is taken as one that
	// will never run (2 s).
	lxcStoppedPolls = 10
)

// Run starts the container in the background and waits until it is
// RUNNING, then, when the container has a network, until it has an
// address. A container that does not start is a JobError, LAVA's class
// ("Unable to start lxc container").
func (a *LxcStart) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	proto, err := lxc.Of(a.Job)
	if err != nil {
		return conn, err
	}
	name := proto.Config.Name
	if lxc.State(ctx, name) == "RUNNING" {
		a.Log().Infof("'%s' state is RUNNING", name)
		return conn, nil
	}
	out, err := lxc.Command(ctx, a.Log(), "lxc-start", "-n", name, "-d")
	if err != nil {
		if ctx.Err() != nil {
			return conn, err
		}
		return conn, pipeline.JobError("Unable to start lxc container %s: %v%s%s", name, err, colonLast(out), missingInit(proto))
	}
	a.Log().Debugf("Wait until '%s' state becomes RUNNING", name)
	if err := lxc.WaitRunning(ctx, name, lxcPoll, lxcStoppedPolls); err != nil {
		if errors.Is(err, lxc.ErrNeverRan) {
			return conn, pipeline.JobError("Unable to start lxc container %s: %v%s", name, err, missingInit(proto))
		}
		return conn, err
	}
	a.Log().Infof("'%s' state is RUNNING", name)
	if !lxc.HasNetwork(proto.LXCPath, name) {
		a.Log().Debugf("'%s' has no network (lxc.net.0.type = empty): not waiting for an IP address", name)
		return conn, nil
	}
	a.Log().Debugf("Wait until '%s' gets an IP address", name)
	for {
		if addrs := lxc.Addresses(ctx, name); len(addrs) > 0 {
			a.Log().Infof("'%s' IP address is: '%s'", name, strings.Join(addrs, " "))
			return conn, nil
		}
		select {
		case <-ctx.Done():
			return conn, ctx.Err()
		case <-time.After(lxcPoll):
		}
	}
}

// colonLast returns ": " and the last line of out, or "".
// missingInit says, when it is so, that the container's init is not in
// its root file system.
func missingInit(p *lxc.Protocol) string {
	if cmd := lxc.MissingInit(p.LXCPath, p.Config.Name); cmd != "" {
		return fmt.Sprintf(" (its init %s is not in its root file system)", cmd)
	}
	return ""
}

func colonLast(out string) string {
	out = strings.TrimSpace(out)
	if out == "" {
		return ""
	}
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	return ": " + out
}

// LxcStop is LAVA's LxcStopAction (lxc-stop), after installing packages.
type LxcStop struct{ pipeline.Base }

// NewLxcStop returns lxc-stop.
func NewLxcStop() *LxcStop {
	return &LxcStop{pipeline.NewBase("LxcStopAction", "lxc-stop", "stop the lxc container", "stop lxc")}
}

// Validate warns when lxc-stop is missing.
func (a *LxcStop) Validate() {
	a.Base.Validate()
	warnMissingTool(&a.Base, "lxc-stop")
}

// Run stops the container (lxc-stop -k).
func (a *LxcStop) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	proto, err := lxc.Of(a.Job)
	if err != nil {
		return conn, err
	}
	if out, err := lxc.Command(ctx, a.Log(), "lxc-stop", "-k", "-n", proto.Config.Name); err != nil {
		if ctx.Err() != nil {
			return conn, err
		}
		return conn, pipeline.JobError("Unable to stop lxc container: %v%s", err, colonLast(out))
	}
	return conn, nil
}

// LxcAddStatic is LAVA's LxcAddStaticDevices (lxc-add-static): the
// device's permanently powered USB devices (static_info) added to the
// container.
type LxcAddStatic struct{ pipeline.Base }

// NewLxcAddStatic returns lxc-add-static.
func NewLxcAddStatic() *LxcAddStatic {
	return &LxcAddStatic{pipeline.NewBase("LxcAddStaticDevices", "lxc-add-static",
		"Add devices which are permanently powered by the worker to the LXC", "Add static devices to the LXC")}
}

func (a *LxcAddStatic) usbDevices() []any {
	var out []any
	for _, d := range a.Device().List("static_info") {
		if m, ok := d.(*value.Map); ok && (m.Has("board_id") || m.Has("fs_label")) {
			out = append(out, d)
		}
	}
	return out
}

// CannotRun refuses a device with USB devices to add: Basalt does not
// look up udev devices yet.
func (a *LxcAddStatic) CannotRun() string {
	if len(a.usbDevices()) > 0 {
		return "adding the device's static USB devices (static_info) to the LXC container not written yet"
	}
	return ""
}

// Run does nothing: there are no static USB devices (CannotRun).
func (a *LxcAddStatic) Run(_ context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	return conn, nil
}

// ConnectLxc is LAVA's ConnectLxc (connect-lxc): a shell in the
// container through lxc-attach, the namespace's connection from then on.
type ConnectLxc struct {
	pipeline.Base
	sess *connection.Session // the shell this action started
}

// NewConnectLxc returns connect-lxc.
func NewConnectLxc() *ConnectLxc {
	return &ConnectLxc{Base: pipeline.NewBase("ConnectLxc", "connect-lxc",
		"connect to the lxc container", "run connection command")}
}

// Validate needs a device that lists the lxc connection, as LAVA does
// for a device that boots lxc.
func (a *ConnectLxc) Validate() {
	a.Base.Validate()
	if !pipeline.DeviceHasMethod(a.Device(), "boot", "lxc") {
		return
	}
	warnMissingTool(&a.Base, "lxc-attach")
	v, _ := a.Device().Lookup("actions", "boot", "connections")
	if m, ok := v.(*value.Map); !ok || !m.Has("lxc") {
		a.Errorf("Device not configured to support LXC connection.")
	}
}

// Run attaches root's shell in the container. A live connection of the
// namespace to the same container is kept, as in LAVA.
func (a *ConnectLxc) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	proto, err := lxc.Of(a.Job)
	if err != nil {
		return conn, err
	}
	if old, ok := a.Data(DataConnection).(*connection.Session); ok {
		if exited, _ := old.Exited(); !exited {
			return old, nil
		}
	}
	rootfs, err := lxc.Rootfs(proto.LXCPath, proto.Config.Name)
	if err != nil {
		return conn, pipeline.InfrastructureError("%v", err)
	}
	argv := append([]string{"lxc-attach"}, lxc.AttachArgs(proto.Config.Name, lxc.RootShell(rootfs))...)
	a.Log().Infof("%s Connecting to device using '%s'", a.Name, strings.Join(argv, " "))
	s, err := connection.Start(argv, connection.Options{Log: a.Log(), StopGrace: process.GraceFrom(ctx),
		BeforeClose: proto.StopBeforeClose})
	if err != nil {
		return conn, pipeline.InfrastructureError("unable to run lxc-attach: %v", err)
	}
	s.Prompts = promptStrings(a.Params)
	if a.sess != nil {
		a.sess.Close()
	}
	a.sess = s
	a.SetData(DataConnection, s)
	return s, nil
}

// Cleanup closes the shell (before the protocol stops the container).
func (a *ConnectLxc) Cleanup(ctx context.Context) error {
	if a.sess != nil {
		a.sess.Close()
	}
	return a.Base.Cleanup(ctx)
}
