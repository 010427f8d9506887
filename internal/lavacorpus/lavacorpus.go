// Package lavacorpus locates the conformance data from LAVA's own
// repository that the tests compare Basalt with. The data lives beside
// the repository in ../shared/lava-corpus and is never part of it, so a
// clone of Basalt alone finds nothing and its corpus tests skip.
package lavacorpus

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the corpus folder, or "" when it is absent. It is found
// from the working directory (a test runs in its package's folder): up
// to the folder holding go.mod, then ../shared/lava-corpus.
func Dir() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	c := filepath.Join(dir, "..", "shared", "lava-corpus")
	if fi, err := os.Stat(c); err != nil || !fi.IsDir() {
		return ""
	}
	return c
}

// Require returns the corpus folder, or skips the test with a message
// saying what is missing when the folder or the file it needs is absent.
func Require(t testing.TB, file string) string {
	t.Helper()
	c := Dir()
	if c == "" {
		t.Skip("LAVA corpus not found: conformance tests need ../shared/lava-corpus beside the repository")
	}
	if _, err := os.Stat(filepath.Join(c, file)); err != nil {
		t.Skipf("LAVA corpus at %s lacks %s; skipping", c, file)
	}
	return c
}
