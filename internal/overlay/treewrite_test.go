package overlay

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

// TestWriteInTree writes a file over everything a fetched repository may
// hold at that name, or above it. The file outside the tree and the
// repository's own file keep their content; what cannot be replaced is
// the job's error, naming the repository and the path.
func TestWriteInTree(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, dir, outside string)
		path  string
		// err is a part of the job error, empty when the write succeeds.
		err  string
		link string
	}{
		{name: "absent", path: "run.sh"},
		{name: "regular file", path: "run.sh", setup: func(t *testing.T, dir, _ string) {
			writeTestFile(t, filepath.Join(dir, "run.sh"), "the repository's run.sh\n")
		}},
		{name: "symlink out, absolute", path: "run.sh", link: "OUTSIDE", setup: func(t *testing.T, dir, outside string) {
			symlink(t, outside, filepath.Join(dir, "run.sh"))
		}},
		{name: "symlink out, relative", path: "uuid", link: "REL", setup: func(t *testing.T, dir, outside string) {
			symlink(t, relOutside(outside), filepath.Join(dir, "uuid"))
		}},
		{name: "dangling symlink out", path: "install.sh", link: "OUTSIDE.new", setup: func(t *testing.T, dir, outside string) {
			symlink(t, outside+".new", filepath.Join(dir, "install.sh"))
		}},
		{name: "symlink inside", path: "testdef.yaml", link: "keep.txt", setup: func(t *testing.T, dir, _ string) {
			symlink(t, "keep.txt", filepath.Join(dir, "testdef.yaml"))
		}},
		{name: "hard link inside", path: "testdef_metadata", setup: func(t *testing.T, dir, _ string) {
			if err := os.Link(filepath.Join(dir, "keep.txt"), filepath.Join(dir, "testdef_metadata")); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "folder", path: "run.sh", err: "repository REPO: cannot write run.sh: the repository has a folder there", setup: func(t *testing.T, dir, _ string) {
			mkdir(t, dir, "run.sh", "x")
		}},
		{name: "parent links out", path: "inline/t.yaml", err: "repository REPO: cannot write inline/t.yaml: a symlink of the repository leads out of it", setup: func(t *testing.T, dir, outside string) {
			symlink(t, filepath.Dir(outside), filepath.Join(dir, "inline"))
		}},
		{name: "parent is a file", path: "inline/t.yaml", err: "repository REPO: cannot write inline/t.yaml:", setup: func(t *testing.T, dir, _ string) {
			writeTestFile(t, filepath.Join(dir, "inline"), "x")
		}},
		{name: "leaves the tree", path: "../run.sh", err: `repository REPO: cannot write ../run.sh: "../run.sh" leaves the repository`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			outside := filepath.Join(t.TempDir(), "host-file")
			writeTestFile(t, outside, "untouched\n")
			writeTestFile(t, filepath.Join(dir, "keep.txt"), "kept\n")
			if c.setup != nil {
				c.setup(t, dir, outside)
			}
			link, err := WriteInTree(dir, "REPO", c.path, []byte("basalt's\n"), 0o644)
			checkFile(t, outside, "untouched\n")
			checkFile(t, filepath.Join(dir, "keep.txt"), "kept\n")
			if _, serr := os.Lstat(outside + ".new"); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("a file was created outside the tree (%v)", serr)
			}
			if c.err != "" {
				var pe *pipeline.Error
				if !errors.As(err, &pe) || pe.Class != pipeline.ClassJob || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want a job error with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := strings.NewReplacer("OUTSIDE", outside, "REL", relOutside(outside)).Replace(c.link)
			if link != want {
				t.Errorf("replaced link %q, want %q", link, want)
			}
			st, err := os.Lstat(filepath.Join(dir, c.path))
			if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o644 {
				t.Fatalf("%s: %v %v, want a regular file 0644", c.path, st, err)
			}
			checkFile(t, filepath.Join(dir, c.path), "basalt's\n")
		})
	}
}

func symlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

func relOutside(outside string) string {
	return strings.Repeat("../", 40) + strings.TrimPrefix(outside, "/")
}
