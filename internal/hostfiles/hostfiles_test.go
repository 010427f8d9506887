package hostfiles

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/basalt-lava/basalt/internal/limits"
)

// tree is an allowed folder and a secret outside it, with the links and
// names a job could use to reach the secret.
type tree struct {
	allowed, outside, secret string
}

func newTree(t *testing.T) tree {
	t.Helper()
	base := t.TempDir()
	tr := tree{allowed: filepath.Join(base, "allowed"), outside: filepath.Join(base, "outside")}
	for _, d := range []string{tr.allowed, filepath.Join(tr.allowed, "sub"), tr.outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tr.secret = filepath.Join(tr.outside, "shadow")
	write(t, tr.secret, "secret")
	write(t, filepath.Join(tr.allowed, "image.img"), "image")
	write(t, filepath.Join(tr.allowed, "sub", "deep.img"), "deep")
	link(t, tr.secret, filepath.Join(tr.allowed, "to-secret"))
	link(t, tr.outside, filepath.Join(tr.allowed, "to-outside"))
	link(t, "image.img", filepath.Join(tr.allowed, "to-image"))
	link(t, "../sub", filepath.Join(tr.allowed, "sub", "self"))
	if err := syscall.Mkfifo(filepath.Join(tr.allowed, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	return tr
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func link(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

func mustNew(t *testing.T, dirs ...string) *Policy {
	t.Helper()
	p, err := New(Options{Dirs: dirs, Host: "worker", Flag: "the worker's --allow-local-files"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPolicy: which paths each policy lets a job read, at validation
// (Check) and at run time (OpenRegular), and what the refusal says.
func TestPolicy(t *testing.T) {
	tr := newTree(t)
	in := func(rel string) string { return tr.allowed + "/" + rel }
	var all *Policy
	none := mustNew(t)
	some := mustNew(t, tr.allowed)
	tests := []struct {
		name   string
		policy *Policy
		path   string
		// want is the content read; empty when refused, then refusal
		// is what the error says.
		want    string
		refusal string
	}{
		{"nil policy reads anything", all, tr.secret, "secret", ""},
		{"no folder: nothing", none, tr.secret, "", "local files are not allowed on this worker (allowed: none; the worker's --allow-local-files)"},
		{"no folder: not even /etc/passwd", none, "/etc/passwd", "", "local files are not allowed on this worker (allowed: none"},
		{"file in the folder", some, in("image.img"), "image", ""},
		{"file below the folder", some, in("sub/deep.img"), "deep", ""},
		{"link inside the folder", some, in("to-image"), "image", ""},
		{"link to a folder inside", some, in("sub/self/deep.img"), "deep", ""},
		{"dot-dot staying inside", some, in("sub/../image.img"), "image", ""},
		{"file outside", some, tr.secret, "", "outside the folders allowed on this worker (allowed: " + tr.allowed},
		{"dot-dot escape", some, in("../outside/shadow"), "", "outside the folders allowed on this worker"},
		{"dot-dot escape through a subfolder", some, in("sub/../../outside/shadow"), "", "outside the folders allowed"},
		{"link escape", some, in("to-secret"), "", "leads outside them through a link or '..'"},
		{"link to a folder outside", some, in("to-outside/shadow"), "", "leads outside them through a link or '..'"},
		{"relative path", some, "allowed/image.img", "", "not an absolute path"},
		{"prefix that is not the folder", some, tr.allowed + "-not/x", "", "outside the folders allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cerr := tt.policy.Check(tt.path)
			f, _, oerr := tt.policy.OpenRegular(tt.path, "image file")
			if tt.refusal == "" {
				if cerr != nil || oerr != nil {
					t.Fatalf("Check = %v, OpenRegular = %v; want both allowed", cerr, oerr)
				}
				defer f.Close()
				b, _ := io.ReadAll(f)
				if string(b) != tt.want {
					t.Errorf("read %q, want %q", b, tt.want)
				}
				return
			}
			if oerr == nil {
				f.Close()
			}
			for what, err := range map[string]error{"Check": cerr, "OpenRegular": oerr} {
				var pe *Error
				if !errors.As(err, &pe) {
					t.Errorf("%s = %v, want an *Error", what, err)
					continue
				}
				if !strings.Contains(err.Error(), tt.refusal) {
					t.Errorf("%s = %q, want it to say %q", what, err, tt.refusal)
				}
			}
		})
	}
}

// TestOpenNotRegular: an allowed path is still only a regular file: a
// fifo is refused without blocking, a folder too.
func TestOpenNotRegular(t *testing.T) {
	tr := newTree(t)
	p := mustNew(t, tr.allowed)
	for _, name := range []string{"fifo", "sub"} {
		_, _, err := p.OpenRegular(filepath.Join(tr.allowed, name), "image file")
		if !limits.IsNotRegular(err) {
			t.Errorf("%s: %v, want a NotRegularError", name, err)
		}
	}
}

// TestOpenAfterSwap: a path allowed when checked whose folder is then
// replaced by a link to the outside is refused when opened (the time of
// check is not the time of use).
func TestOpenAfterSwap(t *testing.T) {
	tr := newTree(t)
	p := mustNew(t, tr.allowed)
	path := filepath.Join(tr.allowed, "sub", "shadow")
	write(t, path, "fine")
	if err := p.Check(path); err != nil {
		t.Fatalf("Check before the swap: %v", err)
	}
	if err := os.RemoveAll(filepath.Join(tr.allowed, "sub")); err != nil {
		t.Fatal(err)
	}
	link(t, tr.outside, filepath.Join(tr.allowed, "sub"))
	f, _, err := p.OpenRegular(path, "image file")
	if err == nil {
		b, _ := io.ReadAll(f)
		f.Close()
		t.Fatalf("OpenRegular after the swap read %q", b)
	}
	var pe *Error
	if !errors.As(err, &pe) {
		t.Errorf("OpenRegular after the swap: %v, want an *Error", err)
	}
}

// TestNewRefusesBadFolders: the operator's folders must exist and be
// folders; a link to a folder is its target.
func TestNewRefusesBadFolders(t *testing.T) {
	tr := newTree(t)
	for _, d := range []string{filepath.Join(tr.allowed, "missing"), filepath.Join(tr.allowed, "image.img")} {
		if _, err := New(Options{Dirs: []string{d}}); err == nil {
			t.Errorf("New(%s) succeeded", d)
		}
	}
	p := mustNew(t, filepath.Join(tr.allowed, "to-outside"))
	if err := p.Check(tr.secret); err != nil {
		t.Errorf("a file in the folder a link names: %v", err)
	}
	if !p.Contains(tr.outside) || p.Contains(tr.allowed) {
		t.Errorf("Contains: wrong")
	}
}

func TestGitSSH(t *testing.T) {
	var all *Policy
	if all.SSHRefused("ssh://h/r") != nil {
		t.Error("nil policy refuses ssh")
	}
	none := mustNew(t)
	err := none.SSHRefused("ssh://h/r")
	if err == nil || !strings.Contains(err.Error(), "the worker's --allow-git-ssh") || !strings.Contains(err.Error(), "own keys") {
		t.Errorf("SSHRefused = %v", err)
	}
	p, _ := New(Options{GitSSH: true})
	if p.SSHRefused("ssh://h/r") != nil {
		t.Error("GitSSH policy refuses ssh")
	}
}
