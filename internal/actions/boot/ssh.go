package boot

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "SshLogin",
		// The block's method need only contain "ssh", as in LAVA.
		accepts: func(device, params *value.Map) (bool, string) {
			check := pipeline.MethodCheck{Section: "boot", Method: "ssh",
				NotListed: `"ssh" not in device configuration boot methods`}
			if ok, why := check.Listed(device); !ok {
				return false, why
			}
			if !strings.Contains(params.String("method"), "ssh") {
				return false, `"ssh" not in "method"`
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewSshLogin() },
	})
	pipeline.Register(&strategy{
		name: "Schroot",
		// Like ssh, the block's method need only contain "schroot".
		accepts: func(device, params *value.Map) (bool, string) {
			if ok, why := (pipeline.MethodCheck{Section: "boot", Method: "schroot"}).Listed(device); !ok {
				return false, why
			}
			if !strings.Contains(params.String("method"), "schroot") {
				return false, `"method" was not "schroot"`
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewSchrootLogin() },
	})
}

// SchrootLogin is LAVA's SchrootAction (schroot-login, boot method
// schroot): enters a schroot session over the connection already open
// (an ssh login before it).
type SchrootLogin struct{ leaf }

// NewSchrootLogin returns schroot-login.
func NewSchrootLogin() *SchrootLogin {
	return &SchrootLogin{leaf{pipeline.NewBase("SchrootAction", "schroot-login",
		"enter schroot using existing connection", "enter specified schroot")}}
}

// Validate needs, when the block names a schroot, the device's schroot
// method with its command and name, and the schroot tool.
func (a *SchrootLogin) Validate() {
	a.leaf.Validate()
	if !a.Params.Has("schroot") {
		return
	}
	methods := pipeline.DeviceMethods(a.Device(), "boot")
	if !methods.Has("schroot") {
		a.Errorf("no schroot support in device boot methods")
		return
	}
	warnMissingTool(&a.Base, "schroot")
	switch sc := methods.Map("schroot"); {
	case !sc.Has("command"):
		a.Errorf("missing schroot command in device configuration")
	case !sc.Has("name"):
		a.Errorf("missing schroot name in device configuration")
	}
}

// SshLogin is LAVA's SshAction (login-ssh): copies the overlay over scp,
// connects over ssh, logs in and unpacks the overlay.
type SshLogin struct{ pipeline.Base }

var _ pipeline.Action = (*SshLogin)(nil)

// NewSshLogin returns login-ssh, a retry action as in LAVA: failure_retry
// (or the device's failure_retry constant) repeats the whole login, and
// the attempts share its timeout.
func NewSshLogin() *SshLogin {
	a := &SshLogin{pipeline.NewBase("SshAction", "login-ssh",
		"connect over ssh and ensure a shell is found", "login over ssh")}
	a.Retry = true
	return a
}

// Populate adds LAVA's fixed sequence; auto-login does not wait for a
// kernel, nothing boots.
func (a *SshLogin) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(NewScp("overlay"), nil)
	p.Add(NewPrepareSsh(), nil)
	p.Add(NewConnectSsh(), nil)
	p.Add(NewAutoLogin(false), nil)
	p.Add(NewExpectShell(), nil)
	p.Add(NewExportDeviceEnv(), nil)
	p.Add(NewScpOverlayUnpack(), nil)
}

// Scp copies a deployed file (the overlay) to the device.
type Scp struct {
	leaf
	Key string
}

// NewScp returns scp-deploy for the namespace data key.
func NewScp(key string) *Scp {
	a := &Scp{leaf: leaf{pipeline.NewBase("Scp", "scp-deploy",
		"copy a file to a known device using scp", "scp over the ssh connection")}, Key: key}
	// Scp is a ConnectSsh in LAVA, with its timeout_exception.
	a.TimeoutClass = pipeline.ClassInfrastructure
	return a
}

// ScpHostKeys is the namespace data where prepare-scp-overlay leaves the
// MultiNode message ids that will carry the address of the device to
// copy to (a secondary connection); none means the device's own ssh
// host (the primary connection).
const ScpHostKeys = "prepare-scp-overlay/prepare-scp-overlay/overlay"

