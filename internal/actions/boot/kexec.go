package boot

import (
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "BootKExec",
		accepts: func(_, params *value.Map) (bool, string) {
			return pipeline.MethodCheck{Section: "boot", Method: "kexec"}.Named(params)
		},
		action: func(*value.Map) pipeline.Action { return NewBootKexec() },
	})
	pipeline.Register(&strategy{
		name: "RecoveryBoot",
		accepts: func(_, params *value.Map) (bool, string) {
			return pipeline.MethodCheck{Section: "boot", Method: "recovery", NotNamed: `boot "method" was not "recovery"`}.Named(params)
		},
		action: func(*value.Map) pipeline.Action { return NewRecoveryBoot() },
	})
}

// BootKexec is LAVA's BootKexecAction (kexec-boot, `method: kexec`): from
// a running shell, load a new kernel with kexec and jump into it, then
// log in again.
type BootKexec struct{ pipeline.Base }

var _ pipeline.Action = (*BootKexec)(nil)

// NewBootKexec returns kexec-boot.
func NewBootKexec() *BootKexec {
	a := &BootKexec{pipeline.NewBase("BootKexecAction", "kexec-boot",
		"replace current kernel using kexec", "kexec a new kernel")}
	a.Retry = true
	return a
}

// Populate follows LAVA: the login and shell actions always, since kexec
// starts from a shell and returns to one.
func (a *BootKexec) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(NewKexec(), nil)
	p.Add(NewAutoLogin(true), nil)
	p.Add(NewExpectShell(), nil)
	if params.Has("transfer_overlay") {
		p.Add(NewOverlayUnpack(), nil)
	}
	p.Add(NewExportDeviceEnv(), nil)
}

// Kexec is LAVA's KexecAction (call-kexec): runs kexec --load with the
// block's kernel, initrd, dtb and options, then kexec -e (or a sysrq
// crash with on_panic).
type Kexec struct{ leaf }

// NewKexec returns call-kexec.
func NewKexec() *Kexec {
	return &Kexec{leaf{pipeline.NewBase("KexecAction", "call-kexec",
		"call kexec with specified arguments", "attempt to kexec new kernel")}}
}

// Validate checks the types of the block's kexec settings and, as LAVA
// does, that the default /sbin/kexec gets something to --load.
func (a *Kexec) Validate() {
	a.leaf.Validate()
	for _, k := range []string{"kernel", "initrd", "dtb", "command", "kernel_config"} {
		if v, ok := a.Params.Get(k); ok {
			if _, isStr := v.(string); !isStr {
				a.Errorf("kexec '%s' must be a string", k)
			}
		}
	}
	if v, ok := a.Params.Get("options"); ok {
		if _, isList := v.([]any); !isList {
			a.Errorf("kexec 'options' must be a list")
		}
	}
	cmd := a.Params.String("command")
	if cmd == "" || cmd == "/sbin/kexec" {
		for _, k := range []string{"kernel", "dtb", "initrd", "options"} {
			if a.Params.Has(k) {
				return
			}
		}
		a.Errorf("default kexec handler needs at least a kernel to pass to the --load command")
	}
}

// RecoveryBoot is LAVA's RecoveryBootAction (recovery-boot, `method:
// recovery`): power off, run the device's recovery_mode or recovery_exit
// commands, power on.
type RecoveryBoot struct{ pipeline.Base }

var _ pipeline.Action = (*RecoveryBoot)(nil)

// NewRecoveryBoot returns recovery-boot.
func NewRecoveryBoot() *RecoveryBoot {
	return &RecoveryBoot{pipeline.NewBase("RecoveryBootAction", "recovery-boot",
		"handle entering and leaving recovery mode", "boot into or out of recovery mode")}
}

// recoveryModes maps the block's commands to the device's recovery
// commands key.
var recoveryModes = map[string]string{"recovery": "recovery_mode", "exit": "recovery_exit"}

// Populate uses power-on rather than a reset so that the switch holds
// until the boot that exits recovery.
func (a *RecoveryBoot) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	mode, ok := recoveryModes[params.String("commands")]
	if !ok {
		return
	}
	p.Add(power.NewPowerOff(), nil)
	p.Add(NewSwitchRecovery(mode), nil)
	p.Add(power.NewPowerOn(), nil)
}

// Validate needs commands: recovery or exit.
func (a *RecoveryBoot) Validate() {
	a.Base.Validate()
	if _, ok := recoveryModes[a.Params.String("commands")]; !ok {
		a.Errorf("invalid recovery command: %s, use recovery or exit", value.GoString(a.Params.Value("commands")))
	}
}

// SwitchRecovery is LAVA's SwitchRecoveryCommand (switch-recovery): runs
// the device's recovery commands for one mode.
type SwitchRecovery struct {
	leaf
	Mode string
}

// NewSwitchRecovery returns switch-recovery for mode (recovery_mode or
// recovery_exit).
func NewSwitchRecovery(mode string) *SwitchRecovery {
	return &SwitchRecovery{leaf: leaf{pipeline.NewBase("SwitchRecoveryCommand", "switch-recovery",
		"call commands to switch device into and out of recovery", "execute recovery mode commands")}, Mode: mode}
}

// Validate needs the device's recovery commands for the mode.
func (a *SwitchRecovery) Validate() {
	a.leaf.Validate()
	cmds := pipeline.DeviceMethods(a.Device(), "deploy").Map("recovery").Map("commands")
	if cmds == nil {
		a.Errorf("missing commands to enter recovery mode")
		return
	}
	if !pipeline.Truthy(cmds.Value(a.Mode)) {
		a.Errorf("unable to find %s recovery command", a.Mode)
	}
}
