package deploy

import (
	"path"
	"strings"

	"github.com/basalt-lava/basalt/internal/nfsserver"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "DeployQemuNfs",
		accepts: func(device, params *value.Map) (bool, string) {
			check := pipeline.MethodCheck{Section: "deploy", Method: "nfs",
				NotListed: `"nfs" is not in the device configuration deploy methods`,
				NotNamed:  `"to" is not "nfs"`}
			if ok, why := check.Accepts(device, params); !ok {
				return false, why
			}
			boot := pipeline.MethodCheck{Section: "boot", Method: "qemu-nfs",
				NotListed: `"qemu-nfs" is not in the device configuration boot methods`}
			if ok, why := boot.Listed(device); !ok {
				return false, why
			}
			if params.Has("type") && params.Value("type") != "monitor" {
				return false, `"type" was set, but it was not "monitor"`
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewDeployQemuNfs() },
	})
}

// DeployQemuNfs is LAVA's DeployQemuNfsAction (deploy-qemu-nfs): a
// kernel and an NFS root for QEMU, with the overlay unpacked into the
// NFS root.
type DeployQemuNfs struct{ pipeline.Base }

var _ pipeline.Action = (*DeployQemuNfs)(nil)

// NewDeployQemuNfs returns deploy-qemu-nfs.
func NewDeployQemuNfs() *DeployQemuNfs {
	return &DeployQemuNfs{pipeline.NewBase("DeployQemuNfsAction", "deploy-qemu-nfs",
		"deploy qemu with NFS", "deploy NFS for QEMU")}
}

// Populate downloads every image, extracts the NFS root, then overlays it.
func (a *DeployQemuNfs) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	if uefi := params.Map("uefi"); uefi != nil {
		p.Add(NewDownloader("uefi", uefi), nil)
	}
	params.Map("images").Range(func(label string, v any) bool {
		img, _ := v.(*value.Map)
		p.Add(NewDownloader(label, img), nil)
		return true
	})
	p.Add(NewExtractNfs(), nil)
	if a.TestNeedsOverlay(params) {
		p.Add(NewOverlay(), nil)
		p.Add(NewApplyOverlayTftp(), nil)
	}
	if a.TestNeedsDeployment(params) {
		p.Add(NewDeployDeviceEnv(), nil)
	}
}

// Validate checks the images.
func (a *DeployQemuNfs) Validate() {
	a.Base.Validate()
	validateImages(&a.Base, a.Params)
}

// ExtractNfs unpacks the nfsrootfs image for QEMU's NFS root.
type ExtractNfs struct{ leaf }

// NewExtractNfs returns qemu-nfs-deploy.
func NewExtractNfs() *ExtractNfs {
	return &ExtractNfs{leaf{pipeline.NewBase("ExtractNfsAction", "qemu-nfs-deploy",
		"deploy nfsrootfs for QEMU", "NFS deployment for QEMU")}}
}

// Validate checks the nfsrootfs prefix, a relative directory, and warns
// when the NFS server is not installed.
func (a *ExtractNfs) Validate() {
	a.leaf.Validate()
	nfs := a.Params.Map("images").Map("nfsrootfs")
	if nfs == nil {
		return
	}
	if prefix, ok := nfs.Value("prefix").(string); ok {
		if strings.HasPrefix(prefix, "/") {
			a.Errorf("prefix must not be an absolute path")
		}
		if !strings.HasSuffix(prefix, "/") {
			a.Errorf("prefix must be a directory and end with /")
		}
		if c := path.Clean(prefix); c == ".." || strings.HasPrefix(c, "../") {
			a.Errorf("prefix must be a folder inside the nfsrootfs, not %q", prefix)
		}
	}
	warnMissingTool(&a.Base, nfsserver.Program)
}