// Validate checks, as LAVA's Scp does after ConnectSsh's checks: ssh deploy
// and boot methods on the device; for a primary connection the device's
// ssh host, for a secondary one exactly one MultiNode message carrying
// the address; a numeric port.
func (a *Scp) Validate() {
	a.leaf.Validate()
	validateSshParams(&a.Base)
	warnMissingTool(&a.Base, "scp")
	dev := a.Device()
	if !pipeline.DeviceHasMethod(dev, "deploy", "ssh") {
		a.Errorf("unable to use %s without ssh deployment", a.Name)
	}
	if !pipeline.DeviceHasMethod(dev, "boot", "ssh") {
		a.Errorf("unable to use %s without ssh boot", a.Name)
	}
	ssh := pipeline.DeviceMethods(dev, "deploy").Map("ssh")
	keys, _ := a.Data(ScpHostKeys).([]string)
	primary := ssh.Has("host")
	if len(keys) > 0 {
		primary = false
	} else if !ssh.Has("host") {
		a.Errorf("invalid device or job configuration, missing host")
	}
	if !primary && len(keys) != 1 {
		a.Errorf("invalid number of host_keys")
	}
	if primary && !pipeline.Truthy(ssh.Value("host")) {
		a.Errorf("unable to retrieve ssh_host address for primary connection")
	}
	if port, ok := ssh.Get("port"); ok && !isDigits(fmt.Sprint(port)) {
		a.Errorf("port was set but was not a digit")
	}
}

// isDigits is Python's str.isdigit for ASCII: at least one digit, nothing
// else.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// ConnectSsh is LAVA's ConnectSsh (ssh-connection).
type ConnectSsh struct{ leaf }

// NewConnectSsh returns ssh-connection.
func NewConnectSsh() *ConnectSsh {
	a := &ConnectSsh{leaf{pipeline.NewBase("ConnectSsh", "ssh-connection",
		"login to a known device using ssh", "make an ssh connection to a device")}}
	// LAVA's timeout_exception: a device that does not answer in time is
	// the lab's problem.
	a.TimeoutClass = pipeline.ClassInfrastructure
	return a
}

// Validate needs the device's ssh parameters and the ssh tool, and an
// identity file given as an absolute path: LAVA resolves a relative one
// inside its own package (dynamic_vm_keys/lava, a key pair every LAVA
// install shares), which Basalt neither has nor ships. Whether the file
// exists is checked when the job runs, on the worker that has it.
func (a *ConnectSsh) Validate() {
	a.leaf.Validate()
	validateSshParams(&a.Base)
	warnMissingTool(&a.Base, "ssh")
	v, _ := a.Device().Lookup("actions", "deploy", "methods", "ssh", "identity_file")
	if f, ok := v.(string); ok && f != "" && !filepath.IsAbs(f) {
		a.Errorf("device ssh identity_file %q is not an absolute path: Basalt has no %s; set ssh_identity_file in the device dictionary to the private key's path on the worker", f, f)
	}
}

// validateSshParams checks the device's ssh block: an identity file and
// options as a list, and a serial boot connection, as LAVA's ConnectSsh
// does.
func validateSshParams(b *pipeline.Base) {
	c, _ := b.Device().Lookup("actions", "boot", "connections")
	if conns, _ := c.(*value.Map); !conns.Has("serial") {
		b.Errorf("device not configured to support serial connection")
	}
	v, _ := b.Device().Lookup("actions", "deploy", "methods", "ssh")
	ssh, ok := v.(*value.Map)
	if !ok {
		b.Errorf("missing ssh parameters in the device configuration (actions.deploy.methods.ssh)")
		return
	}
	if _, ok := ssh.Value("identity_file").(string); !ok {
		b.Errorf("missing identity_file in the device ssh parameters")
	}
	if o, ok := ssh.Get("options"); ok {
		if _, isList := o.([]any); !isList {
			b.Errorf("ssh options must be a list")
		}
	}
}
