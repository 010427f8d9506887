package lavacorpus

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDirFindsCorpusBesideModule(t *testing.T) {
	root := t.TempDir()
	mod := filepath.Join(root, "basalt")
	pkg := filepath.Join(mod, "internal", "x")
	corpus := filepath.Join(root, "shared", "lava-corpus")
	for _, d := range []string{pkg, corpus} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(pkg)
	got, _ := filepath.EvalSymlinks(Dir())
	want, _ := filepath.EvalSymlinks(corpus)
	if got != want {
		t.Errorf("Dir() = %q, want %q", got, want)
	}
	if err := os.RemoveAll(corpus); err != nil {
		t.Fatal(err)
	}
	if got := Dir(); got != "" {
		t.Errorf("Dir() = %q with no corpus, want \"\"", got)
	}
}
