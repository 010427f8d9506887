package power

import (
	"slices"
	"strings"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/shlex"
	"github.com/basalt-lava/basalt/internal/value"
)

// recognizedTags are the connection tags LAVA knows how to disconnect.
var recognizedTags = []string{"telnet", "ssh", "shell"}

// ConnectDevice opens the device's primary serial connection with the
// configured connect command (ser2net, conmux, …).
type ConnectDevice struct{ leaf }

// NewConnectDevice returns LAVA's connect-device action.
func NewConnectDevice() *ConnectDevice {
	a := &ConnectDevice{leaf{pipeline.NewBase("ConnectDevice", "connect-device",
		"use the configured command to connect serial to the device", "run connection command")}}
	a.TimeoutClass = pipeline.ClassInfrastructure
	return a
}

// Validate checks the device's connection commands as current LAVA's
// ConnectDevice does.
func (a *ConnectDevice) Validate() {
	a.leaf.Validate()
	validateConnect(&a.Base)
	// LAVA looks the program up at validation (which): a missing one is
	// a warning here, as every host tool.
	if line, _ := primaryConnect(a.Device()); line != "" {
		if argv, err := shlex.Split(line); err == nil && len(argv) > 0 && !strings.Contains(argv[0], "/") {
			a.WarnMissingTool(argv[0])
		}
	}
}

// validateConnect is current LAVA's check of the primary connection. A
// device without commands passes (LAVA returns early: such a device has
// no serial console to connect to, a qdl board say); a deprecated
// connect command with must_use_connection needs a connections block.
// Neither connect nor connections is an error: LAVA then looks for an
// empty command on PATH and fails.
func validateConnect(b *pipeline.Base) {
	dev := b.Device()
	cmds := dev.Map("commands")
	if cmds == nil {
		return
	}
	if !cmds.Has("connections") && cmds.Has("connect") && cmds.Has("must_use_connection") {
		b.Errorf("unable to connect to shell - missing connections block")
		return
	}
	v, _ := dev.Lookup("actions", "boot", "connections")
	if m, ok := v.(*value.Map); !ok || !m.Has("serial") {
		b.Errorf("device not configured to support serial connection")
	}
	if cmds.Has("connect") {
		return
	}
	conns := cmds.Map("connections")
	if conns == nil {
		b.Errorf("unable to identify primary connection command")
		return
	}
	primary := false
	conns.Range(func(_ string, v any) bool {
		c, _ := v.(*value.Map)
		if !c.Has("connect") {
			b.Errorf("misconfigured connection commands")
			return false
		}
		if slices.Contains(stringList(c.Value("tags")), "primary") {
			primary = true
			return false
		}
		return true
	})
	if !primary {
		b.Errorf("unable to identify primary connection command")
	}
}

// DisconnectDevice closes the connection ConnectDevice opened.
type DisconnectDevice struct{ leaf }

// NewDisconnectDevice returns LAVA's disconnect-device action.
func NewDisconnectDevice() *DisconnectDevice {
	return &DisconnectDevice{leaf{pipeline.NewBase("DisconnectDevice", "disconnect-device",
		"disconnect from console", "disconnect from console")}}
}

// Validate checks, as current LAVA does, that the primary connection
// carries a tag that says how to disconnect it.
func (a *DisconnectDevice) Validate() {
	a.leaf.Validate()
	validateConnect(&a.Base)
	// Current LAVA checks the tags only when there is a connections
	// block: a deprecated connect command is disconnected by closing
	// it. (Without commands at all LAVA's check fails on a missing key;
	// there is nothing to disconnect either.)
	conns := a.Device().Map("commands").Map("connections")
	if conns == nil {
		return
	}
	ok := false
	conns.Range(func(_ string, v any) bool {
		c, _ := v.(*value.Map)
		tags := stringList(c.Value("tags"))
		if slices.Contains(tags, "primary") && slices.ContainsFunc(tags, func(t string) bool {
			return slices.Contains(recognizedTags, t)
		}) {
			ok = true
		}
		return true
	})
	if !ok {
		a.Errorf("LAVA does not know how to disconnect: ensure that primary connection has one of the following tags: %v", recognizedTags)
	}
}

// ResetConnection disconnects and reconnects the serial console, so that
// a stale session does not swallow the first boot messages.
type ResetConnection struct{ pipeline.Base }

// NewResetConnection returns LAVA's reset-connection action.
func NewResetConnection() *ResetConnection {
	return &ResetConnection{pipeline.NewBase("ResetConnection", "reset-connection",
		"Disconnect and connect the serial", "Reset the connection")}
}

// Populate adds disconnect-device then connect-device.
func (a *ResetConnection) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(NewDisconnectDevice(), nil)
	p.Add(NewConnectDevice(), nil)
}

// ConnectShell connects to a secondary serial (new_connection boots).
type ConnectShell struct {
	leaf
	// Hardware is the name of the connection under commands.connections.
	Hardware string
}

// NewConnectShell returns LAVA's connect-shell action for the named
// connection.
func NewConnectShell(hardware string) *ConnectShell {
	return &ConnectShell{leaf: leaf{pipeline.NewBase("ConnectShell", "connect-shell",
		"use the configured command to connect serial to a second shell", "run connection command")},
		Hardware: hardware}
}

// Validate checks that the named secondary connection exists.
func (a *ConnectShell) Validate() {
	a.leaf.Validate()
	conns := a.Device().Map("commands").Map("connections")
	if conns == nil {
		a.Errorf("unable to connect to shell - missing connections block")
		return
	}
	c := conns.Map(a.Hardware)
	if c == nil {
		a.Errorf("unable to identify connection command hardware %q", a.Hardware)
		return
	}
	if !c.Has("connect") {
		a.Errorf("misconfigured connection commands")
	}
}

func stringList(v any) []string {
	var out []string
	switch t := v.(type) {
	case string:
		out = append(out, t)
	case []any:
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}
