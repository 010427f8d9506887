package deploy

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/basalt-lava/basalt/internal/actions/boot"
	"github.com/basalt-lava/basalt/internal/lxc"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/process"
	"github.com/basalt-lava/basalt/internal/value"
)

// deploy to: lxc (LAVA's Lxc strategy, dropped by LAVA in 2026 and kept
// by Basalt): creates the container the job's lava-lxc protocol
// describes, installs packages in it when asked, and copies the test
// overlay into its root file system.

func init() {
	pipeline.Register(&strategy{
		name:    "Lxc",
		accepts: pipeline.MethodCheck{Section: "deploy", Method: "lxc"}.AcceptsBlockFirst,
		action:  func(*value.Map) pipeline.Action { return NewLxcDeploy() },
	})
}

// LxcDeploy is LAVA's LxcAction (lxc-deploy).
type LxcDeploy struct{ pipeline.Base }

var _ pipeline.Action = (*LxcDeploy)(nil)

// NewLxcDeploy returns lxc-deploy.
func NewLxcDeploy() *LxcDeploy {
	return &LxcDeploy{pipeline.NewBase("LxcAction", "lxc-deploy",
		"download files and deploy using lxc", "lxc deployment")}
}

// Populate creates the container, installs the block's packages in it
// (start, apt-get update and install, stop) and prepares the overlay,
// in LAVA's order.
func (a *LxcDeploy) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(NewLxcCreate(), nil)
	p.Add(NewLxcCreateUdevRule(), nil)
	if params.Has("packages") {
		p.Add(boot.NewLxcStart(), nil)
		p.Add(NewLxcApt("LxcAptUpdateAction", "lxc-apt-update", "lxc apt update action", "lxc apt update"), nil)
		p.Add(NewLxcApt("LxcAptInstallAction", "lxc-apt-install", "lxc apt install packages action", "lxc apt install"), nil)
		p.Add(boot.NewLxcStop(), nil)
	}
	if a.TestNeedsDeployment(params) {
		p.Add(NewDeployDeviceEnv(), nil)
	}
	if a.TestNeedsOverlay(params) {
		p.Add(NewOverlay(), nil)
		p.Add(NewApplyLxcOverlay(), nil)
	}
}

// Validate needs the job's lava-lxc protocol, well formed, and warns
// when lxc is missing on the dispatcher.
func (a *LxcDeploy) Validate() {
	a.Base.Validate()
	if a.Job == nil {
		return
	}
	if !lxc.Requested(a.Job.Params) {
		a.Errorf("Missing protocol '%s'", lxc.ProtocolName)
		return
	}
	c, err := lxc.FromJob(a.Job.Params, a.Job.ID)
	if err != nil {
		a.Errorf("%v", err)
		return
	}
	if p := a.LocalFiles(); !p.LXC() {
		a.Errorf("LXC containers are not allowed on this %s: they are privileged, so a job's tests would run as its root (the worker's --allow-lxc, for a lab whose submitters are all trusted)", p.Host())
	}
	switch c.Template {
	case "download":
		a.Warnf("template download fetches its image from the image server of the worker's --lxc-image-server (images.linuxcontainers.org when none is set): the job fails unless the worker reaches it (busybox needs no network)")
	case "debian", "ubuntu":
		a.Warnf("template %s runs debootstrap against %s, or reuses LXC's cache (/var/cache/lxc/%s) from an earlier job (busybox needs no network)",
			c.Template, orDefault(c.Mirror, "the template's default mirror"), c.Template)
	}
	warnMissingTool(&a.Base, "lxc-create")
	// A foreign architecture that this host cannot run is said now; the
	// run checks again before creating anything (the job may be
	// validated elsewhere than where it runs).
	if _, err := lxc.CheckArch(c, ""); err != nil {
		a.Warnf("%v", err)
	}
	if c.Template == "busybox" {
		warnMissingTool(&a.Base, "busybox")
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// LxcCreate is LAVA's LxcCreateAction (lxc-create-action).
type LxcCreate struct{ pipeline.Base }

// NewLxcCreate returns lxc-create-action.
func NewLxcCreate() *LxcCreate {
	return &LxcCreate{pipeline.NewBase("LxcCreateAction", "lxc-create-action",
		"create lxc action", "create lxc")}
}

// Run creates the container, or reuses it when it persists from an
// earlier job. A container of the same name that exists without persist
// is an InfrastructureError, as in LAVA (and, unlike LAVA, is left
// alone). A template that fails is an InfrastructureError too: the
// template's download or debootstrap is the dispatcher's business.
func (a *LxcCreate) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	proto, err := lxc.Of(a.Job)
	if err != nil {
		return conn, err
	}
	c := proto.Config
	// A foreign architecture needs its binfmt_misc handler: without it
	// the container would be made and then fail to start, or worse start
	// and fail on its first program. Checked before anything exists.
	note, err := lxc.CheckArch(c, "")
	if err != nil {
		return conn, pipeline.ConfigurationError("%v", err)
	}
	if note != "" {
		a.Log().Infof("%s", note)
	}
	proto.LXCPath = lxc.Path(ctx)
	exists, err := lxc.Exists(ctx, c.Name)
	if err != nil {
		return conn, pipeline.InfrastructureError("unable to ask lxc-info about container %s: %v", c.Name, err)
	}
	a.SetResult("status", c.Name)
	if exists {
		if !c.Persist {
			return conn, pipeline.InfrastructureError("lxc container %q already exists", c.Name)
		}
		proto.Own(false)
		a.Log().Debugf("Persistent container exists")
		return conn, nil
	}
	dir, err := scratchDir(&a.Base)
	if err != nil {
		return conn, err
	}
	conf := filepath.Join(dir, "lxc.conf")
	if err := os.WriteFile(conf, []byte(lxc.BaseConfig), 0o644); err != nil {
		return conn, pipeline.InfrastructureError("writing the container's configuration: %v", err)
	}
	switch {
	case c.Template == "download":
		a.Log().Infof("the download template fetches %s %s %s from %s", c.Distribution, c.Release, orDefault(c.Arch, "(the host's arch)"), proto.Images.Describe())
	case c.NeedsNetwork():
		a.Log().Infof("the %s template downloads from the mirror", c.Template)
	}
	// From here a failure may leave a half-made container: the protocol
	// tears down whatever is there.
	proto.Own(true)
	out, err := proto.Images.Create(ctx, a.Log(), c, conf, dir)
	if err != nil {
		if ctx.Err() != nil {
			return conn, err
		}
		what := "template " + c.Template
		if c.Template == "download" {
			// lxc-create -q hides the template's own message (no such
			// image, server unreachable): say what was asked of whom.
			what = fmt.Sprintf("template download, image %s %s %s from %s", c.Distribution, c.Release, orDefault(c.Arch, "of the host's arch"), proto.Images.Describe())
		}
		hint := ""
		if !c.Verbose {
			hint = " (the protocol's verbose: true shows the template's own messages)"
		}
		return conn, pipeline.InfrastructureError("Unable to create lxc container %s (%s): %v%s%s", c.Name, what, err, templateError(out), hint)
	}
	a.Log().Debugf("Container created successfully")
	return conn, nil
}

// templateError returns ": " and the template's own last "ERROR:" line
// of out (what LXC's templates print when they fail: "ERROR: Couldn't
// find a matching image"), else lastLine(out).
func templateError(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); strings.HasPrefix(l, "ERROR:") {
			return ": " + l
		}
	}
	return lastLine(out)
}

