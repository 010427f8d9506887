package worker

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/workerapi"
)

// buildBasalt builds the basalt binary into a test folder.
func buildBasalt(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "basalt")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/basalt-lava/basalt/cmd/basalt")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestSIGTERM runs `basalt worker` as a process with a job running and
// sends it SIGTERM: it stops polling, cancels the job (whose cleanup
// runs), reports it Canceled, leaves no child and no job folder, and
// exits 0.
func TestSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBasalt(t)
	rec := newRecorder()
	srv := serveOn(t, rec, "", nil)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	workDir := filepath.Join(dir, "work")
	cmd := exec.Command(bin, "worker", "--url", srv.URL, "--name", testWorker, "--token-file", tokenFile, "--work-dir", workDir, "--kill-grace", "2s")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var lines []string
	connected := make(chan struct{})
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			t.Logf("stderr: %s", sc.Text())
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
			if sc.Text() == "basalt worker w1: connected to "+srv.URL {
				once.Do(func() { close(connected) })
			}
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	select {
	case <-connected:
	case <-time.After(time.Minute):
		t.Fatal("the worker never said it connected")
	}
	rec.start(startJob(8, "hang"))
	rec.waitFor(t, "job 8's command to start", func() bool { return rec.logHas(8, "hang-started") })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-readDone
	err = cmd.Wait()
	if err != nil {
		t.Fatalf("the worker exited with %v after SIGTERM, want 0", err)
	}
	fin, ok := rec.finishOf(8)
	if !ok || fin.Health != workerapi.Canceled || !strings.Contains(fin.ErrorMessage, "the worker is shutting down: terminated") {
		t.Fatalf("job 8 ended %s (%s: %s), want Canceled because the worker shut down", fin.Health, fin.ErrorType, fin.ErrorMessage)
	}
	log := rec.logOf(8)
	checkLog(t, log, fin, nil)
	if !strings.Contains(strings.Join(log, "\n"), "undo-ran") {
		t.Error("the command's undo did not run: no cleanup")
	}
	checkNoProcess(t, "sleep\x00613")
	entries, err := os.ReadDir(filepath.Join(workDir, "jobs"))
	if err != nil || len(entries) != 0 {
		t.Errorf("jobs folder after the worker stopped: %v, %v; want it empty", entries, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if last := lines[len(lines)-1]; last != "basalt worker w1: stopped" {
		t.Errorf("last message %q, want the worker saying it stopped", last)
	}
}

// TestRefusedWorker: a worker whose token the server refuses says so and
// stops, rather than retrying forever.
func TestRefusedWorker(t *testing.T) {
	rec := newRecorder()
	srv := serveOn(t, rec, "", nil)
	w, err := New(Config{URL: srv.URL, Name: testWorker, Token: "wrong", WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(t.Context()) }()
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the refused worker kept running")
	}
	if !errors.Is(err, workerapi.ErrUnauthorized) || !strings.Contains(err.Error(), `refused the worker "w1"`) {
		t.Errorf("Run = %v, want the refusal", err)
	}
}

// TestWorkDirTakenOnce: a second worker on a work folder in use refuses
// to start rather than remove the first one's jobs.
func TestWorkDirTakenOnce(t *testing.T) {
	rec := newRecorder()
	srv := serveOn(t, rec, "", nil)
	first := startWorker(t, srv.URL, nil)
	rec.waitFor(t, "a first poll", func() bool { return rec.polls > 0 })
	w, err := New(Config{URL: srv.URL, Name: testWorker, Token: testToken, WorkDir: first.workDir})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "is in use by another basalt worker") {
		t.Errorf("a second worker on the same folder: Run = %v, want a refusal", err)
	}
}
