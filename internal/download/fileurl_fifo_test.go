package download_test

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/download"
	"github.com/basalt-lava/basalt/internal/pipeline"
)

// A file:// URL naming a named pipe is a Job error at once: the open
// used to block until a writer came.
func TestFetchFileURLRefusesANamedPipe(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "rootfs.img")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err = download.Fetch(ctx, download.Request{URL: "file://" + fifo, Dir: t.TempDir()})
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Fetch still running after 15s")
	}
	if err == nil || pipeline.ClassOf(err) != pipeline.ClassJob || !strings.Contains(err.Error(), "is not a regular file") {
		t.Errorf("Fetch(file://fifo) = %v, want a Job error saying it is not a regular file", err)
	}
}
