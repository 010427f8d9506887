package boot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/process"
	"github.com/basalt-lava/basalt/internal/shlex"
	"github.com/basalt-lava/basalt/internal/value"
)

// Running an ssh device (LAVA's ssh device type, boot method ssh).
//
// Everything that reaches ssh and scp comes from the device
// configuration (host, port, user, identity_file, options) except, for
// a secondary connection, the address another job of the MultiNode group
// sent. The job never chooses the key or the options, and nothing is
// ever given to a shell on the dispatcher: ssh and scp are started with
// an argument vector, the address and the user are checked to be a
// host name or an IP address and a login name (so neither can become an
// option), and what is typed into the device's shell is quoted.

// Namespace data of the ssh actions (LAVA's keys, flattened).
const (
	// dataSshHost is the address a secondary connection reaches:
	// prepare-ssh's host_address.
	dataSshHost pipeline.DataKey = "prepare-ssh/ssh-connection/host_address"
	// dataScpDestination is where scp-deploy put the overlay on the
	// device, for scp-overlay-unpack.
	dataScpDestination pipeline.DataKey = "scp-deploy/scp-overlay-unpack/overlay"
)

// ScpHostAddress is the namespace data where prepare-scp-overlay keeps
// the address received for the MultiNode message id (a string): LAVA's
// prepare-scp-overlay/prepare-scp-overlay/<id>.
func ScpHostAddress(id string) pipeline.DataKey {
	return pipeline.DataKey("prepare-scp-overlay/prepare-scp-overlay/" + id)
}

// Extra ssh and scp options Basalt always adds after the device's:
// never prompt for anything (there is no one to answer; a refused key
// must end the connection, not wait for a password), and, as LAVA does,
// accept whatever host key the device has, without recording it.
var sshFixedOptions = []string{"-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "BatchMode=yes"}

// sshTarget is where and how to connect, from the device configuration
// and, for a secondary connection, the MultiNode group.
type sshTarget struct {
	host, user, port, identity string
	options                    []string
	secondary                  bool
}

// sshTargetOf works out the connection of the namespace.
func sshTargetOf(b *pipeline.Base) (*sshTarget, error) {
	v, _ := b.Device().Lookup("actions", "deploy", "methods", "ssh")
	ssh, ok := v.(*value.Map)
	if !ok {
		return nil, pipeline.JobError("missing ssh parameters in the device configuration (actions.deploy.methods.ssh)")
	}
	t := &sshTarget{user: "root", port: "22"}
	if u, ok := ssh.Get("user"); ok && pipeline.Truthy(u) {
		t.user = fmt.Sprint(u)
	}
	if !validLogin(t.user) {
		return nil, pipeline.InfrastructureError("device ssh user %q is not a login name", t.user)
	}
	if p, ok := ssh.Get("port"); ok {
		t.port = fmt.Sprint(p)
		n, err := strconv.Atoi(t.port)
		if err != nil || n < 1 || n > 65535 {
			return nil, pipeline.InfrastructureError("device ssh port %q is not a port number (1-65535)", t.port)
		}
	}
	if f, ok := ssh.Value("identity_file").(string); ok && f != "" {
		if !filepath.IsAbs(f) {
			// LAVA looks relative paths up inside its own Python package
			// (dynamic_vm_keys/lava, a key every LAVA install shares);
			// Basalt ships no key.
			return nil, pipeline.InfrastructureError("device ssh identity_file %q is not an absolute path: set ssh_identity_file in the device dictionary to the private key's path on this dispatcher", f)
		}
		t.identity = f
	}
	for i, o := range ssh.List("options") {
		s, ok := o.(string)
		if !ok {
			return nil, pipeline.InfrastructureError("device ssh options[%d] is %s, not a string", i, value.GoString(o))
		}
		t.options = append(t.options, s)
	}
	keys, _ := b.Data(ScpHostKeys).([]string)
	if len(keys) > 0 {
		t.secondary = true
		t.host, _ = b.Data(ScpHostAddress(keys[0])).(string)
		if t.host == "" {
			t.host, _ = b.Data(dataSshHost).(string)
		}
		if t.host == "" {
			return nil, pipeline.JobError("no address received for the secondary ssh connection (MultiNode message %q)", keys[0])
		}
		if !validHost(t.host) {
			return nil, pipeline.JobError("the address received in MultiNode message %q, %q, is not a host name or an IP address", keys[0], t.host)
		}
		return t, nil
	}
	t.host = fmt.Sprint(ssh.Value("host"))
	if h, _ := ssh.Value("host").(string); h == "" {
		return nil, pipeline.JobError("Unable to identify host address for the primary ssh connection (device actions.deploy.methods.ssh.host is empty)")
	}
	if !validHost(t.host) {
		return nil, pipeline.InfrastructureError("device ssh host %q is not a host name or an IP address", t.host)
	}
	return t, nil
}

// validHost accepts a host name or an IP address (v6 with its zone):
// letters, digits, '.', '-', ':', '%', '_', not starting with '-'. An
// '@', a space or a leading '-' could otherwise change what ssh does.
func validHost(h string) bool {
	if h == "" || len(h) > 253 || h[0] == '-' {
		return false
	}
	if net.ParseIP(h) != nil {
		return true
	}
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_', r == ':', r == '%':
		default:
			return false
		}
	}
	return true
}

