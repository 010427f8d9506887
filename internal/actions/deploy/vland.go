package deploy

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/basalt-lava/basalt/internal/overlay"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
	"github.com/basalt-lava/basalt/internal/vland"
)

// VlandOverlay is LAVA's VlandOverlayAction (lava-vland-overlay): the
// lava-vland-self, lava-vland-names and lava-vland-tags helpers in the
// overlay, for a job with the lava-vland protocol. A block's
// `protocols: lava-vland: [{action: lava-vland-overlay, request:
// deploy_vlans}]` makes the protocol create the VLANs when it runs.
// LAVA 2023 put it in every overlay, doing nothing without VLANs; Basalt
// adds it only to jobs that name VLANs, as the other overlays'
// descriptions are LAVA's current ones, which have dropped it.
type VlandOverlay struct{ pipeline.Base }

var _ pipeline.Action = (*VlandOverlay)(nil)

// NewVlandOverlay returns lava-vland-overlay.
func NewVlandOverlay() *VlandOverlay {
	return &VlandOverlay{pipeline.NewBase("VlandOverlayAction", "lava-vland-overlay",
		"Populate specific vland scripts for tests to lookup vlan data.", "Add files detailing vlan configuration.")}
}

// vlandJob reports whether the job is a MultiNode sub-job with VLANs
// (LAVA's protocol accepts nothing else).
func vlandJob(j *pipeline.Job) bool {
	if j == nil {
		return false
	}
	p := j.Params.Map("protocols")
	return p.Map("lava-multinode").Has("target_group") && p.Has(vland.ProtocolName)
}

// Validate matches the job's VLANs with the device's interfaces, and
// checks the connection timeout of a deploy_vlans call made here: LAVA
// wants at least VLAND_DEPLOY_TIMEOUT.
func (a *VlandOverlay) Validate() {
	a.Base.Validate()
	if !vlandJob(a.Job) || a.Device() == nil {
		return
	}
	if _, err := vland.MakePlan(a.Job.Params, a.Device(), a.Job.ID); err != nil {
		a.Errorf("%v", err)
	}
	calls := a.Params.Map("protocols").Value(vland.ProtocolName)
	list, _ := calls.([]any)
	if m, ok := calls.(*value.Map); ok {
		list = []any{m}
	}
	for _, c := range list {
		cm, _ := c.(*value.Map)
		if cm.String("action") != a.Name {
			continue
		}
		if r := cm.String("request"); r != "deploy_vlans" {
			a.Errorf("protocols.%s: unrecognised request %q (the one call is deploy_vlans)", vland.ProtocolName, r)
		} else if a.ConnectionTimeout.Seconds < 120 {
			a.Errorf("Timeout of %d is insufficient for deploy_vlans: the connection timeout of %s (%s) must be at least 120 seconds",
				a.ConnectionTimeout.Seconds, a.Name, a.ConnectionTimeout.Source)
		}
	}
}

// Run writes the helpers into the overlay's bin/.
func (a *VlandOverlay) Run(_ context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	if !vlandJob(a.Job) {
		a.Log().Debugf("skipped %s", a.Name)
		return conn, nil
	}
	plan, err := vland.MakePlan(a.Job.Params, a.Device(), a.Job.ID)
	if err != nil {
		return conn, pipeline.JobError("protocols.%s: %v", vland.ProtocolName, err)
	}
	tree, _, err := overlayTree(&a.Base)
	if err != nil {
		return conn, err
	}
	bin := filepath.Join(tree, "bin")
	names, err := overlay.WriteVlandScripts(bin, shellCmd(&a.Base), plan.Self, plan.Names, plan.Tags)
	if err != nil {
		return conn, err
	}
	a.Log().Debugf("Creating %s: %s", bin, strings.Join(names, " "))
	return conn, nil
}
