package boot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/process"
	"github.com/basalt-lava/basalt/internal/shlex"
	"github.com/basalt-lava/basalt/internal/value"
)

// Namespace data this file reads and writes (pipeline/datakeys.go).
const (
	// DataConnection holds the live console of a namespace (LAVA's
	// shared/shared/connection); finalize closes what it finds there.
	DataConnection = pipeline.DataConnection
	// DataShell holds the console on which a shell prompt was reached.
	DataShell = pipeline.DataShell
	// DataQemuSession holds the console of the QEMU this namespace
	// started (pipeline.DataQemuSession).
	DataQemuSession = pipeline.DataQemuSession
	// DataPreCommands are the commands the test shell runs before
	// lava-test-runner: mounting the overlay disk.
	DataPreCommands = pipeline.DataPreCommands

	dataGuestFile   = pipeline.DataGuestFile
	dataGuestFormat = pipeline.DataGuestFormat
	dataGuestUUID   = pipeline.DataGuestUUID
	dataResultsDir  = pipeline.DataResultsDir
	dataLineSep     = pipeline.DataEnvLineSep
)

// x86Arches take the overlay disk on IDE; other machines have no IDE
// controller, so virtio (LAVA's qemu_guest_fs_interface).
var x86Arches = []string{"amd64", "x86_64", "i386"}

// CannotRun refuses QEMU in a docker container (boot docker:), which
// is not written yet; QEMU on the dispatcher is.
func (a *CallQemu) CannotRun() string {
	if a.Params.Has("docker") {
		return "QEMU in a docker container (boot docker:) not written yet"
	}
	return ""
}

// Run builds the QEMU command line and starts QEMU on a console session,
// which becomes the job's connection. Nothing in the command goes
// through a shell: the device's options and the job's image_args are
// split into arguments as pexpect would split LAVA's command string,
// and the downloaded paths are put into the arguments after splitting,
// so a path can never become two arguments or an option.
func (a *CallQemu) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	// A second boot in the namespace replaces the first QEMU.
	if old, ok := a.Data(DataConnection).(pipeline.Connection); ok {
		old.Close()
	}
	if a.Params.Has("docker") {
		return conn, pipeline.JobError("running QEMU in a docker container (boot docker:) is not supported by basalt run")
	}
	argv, err := a.commandLine()
	if err != nil {
		return conn, err
	}
	a.recordVersion(ctx, argv[0])
	a.Log().Infof("Boot command: %s", shlex.Join(argv))
	opts := connection.Options{Log: a.Log(), LineSeparator: a.DataString(dataLineSep), StopGrace: process.GraceFrom(ctx)}
	if ms, ok := pipeline.ToInt(a.Device().Map("character_delays").Value("boot")); ok && ms > 0 {
		opts.CharDelay = time.Duration(ms) * time.Millisecond
	}
	s, err := connection.Start(argv, opts)
	if err != nil {
		return conn, pipeline.InfrastructureError("unable to start QEMU (%s): %v", argv[0], err)
	}
	s.Prompts = promptStrings(a.Params)
	a.SetData(DataConnection, s)
	a.SetData(DataQemuSession, s)
	a.Log().Debugf("started %s", s.Describe())
	return s, nil
}

// Cleanup stops QEMU and reaps it, on every path: after a failed boot
// attempt (the retry starts a new QEMU), and at the end of the job.
// Closing a session twice is harmless.
func (a *CallQemu) Cleanup(ctx context.Context) error {
	if a.Job == nil {
		return nil
	}
	s, ok := a.Data(DataConnection).(*connection.Session)
	if !ok {
		return a.leaf.Cleanup(ctx)
	}
	if exited, _ := s.Exited(); !exited {
		a.Log().Debugf("stopping %s", s.Describe())
	}
	s.Close()
	return a.leaf.Cleanup(ctx)
}

