// Package process starts and stops every child process Basalt runs on the
// dispatcher host (QEMU, the device's host commands, git, decompressors,
// mkfs), the one way: nothing else under internal/ calls os/exec to
// start a process.
//
// The contract, for every child:
//   - argv is run as given, never through a shell (a caller that wants
//     one, for a command line of the device configuration, names
//     /bin/sh in argv itself);
//   - the child leads a process group of its own, so that signals reach
//     whatever it starts (git's remote helpers and ssh, a power script's
//     children) and never Basalt itself;
//   - the child is sent SIGKILL by the kernel when Basalt dies without
//     cleaning up (the parent-death signal, armed from a thread that
//     lives as long as Basalt), so a killed dispatcher leaves no child
//     running unattended;
//   - when the child exits on its own, what is left of its group is
//     sent SIGKILL, unless Spec.KeepGroup says to leave it;
//   - Stop, or the end of Run's context, sends SIGTERM to the group,
//     waits the grace period (Spec.Grace, or the one in the context
//     from WithGrace, or DefaultGrace), then sends SIGKILL to the group;
//   - the child is always reaped: Stop and Run return only once it has
//     been waited for.
//
// Group signals are only ever sent while the child is not yet reaped
// (alive, or a zombie the package has not collected): its pid, and so
// the group id, cannot have been reused by then.
//
// Not covered: a process that leaves the group (setsid, a daemon) is out
// of reach, and the parent-death signal reaches the child only, not the
// processes it started: those end when the pipes they share with Basalt
// close, or run on; unless Spec.Contain makes the child a PID
// namespace's init, whose death ends them all.
package process

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// DefaultGrace is how long a child's group has to exit between SIGTERM
// and SIGKILL when neither the Spec nor the context says otherwise.
const DefaultGrace = 3 * time.Second

// OutputGrace is how long Wait waits, after the child exited, for output
// that processes it left running in the background still write to the
// child's stdout or stderr (when those are not files): what comes later
// is dropped rather than holding the caller forever.
const OutputGrace = time.Second

// Spec says what to run and how.
type Spec struct {
	// Argv is the program and its arguments. A program without a slash
	// is looked up on PATH.
	Argv []string
	// Dir is the working directory; empty means Basalt's own.
	Dir string
	// Env is the environment; nil means Basalt's own.
	Env []string
	// Stdin, Stdout and Stderr are as in os/exec: an *os.File is given
	// to the child as it is (the caller closes its copy of the child's
	// end after Start); anything else is copied by a goroutine. A
	// Stdin that is not a file may keep Wait waiting until its Read
	// returns; give a pipe's read end to avoid that. nil is /dev/null.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Grace is how long the group has between SIGTERM and SIGKILL when
	// stopped; zero means the context's (WithGrace) in Run, else
	// DefaultGrace.
	Grace time.Duration
	// KeepGroup leaves running whatever the child started in the
	// background when the child exits on its own (LAVA leaves a device
	// command's daemons alone). Without it, the group is sent SIGKILL as
	// soon as the child has exited, before it is reaped. Stop kills the
	// group either way while the child runs.
	KeepGroup bool
	// UserNS, when set, runs the child in a new user namespace where it
	// is root, mapped to the host ids given.
	UserNS *UserNS
	// Contain runs the child as the init of a new PID namespace: when it
	// dies, of its parent-death signal included, the kernel kills every
	// process it started, which no group signal can do once Basalt is
	// gone (git's remote helpers, ssh). Such an init gets SIGTERM only if
	// it handles it (git does), so Stop may need its SIGKILL. It takes
	// root, or else a user namespace that maps Basalt's user to itself;
	// where the kernel refuses both, the child starts without it
	// (Process.Contained says which).
	Contain bool
}

// UserNS maps root inside a new user namespace to one host user.
type UserNS struct {
	UID, GID int
}

// Process is a started child.
type Process struct {
	cmd   *exec.Cmd
	pid   int
	grace time.Duration
	keep  bool
	// contained: the child is the init of its own PID namespace.
	contained bool

	mu       sync.Mutex
	exited   bool // the child is a zombie or reaped: no more group signals
	stopping bool

	done chan struct{}
	err  error // Wait's result, set before done is closed
}

