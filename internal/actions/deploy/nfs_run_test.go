package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

// TestPrefixedRoot: the exported folder is a real folder of the
// unpacked archive, never a link, never above it.
func TestPrefixedRoot(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"rootfs/sub", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/", filepath.Join(root, "slash")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("rootfs", filepath.Join(root, "rel")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		prefix, want, err string
	}{
		{"rootfs/", "rootfs", ""},
		{"rootfs/sub/", "rootfs/sub", ""},
		{"./", "", ""},
		{"rootfs/../etc/", "etc", ""},
		{"../", "", "a relative folder"},
		{"rootfs/../../", "", "a relative folder"},
		{"/etc/", "", "a relative folder"},
		{"rootfs", "", "a relative folder"},
		{"slash/", "", "not a folder of the archive"},
		{"rel/sub/", "", "not a folder of the archive"},
		{"file/", "", "not a folder of the archive"},
		{"missing/", "", "not a folder of the archive"},
	} {
		got, err := prefixedRoot(root, tc.prefix)
		if tc.err != "" {
			if err == nil || pipeline.ClassOf(err) != pipeline.ClassJob || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("prefix %q: %q, %v; want a Job error with %q", tc.prefix, got, err, tc.err)
			}
			continue
		}
		if want := filepath.Join(root, tc.want); err != nil || got != want {
			t.Errorf("prefix %q: %q, %v; want %q", tc.prefix, got, err, want)
		}
	}
}
