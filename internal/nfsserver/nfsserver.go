// Package nfsserver serves one folder of a job over NFS with nfs-ganesha,
// the user-space NFS server: Basalt's kernels have no nfsd, and a job's
// NFS root must not depend on the host's /etc/exports.
//
// The contract:
//   - one ganesha.nfsd per export, started by Start and run in the
//     foreground as Basalt's child (internal/process: its own process
//     group, SIGKILL when Basalt dies), with its configuration, log, pid
//     file and NFSv4 recovery folder in a state folder the caller gives
//     (inside the job's folder): nothing is exported but Dir, and nothing
//     outlives Stop or Basalt;
//   - NFSv3 and NFSv4 over TCP, on two free ports picked at start (NFS
//     and MOUNT; ganesha serves each program on its own socket), no NLM
//     (clients mount with nolock, as the kernel's nfsroot does), no
//     rquota, no grace period (a fresh server has no state to reclaim);
//   - root is not squashed (the guest's root owns its root file system);
//   - the server listens on one address only (Bind), never on all.
//
// ganesha registers its programs with rpcbind and exits when it cannot;
// on the host's rpcbind it would also replace the registrations of the
// host's own NFS server, or of another job's ganesha, at start and exit.
// So each server runs in a mount namespace of its own where
// /run/rpcbind.sock is a stub of Basalt's (rpcbind.go) that accepts every
// registration and forgets it, and where /run is a private tmpfs (ganesha
// keeps its callback credentials there). Clients do not use rpcbind: they
// are given the ports (ClientOptions), so that several jobs' servers on
// one host do not compete for 2049. No rpcbind is needed on the host.
package nfsserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/process"
)

// Program is the NFS server binary looked up on PATH.
const Program = "ganesha.nfsd"

// StartTimeout bounds how long Start waits for the server to listen.
const StartTimeout = 30 * time.Second

// pluginDirs are where Debian and upstream builds install the VFS FSAL.
var pluginDirs = []string{"/usr/lib/x86_64-linux-gnu/ganesha", "/usr/lib/aarch64-linux-gnu/ganesha", "/usr/lib/ganesha", "/usr/lib64/ganesha", "/usr/local/lib/ganesha"}

// Config says what to serve and where.
type Config struct {
	// Dir is the folder exported, absolute; it must exist.
	Dir string
	// StateDir is a folder of the caller's (created if needed) for the
	// server's configuration, log, pid file and NFSv4 recovery state.
	StateDir string
	// Bind is the address the server listens on.
	Bind string
	// Log receives the server's start and stop, and its log when it
	// fails.
	Log *joblog.Logger
}

// Server is a running ganesha.nfsd serving one export.
type Server struct {
	proc    *process.Process
	logFile string
	nfsPort int
	mntPort int
	dir     string
	log     *joblog.Logger
	// stopping is set by Stop: the exit that follows is expected.
	stopping atomic.Bool
	stub     *rpcbindStub
}

// nsScript runs in the server's new mount namespace: a private /run
// whose rpcbind.sock is the stub's socket ($1), then ganesha ($2...).
const nsScript = `mount -t tmpfs -o mode=0755,size=4m basalt-nfs /run && : >/run/rpcbind.sock && mount --bind "$1" /run/rpcbind.sock && shift && exec "$@"`

// listenStub starts the rpcbind stub on sock, in dir. A unix socket's
// name is at most 107 bytes, which a job's folder may exceed: it is
// bound through /proc/self/fd/N/, N an open descriptor of dir.
func listenStub(dir, sock string) (*rpcbindStub, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	_ = os.Remove(sock)
	return startRPCBindStub(fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), filepath.Base(sock)), sock)
}

// Available returns why the NFS server cannot start on this host, or ""
// when it can: ganesha.nfsd and its VFS plugin installed, unshare and
// mount there, and root (the server's mount namespace).
func Available() string {
	if _, err := exec.LookPath(Program); err != nil {
		return Program + " is not installed (apt-get install nfs-ganesha nfs-ganesha-vfs)"
	}
	if pluginDir() == "" {
		return "the VFS plugin of nfs-ganesha (libfsalvfs.so) is not installed (apt-get install nfs-ganesha-vfs)"
	}
	for _, tool := range []string{"unshare", "mount", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " is not installed (util-linux, mount)"
		}
	}
	if os.Geteuid() != 0 {
		return "the NFS server needs root (a mount namespace of its own, and a root file system owned by root)"
	}
	return ""
}