// ErrEmpty is returned for a Spec without a program.
var ErrEmpty = errors.New("empty command")

// Start starts the child. The caller must call Wait or Stop (or both) to
// reap it.
func Start(s Spec) (*Process, error) {
	if len(s.Argv) == 0 || s.Argv[0] == "" {
		return nil, ErrEmpty
	}
	cmd, err := command(s, s.Contain)
	if err != nil {
		return nil, err
	}
	contained := s.Contain
	err = startOnForker(cmd)
	if err != nil && contained && nsRefused(err) {
		// No namespace for this user here: the child runs as it
		// would without Contain.
		contained = false
		if cmd, err = command(s, false); err == nil {
			err = startOnForker(cmd)
		}
	}
	if err != nil {
		return nil, err
	}
	grace := s.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	p := &Process{cmd: cmd, pid: cmd.Process.Pid, grace: grace, keep: s.KeepGroup, contained: contained, done: make(chan struct{})}
	go p.reap()
	return p, nil
}

// command prepares s to be started, in a new PID namespace if contain.
func command(s Spec, contain bool) (*exec.Cmd, error) {
	cmd := exec.Command(s.Argv[0], s.Argv[1:]...)
	if cmd.Err != nil {
		return nil, cmd.Err
	}
	cmd.Dir, cmd.Env = s.Dir, s.Env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.Stdin, s.Stdout, s.Stderr
	cmd.WaitDelay = OutputGrace
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if u := s.UserNS; u != nil {
		attr.Cloneflags = syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: u.UID, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: u.GID, Size: 1}}
		// Become the namespace's root: a no-op for the user the map
		// names, and what makes root acting for that user that user.
		attr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
	}
	if contain {
		attr.Cloneflags |= syscall.CLONE_NEWPID
		if s.UserNS == nil && os.Geteuid() != 0 {
			// A PID namespace takes CAP_SYS_ADMIN, which a new user
			// namespace gives; the user stays itself in it.
			uid, gid := os.Geteuid(), os.Getegid()
			attr.Cloneflags |= syscall.CLONE_NEWUSER
			attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}}
			attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}}
		}
	}
	cmd.SysProcAttr = attr
	return cmd, nil
}

// nsRefused reports whether Start failed because the kernel would not
// create a namespace for this user (unprivileged user namespaces off,
// a limit reached).
func nsRefused(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) ||
		errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EUSERS)
}

// startOnForker starts cmd from the forker thread.
//
// The parent-death signal fires when the thread that forked the child
// ends, not when the process does, and the Go runtime ends a thread when
// a goroutine exits while locked to it: a child forked from an ordinary
// goroutine's thread could be killed in the middle of a job because some
// unrelated goroutine later locked that thread and exited. Every child
// is therefore forked by one goroutine locked for good to its own
// thread, which lives as long as Basalt.
func startOnForker(cmd *exec.Cmd) error {
	req := forkRequest{cmd: cmd, done: make(chan error, 1)}
	forker() <- req
	return <-req.done
}

type forkRequest struct {
	cmd  *exec.Cmd
	done chan error
}

var forker = sync.OnceValue(func() chan<- forkRequest {
	ch := make(chan forkRequest)
	go func() {
		runtime.LockOSThread() // never unlocked
		for r := range ch {
			r.done <- r.cmd.Start()
		}
	}()
	return ch
})

// reap waits for the child to exit, kills its group while the child's
// pid still pins the group id (unless the group is to be kept), then
// collects it.
func (p *Process) reap() {
	waitExited(p.pid)
	p.mu.Lock()
	p.exited = true
	if p.stopping || !p.keep {
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	}
	p.mu.Unlock()
	err := p.cmd.Wait()
	if errors.Is(err, exec.ErrWaitDelay) {
		// The child succeeded; a background process kept its output
		// open, and what it wrote late was dropped (OutputGrace).
		err = nil
	}
	p.err = err
	close(p.done)
}

