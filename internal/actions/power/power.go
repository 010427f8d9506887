// Package power holds the device-control actions every deploy and boot
// family uses (power on and off, PDU reboot, reset, the pre-power and
// pre-OS commands, serial connect and disconnect) and the finalize
// action that ends every job. It runs no boot method of its own.
package power

import (
	"context"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.NewFinalize = func() pipeline.Action { return NewFinalize() }
}

// leaf is an action whose running is not written yet: validate and run
// refuse a job holding one (CannotRun), so its Run is never reached.
type leaf struct{ pipeline.Base }

// CannotRun says that Basalt cannot run this action yet.
func (*leaf) CannotRun() string { return pipeline.NotWritten }

func (l *leaf) Run(_ context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	return conn, pipeline.NotImplemented(&l.Base)
}

// deviceCommand returns the device's commands.<key> as a list of
// strings; LAVA accepts a string or a list there. ok is false when the
// key is absent.
func deviceCommand(device *value.Map, key string) (cmds []string, ok bool) {
	v, ok := device.Map("commands").Get(key)
	if !ok {
		return nil, false
	}
	switch t := v.(type) {
	case string:
		if t != "" {
			cmds = []string{t}
		}
	case []any:
		for _, c := range t {
			if s, isStr := c.(string); isStr {
				cmds = append(cmds, s)
			}
		}
	}
	return cmds, true
}

// Finalize is LAVA's FinalizeAction: appended to every job, it powers the
// device off and reads what the other namespaces' connections still say.
// It runs even after a failure.
type Finalize struct{ pipeline.Base }

var _ pipeline.Action = (*Finalize)(nil)

// NewFinalize returns the finalize action.
func NewFinalize() *Finalize {
	return &Finalize{pipeline.NewBase("FinalizeAction", "finalize",
		"finish the process and cleanup", "finalize the job")}
}

// Populate adds power-off and read-feedback.
func (a *Finalize) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(NewPowerOff(), nil)
	rf := NewReadFeedback()
	rf.finalize = true
	p.Add(rf, nil)
}

// PowerOff runs the device's power_off command.
type PowerOff struct{ leaf }

// NewPowerOff returns LAVA's power-off action.
func NewPowerOff() *PowerOff {
	a := &PowerOff{leaf{pipeline.NewBase("PowerOff", "power-off",
		"discontinue power to device", "send power_off command")}}
	a.TimeoutClass = pipeline.ClassInfrastructure
	return a
}

// ReadFeedback listens to the connections of the other namespaces so that
// their output reaches the log. Only the finalize pipeline's closes them
// (LAVA's finalize=True); elsewhere (a docker test shell, fastboot) the
// consoles go on.
type ReadFeedback struct {
	leaf
	finalize bool
}

// NewReadFeedback returns LAVA's read-feedback action.
func NewReadFeedback() *ReadFeedback {
	return &ReadFeedback{leaf: leaf{pipeline.NewBase("ReadFeedback", "read-feedback",
		"Check for messages on all other namespaces", "Read from other namespaces")}}
}

// PowerOn runs the device's pre-power and power_on commands.
type PowerOn struct{ leaf }

// NewPowerOn returns LAVA's power-on action.
func NewPowerOn() *PowerOn {
	a := &PowerOn{leaf{pipeline.NewBase("PowerOn", "power-on",
		"supply power to device", "send power_on command")}}
	a.TimeoutClass = pipeline.ClassInfrastructure
	return a
}

// PrePower runs the device's pre_power_command (relays, OTG switches)
// before power is applied.
type PrePower struct{ leaf }

// NewPrePower returns LAVA's pre-power-command action.
func NewPrePower() *PrePower {
	a := &PrePower{leaf{pipeline.NewBase("PrePower", "pre-power-command",
		"issue pre power command", "send pre-power-command")}}
	a.TimeoutClass = pipeline.ClassInfrastructure
	return a
}

// PreOs runs the device's pre_os_command before the OS boots.
type PreOs struct{ leaf }

// NewPreOs returns LAVA's pre-os-command action.
func NewPreOs() *PreOs {
	a := &PreOs{leaf{pipeline.NewBase("PreOs", "pre-os-command",
		"issue pre os command", "send pre-os-command")}}
	a.TimeoutClass = pipeline.ClassInfrastructure
	return a
}

// ResetDevice power-cycles the device through the PDU when the device has
// a hard_reset command, else sends reboot commands on the console.
type ResetDevice struct{ pipeline.Base }

// NewResetDevice returns LAVA's reset-device action.
func NewResetDevice() *ResetDevice {
	return &ResetDevice{pipeline.NewBase("ResetDevice", "reset-device",
		"reboot or power-cycle the device", "reboot the device")}
}

// Populate chooses between pdu-reboot and send-reboot-commands, as LAVA
// does, on whether the device can be hard reset.
func (a *ResetDevice) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	if cmds, _ := deviceCommand(a.Device(), "hard_reset"); len(cmds) > 0 {
		p.Add(NewPDUReboot(), nil)
	} else {
		p.Add(NewSendRebootCommands(), nil)
	}
}

// PDUReboot runs the device's hard_reset command.
type PDUReboot struct{ leaf }

// NewPDUReboot returns LAVA's pdu-reboot action.
func NewPDUReboot() *PDUReboot {
	a := &PDUReboot{leaf{pipeline.NewBase("PDUReboot", "pdu-reboot",
		"issue commands to a PDU to power cycle a device", "hard reboot using PDU")}}
	a.TimeoutClass = pipeline.ClassInfrastructure
	return a
}

// Validate reports a device that cannot be hard reset: running would fail
// with "Hard reset required but not defined".
func (a *PDUReboot) Validate() {
	a.leaf.Validate()
	if cmds, _ := deviceCommand(a.Device(), "hard_reset"); len(cmds) == 0 {
		a.Errorf("hard reset required but not defined in the device configuration")
	}
}

// SendRebootCommands reboots from the console with the job's soft_reboot
// commands, the device's, or LAVA's default list.
type SendRebootCommands struct{ leaf }

// NewSendRebootCommands returns LAVA's send-reboot-commands action.
func NewSendRebootCommands() *SendRebootCommands {
	return &SendRebootCommands{leaf{pipeline.NewBase("SendRebootCommands", "send-reboot-commands",
		"Issue a reboot command on the device", "Issue a reboot command on the device")}}
}