// lastLine returns ": " and the last line of out, or "".
func lastLine(out string) string {
	out = strings.TrimSpace(out)
	if out == "" {
		return ""
	}
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	return ": " + out
}

// LxcCreateUdevRule is LAVA's LxcCreateUdevRuleAction: it maps the
// device's USB devices (device_info) into the container with udev rules.
// Basalt has no such devices to map; the action runs and says so when
// the device lists some.
type LxcCreateUdevRule struct{ pipeline.Base }

// NewLxcCreateUdevRule returns lxc-create-udev-rule-action.
func NewLxcCreateUdevRule() *LxcCreateUdevRule {
	return &LxcCreateUdevRule{pipeline.NewBase("LxcCreateUdevRuleAction", "lxc-create-udev-rule-action",
		"create lxc udev rule action", "create lxc udev rule")}
}

// Validate checks device_info as LAVA does.
func (a *LxcCreateUdevRule) Validate() {
	a.Base.Validate()
	v, ok := a.Device().Get("device_info")
	if !ok {
		return
	}
	if _, isList := v.([]any); !isList {
		a.Errorf("device_info unset")
	}
}

// CannotRun refuses a device whose USB devices would have to be mapped
// into the container: Basalt does not write udev rules yet.
func (a *LxcCreateUdevRule) CannotRun() string {
	if l, _ := a.Device().Value("device_info").([]any); len(l) > 0 {
		return "mapping the device's USB devices (device_info) into the LXC container not written yet"
	}
	return ""
}

// Run does nothing: there is no device_info (CannotRun).
func (a *LxcCreateUdevRule) Run(_ context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	return conn, nil
}

// LxcApt is LAVA's LxcAptUpdateAction and LxcAptInstallAction: apt-get
// update, or apt-get install of the block's packages, in the container.
type LxcApt struct{ pipeline.Base }

// NewLxcApt returns lxc-apt-update or lxc-apt-install.
func NewLxcApt(class, name, description, summary string) *LxcApt {
	a := &LxcApt{pipeline.NewBase(class, name, description, summary)}
	return a
}

// CannotRun refuses installing packages: apt-get in the container needs
// its network, and Basalt's containers have none (lxc.net.0.type =
// empty) until a network for them is written.
func (*LxcApt) CannotRun() string {
	return "installing packages in the LXC container (deploy packages:) needs a network for the container, not written yet (Basalt's containers have lxc.net.0.type = empty)"
}

// maxPackages bounds the packages a block may install.
const maxPackages = 200

