package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNoLinkBelow(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "var", "lib"), 0o755)
	os.Symlink("/", filepath.Join(root, "up"))
	cases := []struct {
		dir  string
		want string
	}{
		{"/", ""},
		{"/var/lib", ""},
		{"/var/missing/x", ""},
		{"/up", "is a symbolic link"},
		{"/up/etc", "is a symbolic link"},
	}
	for _, c := range cases {
		err := noLinkBelow(root, c.dir)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.dir, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.dir, err, c.want)
		}
	}
}

func TestLxcPackageNames(t *testing.T) {
	for _, ok := range []string{"curl", "libc6=2.36-9", "git/bookworm-backports", "g++", "python3.11"} {
		if !lxcPackageRe(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", "-y", "--allow-unauthenticated", "a b", "curl;rm", "Curl", strings.Repeat("a", 201)} {
		if lxcPackageRe(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}
