package coordinator

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A configuration path that names a named pipe is refused at once.
func TestLoadConfigRefusesANamedPipe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lava-coordinator.conf")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	done := make(chan struct{})
	go func() { defer close(done); _, err = LoadConfig(path) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("LoadConfig still running after 10s")
	}
	if err == nil || !strings.Contains(err.Error(), "the coordinator configuration is a named pipe, not a regular file") {
		t.Errorf("LoadConfig(pipe) = %v", err)
	}
}
