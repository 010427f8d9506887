package deploy

import (
	"github.com/basalt-lava/basalt/internal/actions/boot"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "Ssh",
		accepts: pipeline.MethodCheck{Section: "deploy", Method: "ssh",
			NotListed: `"ssh" is not in the device configuration deploy methods`}.Accepts,
		action: func(*value.Map) pipeline.Action { return NewScpOverlay() },
	})
}

// ScpOverlay is LAVA's ScpOverlay (scp-overlay, `to: ssh`): prepares the
// overlay that the ssh boot copies to the device and unpacks.
type ScpOverlay struct{ pipeline.Base }

var _ pipeline.Action = (*ScpOverlay)(nil)

// NewScpOverlay returns scp-overlay.
func NewScpOverlay() *ScpOverlay {
	return &ScpOverlay{pipeline.NewBase("ScpOverlay", "scp-overlay",
		"prepare overlay and scp to device", "copy overlay to device")}
}

// Populate adds the overlay, its preparation and the device environment.
// LAVA lists firmware, kernel, dtb, rootfs and modules downloads here but
// fills that list only at validation, after populating, so an ssh deploy
// never downloads: Basalt describes what LAVA runs.
func (a *ScpOverlay) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(NewOverlay(), nil)
	p.Add(NewPrepareOverlayScp(), nil)
	p.Add(NewDeployDeviceEnv(), nil)
}

// Validate needs a test shell (the overlay is all this deploy does) and a
// device that can take a serial connection for the deploy.
func (a *ScpOverlay) Validate() {
	a.Base.Validate()
	if !a.TestHasShell(a.Params) {
		a.Errorf("scp overlay needs a test action")
		return
	}
	v, _ := a.Device().Lookup("actions", "deploy", "connections")
	if m, ok := v.(*value.Map); !ok || !m.Has("serial") {
		a.Errorf("device not configured to support serial connection")
	}
}

// PrepareOverlayScp unpacks a rootfs and modules, when given, next to the
// overlay that goes over ssh.
type PrepareOverlayScp struct{ pipeline.Base }

// NewPrepareOverlayScp returns prepare-scp-overlay.
func NewPrepareOverlayScp() *PrepareOverlayScp {
	return &PrepareOverlayScp{pipeline.NewBase("PrepareOverlayScp", "prepare-scp-overlay",
		"copy the overlay over an existing ssh connection", "scp the overlay to the remote device")}
}

// Populate adds extract-rootfs and extract-modules, each doing nothing
// when its download is absent.
func (a *PrepareOverlayScp) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(NewExtractRootfs(), nil)
	p.Add(NewExtractModules(), nil)
}

// Validate reads, as LAVA does, the block's lava-multinode protocol
// actions addressed to prepare-scp-overlay: each names the message whose
// data holds the address of the device to copy to.
func (a *PrepareOverlayScp) Validate() {
	a.Base.Validate()
	keys := []string{}
	defer func() { a.SetData(boot.ScpHostKeys, keys) }()
	v, ok := a.Params.Map("protocols").Get("lava-multinode")
	if !ok {
		return
	}
	list, _ := v.([]any)
	for _, x := range list {
		m, isMap := x.(*value.Map)
		if !isMap {
			a.Errorf("invalid protocol action setting - needs to be a list")
			continue
		}
		if m.String("action") != a.Name {
			continue
		}
		id, ok := m.Value("messageID").(string)
		if !ok {
			a.Errorf("invalid protocol block: %s", value.GoString(m))
			return
		}
		if _, isMap := m.Value("message").(*value.Map); !isMap {
			a.Errorf("missing message block for scp deployment")
			return
		}
		keys = append(keys, id)
	}
}
