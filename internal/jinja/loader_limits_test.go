package jinja

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A template that is a named pipe, a link to a device, or larger than
// the template limit is an error naming the file, found without blocking
// and without reading more than the limit; the search does not go on to
// the next folder, as for any template that exists but cannot be read.
func TestDirLoaderRefusesWhatIsNotATemplateFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.jinja2"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.jinja2")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "big.jinja2"), []byte(strings.Repeat("x", 2000)), 0o644); err != nil {
		t.Fatal(err)
	}
	l := &DirLoader{Dirs: []string{dir}, MaxSize: 1000}
	for name, want := range map[string]string{
		"fifo.jinja2": filepath.Join(dir, "fifo.jinja2") + ": the device-type template is a named pipe, not a regular file",
		"big.jinja2":  filepath.Join(dir, "big.jinja2") + ": the device-type template is over the limit of 1000 bytes (--max-template-size changes it)",
	} {
		var err error
		done := make(chan struct{})
		go func() { defer close(done); _, _, err = l.Load(name) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Load(%s) still running after 10s", name)
		}
		if err == nil || err.Error() != want {
			t.Errorf("Load(%s) = %v, want %q", name, err, want)
		}
	}
	// /dev/zero is outside the folder: os.Root refuses the link, as
	// before, so it is simply not found there.
	if _, _, err := l.Load("zero.jinja2"); err == nil {
		t.Error("Load(zero.jinja2) read /dev/zero")
	}
	if src, _, err := (&DirLoader{Dirs: []string{dir}, MaxSize: 2000}).Load("big.jinja2"); err != nil || len(src) != 2000 {
		t.Errorf("Load(big.jinja2) at the limit = %d bytes, %v", len(src), err)
	}
}
