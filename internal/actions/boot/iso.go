package boot

import (
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "BootIsoInstaller",
		accepts: func(_, params *value.Map) (bool, string) {
			if ok, why := (pipeline.MethodCheck{Section: "boot", Method: "qemu-iso"}).Named(params); !ok {
				return false, why
			}
			if !params.Has("media") {
				return false, `"media" was not in parameters`
			}
			if params.String("media") != "img" {
				return false, `"media" was not "img"`
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewBootIso() },
	})
}

// BootIso is LAVA's BootIsoInstallerAction (boot-installer-iso): runs the
// installer in QEMU, watches it to the end, reboots into the installed
// system and logs in.
type BootIso struct{ pipeline.Base }

var _ pipeline.Action = (*BootIso)(nil)

// NewBootIso returns boot-installer-iso.
func NewBootIso() *BootIso {
	return &BootIso{pipeline.NewBase("BootIsoInstallerAction", "boot-installer-iso",
		"boot installer with preseed", "boot installer iso image")}
}

// Populate adds LAVA's sequence; auto-login is unconditional because it
// does nothing without auto_login.
func (a *BootIso) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(&leaf{pipeline.NewBase("IsoCommandLine", "execute-installer-command",
		"add dynamic data values to command line and execute",
		"include downloaded locations and call qemu")}, nil)
	p.Add(&leaf{pipeline.NewBase("MonitorInstallerSession", "monitor-installer-connection",
		"Monitor installer operation", "Watch for error strings or end of install")}, nil)
	p.Add(&leaf{pipeline.NewBase("IsoRebootAction", "reboot-into-installed",
		"reboot and login to the new system", "reboot into installed image")}, nil)
	p.Add(NewAutoLogin(true), nil)
	p.Add(NewExpectShell(), nil)
	p.Add(NewExportDeviceEnv(), nil)
}