// bootParameters returns the device's parameters for the block's boot
// method: qemu or qemu-nfs (monitor boots use qemu's).
func (a *CallQemu) bootParameters() *value.Map {
	methods := pipeline.DeviceMethods(a.Device(), "boot")
	for _, m := range []string{a.Params.String("method"), "qemu", "qemu-nfs"} {
		if methods.Has(m) {
			return methods.Map(m).Map("parameters")
		}
	}
	return nil
}

// commandLine is LAVA's sub_command: the QEMU binary, the device's
// options and extra, each image's image_arg, the NFS root for qemu-nfs
// and the overlay disk.
func (a *CallQemu) commandLine() ([]string, error) {
	bp := a.bootParameters()
	cmd, _ := bp.Value("command").(string)
	if cmd == "" {
		return nil, pipeline.ConfigurationError("no QEMU binary command in the device's boot method parameters")
	}
	bin, err := exec.LookPath(cmd)
	if err != nil {
		return nil, pipeline.InfrastructureError("cannot find command '%s' in $PATH", cmd)
	}
	argv := []string{bin}
	for _, key := range []string{"options", "extra"} {
		args, err := deviceArgs(bp.Value(key), key)
		if err != nil {
			return nil, err
		}
		argv = append(argv, args...)
	}
	subs, err := a.substitutions()
	if err != nil {
		return nil, err
	}
	for _, img := range subs.args {
		args, err := shlex.Split(img.arg)
		if err != nil {
			return nil, pipeline.JobError("image_arg of %s: %v", img.label, err)
		}
		for _, arg := range args {
			argv = append(argv, substitute(arg, subs.values))
		}
	}
	if p := a.LocalFiles(); p != nil {
		// The job's image_args and context values are in there
		// (qemu_policy.go); the drive and NFS root below are Basalt's.
		if err := checkQemuArgs(argv[1:], p, a.Job.Runtime.TmpDir); err != nil {
			return nil, err
		}
	}
	if a.Params.String("method") == "qemu-nfs" {
		app, err := a.nfsAppend(subs.values)
		if err != nil {
			return nil, err
		}
		argv = append(argv, "--append", app)
	} else if guest := a.DataString(dataGuestFile); guest != "" {
		drive, err := a.guestDrive(guest)
		if err != nil {
			return nil, err
		}
		argv = append(argv, "-drive", drive)
	}
	return argv, nil
}

// deviceArgs splits the device's options or extra: a list whose entries
// may each hold several arguments ("-net nic -net user").
func deviceArgs(v any, key string) ([]string, error) {
	var items []any
	switch t := v.(type) {
	case nil:
		return nil, nil
	case []any:
		items = t
	case string:
		items = []any{t}
	default:
		return nil, pipeline.ConfigurationError("device boot parameter %s must be a list, not %T", key, v)
	}
	var out []string
	for _, it := range items {
		if it == nil {
			continue
		}
		s, ok := it.(string)
		if !ok {
			s = fmt.Sprint(it)
		}
		args, err := shlex.Split(s)
		if err != nil {
			return nil, pipeline.ConfigurationError("device boot parameter %s: %v", key, err)
		}
		out = append(out, args...)
	}
	return out, nil
}

type imageArg struct{ label, arg string }

type substitutions struct {
	args   []imageArg        // image_args in the order of the images
	values map[string]string // {label} → path
}

