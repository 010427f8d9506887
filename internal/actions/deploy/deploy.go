// Package deploy holds the deploy strategies of the QEMU family (tmpfs
// images, qemu-nfs, iso-installer, docker, ssh, overlay) and the deploy
// actions every family shares: downloads, the LAVA overlay with its test
// definitions, the device environment and the guest overlay disk. It
// registers its strategies with internal/pipeline in init; it does not
// boot or test.
package deploy

import (
	"context"

	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// leaf is an action whose running is not written yet: validate and run
// refuse a job holding one (CannotRun), so its Run is never reached.
type leaf struct{ pipeline.Base }

// CannotRun says that Basalt cannot run this action yet.
func (*leaf) CannotRun() string { return pipeline.NotWritten }

func (l *leaf) Run(_ context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	return conn, pipeline.NotImplemented(&l.Base)
}

// strategy is one deploy strategy: LAVA's Deployment subclass.
type strategy struct {
	name     string
	priority int
	// noDeploymentData is LAVA's uses_deployment_data() == False.
	noDeploymentData bool
	accepts          func(device, params *value.Map) (bool, string)
	action           func(params *value.Map) pipeline.Action
}

var _ pipeline.DeployStrategy = (*strategy)(nil)

func (s *strategy) Name() string                             { return s.name }
func (s *strategy) Section() string                          { return "deploy" }
func (s *strategy) Priority() int                            { return s.priority }
func (s *strategy) UsesDeploymentData() bool                 { return !s.noDeploymentData }
func (s *strategy) Action(params *value.Map) pipeline.Action { return s.action(params) }
func (s *strategy) Accepts(device, params *value.Map) (bool, string) {
	return s.accepts(device, params)
}

// hasMethod is the usual first check of a deploy strategy: the device
// must list the method under actions.deploy.methods.
func hasMethod(device *value.Map, method string) bool {
	return pipeline.DeviceHasMethod(device, "deploy", method)
}

// warnMissingTool records a job warning when a host tool is missing.
func warnMissingTool(b *pipeline.Base, tool string) { b.WarnMissingTool(tool) }

// fileReadable reports whether path names a regular file we can open;
// anything else is not opened (a named pipe's open would block).
func fileReadable(path string) bool {
	f, _, err := limits.OpenRegular(path, "file")
	if err != nil {
		return false
	}
	f.Close()
	return true
}
