package overlay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/basalt-lava/basalt/internal/hostfiles"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/process"
)

// GitClone says what to clone where.
type GitClone struct {
	URL string
	// Dest must not exist yet; git creates it.
	Dest     string
	Branch   string
	Revision string
	// Shallow clones only the last commit (--depth=1); it is ignored when
	// a revision is asked for, which may be any older commit.
	Shallow bool
	// NoHistory removes .git after the checkout: the overlay then holds
	// the files only.
	NoHistory bool
	// LocalFiles is the host-access policy (CheckGitSource): nil lets
	// the URL be a local path or file:// URL and use ssh, as LAVA does.
	LocalFiles *hostfiles.Policy
}

// Clone runs the git binary (no shell: every job string is one argument,
// after "--" where git would take it for an option) and returns the
// commit checked out. As LAVA does, any failure of git is an
// infrastructure error; its message says what git said.
func Clone(ctx context.Context, c GitClone) (string, error) {
	if c.URL == "" {
		return "", pipeline.JobError("git repository not specified")
	}
	if err := CheckGitSource(c.URL, c.LocalFiles); err != nil {
		return "", err
	}
	url, protocols := c.URL, gitProtocols
	if c.LocalFiles != nil {
		protocols = []string{"git", "http", "https"}
		if c.LocalFiles.GitSSH() {
			protocols = append(protocols, "ssh")
		}
		if p, local := GitLocalPath(c.URL); local {
			// Checked: clone the folder its links lead to, which the
			// check allowed, rather than the links again.
			real, err := filepath.EvalSymlinks(p)
			if err != nil {
				return "", pipeline.InfrastructureError("unable to fetch git repository '%s': %v", c.URL, err)
			}
			url, protocols = real, append(protocols, "file")
		}
	}
	git := func(ctx context.Context, dir string, args ...string) (string, error) {
		return runGitWith(ctx, protocols, c.LocalFiles != nil, dir, args...)
	}
	if strings.HasPrefix(c.Revision, "-") || hasControl(c.Revision) {
		return "", pipeline.JobError("invalid git revision %q", c.Revision)
	}
	if strings.HasPrefix(c.Branch, "-") || hasControl(c.Branch) {
		return "", pipeline.JobError("invalid git branch %q", c.Branch)
	}
	args := []string{"clone", "--quiet"}
	if c.Branch != "" {
		args = append(args, "--branch", c.Branch)
	}
	if c.Shallow && c.Revision == "" {
		// git ignores the depth, with a warning, for a local path.
		args = append(args, "--depth=1")
	}
	args = append(args, "--", url, c.Dest)
	if _, err := git(ctx, "", args...); err != nil {
		return "", pipeline.InfrastructureError("unable to fetch git repository '%s': %w", c.URL, err)
	}
	if c.Revision != "" {
		// "--" after the revision: a name that is both a file and a
		// revision is taken as the revision.
		if _, err := git(ctx, c.Dest, "checkout", "--quiet", c.Revision, "--"); err != nil {
			return "", pipeline.InfrastructureError("unable to fetch git repository '%s' at revision '%s': %w", c.URL, c.Revision, err)
		}
	}
	out, err := git(ctx, c.Dest, "log", "-1", "--pretty=%H")
	if err != nil {
		return "", pipeline.InfrastructureError("reading the commit of %s: %w", c.URL, err)
	}
	commit := strings.TrimSpace(out)
	if c.NoHistory {
		if err := os.RemoveAll(filepath.Join(c.Dest, ".git")); err != nil {
			return "", pipeline.InfrastructureError("removing .git from %s: %w", c.Dest, err)
		}
	}
	return commit, nil
}

// gitProtocols are the transports a job's repository may use, as git
// names them (protocol.<name>.allow, GIT_ALLOW_PROTOCOL): "ssh" covers
// ssh://, git+ssh:// and user@host:path; "file" covers file:// and local
// paths, which LAVA allows too (a repository on the dispatcher host).
var gitProtocols = []string{"file", "git", "http", "https", "ssh"}