// Validate checks the package names: each is an argument of apt-get, so
// none may look like an option.
func (a *LxcApt) Validate() {
	a.Base.Validate()
	if a.Name != "lxc-apt-install" {
		return
	}
	list, ok := a.Params.Value("packages").([]any)
	if !ok {
		a.Errorf("%s package list unavailable", a.Name)
		return
	}
	if len(list) > maxPackages {
		a.Errorf("packages: %d packages, more than the limit of %d", len(list), maxPackages)
	}
	for i, p := range list {
		s, _ := p.(string)
		if !lxcPackageRe(s) {
			a.Errorf("packages[%d]: %s is not a Debian package name (optionally =version or /release)", i, value.GoString(p))
		}
	}
}

// lxcPackageRe accepts a Debian package name with an optional =version
// or /release, never starting with "-".
func lxcPackageRe(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	c := s[0]
	if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("+-.=/:~_", r):
		default:
			return false
		}
	}
	return true
}

// Run runs apt-get in the container; LAVA's JobError when it fails.
func (a *LxcApt) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	proto, err := lxc.Of(a.Job)
	if err != nil {
		return conn, err
	}
	args := []string{"-n", proto.Config.Name, "--clear-env", "--set-var", "DEBIAN_FRONTEND=noninteractive",
		"--set-var", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "--", "apt-get", "-y", "-q"}
	what := "apt-get update"
	if a.Name == "lxc-apt-install" {
		args = append(args, "install", "--")
		for _, p := range a.Params.List("packages") {
			args = append(args, p.(string))
		}
		what = "install using apt-get"
	} else {
		args = append(args, "update")
	}
	if out, err := lxc.Command(ctx, a.Log(), "lxc-attach", args...); err != nil {
		if ctx.Err() != nil {
			return conn, err
		}
		return conn, pipeline.JobError("Unable to %s in lxc container: %v%s", what, err, lastLine(out))
	}
	return conn, nil
}

// ApplyLxcOverlay is LAVA's ApplyLxcOverlay (apply-lxc-overlay): the
// overlay tarball unpacked into the container's root file system.
type ApplyLxcOverlay struct{ pipeline.Base }

// NewApplyLxcOverlay returns apply-lxc-overlay.
func NewApplyLxcOverlay() *ApplyLxcOverlay {
	a := &ApplyLxcOverlay{pipeline.NewBase("ApplyLxcOverlay", "apply-lxc-overlay",
		"apply the overlay to the container by copying", "apply overlay on the container")}
	a.TimeoutClass = pipeline.ClassInfrastructure
	return a
}

// Validate warns when tar is missing.
func (a *ApplyLxcOverlay) Validate() {
	a.Base.Validate()
	warnMissingTool(&a.Base, "tar")
}

// Run unpacks the overlay into the container's root: the results folder
// (/lava-<job id>) is removed first, since a persistent container may
// hold an earlier job's.
func (a *ApplyLxcOverlay) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	file := a.DataString(dataCompressedFile)
	if file == "" {
		a.Log().Debugf("skipped %s", a.Name)
		return conn, nil
	}
	proto, err := lxc.Of(a.Job)
	if err != nil {
		return conn, err
	}
	rootfs, err := lxc.Rootfs(proto.LXCPath, proto.Config.Name)
	if err != nil {
		return conn, pipeline.InfrastructureError("Lxc container rootfs not found: %v", err)
	}
	results := a.DataString(dataResultsDir)
	if results != "" && path.Clean(results) != "/" {
		// The folders above it are the container's: one that is a
		// symbolic link (a persistent container's root made it) must
		// not lead the removal outside the container.
		if err := noLinkBelow(rootfs, path.Dir(path.Clean(results))); err != nil {
			return conn, pipeline.InfrastructureError("the container's %s: %v", results, err)
		}
		if err := os.RemoveAll(filepath.Join(rootfs, path.Clean(results))); err != nil {
			return conn, pipeline.InfrastructureError("removing the previous overlay: %v", err)
		}
	}
	argv := []string{"tar", "--warning", "no-timestamp", "-C", rootfs, "-xaf", file}
	a.Log().Debugf("Calling: %s", strings.Join(argv, " "))
	var out strings.Builder
	if err := process.Run(ctx, process.Spec{Argv: argv, Stdout: &out, Stderr: &out}); err != nil {
		if ctx.Err() != nil {
			return conn, err
		}
		return conn, pipeline.JobError("Unable to untar overlay: %v: %s", err, strings.TrimSpace(out.String()))
	}
	return conn, nil
}

// noLinkBelow fails when a folder on the way from root to root/dir is a
// symbolic link.
func noLinkBelow(root, dir string) error {
	cur := root
	for _, part := range strings.Split(strings.Trim(path.Clean(dir), "/"), "/") {
		if part == "" {
			continue
		}
		cur = filepath.Join(cur, part)
		st, err := os.Lstat(cur)
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if st.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("%s is a symbolic link", cur)
		}
	}
	return nil
}
