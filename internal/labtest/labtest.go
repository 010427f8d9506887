// Package labtest runs a Basalt lab for the end-to-end tests of other
// packages (internal/labe2e with lavacli, internal/webe2e with a browser):
// the real `basalt` binary as `basalt server` (SQLite, or PostgreSQL),
// `basalt manage` to set it up and `basalt worker` processes with QEMU
// devices (TCG, the fixtures of `make fixtures`). It is test support:
// only tests import it.
//
// Every process it starts runs in a process group of its own, ended with
// whatever it started when the test ends; and a reaper process ends those
// groups should the test binary itself be killed (see Reap).
//
// Without the fixtures or QEMU the tests skip saying what is missing,
// except under BASALT_E2E=1 (what `make test` sets, so CI), where that is
// a failure.
package labtest

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var (
	// Basalt is the binary under test, built by Main.
	Basalt string
	// Root is the repository.
	Root string
	// Fixtures is build/fixtures/x86_64.
	Fixtures string
)

// Main is a test package's TestMain: it finds the repository (Root) and,
// unless -short, builds the basalt binary into a temporary folder
// (Basalt); it runs the tests and exits. A test binary started as the
// reaper (see Reap) reaps instead.
func Main(m *testing.M) {
	if os.Getenv(reaperEnv) == "1" {
		runReaper(os.Stdin)
		os.Exit(0)
	}
	inMain = true
	flag.Parse()
	root, err := findRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	Root = root
	Fixtures = filepath.Join(Root, "build", "fixtures", "x86_64")
	if testing.Short() {
		code := m.Run()
		stopReaper()
		os.Exit(code)
	}
	dir, err := os.MkdirTemp("", "basalt-labtest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	Basalt = filepath.Join(dir, "basalt")
	build := exec.Command("go", "build", "-o", Basalt, "./cmd/basalt")
	build.Dir = Root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building basalt:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	stopReaper()
	os.RemoveAll(dir)
	os.Exit(code)
}

// findRoot is the folder holding go.mod, from the test's folder up.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/basalt-lava/basalt\n")) {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", fmt.Errorf("labtest: no go.mod of basalt above the test's folder")
		}
		dir = up
	}
}

// Required is true under `make test` (BASALT_E2E=1): what a case needs
// must be there, a skip would hide a part of the suite CI must run.
func Required() bool { return os.Getenv("BASALT_E2E") == "1" }

// Missing skips the test, or fails it when Required.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if Required() {
		t.Fatalf(format+" (BASALT_E2E=1: required)", args...)
	}
	t.Skipf(format, args...)
}

// NeedQEMU skips under -short (the inner loop: every case of a lab boots
// QEMU) and without the fixtures or QEMU.
func NeedQEMU(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs a lab with QEMU devices: skipped under -short")
	}
	for _, f := range []string{"vmlinuz", "rootfs.cpio.gz"} {
		if _, err := os.Stat(filepath.Join(Fixtures, f)); err != nil {
			Missing(t, "fixture missing, run `make fixtures`: %v", err)
		}
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		Missing(t, "qemu-system-x86_64 is not installed (make deps)")
	}
}
