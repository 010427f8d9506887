package deploy

import (
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "QDL",
		// Current LAVA does not ask the device to list qdl among its deploy
		// methods; it needs the qcomflash tarball.
		accepts: func(_, params *value.Map) (bool, string) {
			if ok, why := (pipeline.MethodCheck{Section: "deploy", Method: "qdl"}).Named(params); !ok {
				return false, why
			}
			if !params.Has("qcomflash") {
				return false, "'qcomflash' not in deploy parameters"
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewQDLDeploy() },
	})
}

// qcomflashKey is the block key, and download label, of the qcomflash
// tarball: the flat build qdl flashes.
const qcomflashKey = "qcomflash"

// QDLDeploy is LAVA's QDLAction (qdl-deploy): downloads the qcomflash
// tarball (unpacked when it runs) and, when it asks for it, puts the
// LAVA overlay into its root filesystem image. The flashing is the qdl
// boot.
type QDLDeploy struct{ pipeline.Base }

var _ pipeline.Action = (*QDLDeploy)(nil)

// NewQDLDeploy returns qdl-deploy.
func NewQDLDeploy() *QDLDeploy {
	return &QDLDeploy{pipeline.NewBase("QDLAction", "qdl-deploy",
		"deploy qcomflash tarball using qdl", "qdl deployment")}
}

// Populate adds the overlay when a test needs it, the download, and the
// overlay into rootfs_image (default rootfs.img) at overlay_path when
// the tarball has apply-overlay.
func (a *QDLDeploy) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	overlay := a.TestNeedsOverlay(params)
	if overlay {
		p.Add(NewOverlay(), nil)
	}
	img := params.Map(qcomflashKey)
	if img == nil {
		return
	}
	p.Add(NewDownloader(qcomflashKey, img), nil)
	if pipeline.Truthy(img.Value("apply-overlay")) && overlay {
		p.Add(NewApplyQDLOverlay(), nil)
	}
}

// Validate needs the qcomflash tarball.
func (a *QDLDeploy) Validate() {
	a.Base.Validate()
	if !pipeline.Truthy(a.Params.Value(qcomflashKey)) {
		a.Errorf("action %s can't work without %s file", a.Name, qcomflashKey)
	} else if _, ok := a.Params.Value(qcomflashKey).(*value.Map); !ok {
		a.Errorf("'%s' must be a map with a url", qcomflashKey)
	}
}

// ApplyQDLOverlay is LAVA's ApplyQDLOverlay (apply-overlay-qdl): copies
// the overlay into the root filesystem image inside the unpacked
// qcomflash build.
type ApplyQDLOverlay struct{ leaf }

// NewApplyQDLOverlay returns apply-overlay-qdl.
func NewApplyQDLOverlay() *ApplyQDLOverlay {
	return &ApplyQDLOverlay{leaf{pipeline.NewBase("ApplyQDLOverlay", "apply-overlay-qdl",
		"apply overlay to image in qcomflash tarball", "apply overlay to image in qcomflash tarball")}}
}

// Validate checks rootfs_image and overlay_path are strings when given.
func (a *ApplyQDLOverlay) Validate() {
	a.leaf.Validate()
	for _, k := range []string{"rootfs_image", "overlay_path"} {
		if v, ok := a.Params.Get(k); ok {
			if s, isStr := v.(string); !isStr || s == "" {
				a.Errorf("'%s' must be a non-empty string", k)
			}
		}
	}
}
