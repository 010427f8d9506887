package overlay

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/hostfiles"
	"github.com/basalt-lava/basalt/internal/pipeline"
)

// TestCloneLocalFilesPolicy: under a host-access policy (a worker's), a
// repository on the host is cloned only from an allowed folder, links
// and '..' evaluated, and ssh only when allowed; git's own protocol list
// is cut down to match. A nil policy (basalt run) clones local paths as
// before.
func TestCloneLocalFilesPolicy(t *testing.T) {
	r := newGitRepo(t)
	base := t.TempDir()
	allowed := filepath.Join(base, "allowed")
	if err := os.Mkdir(allowed, 0o755); err != nil {
		t.Fatal(err)
	}
	inside := filepath.Join(allowed, "repo")
	git(t, "", "clone", "-q", r.dir, inside)
	if err := os.Symlink(r.dir, filepath.Join(allowed, "link-out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("repo", filepath.Join(allowed, "link-in")); err != nil {
		t.Fatal(err)
	}
	none, err := hostfiles.New(hostfiles.Options{Host: "worker", Flag: "the worker's --allow-local-files"})
	if err != nil {
		t.Fatal(err)
	}
	some, err := hostfiles.New(hostfiles.Options{Dirs: []string{allowed}, Host: "worker", Flag: "the worker's --allow-local-files"})
	if err != nil {
		t.Fatal(err)
	}
	withSSH, err := hostfiles.New(hostfiles.Options{GitSSH: true, Host: "worker"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		policy *hostfiles.Policy
		url    string
		want   string // "" when the clone succeeds
	}{
		{"nil policy: local path", nil, r.dir, ""},
		{"nil policy: file url", nil, "file://" + r.dir, ""},
		{"none: local path", none, r.dir, "local files are not allowed on this worker (allowed: none; the worker's --allow-local-files)"},
		{"none: file url", none, "file://" + r.dir, "local files are not allowed on this worker"},
		{"none: relative path", none, "relative/repo", "local files are not allowed"},
		{"none: file url with a host", none, "file://localhost" + r.dir, "local files are not allowed"},
		{"none: ssh url", none, "ssh://git@example.org/r.git", "git over ssh is not allowed on this worker"},
		{"none: git+ssh url", none, "git+ssh://example.org/r.git", "git over ssh is not allowed"},
		{"none: scp-like", none, "git@example.org:r.git", "git over ssh is not allowed"},
		{"none: ext transport still refused", none, "ext::sh -c true", "ext:: transport"},
		{"allowed folder: path", some, inside, ""},
		{"allowed folder: file url", some, "file://" + inside, ""},
		{"allowed folder: link inside", some, filepath.Join(allowed, "link-in"), ""},
		{"allowed folder: link out", some, filepath.Join(allowed, "link-out"), "leads outside them through a link or '..'"},
		{"allowed folder: dot-dot out", some, allowed + "/../" + filepath.Base(base), "outside the folders allowed"},
		{"allowed folder: outside", some, r.dir, "outside the folders allowed on this worker (allowed: " + allowed},
		{"allowed folder: relative", some, "allowed/repo", "not an absolute path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "dest")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := Clone(ctx, GitClone{URL: tt.url, Dest: dest, LocalFiles: tt.policy})
			checkErr := CheckGitSource(tt.url, tt.policy)
			if tt.want == "" {
				if err != nil || checkErr != nil {
					t.Fatalf("Clone = %v, CheckGitSource = %v; want both fine", err, checkErr)
				}
				if _, err := os.Stat(filepath.Join(dest, "smoke.yaml")); err != nil {
					t.Errorf("clone has no smoke.yaml: %v", err)
				}
				return
			}
			for what, err := range map[string]error{"Clone": err, "CheckGitSource": checkErr} {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s = %v, want it to say %q", what, err, tt.want)
					continue
				}
				if c := pipeline.ClassOf(err); c != pipeline.ClassJob {
					t.Errorf("%s: class %s, want Job", what, c)
				}
				if !strings.Contains(err.Error(), tt.url) {
					t.Errorf("%s = %v: does not name the URL", what, err)
				}
			}
			if _, err := os.Stat(dest); err == nil {
				t.Errorf("git ran: %s exists", dest)
			}
		})
	}
	if err := CheckGitSource("ssh://git@example.org/r.git", withSSH); err != nil {
		t.Errorf("a policy with GitSSH refuses ssh: %v", err)
	}
}

// TestGitStrictProtocols: should a local URL get past the check, git
// itself refuses the file transport under a policy that does not allow
// it (GIT_ALLOW_PROTOCOL, protocol.allow).
func TestGitStrictProtocols(t *testing.T) {
	r := newGitRepo(t)
	for _, url := range []string{r.dir, "file://" + r.dir} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := runGitWith(ctx, []string{"git", "http", "https"}, true, "", "clone", "--quiet", "--", url, filepath.Join(t.TempDir(), "d"))
		cancel()
		if err == nil || !strings.Contains(err.Error(), "not allowed") {
			t.Errorf("git clone %s: %v, want git's refusal", url, err)
		}
	}
}

// TestCloneStrictNoNetrc: under a policy, git does not send the
// passwords of the host user's ~/.netrc (curl reads it from HOME) to a
// job's server, nor apply the user's ~/.gitconfig.
func TestCloneStrictNoNetrc(t *testing.T) {
	newGitRepo(t) // skips without git
	home := t.TempDir()
	var mu sync.Mutex
	var auths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		auths = append(auths, req.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	host = host[:strings.LastIndex(host, ":")]
	if err := os.WriteFile(filepath.Join(home, ".netrc"), []byte("machine "+host+" login worker password host-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	none, err := hostfiles.New(hostfiles.Options{Host: "worker"})
	if err != nil {
		t.Fatal(err)
	}
	clone := func(policy *hostfiles.Policy) []string {
		mu.Lock()
		auths = nil
		mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := Clone(ctx, GitClone{URL: srv.URL + "/r.git", Dest: filepath.Join(t.TempDir(), "d"), LocalFiles: policy}); err == nil {
			t.Fatal("clone from a server that wants a password succeeded")
		}
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), auths...)
	}
	sent := func(auths []string) bool {
		for _, a := range auths {
			if a != "" {
				return true
			}
		}
		return false
	}
	if got := clone(none); sent(got) {
		t.Errorf("under a policy git sent the host's credentials: %q", got)
	}
	// Without a policy (basalt run, the user's own machine) the user's
	// ~/.netrc is theirs to use; logged to show the test can see it.
	t.Logf("without a policy, credentials sent: %v", sent(clone(nil)))
}