// substitutions collects, for every image deployed in this namespace
// before this boot, its image_arg and downloaded file.
func (a *CallQemu) substitutions() (substitutions, error) {
	subs := substitutions{values: map[string]string{}}
	ns := a.Namespace()
	var labels []string
	for _, item := range a.Job.Params.List("actions") {
		blk, _ := item.(*value.Map)
		if blk.Map("boot") == a.Params {
			break
		}
		dp := blk.Map("deploy")
		if dp == nil || pipeline.Namespace(dp) != ns {
			continue
		}
		for _, label := range dp.Map("images").Keys() {
			if !slices.Contains(labels, label) {
				labels = append(labels, label)
			}
		}
	}
	for _, label := range labels {
		if slices.Contains(noImageArg, label) {
			continue
		}
		file := a.DataString(pipeline.DataDownload(label, pipeline.DownloadFile))
		arg := a.DataString(pipeline.DataDownload(label, pipeline.DownloadImageArg))
		if file == "" || arg == "" {
			a.Log().Warnf("Missing image arg for %s", label)
			continue
		}
		subs.values[label] = file
		subs.args = append(subs.args, imageArg{label, arg})
	}
	if a.Params.String("method") == "qemu-nfs" {
		// The deploy's NFS server says where it listens; the root is
		// followed by the options that reach it (its ports).
		ip := a.DataString(pipeline.DataNFSServerIP)
		if ip == "" {
			var err error
			if ip, err = dispatcherIP(); err != nil {
				return subs, err
			}
		}
		subs.values["NFS_SERVER_IP"] = ip
		subs.values["NFSROOTFS"] = pipeline.NFSRootArg(&a.Base)
	}
	return subs, nil
}

// substitute replaces each {label} in one argument; an unknown label
// stays as it is. In a QEMU option list (file={disk}) a comma separates
// options, so one in a path would add options of the path's choosing:
// there the path's commas are doubled, which QEMU reads as a comma.
func substitute(arg string, values map[string]string) string {
	var b strings.Builder
	last := 0
	for _, loc := range placeholder.FindAllStringIndex(arg, -1) {
		b.WriteString(arg[last:loc[0]])
		v, ok := values[arg[loc[0]+1:loc[1]-1]]
		switch {
		case !ok:
			v = arg[loc[0]:loc[1]]
		case strings.HasSuffix(arg[:loc[0]], "="):
			v = strings.ReplaceAll(v, ",", ",,")
		}
		b.WriteString(v)
		last = loc[1]
	}
	b.WriteString(arg[last:])
	return b.String()
}

// guestDrive is the -drive value for the overlay disk, and records the
// commands that mount it in the guest.
func (a *CallQemu) guestDrive(guest string) (string, error) {
	path, err := filepath.Abs(guest)
	if err == nil {
		if real, rerr := filepath.EvalSymlinks(path); rerr == nil {
			path = real
		}
	}
	format := a.DataString(dataGuestFormat)
	if format == "" {
		format = "raw"
	}
	gp := a.Device().Map("actions").Map("deploy").Map("methods").Map("image").Map("parameters").Map("guest")
	iface, _ := gp.Value("interface").(string)
	if iface == "" {
		iface = "virtio"
		arch, _ := a.Job.Params.Map("context").Value("arch").(string)
		if slices.Contains(x86Arches, arch) {
			iface = "ide"
		}
	}
	driveid, _ := gp.Value("driveid").(string)
	if driveid == "" {
		driveid = "lavatest"
	}
	dir, uuid := a.DataString(dataResultsDir), a.DataString(dataGuestUUID)
	if dir == "" || uuid == "" {
		return "", pipeline.Bug("overlay disk %s has no results directory (%q) or UUID (%q)", guest, dir, uuid)
	}
	a.SetData(DataPreCommands, []string{
		"mkdir -p " + dir,
		// The overlay disk is always ext2 (apply-overlay-guest).
		"mount /dev/disk/by-uuid/" + uuid + " -t ext2 " + dir,
		// Shows the mount worked, and leaves time for the kernel's
		// messages about it before the test shell starts.
		"ls -la " + dir + "/bin/lava-test-runner",
	})
	a.Log().Infof("Extending command line for the test overlay disk")
	return fmt.Sprintf("format=%s,file=%s,media=disk,if=%s,id=%s",
		format, strings.ReplaceAll(path, ",", ",,"), iface, driveid), nil
}

