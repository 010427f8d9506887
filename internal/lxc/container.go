package lxc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/process"
)

// DefaultPath is where LXC keeps its containers unless configured
// otherwise (LAVA's LXC_PATH).
const DefaultPath = "/var/lib/lxc"

// Tools are the host programs the protocol runs.
var Tools = []string{"lxc-create", "lxc-start", "lxc-attach", "lxc-info", "lxc-stop", "lxc-destroy"}

// BaseConfig is the LXC configuration every container starts from
// (lxc-create -f), replacing the host's /etc/lxc/default.conf: no
// network device at all. LAVA used the host's default (a veth on a
// bridge, and waited for an address); Basalt's containers reach nothing
// unless the administrator changes this, and boot-lxc waits for an
// address only when the container has a network.
const BaseConfig = "# written by basalt for the lava-lxc protocol\nlxc.net.0.type = empty\n"

// maxOutput bounds the output of one lxc command kept for an error
// message (all of it is logged as it comes).
const maxOutput = 4096

// Command runs one lxc tool with args, logging its output line by line
// at debug level (">> line", LAVA's form), and returns the output
// (stdout and stderr, the last maxOutput bytes) and the error. Nothing
// goes through a shell.
func Command(ctx context.Context, log *joblog.Logger, tool string, args ...string) (string, error) {
	return commandWithEnv(ctx, log, nil, tool, args...)
}

// commandEnv is the environment of the lxc tools: Basalt's own without
// anything a container could inherit by accident (lxc-attach passes its
// environment on unless told otherwise).
func commandEnv() []string {
	return []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
}

func quoteAll(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = "'" + a + "'"
	}
	return out
}

// tailBuffer keeps the last maxOutput bytes of lines.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) add(line string) {
	t.b = append(t.b, line...)
	t.b = append(t.b, '\n')
	if len(t.b) > maxOutput {
		t.b = append([]byte(nil), t.b[len(t.b)-maxOutput:]...)
	}
}

func (t *tailBuffer) String() string { return strings.TrimSpace(string(t.b)) }

// Exists reports whether a container of that name exists (lxc-info
// succeeds, LAVA's test).
func Exists(ctx context.Context, name string) (bool, error) {
	err := process.Run(ctx, process.Spec{Argv: []string{"lxc-info", "-n", name}, Env: commandEnv()})
	if err == nil {
		return true, nil
	}
	if _, exited := process.IsExit(err); exited && ctx.Err() == nil {
		return false, nil
	}
	return false, err
}

// State returns the container's state (RUNNING, STOPPED, …) from
// lxc-info -sH, or "" when lxc-info fails (no such container).
func State(ctx context.Context, name string) string {
	out, err := process.Output(ctx, process.Spec{Argv: []string{"lxc-info", "-sH", "-n", name}, Env: commandEnv()})
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// Addresses returns the container's IP addresses (lxc-info -iH).
func Addresses(ctx context.Context, name string) []string {
	out, err := process.Output(ctx, process.Spec{Argv: []string{"lxc-info", "-iH", "-n", name}, Env: commandEnv()})
	if err != nil {
		return nil
	}
	return strings.Fields(string(out))
}

// List returns the names of every container on the host (lxc-ls -1),
// for the tests that check nothing is left behind.
func List(ctx context.Context) ([]string, error) {
	out, err := process.Output(ctx, process.Spec{Argv: []string{"lxc-ls", "-1"}, Env: commandEnv()})
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}

// Path returns where LXC keeps its containers (lxc-config
// lxc.lxcpath), DefaultPath when that cannot be asked.
func Path(ctx context.Context) string {
	out, err := process.Output(ctx, process.Spec{Argv: []string{"lxc-config", "lxc.lxcpath"}, Env: commandEnv()})
	p := strings.TrimSpace(string(out))
	if err != nil || !filepath.IsAbs(p) {
		return DefaultPath
	}
	return filepath.Clean(p)
}

// Dir returns the container's folder under lxcPath. The name was
// checked by Parse (no "/", no ".." alone: it starts with a letter or
// digit), so the folder is always directly under lxcPath.
func Dir(lxcPath, name string) string { return filepath.Join(lxcPath, name) }

// rootfsRe reads lxc.rootfs.path from a container's config.
var rootfsRe = regexp.MustCompile(`^\s*lxc\.rootfs\.path\s*=\s*(?:dir:)?(/\S*)\s*$`)

// Rootfs returns the folder holding the container's root file system:
// lxc.rootfs.path from its config when it is a plain folder, else
// <lxcPath>/<name>/rootfs. It fails when that folder does not exist.
func Rootfs(lxcPath, name string) (string, error) {
	dir := Dir(lxcPath, name)
	rootfs := filepath.Join(dir, "rootfs")
	if f, err := os.Open(filepath.Join(dir, "config")); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if m := rootfsRe.FindStringSubmatch(sc.Text()); m != nil {
				rootfs = filepath.Clean(m[1])
			}
		}
		f.Close()
	}
	st, err := os.Stat(rootfs)
	if err != nil || !st.IsDir() {
		return "", fmt.Errorf("the root file system of container %s was not found at %s", name, rootfs)
	}
	return rootfs, nil
}

