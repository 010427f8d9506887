package deploy

import (
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name:    "Nbd",
		accepts: pipeline.MethodCheck{Section: "deploy", Method: "nbd"}.AcceptsBlockFirst,
		action:  func(*value.Map) pipeline.Action { return NewNbdAction() },
	})
}

// NbdAction is LAVA's NbdAction (nbd-deploy, `to: nbd`): kernel, dtb and
// initrd over TFTP, the root filesystem (nbdroot) served by an
// nbd-server on the dispatcher.
type NbdAction struct{ pipeline.Base }

var _ pipeline.Action = (*NbdAction)(nil)

// NewNbdAction returns nbd-deploy.
func NewNbdAction() *NbdAction {
	return &NbdAction{pipeline.NewBase("NbdAction", "nbd-deploy",
		"download files and deploy for using tftp+initrd+nbd", "nbd deployment")}
}

// Populate downloads (one attempt each unless failure_retry says
// otherwise: current LAVA; 2023.01 gave nbd downloads three), then the
// overlay, the kernel
// conversion and the NBD server. The block gets LAVA's lava-xnbd key so
// that the boot's command overlay substitutes the server's address.
func (a *NbdAction) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	for _, key := range []string{"initrd", "kernel", "dtb", "nbdroot"} {
		if img, ok := params.Value(key).(*value.Map); ok {
			p.Add(NewDownloader(key, img), nil)
		}
	}
	p.Add(NewOverlay(), nil)
	if params.Map("kernel").Has("type") {
		p.Add(NewPrepareKernel(), nil)
	}
	params.Set("lava-xnbd", value.NewMap())
	p.Add(NewXnbd(), nil)
}

// Validate needs a kernel, an nbdroot and an initrd, and no NFS root or
// ramdisk (the initrd mounts the NBD root).
func (a *NbdAction) Validate() {
	a.Base.Validate()
	if !a.Params.Has("kernel") {
		a.Errorf("%s needs a kernel to deploy", a.Name)
		return
	}
	if !a.Params.Has("nbdroot") {
		a.Errorf("NBD deployment needs a 'nbdroot' parameter")
	}
	if !a.Params.Has("initrd") {
		a.Errorf("NBD deployment needs an 'initrd' parameter")
	}
	if a.Params.Has("nfsrootfs") {
		a.Errorf("nfsrootfs cannot be used with NBD deployment, use a e.g. ext3/4 filesystem as 'nbdroot=' parameter")
	}
	if a.Params.Has("ramdisk") {
		a.Errorf("ramdisk cannot be used with NBD deployment, use a e.g. ext3/4 filesystem as 'initrd' parameter")
	}
	warnMissingTool(&a.Base, "in.tftpd")
	warnMissingTool(&a.Base, "nbd-server")
}

// Xnbd is LAVA's XnbdAction (xnbd-server-deploy): starts the NBD server
// for the nbdroot on a free port.
type Xnbd struct{ leaf }

// NewXnbd returns xnbd-server-deploy.
func NewXnbd() *Xnbd {
	return &Xnbd{leaf{pipeline.NewBase("XnbdAction", "xnbd-server-deploy", "nbd daemon", "nbd daemon")}}
}