// nfsAppend is the kernel command line of a qemu-nfs boot.
func (a *CallQemu) nfsAppend(values map[string]string) (string, error) {
	if values["NFSROOTFS"] == "" {
		return "", pipeline.JobError("qemu-nfs boot without an NFS root file system: deploy one with to: nfs first")
	}
	ap := pipeline.DeviceMethods(a.Device(), "boot").Map("qemu-nfs").Map("parameters").Map("append")
	nfs := substitute(ap.String("nfsrootargs"), values)
	return strings.Join([]string{"console=" + ap.String("console"), "root=/dev/nfs", nfs + " rw", ap.String("ipargs")}, " "), nil
}

// dispatcherIP is the host's address on its default route, which the
// guest reaches the NFS server on. Connecting a UDP socket sends nothing.
func dispatcherIP() (string, error) {
	c, err := net.Dial("udp", "192.0.2.1:9")
	if err != nil {
		return "", pipeline.InfrastructureError("unable to find the dispatcher's IP address for NFS: %v", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String(), nil
}

// recordVersion puts LAVA's qemu_version, host_arch and job_arch in the
// action's results.
func (a *CallQemu) recordVersion(ctx context.Context, bin string) {
	// Asked once per binary and job, not per process: a worker must see
	// an upgraded QEMU.
	ver, ok := a.Data(pipeline.DataQemuVersion(bin)).(string)
	if !ok {
		vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		out, err := process.Output(vctx, process.Spec{Argv: []string{bin, "--version"}})
		cancel()
		v := ""
		// "QEMU emulator version 7.2.22 (Debian ...)"
		if f := strings.Fields(string(out)); err == nil && len(f) >= 4 {
			v = f[3]
		} else {
			a.Log().Warnf("unable to read the QEMU version from %s --version: %v", bin, err)
		}
		ver = v
		a.SetData(pipeline.DataQemuVersion(bin), v)
	}
	host := hostArch()
	arch, _ := a.Job.Params.Map("context").Value("arch").(string)
	if ver != "" {
		a.SetResult("qemu_version", ver)
		a.Log().Infof("qemu, installed at version: %s, host architecture: %s", ver, host)
	}
	a.SetResult("host_arch", host)
	a.SetResult("job_arch", arch)
}

// hostArch is `uname -m`, without the process.
func hostArch() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return ""
	}
	var b strings.Builder
	for _, c := range u.Machine {
		if c == 0 {
			break
		}
		b.WriteByte(byte(c))
	}
	return b.String()
}

// promptStrings returns the block's prompts: a string or a list.
func promptStrings(params *value.Map) []string {
	switch t := params.Value("prompts").(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, p := range t {
			if s, ok := p.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// consoleClosed is the error for a console whose output ended while an
// action waited on it: the device's process (QEMU) has exited.
func consoleClosed(ctx context.Context, s *connection.Session, waiting string, err error) error {
	if s.Done() == nil {
		// A board's serial connection (connect-device): no process of
		// the board to wait for; the session gave up reconnecting.
		last := ""
		if tail := s.Tail(3); len(tail) > 0 {
			last = "; its last output: " + strings.Join(tail, " | ")
		}
		return pipeline.InfrastructureError("Connection closed: the %s ended while waiting for %s (%v)%s",
			s.Describe(), waiting, err, last)
	}
	if s.Done() != nil {
		// The output ends as the process exits; its status comes once it
		// is reaped.
		select {
		case <-s.Done():
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
	status := "still running"
	if exited, perr := s.Exited(); exited {
		status = exitStatus(perr)
	}
	last := ""
	if tail := s.Tail(3); len(tail) > 0 {
		last = "; its last output: " + strings.Join(tail, " | ")
	}
	return pipeline.InfrastructureError("QEMU %s ended (%s) while waiting for %s (%v)%s",
		s.Describe(), status, waiting, err, last)
}

// exitStatus describes how a process ended, from its Wait error.
func exitStatus(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "exit status 0"
	case errors.As(err, &ee):
		return ee.String()
	}
	return err.Error()
}
