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
		name: "Nfs",
		accepts: func(device, params *value.Map) (bool, string) {
			check := pipeline.MethodCheck{Section: "deploy", Method: "nfs"}
			if ok, why := check.Named(params); !ok {
				return false, why
			}
			if hasMethod(device, "image") {
				return false, `"image" was in the device configuration deploy methods`
			}
			return check.Listed(device)
		},
		action: func(*value.Map) pipeline.Action { return NewNfsAction() },
	})
}

// NfsAction is LAVA's NfsAction (nfs-deploy, `to: nfs` on boards): an NFS
// root filesystem exported by the dispatcher, with modules and the
// overlay unpacked into it, for a later bootloader boot with root=/dev/nfs.
type NfsAction struct{ pipeline.Base }

var _ pipeline.Action = (*NfsAction)(nil)

// NewNfsAction returns nfs-deploy.
func NewNfsAction() *NfsAction {
	return &NfsAction{pipeline.NewBase("NfsAction", "nfs-deploy", "deploy nfsrootfs", "NFS deployment")}
}

// Populate downloads what the block gives, then extracts and overlays.
// The overlay action is always there: it adds its children only when a
// test needs them.
func (a *NfsAction) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	for _, key := range []string{"nfsrootfs", "modules"} {
		if img, ok := params.Value(key).(*value.Map); ok {
			p.Add(NewDownloader(key, img), nil)
		}
	}
	p.Add(NewExtractNfsRootfs(), nil)
	p.Add(NewOverlay(), nil)
	p.Add(NewExtractModules(), nil)
	p.Add(NewApplyOverlayTftp(), nil)
	if a.TestNeedsDeployment(params) {
		p.Add(NewDeployDeviceEnv(), nil)
	}
}

// Validate allows one root: a downloaded nfsrootfs or a persistent one.
func (a *NfsAction) Validate() {
	a.Base.Validate()
	if a.Params.Has("nfsrootfs") && a.Params.Has("persistent_nfs") {
		a.Errorf("only one of nfsrootfs or persistent_nfs can be specified")
	}
}

// ExtractNfsRootfs is LAVA's ExtractNfsRootfs (extract-nfsrootfs):
// unpacks the nfsrootfs download into the directory the dispatcher
// exports; nothing when the block has no nfsrootfs.
type ExtractNfsRootfs struct{ leaf }

// NewExtractNfsRootfs returns extract-nfsrootfs.
func NewExtractNfsRootfs() *ExtractNfsRootfs {
	return &ExtractNfsRootfs{leaf{pipeline.NewBase("ExtractNfsRootfs", "extract-nfsrootfs",
		"unpack nfsrootfs", "unpack nfsrootfs, ready to apply lava overlay")}}
}

// Validate checks the nfsrootfs prefix (a relative directory) and warns
// when the NFS server is not installed.
func (a *ExtractNfsRootfs) Validate() {
	a.leaf.Validate()
	nfs := a.Params.Map("nfsrootfs")
	if nfs == nil {
		return
	}
	if prefix, ok := nfs.Value("prefix").(string); ok {
		if len(prefix) > 0 && prefix[0] == '/' {
			a.Errorf("prefix must not be an absolute path")
		}
		if len(prefix) == 0 || prefix[len(prefix)-1] != '/' {
			a.Errorf("prefix must be a directory and end with /")
		}
		if c := path.Clean(prefix); c == ".." || strings.HasPrefix(c, "../") {
			a.Errorf("prefix must be a folder inside the nfsrootfs, not %q", prefix)
		}
	}
	warnMissingTool(&a.Base, nfsserver.Program)
}
