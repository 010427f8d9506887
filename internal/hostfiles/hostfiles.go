// Package hostfiles is the host-access policy of a job: which of the
// host's files a job may make Basalt read (a file:// image URL, a git
// repository given as a local path or a file:// URL) and whether git may
// use the host's ssh identity.
//
// A nil *Policy allows everything, as `basalt run` on a user's own
// machine always did (that is how users run their own images). A policy
// made by New allows only files inside its folders, none when it has
// none: what `basalt worker` and `basalt server` use, since there every
// job field is someone else's.
//
// The check is made twice. Check, at validation, sees the path as the job
// gives it, with symbolic links evaluated, so that `..` and links cannot
// point out of an allowed folder; a job that names a file outside is
// refused before it runs (validate, submission). Open, at run time,
// opens the file through os.Root on the allowed folder, so that a link
// or `..` swapped in after the check still cannot lead out of it.
package hostfiles

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/basalt-lava/basalt/internal/limits"
)

// Policy says which local files a job may read: nil allows all; make
// others with New or None.
type Policy struct {
	// dirs are the allowed folders, absolute and with links evaluated.
	dirs []string
	// shown are the folders as given, for messages.
	shown []string
	// host and flag name where the policy comes from, for messages:
	// "worker", "the worker's --allow-local-files".
	host, flag string
	// gitSSH lets git use ssh, which authenticates with the host's keys.
	gitSSH bool
	// lxc lets jobs create LXC containers (privileged: root on the host).
	lxc bool
}

// Options make a policy.
type Options struct {
	// Dirs are the folders whose files jobs may read; they must exist.
	Dirs []string
	// Host names the machine in messages ("worker", "server"); Flag
	// says how to change the policy ("the worker's --allow-local-files").
	Host, Flag string
	// GitSSH lets a job's git repositories use ssh:// and user@host:path
	// URLs. ssh authenticates with the host's own keys and known hosts,
	// so a job could fetch, into its overlay, any repository the host's
	// identity can read; only an operator can say that is fine.
	GitSSH bool
	// LXC lets jobs use the lava-lxc protocol. Its containers are
	// privileged, as in LAVA, so a job's test definitions run as root of
	// the host in all but name: only an operator who trusts every
	// submitter can allow it.
	LXC bool
}

// New returns a policy allowing the folders of opts.Dirs (none when
// empty). A folder that does not exist or is not a folder is an error:
// the operator's configuration is wrong.
func New(opts Options) (*Policy, error) {
	p := &Policy{host: opts.Host, flag: opts.Flag, gitSSH: opts.GitSSH, lxc: opts.LXC}
	if p.host == "" {
		p.host = "host"
	}
	for _, d := range opts.Dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("allowed folder %q: %w", d, err)
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return nil, fmt.Errorf("allowed folder %q: %w", d, err)
		}
		st, err := os.Stat(real)
		if err != nil {
			return nil, fmt.Errorf("allowed folder %q: %w", d, err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("allowed folder %q is not a folder", d)
		}
		p.dirs = append(p.dirs, real)
		p.shown = append(p.shown, abs)
	}
	return p, nil
}

// None is a policy that allows no local file, named after host and flag.
func None(host, flag string) *Policy {
	return &Policy{host: host, flag: flag}
}

// Host names the machine the policy protects ("worker", "server"), for
// messages; "" for the nil policy.
func (p *Policy) Host() string {
	if p == nil {
		return ""
	}
	return p.host
}

// GitSSH reports whether git may use ssh.
func (p *Policy) GitSSH() bool { return p == nil || p.gitSSH }

// LXC reports whether jobs may create (privileged) LXC containers.
func (p *Policy) LXC() bool { return p == nil || p.lxc }

// Allowed lists the allowed folders for messages: "none" or
// "/srv/images, /srv/repos".
func (p *Policy) Allowed() string {
	switch {
	case p == nil:
		return "everything"
	case len(p.shown) == 0:
		return "none"
	}
	return strings.Join(p.shown, ", ")
}

// Error is a local file the policy refuses.
type Error struct {
	// Path is the file as the job names it.
	Path string
	// Reason says what is wrong beyond the policy, if anything ("it
	// leads outside the allowed folders through a link").
	Reason string
	policy *Policy
}

func (e *Error) Error() string {
	p := e.policy
	s := "local files are not allowed on this " + p.host
	if len(p.dirs) > 0 {
		s = "this local file is outside the folders allowed on this " + p.host
	}
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	s += " (allowed: " + p.Allowed()
	if p.flag != "" {
		s += "; " + p.flag
	}
	return s + ")"
}

