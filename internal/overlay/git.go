package overlay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

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
}

// Clone runs the git binary (no shell: every job string is one argument,
// after "--" where git would take it for an option) and returns the
// commit checked out. As LAVA does, any failure of git is an
// infrastructure error; its message says what git said.
func Clone(ctx context.Context, c GitClone) (string, error) {
	if c.URL == "" {
		return "", pipeline.JobError("git repository not specified")
	}
	if strings.HasPrefix(c.Revision, "-") {
		return "", pipeline.JobError("invalid git revision %q", c.Revision)
	}
	args := []string{"clone", "--quiet"}
	if c.Branch != "" {
		args = append(args, "--branch", c.Branch)
	}
	if c.Shallow && c.Revision == "" {
		// git ignores the depth, with a warning, for a local path.
		args = append(args, "--depth=1")
	}
	args = append(args, "--", c.URL, c.Dest)
	if _, err := runGit(ctx, "", args...); err != nil {
		return "", pipeline.InfrastructureError("unable to fetch git repository '%s': %w", c.URL, err)
	}
	if c.Revision != "" {
		// "--" after the revision: a name that is both a file and a
		// revision is taken as the revision.
		if _, err := runGit(ctx, c.Dest, "checkout", "--quiet", c.Revision, "--"); err != nil {
			return "", pipeline.InfrastructureError("unable to fetch git repository '%s' at revision '%s': %w", c.URL, c.Revision, err)
		}
	}
	out, err := runGit(ctx, c.Dest, "log", "-1", "--pretty=%H")
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

// gitEnv keeps git from waiting for a password nobody will type and from
// running commands named by the URL (the ext:: transport).
// The dispatcher's own GIT_SSH_COMMAND, if any, is kept.
var gitEnv = []string{
	"GIT_TERMINAL_PROMPT=0",
	"GIT_ASKPASS=true",
	"GIT_CONFIG_COUNT=1",
	"GIT_CONFIG_KEY_0=protocol.ext.allow",
	"GIT_CONFIG_VALUE_0=never",
	"LC_ALL=C",
}

// runGit runs git as a child process (internal/process): in its own
// process group, so that a timeout stops its helpers (git-remote-https,
// ssh) too, and always reaped.
func runGit(ctx context.Context, dir string, args ...string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	env := append(os.Environ(), gitEnv...)
	if os.Getenv("GIT_SSH_COMMAND") == "" {
		env = append(env, "GIT_SSH_COMMAND=ssh -o BatchMode=yes")
	}
	var stdout, stderr bytes.Buffer
	err := process.Run(ctx, process.Spec{Argv: append([]string{"git"}, args...), Dir: dir, Env: env, Stdout: &stdout, Stderr: &stderr})
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
