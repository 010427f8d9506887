package deploy

import (
	"strings"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
	"github.com/basalt-lava/basalt/internal/vland"
)

// Overlay is LAVA's OverlayAction (lava-overlay): the LAVA test-shell
// scripts, the test definitions and the environment, prepared on the
// dispatcher for a later action to put on the device. It does nothing
// when no test of the namespace needs an overlay.
type Overlay struct {
	pipeline.Base
	// always is LAVA's CreateOverlay: the overlay is made even when no
	// test asks for it (docker test shells, overlays: lava).
	always bool
}

var _ pipeline.Action = (*Overlay)(nil)

// NewOverlay returns lava-overlay, made only when a test needs it.
func NewOverlay() *Overlay {
	return &Overlay{Base: pipeline.NewBase("OverlayAction", "lava-overlay",
		"add lava scripts during deployment for test shell use", "overlay the lava support scripts")}
}

// NewCreateOverlay returns lava-create-overlay, made unconditionally.
func NewCreateOverlay() *Overlay {
	return &Overlay{Base: pipeline.NewBase("CreateOverlay", "lava-create-overlay",
		"add lava scripts during deployment for test shell use", "overlay the lava support scripts"), always: true}
}

func (a *Overlay) wanted(params *value.Map) bool {
	return a.always || a.TestNeedsOverlay(params)
}

// Populate adds, as LAVA does: ssh-authorize when the device can be
// deployed over ssh, the VLAN helpers when the job names VLANs, the
// MultiNode scripts, the test definitions, and the
// compressed tarball unless the overlay directory is mounted straight
// into a container (docker deploys and docker test shells).
func (a *Overlay) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	if !a.wanted(params) {
		return
	}
	sshCapable := false
	pipeline.DeviceMethods(a.Device(), "deploy").Range(func(k string, _ any) bool {
		if strings.Contains(k, "ssh") {
			sshCapable = true
			return false
		}
		return true
	})
	if sshCapable {
		p.Add(NewSshAuthorize(), nil)
	}
	if params.Has(vland.ProtocolName) {
		p.Add(NewVlandOverlay(), nil)
	}
	p.Add(NewMultinodeOverlay(), nil)
	p.Add(NewTestDefinition(), nil)
	skipCompress := params.String("to") == "docker" || (params.Has("docker") && params.Has("definitions"))
	if !skipCompress {
		p.Add(NewCompressOverlay(), nil)
	}
}

// Validate checks the results directory constant LAVA formats with the
// job id.
func (a *Overlay) Validate() {
	a.Base.Validate()
	if !a.wanted(a.Params) {
		return
	}
	if v, ok := a.Constant("lava_test_results_dir", "posix"); ok {
		s, _ := v.(string)
		if !strings.Contains(s, "%s") {
			a.Errorf("invalid lava_test_results_dir %q, should include '%%s'", s)
		}
	}
}

// MultinodeOverlay adds the MultiNode helper scripts (lava-group,
// lava-role, lava-send, …) when the job has a role in a MultiNode group.
type MultinodeOverlay struct{ leaf }

// NewMultinodeOverlay returns lava-multinode-overlay.
func NewMultinodeOverlay() *MultinodeOverlay {
	return &MultinodeOverlay{leaf{pipeline.NewBase("MultinodeOverlayAction", "lava-multinode-overlay",
		"add lava scripts during deployment for multinode test shell use", "overlay the lava multinode scripts")}}
}

// Validate requires a role in a MultiNode job that names a target group.
func (a *MultinodeOverlay) Validate() {
	a.leaf.Validate()
	mn := a.Job.Params.Map("protocols").Map("lava-multinode")
	if mn == nil || !mn.Has("target_group") {
		return
	}
	if !mn.Has("role") {
		a.Errorf("multinode job without a specified role")
	}
}

// CompressOverlay writes the overlay directory as overlay-<level>.tar.gz.
type CompressOverlay struct{ leaf }

// NewCompressOverlay returns compress-overlay.
func NewCompressOverlay() *CompressOverlay {
	return &CompressOverlay{leaf{pipeline.NewBase("CompressOverlay", "compress-overlay",
		"Create a lava overlay tarball and store alongside the job", "Compress the lava overlay files")}}
}

// SshAuthorize puts the dispatcher's public key into the overlay's
// /root/.ssh/authorized_keys so that a later ssh boot can log in.
type SshAuthorize struct{ leaf }

// NewSshAuthorize returns ssh-authorize.
func NewSshAuthorize() *SshAuthorize {
	return &SshAuthorize{leaf{pipeline.NewBase("SshAuthorize", "ssh-authorize",
		"include public key in overlay and authorize root user", "add public key to authorized_keys")}}
}

// Validate checks the device's ssh identity_file when the job needs it:
// LAVA only authorizes when the deploy asks for it (authorize: ssh) or
// the job has a MultiNode group that may ssh in.
func (a *SshAuthorize) Validate() {
	a.leaf.Validate()
	ssh := a.Device().Map("actions").Map("deploy").Map("methods").Map("ssh")
	if ssh == nil {
		return
	}
	if f, ok := ssh.Get("identity_file"); ok {
		if s, _ := f.(string); s == "" {
			a.Errorf("invalid identity_file in device ssh configuration: %v", f)
		}
	}
}

// ParsePersistentNFS is LAVA's ParsePersistentNFS (parse-persistent-nfs):
// instead of unpacking a root, it reads the server and directory of the
// block's persistent_nfs address for the boot commands and the overlay;
// nothing when the block has no persistent_nfs.
type ParsePersistentNFS struct{ leaf }

// NewParsePersistentNFS returns parse-persistent-nfs.
func NewParsePersistentNFS() *ParsePersistentNFS {
	return &ParsePersistentNFS{leaf{pipeline.NewBase("ParsePersistentNFS", "parse-persistent-nfs",
		"parse persistent nfs", "parse persistent nfs")}}
}

// Validate checks the persistent_nfs address: SERVER:DIRECTORY.
func (a *ParsePersistentNFS) Validate() {
	a.leaf.Validate()
	pn := a.Params.Map("persistent_nfs")
	if pn == nil {
		return
	}
	addr := pn.String("address")
	if addr == "" {
		a.Errorf("missing address for persistent NFS")
		return
	}
	if !strings.Contains(addr, ":") {
		a.Errorf("unrecognised NFS URL: %q", addr)
	}
}
