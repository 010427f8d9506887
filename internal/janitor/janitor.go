// Package janitor undoes what a job made outside Basalt's own processes
// (a docker container, an LXC container, a bridge) when Basalt dies
// before it could undo it itself, SIGKILL included.
//
// Basalt's children die with it (internal/process), but a container is
// run by a daemon, not by Basalt: killing the docker client leaves the
// container running. So, once enabled, Basalt starts a helper (itself,
// in its own session, so that a signal to Basalt's process group does
// not reach it) and sends it, over a pipe, the commands that undo each
// thing as it is made; it withdraws a command once it has done the
// undoing itself. When the pipe closes, which the kernel does whenever
// Basalt exits, however it exits, the helper runs the commands still
// listed, newest first, each with a time limit, and exits.
//
// The commands come from Basalt's code (argv built from validated names),
// never from a job's text. Without Enable (the package's tests, other
// programs) Add does nothing.
package janitor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// EnvVar is the variable that, set to "1" in the helper's environment,
// makes basalt's main run Serve on its standard input instead of the
// command line.
const EnvVar = "BASALT_JANITOR"

// CommandTimeout bounds each undo command the helper runs.
const CommandTimeout = 2 * time.Minute

// message is one line of the pipe's protocol (JSON): an undo command
// added under an id, or an id withdrawn (Argv empty).
type message struct {
	ID   uint64   `json:"id"`
	What string   `json:"what,omitempty"`
	Argv []string `json:"argv,omitempty"`
}

var state struct {
	mu         sync.Mutex
	executable string // set by Enable
	started    bool
	pipe       *os.File // the write end; nil when the helper could not start
	next       uint64
}

// Enable lets Add start the helper, running executable (basalt itself)
// with EnvVar=1. The helper starts on the first Add, so a command that
// makes nothing to undo never starts it.
func Enable(executable string) {
	state.mu.Lock()
	defer state.mu.Unlock()
	state.executable = executable
}

// Entry is one undo command listed with the helper.
type Entry struct {
	id uint64
}

// Add lists argv as what undoes what (a short description, for the
// helper's log), and returns the entry to withdraw once Basalt has
// undone it itself. It returns nil (a valid Entry whose Done does
// nothing) when the janitor is not enabled or its helper could not be
// started; the job goes on: the janitor is a safety net, not a step.
func Add(what string, argv ...string) *Entry {
	if len(argv) == 0 {
		return nil
	}
	state.mu.Lock()
	defer state.mu.Unlock()
	if !start() {
		return nil
	}
	state.next++
	e := &Entry{id: state.next}
	if !send(message{ID: e.id, What: what, Argv: argv}) {
		return nil
	}
	return e
}

// Done withdraws the entry: Basalt undid the thing itself (or it must be
// kept, as a persistent container). Safe on nil and more than once.
func (e *Entry) Done() {
	if e == nil {
		return
	}
	state.mu.Lock()
	defer state.mu.Unlock()
	if e.id != 0 {
		send(message{ID: e.id})
		e.id = 0
	}
}

// start starts the helper once; it reports whether it runs. Called with
// state.mu held.
func start() bool {
	if state.started {
		return state.pipe != nil
	}
	if state.executable == "" {
		return false
	}
	state.started = true
	r, w, err := os.Pipe()
	if err != nil {
		return false
	}
	defer r.Close()
	cmd := exec.Command(state.executable)
	cmd.Args = []string{"basalt-janitor"}
	// A minimal environment: the helper outlives nothing of a job's and
	// must not carry its folders (tests look for processes naming them).
	cmd.Env = []string{EnvVar + "=1", "PATH=" + os.Getenv("PATH")}
	cmd.Stdin = r
	// What it undoes, if anything, is said where Basalt's errors go.
	cmd.Stderr = os.Stderr
	cmd.Dir = "/"
	// Its own session: a signal to Basalt's process group, or Basalt's
	// parent-death signal, must not take the helper with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return false
	}
	// Nobody waits for the helper: it exits by itself when the pipe
	// closes; once Basalt has gone, init reaps it. While Basalt lives, a
	// goroutine reaps it should it end early.
	go func() { _ = cmd.Wait() }()
	state.pipe = w
	return true
}

// send writes one message; a helper that has gone turns the janitor off.
// Called with state.mu held.
func send(m message) bool {
	if state.pipe == nil {
		return false
	}
	b, _ := json.Marshal(m)
	if _, err := state.pipe.Write(append(b, '\n')); err != nil {
		state.pipe.Close()
		state.pipe = nil
		return false
	}
	return true
}

// Serve is the helper: it reads messages from r until it closes, then
// runs the undo commands still listed, newest first, each bounded by
// timeout, writing what it does to log. It returns the first failure.
func Serve(r io.Reader, log io.Writer, timeout time.Duration) error {
	type entry struct {
		what string
		argv []string
	}
	listed := map[uint64]entry{}
	var order []uint64
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var m message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			fmt.Fprintf(log, "basalt-janitor: ignoring a malformed message: %v\n", err)
			continue
		}
		if len(m.Argv) == 0 {
			delete(listed, m.ID)
			continue
		}
		listed[m.ID] = entry{m.What, m.Argv}
		order = append(order, m.ID)
	}
	var errs []error
	for i := len(order) - 1; i >= 0; i-- {
		e, ok := listed[order[i]]
		if !ok {
			continue
		}
		delete(listed, order[i])
		fmt.Fprintf(log, "basalt-janitor: Basalt ended without undoing %s: running %q\n", e.what, e.argv)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		cmd := exec.CommandContext(ctx, e.argv[0], e.argv[1:]...)
		// Not the helper's marker: an undo command may be basalt itself
		// (`basalt vland release`), which would otherwise start as a helper.
		cmd.Env = withoutEnv(os.Environ(), EnvVar)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(log, "basalt-janitor: %s: %v\n", e.what, err)
			errs = append(errs, fmt.Errorf("%s: %w", e.what, err))
		}
		cancel()
	}
	return errors.Join(errs...)
}

// withoutEnv is env without the variable name.
func withoutEnv(env []string, name string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
