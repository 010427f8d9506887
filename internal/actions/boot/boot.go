// Package boot holds the boot strategies of the QEMU family (qemu,
// qemu-nfs, qemu-iso, docker, ssh, minimal, new_connection) and the boot
// actions every family shares: auto-login, waiting for the shell, the
// device environment, the overlay unpack. It registers its strategies
// with internal/pipeline in init; it does not deploy or test.
package boot

import (
	"context"

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

// strategy is one boot strategy: LAVA's Boot subclass.
type strategy struct {
	name     string
	priority int
	accepts  func(device, params *value.Map) (bool, string)
	action   func(params *value.Map) pipeline.Action
}

var _ pipeline.Strategy = (*strategy)(nil)

func (s *strategy) Name() string                             { return s.name }
func (s *strategy) Section() string                          { return "boot" }
func (s *strategy) Priority() int                            { return s.priority }
func (s *strategy) Action(params *value.Map) pipeline.Action { return s.action(params) }
func (s *strategy) Accepts(device, params *value.Map) (bool, string) {
	return s.accepts(device, params)
}

// hasMethod is the usual first check of a boot strategy: the device must
// list the method under actions.boot.methods.
func hasMethod(device *value.Map, method string) bool {
	return pipeline.DeviceHasMethod(device, "boot", method)
}

// warnMissingTool records a job warning when a host tool is missing.
func warnMissingTool(b *pipeline.Base, tool string) { b.WarnMissingTool(tool) }

// AddShellActions adds what most boot methods end with, as LAVA's boot
// actions do: when the block has prompts, auto-login (booting says
// whether kernel boot messages come first); when a test of the namespace
// runs a shell, expect-shell-connection, the overlay unpack when the
// block transfers the overlay, and export-device-env.
func AddShellActions(p *pipeline.Pipeline, b *pipeline.Base, params *value.Map, booting bool) {
	if !params.Has("prompts") {
		return
	}
	p.Add(NewAutoLogin(booting), nil)
	if !b.TestHasShell(params) {
		return
	}
	p.Add(NewExpectShell(), nil)
	if params.Has("transfer_overlay") {
		p.Add(NewOverlayUnpack(), nil)
	}
	p.Add(NewExportDeviceEnv(), nil)
}