// validLogin accepts a POSIX login name.
func validLogin(u string) bool {
	if u == "" || len(u) > 64 || u[0] == '-' {
		return false
	}
	for _, r := range u {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}

// sshArgv is the ssh command: the device's options, Basalt's fixed ones,
// the key, the port, a terminal (LAVA's pexpect gives ssh one, so the
// device's shell is interactive and prints its prompt), the login.
func (t *sshTarget) sshArgv() []string {
	argv := append([]string{"ssh"}, t.options...)
	argv = append(argv, sshFixedOptions...)
	if t.identity != "" {
		argv = append(argv, "-i", t.identity)
	}
	return append(argv, "-p", t.port, "-tt", "--", t.user+"@"+t.host)
}

// scpArgv copies src to dest on the device.
func (t *sshTarget) scpArgv(src, dest string) []string {
	argv := append([]string{"scp"}, t.options...)
	argv = append(argv, "-P", t.port)
	if t.identity != "" {
		argv = append(argv, "-i", t.identity)
	}
	argv = append(argv, sshFixedOptions...)
	host := t.host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return append(argv, "--", src, t.user+"@"+host+":"+dest)
}

func (t *sshTarget) String() string {
	return fmt.Sprintf("%s@%s port %s", t.user, t.host, t.port)
}

// connectSsh opens the namespace's ssh connection, or returns the one
// already open (LAVA's ConnectSsh.run, which Scp calls too), and waits
// for the shell prompt.
func connectSsh(ctx context.Context, b *pipeline.Base, params *value.Map) (*connection.Session, error) {
	if s, ok := b.Data(DataConnection).(*connection.Session); ok && s != nil {
		if exited, _ := s.Exited(); !exited {
			b.Log().Debugf("Already connected")
			return s, nil
		}
		s.Close()
	}
	t, err := sshTargetOf(b)
	if err != nil {
		return nil, err
	}
	if t.identity != "" {
		if _, err := os.Stat(t.identity); err != nil {
			return nil, pipeline.InfrastructureError("Cannot find SSH private key %s: %v", t.identity, err)
		}
	}
	argv := t.sshArgv()
	kind := "primary"
	if t.secondary {
		kind = "secondary"
	}
	b.Log().Infof("%s Connecting to device %s@%s (%s connection) using '%s'", b.Name, t.user, t.host, kind, shlex.Join(argv))
	opts := connection.Options{Log: b.Log(), LineSeparator: b.DataString(dataLineSep), StopGrace: process.GraceFrom(ctx)}
	s, err := connection.Start(argv, opts)
	if err != nil {
		return nil, pipeline.InfrastructureError("unable to start ssh: %v", err)
	}
	b.SetData(DataConnection, s)
	text := promptStrings(params)
	s.Prompts = text
	if len(text) == 0 {
		return s, nil
	}
	prompts, err := compile("prompt", text)
	if err != nil {
		return nil, err
	}
	if _, err := s.Expect(ctx, prompts...); err != nil {
		return nil, sshFailed(ctx, s, t, "the shell prompt", err)
	}
	// The prompt is the next action's to see (login-action waits for
	// one): ask for another.
	if err := s.SendLine(""); err != nil {
		return nil, sshFailed(ctx, s, t, "the shell prompt", err)
	}
	return s, nil
}

// statusMarker introduces the exit status sshRun has the shell print;
// statusLine matches it (the echo of the command itself holds "$?", not
// digits).
const statusMarker = "BASALT_SSH_STATUS"

var statusLine = regexp.MustCompile(statusMarker + `=(\d+)`)

// sshFailed is the error for an ssh connection that ended, or gave no
// prompt, while an action waited on it: the host could not be reached,
// refused the key, or closed the connection. It is an infrastructure
// failure (LAVA's ConnectSsh raises InfrastructureError), naming the
// host, the port and the key.
func sshFailed(ctx context.Context, s *connection.Session, t *sshTarget, waiting string, err error) error {
	if !errors.Is(err, connection.ErrClosed) {
		if ctx.Err() != nil {
			return err // the run loop names the action that timed out
		}
		return pipeline.InfrastructureError("ssh to %s: %v while waiting for %s", t, err, waiting)
	}
	select {
	case <-s.Done():
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
	}
	status := "still running"
	if exited, perr := s.Exited(); exited {
		status = exitStatus(perr)
	}
	last := ""
	if tail := s.Tail(3); len(tail) > 0 {
		last = "; its last output: " + strings.Join(tail, " | ")
	}
	why := sshWhy(ctx, t)
	return pipeline.InfrastructureError("ssh to %s ended (%s) while waiting for %s: %s%s", t, status, waiting, why, last)
}

// sshWhy tells an unreachable host from one that refused the login, by
// trying the port again.
func sshWhy(ctx context.Context, t *sshTarget) string {
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(dctx, "tcp", net.JoinHostPort(t.host, t.port))
	if err != nil {
		return fmt.Sprintf("the host cannot be reached (%v)", err)
	}
	c.Close()
	key := "no identity file"
	if t.identity != "" {
		key = "the key " + t.identity
	}
	return fmt.Sprintf("the host answers on port %s but refused the login of %s with %s", t.port, t.user, key)
}

// CannotRun is empty: ConnectSsh runs (below), although it embeds leaf.
func (*ConnectSsh) CannotRun() string { return "" }

// Run opens the ssh connection (unless scp-deploy already did) and
// makes it the namespace's connection.
func (a *ConnectSsh) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	s, err := connectSsh(ctx, &a.Base, a.Params)
	if err != nil {
		return conn, err
	}
	return s, nil
}