// SSHError is a git URL that would use ssh where the policy refuses it.
type SSHError struct {
	URL    string
	policy *Policy
}

func (e *SSHError) Error() string {
	s := "git over ssh is not allowed on this " + e.policy.host + ": ssh would authenticate with the " + e.policy.host + "'s own keys"
	if e.policy.flag != "" {
		s += " (" + strings.Replace(e.policy.flag, "--allow-local-files", "--allow-git-ssh", 1) + ")"
	}
	return s
}

// SSHRefused returns the error for a git ssh URL, or nil when the policy
// lets git use ssh.
func (p *Policy) SSHRefused(url string) error {
	if p.GitSSH() {
		return nil
	}
	return &SSHError{URL: url, policy: p}
}

// Check says whether the job may read path (absolute, as the job names
// it): nil when allowed, else an *Error. Links are evaluated where the
// path exists, so that neither `..` nor a link leads out of an allowed
// folder; a path that does not exist is judged as written, cleaned
// (reading it fails later anyway).
func (p *Policy) Check(path string) error {
	_, _, err := p.locate(path)
	return err
}

// locate returns the allowed folder holding path and path relative to
// it, with links evaluated.
func (p *Policy) locate(path string) (dir, rel string, err error) {
	if p == nil {
		return "", path, nil
	}
	if len(p.dirs) == 0 {
		return "", "", &Error{Path: path, policy: p}
	}
	if !filepath.IsAbs(path) {
		return "", "", &Error{Path: path, Reason: "not an absolute path", policy: p}
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		// Judge it as written; Open fails on it later if it is still
		// missing.
		real = filepath.Clean(path)
	}
	for _, d := range p.dirs {
		if r, ok := within(d, real); ok {
			return d, r, nil
		}
	}
	reason := ""
	for _, d := range p.shown {
		if _, ok := within(d, filepath.Clean(path)); ok {
			reason = "it leads outside them through a link or '..'"
		}
	}
	return "", "", &Error{Path: path, Reason: reason, policy: p}
}

// within returns path relative to dir when path is dir itself or below
// it (both clean and absolute).
func within(dir, path string) (string, bool) {
	if path == dir {
		return ".", true
	}
	prefix := dir
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	if !strings.HasPrefix(path, prefix) {
		return "", false
	}
	return path[len(prefix):], true
}

// OpenRegular opens the regular file at path for reading if the policy
// allows it, as limits.OpenRegular does (what names the file in its
// errors; anything but a regular file is refused without blocking). With
// a restricting policy the file is opened through os.Root on its allowed
// folder, after evaluating links, so that a link or '..' changed after
// the check cannot lead out of the folder: the open fails instead.
func (p *Policy) OpenRegular(path, what string) (*os.File, fs.FileInfo, error) {
	if p == nil {
		return limits.OpenRegular(path, what)
	}
	dir, rel, err := p.locate(path)
	if err != nil {
		return nil, nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	before, err := root.Stat(rel)
	if err != nil {
		return nil, nil, escapeError(p, path, err)
	}
	if !before.Mode().IsRegular() {
		return nil, nil, &limits.NotRegularError{Path: path, What: what, Mode: before.Mode()}
	}
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, escapeError(p, path, err)
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = &limits.NotRegularError{Path: path, What: what, Mode: st.Mode()}
	}
	if err == nil && !os.SameFile(before, st) {
		err = fmt.Errorf("%s: the %s changed while it was opened", path, what)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, st, nil
}

// escapeError turns os.Root's refusal of a path leading out of it into
// the policy's error; other errors are returned as they are.
func escapeError(p *Policy, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "escapes") {
		return &Error{Path: path, Reason: "it leads outside them through a link or '..'", policy: p}
	}
	return err
}

// Contains reports whether path (which must exist), or a file below it,
// is inside an allowed folder: for a host to refuse allowing a folder
// that holds its own secrets (a worker's token file and jobs' folders).
// A nil policy contains everything.
func (p *Policy) Contains(path string) bool {
	if p == nil {
		return true
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		real = filepath.Clean(abs)
	}
	for _, d := range p.dirs {
		if _, ok := within(d, real); ok {
			return true
		}
		// A folder inside path holds what path holds.
		if _, ok := within(real, d); ok {
			return true
		}
	}
	return false
}
