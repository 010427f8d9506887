package overlay

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

// gitRepo makes a real repository: two commits on main (the test
// definition changes between them) and a branch "stable" with a third.
type gitRepo struct {
	dir                     string
	first, second, onStable string
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func newGitRepo(t *testing.T) gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	r := gitRepo{dir: t.TempDir()}
	git(t, r.dir, "init", "-q", "-b", "main")
	commit := func(content string) string {
		writeTestFile(t, filepath.Join(r.dir, "smoke.yaml"), content)
		git(t, r.dir, "add", "smoke.yaml")
		git(t, r.dir, "commit", "-q", "-m", content)
		return git(t, r.dir, "rev-parse", "HEAD")
	}
	r.first = commit("metadata: {name: first}\n")
	r.second = commit("metadata: {name: second}\n")
	git(t, r.dir, "checkout", "-q", "-b", "stable")
	r.onStable = commit("metadata: {name: stable}\n")
	git(t, r.dir, "checkout", "-q", "main")
	return r
}

func TestClone(t *testing.T) {
	r := newGitRepo(t)
	tests := []struct {
		name       string
		clone      GitClone
		wantCommit string
		wantName   string
		wantGit    bool
		wantDepth  int // commits in the clone, 0 when .git is gone
	}{
		{"default shallow", GitClone{URL: "file://" + r.dir, Shallow: true}, r.second, "second", true, 1},
		{"full history", GitClone{URL: r.dir}, r.second, "second", true, 2},
		{"branch", GitClone{URL: r.dir, Branch: "stable"}, r.onStable, "stable", true, 3},
		{"revision", GitClone{URL: "file://" + r.dir, Revision: r.first, Shallow: true}, r.first, "first", true, 1},
		{"short revision", GitClone{URL: r.dir, Revision: r.first[:10]}, r.first, "first", true, 1},
		{"no history", GitClone{URL: r.dir, NoHistory: true}, r.second, "second", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.clone.Dest = filepath.Join(t.TempDir(), "0_smoke")
			commit, err := Clone(context.Background(), tt.clone)
			if err != nil {
				t.Fatalf("Clone(%+v): %v", tt.clone, err)
			}
			if commit != tt.wantCommit {
				t.Errorf("commit = %s, want %s", commit, tt.wantCommit)
			}
			td, err := LoadTestDef(tt.clone.Dest, "smoke.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if td.Name() != tt.wantName {
				t.Errorf("checked out %q, want %q", td.Name(), tt.wantName)
			}
			_, err = os.Stat(filepath.Join(tt.clone.Dest, ".git"))
			if (err == nil) != tt.wantGit {
				t.Errorf(".git present = %v, want %v", err == nil, tt.wantGit)
			}
			if tt.wantGit {
				if n := git(t, tt.clone.Dest, "rev-list", "--count", "HEAD"); n != strconv.Itoa(tt.wantDepth) {
					t.Errorf("clone holds %s commits, want %d", n, tt.wantDepth)
				}
			}
		})
	}
}

// TestCloneErrors checks that what git cannot fetch ends cleanly, with
// LAVA's class (infrastructure) and git's own reason in the message.
func TestCloneErrors(t *testing.T) {
	r := newGitRepo(t)
	missing := filepath.Join(t.TempDir(), "no-such-repo")
	tests := []struct {
		name  string
		clone GitClone
		class pipeline.Class
		want  []string // in the message
	}{
		{"missing repository", GitClone{URL: missing}, pipeline.ClassInfrastructure,
			[]string{"unable to fetch git repository '" + missing + "'", "does not exist"}},
		{"missing revision", GitClone{URL: r.dir, Revision: "0123456789abcdef0123456789abcdef01234567"}, pipeline.ClassInfrastructure,
			[]string{"at revision '0123456789abcdef0123456789abcdef01234567'", "fatal:"}},
		{"missing branch", GitClone{URL: r.dir, Branch: "nope"}, pipeline.ClassInfrastructure,
			[]string{"Remote branch nope not found"}},
		{"option as url", GitClone{URL: "--upload-pack=touch /tmp/pwned"}, pipeline.ClassJob,
			[]string{`git repository URL "--upload-pack=touch /tmp/pwned" refused`, "option"}},
		{"ext transport", GitClone{URL: "ext::sh -c touch% /tmp/pwned-ext"}, pipeline.ClassJob,
			[]string{`git repository URL "ext::sh -c touch% /tmp/pwned-ext" refused`, "ext:: transport"}},
		{"option as revision", GitClone{URL: r.dir, Revision: "--orphan=x"}, pipeline.ClassJob,
			[]string{"invalid git revision"}},
		{"no url", GitClone{}, pipeline.ClassJob, []string{"not specified"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.clone.Dest = filepath.Join(t.TempDir(), "dest")
			_, err := Clone(context.Background(), tt.clone)
			if err == nil {
				t.Fatalf("Clone(%+v) succeeded", tt.clone)
			}
			t.Logf("error: %v", err)
			if c := pipeline.ClassOf(err); c != tt.class {
				t.Errorf("class %s, want %s (%v)", c, tt.class, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	for _, f := range []string{"/tmp/pwned", "/tmp/pwned-ext"} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s exists: a job string ran a command", f)
		}
	}
}

func TestCloneCanceled(t *testing.T) {
	r := newGitRepo(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Clone(ctx, GitClone{URL: r.dir, Dest: filepath.Join(t.TempDir(), "d")})
	if err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Errorf("Clone with a canceled context = %v, want the cancellation", err)
	}
}