// Cleanup closes the connection on every path: after a failed attempt
// (the retry opens a new one) and at the end of the job.
func (a *ConnectSsh) Cleanup(ctx context.Context) error {
	closeSsh(&a.Base)
	return a.leaf.Cleanup(ctx)
}

func closeSsh(b *pipeline.Base) {
	if b.Job == nil {
		return
	}
	if s, ok := b.Data(DataConnection).(*connection.Session); ok && s != nil {
		if exited, _ := s.Exited(); !exited {
			b.Log().Debugf("closing %s", s.Describe())
		}
		s.Close()
	}
}

// CannotRun is empty: Scp runs (below), although it embeds leaf.
func (*Scp) CannotRun() string { return "" }

// Run copies the compressed overlay into the device's results folder's
// parent, after making that folder over the ssh connection, as LAVA's
// Scp does.
func (a *Scp) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	src := a.DataString(pipeline.DataCompressedOverlay)
	if src == "" {
		return conn, pipeline.JobError("%s: could not find details of '%s'", a.Name, a.Key)
	}
	t, err := sshTargetOf(&a.Base)
	if err != nil {
		return conn, err
	}
	if t.secondary {
		a.Log().Infof("Retrieving common data for prepare-scp-overlay: host %s", t.host)
	}
	results := a.DataString(pipeline.DataResultsDir)
	if results == "" || !path.IsAbs(results) {
		return conn, pipeline.Bug("no absolute results folder for the overlay (%q)", results)
	}
	dest := path.Join(results, filepath.Base(src))
	s, err := connectSsh(ctx, &a.Base, a.Params)
	if err != nil {
		return conn, err
	}
	a.Log().Debugf("Create the remote directory %s", results)
	if err := sshRun(ctx, s, t, "mkdir -p "+shlex.Quote(results)); err != nil {
		return s, err
	}
	argv := t.scpArgv(src, dest)
	a.Log().Infof("Copying %s using %s to %s", a.Key, shlex.Join(argv), t.host)
	out := process.NewLineWriter(func(l string) { a.Log().Debugf("scp: %s", l) })
	err = process.Run(ctx, process.Spec{Argv: argv, Stdout: out, Stderr: out})
	out.Flush()
	if err != nil {
		if ctx.Err() != nil {
			return s, ctx.Err()
		}
		return s, pipeline.InfrastructureError("Unable to copy %s to %s (%v): %s", a.Key, t, err, sshWhy(ctx, t))
	}
	a.SetData(dataScpDestination, dest)
	return s, nil
}

// Cleanup closes the connection, as ConnectSsh's does.
func (a *Scp) Cleanup(ctx context.Context) error {
	closeSsh(&a.Base)
	return a.leaf.Cleanup(ctx)
}

