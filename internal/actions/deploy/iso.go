package deploy

import (
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "DeployIso",
		accepts: func(device, params *value.Map) (bool, string) {
			check := pipeline.MethodCheck{Section: "deploy", Method: "image", Name: "iso-installer",
				NotListed: `"image" is not in the device configuration deploy methods`,
				NotNamed:  `"to" was not in parameters, or "to" was not "iso-installer"`}
			if ok, why := check.Accepts(device, params); !ok {
				return false, why
			}
			iso := params.Map("iso")
			if iso == nil {
				return false, `"iso" was not in the parameters`
			}
			if !iso.Has("installation_size") {
				return false, `"installation_size" was not in the iso parameters`
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewDeployIso() },
	})
}

// DeployIso is LAVA's DeployIsoAction (deploy-iso-installer): an empty
// disk to install onto, the preseed and the ISO, the installer's kernel
// and initrd pulled out of the ISO, and the QEMU command line for it.
type DeployIso struct{ pipeline.Base }

var _ pipeline.Action = (*DeployIso)(nil)

// NewDeployIso returns deploy-iso-installer.
func NewDeployIso() *DeployIso {
	return &DeployIso{pipeline.NewBase("DeployIsoAction", "deploy-iso-installer",
		"setup deployment for emulated installer", "pull kernel and initrd out of iso")}
}

// Populate follows LAVA's order; the overlay comes last so that it is
// available after installation.
func (a *DeployIso) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(&leaf{pipeline.NewBase("IsoEmptyImage", "prepare-empty-image",
		"create empty image of specified size", "create destination image")}, nil)
	images := params.Map("images")
	p.Add(NewDownloader("preseed", images.Map("preseed")), nil)
	p.Add(NewDownloader("iso", images.Map("iso")), nil)
	p.Add(&leaf{pipeline.NewBase("IsoPullInstaller", "pull-installer-files",
		"pull kernel and initrd out of iso", "copy files out of installer iso")}, nil)
	p.Add(&leaf{pipeline.NewBase("QemuCommandLine", "prepare-qemu-commands",
		"prepare qemu command and options to append to kernel command line",
		"build qemu command line with kernel command string")}, nil)
	if a.TestNeedsOverlay(params) {
		p.Add(NewOverlay(), nil)
		p.Add(NewApplyOverlayGuest(), nil)
	}
	if a.TestNeedsDeployment(params) {
		p.Add(NewDeployDeviceEnv(), nil)
	}
}

// Validate needs the preseed and ISO images and the installer's paths,
// and the TFTP server the installer fetches the preseed from.
func (a *DeployIso) Validate() {
	a.Base.Validate()
	images := a.Params.Map("images")
	for _, k := range []string{"preseed", "iso"} {
		if images.Map(k) == nil {
			a.Errorf("missing images.%s for the iso installer", k)
		}
	}
	iso := a.Params.Map("iso")
	for _, k := range []string{"kernel", "initrd", "installation_size"} {
		if !iso.Has(k) {
			a.Errorf("missing iso.%s for the iso installer", k)
		}
	}
	warnMissingTool(&a.Base, "in.tftpd")
}