// gitSchemes are the URL schemes CheckGitURL lets through.
var gitSchemes = map[string]bool{"file": true, "git": true, "http": true, "https": true, "ssh": true, "git+ssh": true, "ssh+git": true}

var (
	// helperRe is git's <transport>::<address> syntax, which runs
	// git-remote-<transport>: ext:: runs a command, fd:: talks over
	// a file descriptor of Basalt's and waits on it forever.
	helperRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9+.-]*::`)
	schemeRe = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://([^/]*)`)
)

// CheckGitURL refuses, with a Job error naming the URL, a repository URL
// that could make git do anything but fetch over gitProtocols: one that
// starts with "-" (an option), holds a control character, uses a
// remote-helper transport (ext::, fd::, any <name>::) or a scheme outside
// gitProtocols (git would run git-remote-<scheme>), or names an ssh host
// starting with "-" (an ssh option). git's own protocol policy (gitEnvFor)
// refuses the same transports again.
func CheckGitURL(url string) error {
	refuse := func(why string) error {
		return pipeline.JobError("git repository URL %q refused: %s", url, why)
	}
	switch {
	case strings.HasPrefix(url, "-"):
		return refuse("it starts with '-', which git would read as an option")
	case hasControl(url):
		return refuse("it contains a control character")
	case helperRe.MatchString(url):
		return refuse(fmt.Sprintf("the %s:: transport is not allowed (allowed: %s, and local paths)", url[:strings.Index(url, "::")], strings.Join(gitProtocols, ", ")))
	}
	if m := schemeRe.FindStringSubmatch(url); m != nil {
		if !gitSchemes[m[1]] { // git matches schemes case-sensitively
			return refuse(fmt.Sprintf("the %s:// scheme is not allowed (allowed: %s, and local paths)", m[1], strings.Join(gitProtocols, ", ")))
		}
		if host := m[2][strings.LastIndex(m[2], "@")+1:]; strings.HasPrefix(host, "-") {
			return refuse("its host starts with '-', which ssh would read as an option")
		}
	} else if i := strings.IndexByte(url, ':'); i > 0 && !strings.Contains(url[:i], "/") {
		// user@host:path, git's scp-like ssh address.
		if host := url[strings.LastIndex(url[:i], "@")+1 : i]; strings.HasPrefix(host, "-") {
			return refuse("its host starts with '-', which ssh would read as an option")
		}
	}
	return nil
}

// CheckGitSource is CheckGitURL, then the host-access policy (nil
// allows everything): a local path or file:// URL only inside the
// policy's folders (absolute, links evaluated), and ssh (ssh://,
// git+ssh://, user@host:path) only when the policy allows git to use
// the host's ssh identity. Errors are Job errors naming the URL.
func CheckGitSource(url string, policy *hostfiles.Policy) error {
	if err := CheckGitURL(url); err != nil {
		return err
	}
	if policy == nil {
		return nil
	}
	if p, local := GitLocalPath(url); local {
		if err := policy.Check(p); err != nil {
			return pipeline.JobError("git repository URL %q refused: %v", url, err)
		}
		return nil
	}
	if gitUsesSSH(url) {
		if err := policy.SSHRefused(url); err != nil {
			return pipeline.JobError("git repository URL %q refused: %v", url, err)
		}
	}
	return nil
}

// GitLocalPath says whether git would take url as a repository on the
// host, and its path: a file:// URL (git reads what follows file:// as
// the path, so file://etc/x is the relative etc/x) or a URL with neither
// a scheme nor git's scp-like host: (a colon with no slash before it).
func GitLocalPath(url string) (string, bool) {
	if m := schemeRe.FindStringSubmatch(url); m != nil {
		if m[1] == "file" {
			return strings.TrimPrefix(url, "file://"), true
		}
		return "", false
	}
	if helperRe.MatchString(url) {
		return "", false
	}
	if i := strings.IndexByte(url, ':'); i > 0 && !strings.Contains(url[:i], "/") {
		return "", false // user@host:path
	}
	return url, true
}