// sshRun types cmd into the device's shell, followed by the printing of
// its exit status, and fails unless that is 0. The prompt that follows
// is left for the next action.
func sshRun(ctx context.Context, s *connection.Session, t *sshTarget, cmd string) error {
	if err := s.SendLine(cmd + "; echo " + statusMarker + "=$?"); err != nil {
		return pipeline.InfrastructureError("unable to write to the ssh connection to %s: %v", t, err)
	}
	m, err := s.Expect(ctx, statusLine)
	if err != nil {
		return sshFailed(ctx, s, t, "the end of "+cmd, err)
	}
	if m.Groups[1] != "0" {
		return pipeline.InfrastructureError("%q failed on %s with exit status %s", cmd, t, m.Groups[1])
	}
	return nil
}

// PrepareSsh is LAVA's PrepareSsh (prepare-ssh): for a secondary
// connection (the block names parameters.hostID), the address the
// MultiNode message hostID carried under host_key.
type PrepareSsh struct{ leaf }

// NewPrepareSsh returns prepare-ssh.
func NewPrepareSsh() *PrepareSsh {
	return &PrepareSsh{leaf{pipeline.NewBase("PrepareSsh", "prepare-ssh",
		"determine which address to use for primary or secondary connections",
		"set the host address of the ssh connection")}}
}

// CannotRun is empty: PrepareSsh runs (below).
func (*PrepareSsh) CannotRun() string { return "" }

// Run keeps the secondary connection's address.
func (a *PrepareSsh) Run(_ context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	p := a.Params.Map("parameters")
	id, ok := p.Value("hostID").(string)
	if !ok || id == "" {
		return conn, nil
	}
	data, _ := a.Data(pipeline.DataMultinode(id)).(*value.Map)
	if data == nil {
		return conn, pipeline.JobError("Unable to retrieve %s - missing ssh deploy?", id)
	}
	key, _ := p.Value("host_key").(string)
	addr, ok := data.Value(key).(string)
	if !ok || addr == "" {
		return conn, pipeline.JobError("MultiNode message %s has no %q for the ssh host (it has: %s)", id, key, strings.Join(data.Keys(), ", "))
	}
	if !validHost(addr) {
		return conn, pipeline.JobError("the address in MultiNode message %s, %q, is not a host name or an IP address", id, addr)
	}
	a.SetData(dataSshHost, addr)
	return conn, nil
}

// ScpOverlayUnpack is LAVA's ScpOverlayUnpack (scp-overlay-unpack):
// unpacks the copied overlay next to the results folder on the device.
type ScpOverlayUnpack struct{ leaf }

// NewScpOverlayUnpack returns scp-overlay-unpack.
func NewScpOverlayUnpack() *ScpOverlayUnpack {
	return &ScpOverlayUnpack{leaf{pipeline.NewBase("ScpOverlayUnpack", "scp-overlay-unpack",
		"unpack the overlay over an existing ssh connection", "unpack the overlay on the remote device")}}
}

// CannotRun is empty: ScpOverlayUnpack runs (below).
func (*ScpOverlayUnpack) CannotRun() string { return "" }

// Run untars the overlay on the device, every word quoted, and checks
// tar's exit status.
func (a *ScpOverlayUnpack) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	s, ok := conn.(*connection.Session)
	if !ok || s == nil {
		return conn, pipeline.Bug("Cannot unpack, no connection available.")
	}
	file := a.DataString(dataScpDestination)
	results := a.DataString(pipeline.DataResultsDir)
	if file == "" || results == "" {
		return conn, pipeline.Bug("no copied overlay to unpack")
	}
	words := []string{"tar"}
	if f := a.tarFlags(); f != "" {
		flags, err := shlex.Split(f)
		if err != nil {
			return conn, pipeline.JobError("tar_flags %q: %v", f, err)
		}
		words = append(words, flags...)
	}
	words = append(words, "-C", path.Dir(results), "-xzf", file)
	t := &sshTarget{host: "the device"}
	if tt, err := sshTargetOf(&a.Base); err == nil {
		t = tt
	}
	// The status is printed and read back: a failed unpack must not pass
	// for a prompt.
	if err := sshRun(ctx, s, t, shlex.Join(words)); err != nil {
		return conn, err
	}
	return conn, nil
}

// tarFlags are the tar_flags of the deployment data of the namespace's
// last deploy (LAVA's scp-overlay/tar_flags): GNU tar's "--warning
// no-timestamp" for most systems.
func (a *ScpOverlayUnpack) tarFlags() string {
	if a.Job == nil {
		return ""
	}
	flags := ""
	for _, item := range a.Job.Params.List("actions") {
		blk, _ := item.(*value.Map)
		dp := blk.Map("deploy")
		if dp == nil || pipeline.Namespace(dp) != a.Namespace() {
			continue
		}
		flags, _ = dp.Map("deployment_data").Value("tar_flags").(string)
	}
	return flags
}
