package cli

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRunRefusesWhatCannotRun: `basalt run` of a job holding an action
// Basalt cannot run (QEMU in a docker container) stops at validation,
// before anything starts: the image server sees no request, QEMU is not
// started, and the log and the exit status say why, naming the action.
func TestRunRefusesWhatCannotRun(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		w.Write([]byte("image"))
	}))
	defer srv.Close()
	b, err := os.ReadFile("../../examples/qemu/job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "http://127.0.0.1:8000", srv.URL)
	s = strings.Replace(s, "    method: qemu\n", "    method: qemu\n    docker:\n      image: qemu-in-docker\n", 1)
	dir := t.TempDir()
	job := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(job, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	code := Main([]string{"run", job, "--device", "../../examples/qemu/device.jinja2", "--output-dir", out, "--quiet"}, &stdout, &stderr)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitFailed, stderr.String())
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the image server got %d requests: the job started", n)
	}
	logs, err := os.ReadFile(filepath.Join(out, "logs.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"2 boot-image-retry: boot method qemu cannot run in Basalt yet", "2.1.1 execute-qemu"} {
		if !bytes.Contains(logs, []byte(want)) {
			t.Errorf("logs.yaml lacks %q", want)
		}
	}
	if bytes.Contains(logs, []byte("Boot command")) || bytes.Contains(logs, []byte("not implemented")) {
		t.Errorf("the job ran:\n%s", logs)
	}
	if _, err := os.Stat(filepath.Join(out, "description.yaml")); err != nil {
		t.Errorf("no description.yaml: %v", err)
	}
}
