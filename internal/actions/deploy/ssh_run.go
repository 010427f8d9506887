package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/basalt-lava/basalt/internal/actions/boot"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// Run prepares nothing itself: its children (extract-rootfs and
// extract-modules) run, then, for a secondary connection, the address
// the block's lava-multinode call received (BeforeAction, before this
// runs) is kept for scp-deploy and ssh-connection, as LAVA's
// PrepareOverlayScp does: the value of the message's first key.
func (a *PrepareOverlayScp) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	conn, err := a.Base.Run(ctx, conn)
	if err != nil {
		return conn, err
	}
	overlay := a.DataString(dataCompressedFile)
	a.Log().Infof("Preparing to copy: %s", filepath.Base(overlay))
	keys, _ := a.Data(boot.ScpHostKeys).([]string)
	for _, id := range keys {
		data, _ := a.Data(pipeline.DataMultinode(id)).(*value.Map)
		if data == nil {
			a.Log().Warnf("Missing data for host_key %s", id)
			continue
		}
		key := replacementKey(a.Params, id)
		v, ok := data.Get(key)
		if !ok {
			a.Log().Errorf("Mismatched replacement key %s and received data %v", key, data.Keys())
			continue
		}
		addr := fmt.Sprint(v)
		a.SetData(boot.ScpHostAddress(id), addr)
		a.Log().Infof("data %s replacement key is %s", id, addr)
	}
	return conn, nil
}

// replacementKey is the first key of the message of the block's call
// for messageID id.
func replacementKey(params *value.Map, id string) string {
	list, _ := params.Map("protocols").Value("lava-multinode").([]any)
	for _, x := range list {
		m, _ := x.(*value.Map)
		if m == nil || m.String("action") != "prepare-scp-overlay" || fmt.Sprint(m.Value("messageID")) != id {
			continue
		}
		if keys := m.Map("message").Keys(); len(keys) > 0 {
			return keys[0]
		}
	}
	return ""
}

// CannotRun is empty: SshAuthorize runs (below), although it embeds leaf.
func (*SshAuthorize) CannotRun() string { return "" }

// Run authorizes the device's key for root in the overlay when the block
// asks for it (authorize: ssh, a secondary connection's host): the
// public half of the device's identity_file becomes the overlay's
// /root/.ssh/authorized_keys and sits in the results folder too. LAVA
// also copies the private key into the overlay; Basalt does not put a
// private key on a device.
func (a *SshAuthorize) Run(_ context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	ssh := a.Device().Map("actions").Map("deploy").Map("methods").Map("ssh")
	identity, _ := ssh.Value("identity_file").(string)
	if a.Params.String("to") == "ssh" || a.Params.String("authorize") != "ssh" || identity == "" {
		a.Log().Debugf("No authorisation required.")
		return conn, nil
	}
	if !filepath.IsAbs(identity) {
		return conn, pipeline.InfrastructureError("device ssh identity_file %q is not an absolute path", identity)
	}
	pub, err := os.ReadFile(identity + ".pub")
	if err != nil {
		return conn, pipeline.InfrastructureError("reading the public key of the device's identity_file: %v", err)
	}
	tree, _, err := overlayTree(&a.Base)
	if err != nil {
		return conn, err
	}
	if err := os.WriteFile(filepath.Join(tree, filepath.Base(identity)+".pub"), pub, 0o644); err != nil {
		return conn, pipeline.InfrastructureError("adding the public key to the overlay: %v", err)
	}
	a.Log().Infof("Adding SSH authorisation for %s.pub", filepath.Base(identity))
	dir := filepath.Join(filepath.Dir(tree), "root", ".ssh")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return conn, pipeline.InfrastructureError("adding the public key to the overlay: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		return conn, pipeline.InfrastructureError("adding the public key to the overlay: %v", err)
	}
	return conn, nil
}

// CannotRun refuses a rootfs to unpack (not written yet); without one
// the action does nothing, as in LAVA.
func (a *ExtractRootfs) CannotRun() string {
	if pipeline.Truthy(a.Params.Value("rootfs")) {
		return pipeline.NotWritten
	}
	return ""
}

// Run does nothing: CannotRun refused the block that had a rootfs.
func (a *ExtractRootfs) Run(_ context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	return conn, nil
}

// ExtractModules runs in tftp_run.go: the modules go into the ramdisk
// and the NFS root.