// waitExited blocks until the process has exited, without reaping it
// (WNOWAIT), so that its pid stays reserved.
func waitExited(pid int) {
	const pPID = 1
	var info [128]byte // siginfo_t
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info[0])), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		if e != syscall.EINTR {
			// ECHILD cannot happen for a child we have not reaped;
			// should it, Wait below reports it.
			return
		}
	}
}

// Contained reports whether the child runs as the init of its own PID
// namespace (Spec.Contain, where the kernel allowed it).
func (p *Process) Contained() bool { return p.contained }

// Pid returns the child's pid (also its process group id).
func (p *Process) Pid() int { return p.pid }

// Path returns the program run, as found on PATH.
func (p *Process) Path() string { return p.cmd.Path }

// Done is closed once the child has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits until the child has exited and been reaped, and returns how
// it ended: nil for status 0, an *exec.ExitError otherwise (also for a
// child ended by a signal), or an error copying its input or output.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Exited reports whether the child has been reaped, and Wait's result.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Stop ends the child: SIGTERM to its group, SIGKILL to the group after
// the grace period if the child is still there (and at once to what is
// left of the group when the child exits first), then it returns Wait's
// result once the child is reaped. Stop on a child that has exited
// already sends nothing. Safe to call more than once and concurrently.
func (p *Process) Stop() error {
	p.mu.Lock()
	first := !p.stopping
	p.stopping = true
	if first && !p.exited {
		_ = syscall.Kill(-p.pid, syscall.SIGTERM)
	}
	p.mu.Unlock()
	t := time.NewTimer(p.grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		p.mu.Lock()
		if !p.exited {
			_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		}
		p.mu.Unlock()
		<-p.done
	}
	return p.err
}

// Run runs the child to its end and returns Wait's result. When ctx ends
// first, the child is stopped (Stop) and ctx's error is returned once it
// is reaped. A Spec without a Grace takes the context's (WithGrace).
func Run(ctx context.Context, s Spec) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.Grace <= 0 {
		s.Grace = GraceFrom(ctx)
	}
	p, err := Start(s)
	if err != nil {
		return &StartError{Program: s.Argv0(), Err: err}
	}
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		p.Stop()
		return ctx.Err()
	}
}

// Output runs the child as Run does and returns what it wrote to stdout
// (s.Stdout is ignored; s.Stderr is kept, /dev/null when nil).
func Output(ctx context.Context, s Spec) ([]byte, error) {
	var out bytes.Buffer
	s.Stdout = &out
	err := Run(ctx, s)
	return out.Bytes(), err
}

// Argv0 returns the program's name, "" when there is none.
func (s Spec) Argv0() string {
	if len(s.Argv) == 0 {
		return ""
	}
	return s.Argv[0]
}

// StartError is Run's error when the child could not be started at all
// (not found, not executable, a namespace refused): nothing ran.
type StartError struct {
	Program string
	Err     error
}

func (e *StartError) Error() string { return "unable to start " + e.Program + ": " + e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

type graceKey struct{}

// WithGrace returns a context whose children (started by Run, or by
// callers that pass GraceFrom on) get d between SIGTERM and SIGKILL: the
// job's configuration reaches every child without every call in between
// carrying it.
func WithGrace(ctx context.Context, d time.Duration) context.Context {
	if d <= 0 {
		return ctx
	}
	return context.WithValue(ctx, graceKey{}, d)
}

// GraceFrom returns the grace period WithGrace put in ctx, or
// DefaultGrace.
func GraceFrom(ctx context.Context) time.Duration {
	if d, ok := ctx.Value(graceKey{}).(time.Duration); ok && d > 0 {
		return d
	}
	return DefaultGrace
}

// IsExit reports whether err is a child's non-zero exit (or death by a
// signal) rather than a failure to run it, and returns its exit code (-1
// for a signal).
func IsExit(err error) (code int, ok bool) {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), true
	}
	return 0, false
}

// IsNotFound reports whether err says the program was not found.
func IsNotFound(err error) bool {
	return errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist)
}