// gitUsesSSH says whether git would fetch url over ssh.
func gitUsesSSH(url string) bool {
	if m := schemeRe.FindStringSubmatch(url); m != nil {
		return m[1] == "ssh" || m[1] == "git+ssh" || m[1] == "ssh+git"
	}
	_, local := GitLocalPath(url)
	return !local && !helperRe.MatchString(url)
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0
}

// gitEnvFor keeps git from waiting for a password nobody will type (no
// terminal prompt, no askpass program, not even the host's SSH_ASKPASS),
// from handing the host's stored credentials to a job's server (no
// credential helper), and from using any transport but protocols
// (GIT_ALLOW_PROTOCOL, and protocol.allow for a git that would ignore
// it). Its time limit is the context's: the action's timeout. The
// dispatcher's own GIT_SSH_COMMAND, if any, is kept.
func gitEnvFor(protocols []string) []string {
	config := [][2]string{
		{"protocol.allow", "never"},
		{"credential.helper", ""},
		{"core.askPass", ""},
	}
	for _, p := range protocols {
		config = append(config, [2]string{"protocol." + p + ".allow", "always"})
	}
	env := []string{
		"GIT_TERMINAL_PROMPT=0",
		// Empty, not unset: git then asks no program, where unset it
		// would fall back to core.askPass and SSH_ASKPASS.
		"GIT_ASKPASS=",
		"SSH_ASKPASS_REQUIRE=never",
		"GIT_ALLOW_PROTOCOL=" + strings.Join(protocols, ":"),
		"GIT_CONFIG_COUNT=" + strconv.Itoa(len(config)),
		"LC_ALL=C",
	}
	for i, kv := range config {
		env = append(env, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, kv[0]), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, kv[1]))
	}
	return env
}

// gitHostEnv is Basalt's environment without what would point git at
// another repository or add configuration behind gitEnvFor's back.
func gitHostEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
			"GIT_CONFIG_PARAMETERS", "GIT_CONFIG", "GIT_NAMESPACE", "SSH_ASKPASS":
			continue
		}
		if strings.HasPrefix(name, "GIT_CONFIG_KEY_") || strings.HasPrefix(name, "GIT_CONFIG_VALUE_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// runGit runs git as a child process (internal/process): in its own
// process group, so that a timeout stops its helpers (git-remote-https,
// ssh) too, always reaped, and contained (Spec.Contain), so that the
// helpers end with git when Basalt is killed outright.
func runGit(ctx context.Context, dir string, args ...string) (string, error) {
	return runGitWith(ctx, gitProtocols, false, dir, args...)
}

// runGitWith is runGit allowing only protocols. strict is for a host
// whose policy restricts jobs (hostfiles): git then reads no
// configuration of the host's user or system (an insteadOf, an
// http.extraHeader with a token) and HOME leads nowhere, so that curl
// finds no ~/.netrc to send the host's passwords from (ssh, when
// allowed, finds its keys from the password database, not HOME).
func runGitWith(ctx context.Context, protocols []string, strict bool, dir string, args ...string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	env := append(gitHostEnv(), gitEnvFor(protocols)...)
	if strict {
		env = append(env, "HOME=/nonexistent", "XDG_CONFIG_HOME=/nonexistent", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	}
	if os.Getenv("GIT_SSH_COMMAND") == "" {
		env = append(env, "GIT_SSH_COMMAND=ssh -o BatchMode=yes")
	}
	var stdout, stderr bytes.Buffer
	err := process.Run(ctx, process.Spec{Argv: append([]string{"git"}, args...), Dir: dir, Env: env, Stdout: &stdout, Stderr: &stderr, Contain: true})
	if ctxErr := ctx.Err(); ctxErr != nil {
		return "", ctxErr
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("%s", gitReason(stderr.String(), ee))
		}
		return "", err
	}
	return stdout.String(), nil
}

// gitReason picks git's own explanation (its fatal: and error: lines).
func gitReason(stderr string, ee *exec.ExitError) string {
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "fatal:") || strings.HasPrefix(l, "error:") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		if s := strings.TrimSpace(stderr); s != "" {
			lines = append(lines, s)
		} else {
			lines = append(lines, ee.String())
		}
	}
	return strings.Join(lines, "; ")
}