func pluginDir() string {
	for _, d := range pluginDirs {
		if _, err := os.Stat(filepath.Join(d, "libfsalvfs.so")); err == nil {
			return d
		}
	}
	return ""
}

// Start starts a server exporting cfg.Dir and returns once it accepts
// connections. Failures are Infrastructure errors that name the cause,
// with the tail of ganesha's log.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = joblog.Discard()
	}
	if why := Available(); why != "" {
		return nil, pipeline.InfrastructureError("cannot start the NFS server: %s", why)
	}
	for _, p := range []string{cfg.Dir, cfg.StateDir} {
		// Basalt's own paths, but they go inside quotes of ganesha's
		// configuration: refuse what would end the string.
		if !filepath.IsAbs(p) || strings.ContainsAny(p, "\"\\\n\r\x00;{}#") {
			return nil, pipeline.Bug("nfsserver: unusable path %q", p)
		}
	}
	if st, err := os.Lstat(cfg.Dir); err != nil || !st.IsDir() {
		return nil, pipeline.InfrastructureError("cannot export %s: not a folder (%v)", cfg.Dir, err)
	}
	if net.ParseIP(cfg.Bind) == nil {
		return nil, pipeline.Bug("nfsserver: bind address %q is not an IP address", cfg.Bind)
	}
	recovery := filepath.Join(cfg.StateDir, "recovery")
	if err := os.MkdirAll(recovery, 0o700); err != nil {
		return nil, pipeline.InfrastructureError("creating the NFS server's folder: %v", err)
	}
	var last error
	// A port found free may be taken before ganesha binds it: try again
	// with others.
	for attempt := 0; attempt < 3; attempt++ {
		s, err := start(ctx, cfg, recovery)
		if err == nil {
			return s, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, last
}

func start(ctx context.Context, cfg Config, recovery string) (*Server, error) {
	ports, err := freePorts(cfg.Bind, 2)
	if err != nil {
		return nil, pipeline.InfrastructureError("finding free ports for the NFS server on %s: %v", cfg.Bind, err)
	}
	s := &Server{nfsPort: ports[0], mntPort: ports[1], dir: cfg.Dir, log: cfg.Log,
		logFile: filepath.Join(cfg.StateDir, "ganesha.log")}
	sock := filepath.Join(cfg.StateDir, "rpcbind.sock")
	stub, err := listenStub(cfg.StateDir, sock)
	if err != nil {
		return nil, pipeline.InfrastructureError("starting the NFS server's rpcbind stub: %v", err)
	}
	s.stub = stub
	conf := filepath.Join(cfg.StateDir, "ganesha.conf")
	if err := os.WriteFile(conf, []byte(s.config(cfg, recovery)), 0o600); err != nil {
		return nil, pipeline.InfrastructureError("writing the NFS server's configuration: %v", err)
	}
	_ = os.Remove(s.logFile)
	// unshare execs sh, which execs ganesha: one process throughout,
	// which keeps its parent-death signal. Nothing here comes from the job.
	argv := []string{"unshare", "--mount", "--propagation", "private", "--", "sh", "-c", nsScript, "basalt-nfs-server", sock,
		Program, "-F", "-f", conf, "-L", s.logFile, "-p", filepath.Join(cfg.StateDir, "ganesha.pid"), "-N", "NIV_EVENT"}
	p, err := process.Start(process.Spec{Argv: argv, Dir: cfg.StateDir, Grace: 5 * time.Second})
	if err != nil {
		stub.Close()
		return nil, pipeline.InfrastructureError("unable to start the NFS server (%s): %v", Program, err)
	}
	s.proc = p
	cfg.Log.Infof("NFS server: %s exporting %s on %s, NFS port %d, MOUNT port %d (pid %d)", Program, cfg.Dir, cfg.Bind, s.nfsPort, s.mntPort, p.Pid())
	deadline := time.Now().Add(StartTimeout)
	for {
		if exited, werr := p.Exited(); exited {
			stub.Close()
			return nil, pipeline.InfrastructureError("the NFS server exited at start (%v): %s", werr, s.logTail())
		}
		if listening(cfg.Bind, s.nfsPort) && listening(cfg.Bind, s.mntPort) {
			go s.watch()
			return s, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = p.Stop()
			stub.Close()
			return nil, pipeline.InfrastructureError("the NFS server did not listen on %s ports %d and %d within %s: %s",
				cfg.Bind, s.nfsPort, s.mntPort, StartTimeout, s.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// watch says in the job's log, as it happens, that the server died
// while the job used it: the device's mounts then hang or fail, and the
// log must say why.
func (s *Server) watch() {
	<-s.proc.Done()
	if !s.stopping.Load() {
		_, err := s.proc.Exited()
		s.log.Errorf("the NFS server (%s, exporting %s) exited while the job ran (%v): %s", Program, s.dir, err, s.logTail())
	}
}

// config is ganesha's configuration: one export of Dir, nothing else.
func (s *Server) config(cfg Config, recovery string) string {
	return fmt.Sprintf(`# Written by Basalt for one job: one export, removed with the job.
NFS_CORE_PARAM {
	NFS_Port = %d;
	MNT_Port = %d;
	Bind_addr = %s;
	Enable_NLM = false;
	Enable_RQUOTA = false;
	Enable_UDP = false;
	Protocols = 3, 4;
	Plugins_Dir = "%s";
}
NFSv4 {
	Graceless = true;
	RecoveryBackend = fs;
	RecoveryRoot = "%s";
}
EXPORT_DEFAULTS {
	Access_Type = None;
}
EXPORT {
	Export_Id = 1;
	Path = "%s";
	Pseudo = "%s";
	Access_Type = RW;
	Squash = No_Root_Squash;
	Protocols = 3, 4;
	Transports = TCP;
	SecType = sys;
	FSAL {
		Name = VFS;
	}
}
`, s.nfsPort, s.mntPort, cfg.Bind, pluginDir(), recovery, cfg.Dir, cfg.Dir)
}

// NFSPort and MountPort are where the server listens.
func (s *Server) NFSPort() int   { return s.nfsPort }
func (s *Server) MountPort() int { return s.mntPort }

// ClientOptions are the NFS mount options that reach this server without
// rpcbind: NFSv3 and its ports ("vers=3,port=N,mountport=M,mountproto=tcp"),
// in the form nfsroot= and mount -o take.
func (s *Server) ClientOptions() string {
	return fmt.Sprintf("vers=3,port=%d,mountport=%d,mountproto=tcp", s.nfsPort, s.mntPort)
}

// Alive returns nil while the server runs, else how it ended.
func (s *Server) Alive() error {
	if exited, err := s.proc.Exited(); exited {
		return fmt.Errorf("the NFS server (%s) exited (%v): %s", Program, err, s.logTail())
	}
	return nil
}

// Stop ends the server (SIGTERM, then SIGKILL after the grace) and
// reaps it. Safe to call more than once.
func (s *Server) Stop() error {
	if s == nil || s.proc == nil {
		return nil
	}
	if exited, _ := s.proc.Exited(); exited {
		// watch has said so.
		s.stub.Close()
		return nil
	}
	s.stopping.Store(true)
	err := s.proc.Stop()
	s.stub.Close()
	s.log.Infof("NFS server stopped: export of %s removed", s.dir)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		// Killed by our own SIGTERM or SIGKILL is the expected end.
		return nil
	}
	return err
}

// logTail is the end of ganesha's log, for errors.
func (s *Server) logTail() string {
	b, err := os.ReadFile(s.logFile)
	if err != nil {
		return "no log (" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var keep []string
	for _, l := range lines {
		// The dbus and Kerberos complaints of every start say nothing.
		if strings.Contains(l, ":DBUS :") || strings.Contains(l, "krb5") || strings.Contains(l, "principal nfs") || strings.Contains(l, "keytab") {
			continue
		}
		keep = append(keep, l)
	}
	if len(keep) > 6 {
		keep = keep[len(keep)-6:]
	}
	return strings.Join(keep, " | ")
}

// freePorts returns n distinct TCP ports free on addr now.
func freePorts(addr string, n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func listening(addr string, port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, strconv.Itoa(port)), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// BindFor is the address a server for clients that reach it at ip
// listens on: ip itself when it is one of the host's addresses, else
// the loopback, as for QEMU's user network, whose guests reach the
// host's loopback at 10.0.2.2.
func BindFor(ip string) string {
	want := net.ParseIP(ip)
	if want != nil {
		addrs, _ := net.InterfaceAddrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(want) {
				return ip
			}
		}
	}
	return "127.0.0.1"
}