// shellRe is what a login shell read from the container's /etc/passwd
// may look like to be used.
var shellRe = regexp.MustCompile(`^/[A-Za-z0-9/_.+-]{1,100}$`)

// RootShell returns root's login shell in the container (what a bare
// lxc-attach runs), /bin/sh when /etc/passwd does not say or names
// something odd or absent.
func RootShell(rootfs string) string {
	const fallback = "/bin/sh"
	b, err := os.ReadFile(filepath.Join(rootfs, "etc", "passwd"))
	if err != nil {
		return fallback
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		f := strings.Split(string(line), ":")
		if len(f) != 7 || f[0] != "root" {
			continue
		}
		sh := f[6]
		if !shellRe.MatchString(sh) || strings.Contains(sh, "..") {
			return fallback
		}
		if _, err := os.Lstat(filepath.Join(rootfs, sh)); err != nil {
			return fallback
		}
		return sh
	}
	return fallback
}

// AttachArgs are the arguments of lxc-attach for a shell in the
// container: a clean environment (root's, not Basalt's), the shell
// interactive since it reads a pipe, not a terminal (LAVA spawned
// lxc-attach on a pseudo-terminal), so that it prints its prompt, and
// started in / (lxc-attach would keep Basalt's folder when the
// container has one of that name; LAVA's worker runs in /, and jobs'
// prompts such as 'root@(.*):/#' rely on it). The shell is passed to
// sh as $0, never as part of the script.
func AttachArgs(name, shell string) []string {
	return []string{"-n", name, "--clear-env",
		"--set-var", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"--set-var", "HOME=/root", "--set-var", "TERM=dumb", "--set-var", "LANG=C",
		"--", "/bin/sh", "-c", `cd / && exec "$0" -i`, shell}
}

// ErrNeverRan is returned by WaitRunning when the container stopped
// again after lxc-start, so that waiting longer cannot help.
var ErrNeverRan = errors.New("the container stopped right after it was started")

// WaitRunning polls the container's state until it is RUNNING. A
// container that is STOPPED for stoppedPolls polls in a row (lxc-start
// -d has returned, so it started and stopped, or never started) ends
// the wait with ErrNeverRan; ctx ending ends it with ctx's error.
func WaitRunning(ctx context.Context, name string, every time.Duration, stoppedPolls int) error {
	stopped := 0
	for {
		switch State(ctx, name) {
		case "RUNNING":
			return nil
		case "STOPPED":
			stopped++
			if stopped >= stoppedPolls {
				return ErrNeverRan
			}
		default:
			stopped = 0
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

// netTypeRe reads a network's type from a container's config.
var netTypeRe = regexp.MustCompile(`^\s*lxc\.net\.[0-9]+\.type\s*=\s*(\S+)\s*$`)

// HasNetwork reports whether the container's config gives it a network
// device (any lxc.net.N.type other than empty), so that waiting for an
// address makes sense.
func HasNetwork(lxcPath, name string) bool {
	b, err := os.ReadFile(filepath.Join(Dir(lxcPath, name), "config"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if m := netTypeRe.FindStringSubmatch(line); m != nil && m[1] != "empty" {
			return true
		}
	}
	return false
}

// initRe reads lxc.init.cmd from a container's config.
var initRe = regexp.MustCompile(`^\s*lxc\.init\.cmd\s*=\s*(\S+)`)

// MissingInit returns the program the container starts as its init
// (lxc.init.cmd, else /sbin/init) when its root file system does not
// hold it, the commonest reason a container never starts; "" when it is
// there or cannot be told.
func MissingInit(lxcPath, name string) string {
	rootfs, err := Rootfs(lxcPath, name)
	if err != nil {
		return ""
	}
	initCmd := "/sbin/init"
	if b, err := os.ReadFile(filepath.Join(Dir(lxcPath, name), "config")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if m := initRe.FindStringSubmatch(line); m != nil {
				initCmd = m[1]
			}
		}
	}
	if !filepath.IsAbs(initCmd) || strings.Contains(initCmd, "..") {
		return ""
	}
	if _, err := os.Lstat(filepath.Join(rootfs, initCmd)); os.IsNotExist(err) {
		return initCmd
	}
	return ""
}
