package janitor

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain is both the test binary and, with EnvVar set, the helper, as
// basalt's main is.
func TestMain(m *testing.M) {
	if os.Getenv(EnvVar) == "1" {
		if err := Serve(os.Stdin, os.Stderr, CommandTimeout); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	if dir := os.Getenv("JANITOR_TEST_DIR"); dir != "" {
		victim(dir)
	}
	os.Exit(m.Run())
}

// victim plays Basalt: it lists three undo commands, withdraws the
// second, then dies by SIGKILL.
func victim(dir string) {
	Enable(os.Args[0])
	Add("first", "sh", "-c", "echo first >> "+filepath.Join(dir, "undone"))
	Add("withdrawn", "sh", "-c", "echo withdrawn >> "+filepath.Join(dir, "undone")).Done()
	Add("third", "sh", "-c", "echo third >> "+filepath.Join(dir, "undone"))
	os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644)
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// TestSIGKILL: what Basalt listed and did not withdraw is undone after a
// SIGKILL, newest first; what it withdrew is not.
func TestSIGKILL(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "JANITOR_TEST_DIR="+dir)
	err := cmd.Run()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the victim did not die by SIGKILL: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ready")); err != nil {
		t.Fatalf("the victim did not list its commands: %v", err)
	}
	undone := filepath.Join(dir, "undone")
	var got []byte
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got, _ = os.ReadFile(undone)
		if bytes.Count(got, []byte("\n")) >= 2 {
			break
		}
	}
	time.Sleep(200 * time.Millisecond) // a withdrawn command run late would show now
	got, _ = os.ReadFile(undone)
	if want := "third\nfirst\n"; string(got) != want {
		t.Errorf("undone after SIGKILL: %q, want %q", got, want)
	}
}

// TestServe: the protocol's table of cases, without processes.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	in := strings.Join([]string{
		`{"id":1,"what":"a","argv":["sh","-c","echo a >> ` + out + `"]}`,
		`not json`,
		`{"id":2,"what":"b","argv":["sh","-c","echo b >> ` + out + `"]}`,
		`{"id":1}`,
		`{"id":3,"what":"fails","argv":["false"]}`,
		`{"id":4,"what":"missing","argv":["/nonexistent/undo"]}`,
	}, "\n")
	var log bytes.Buffer
	err := Serve(strings.NewReader(in), &log, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "fails") || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Serve's error %v should name both failed commands", err)
	}
	if got, _ := os.ReadFile(out); string(got) != "b\n" {
		t.Errorf("ran %q, want only b", got)
	}
	if !strings.Contains(log.String(), "malformed") {
		t.Errorf("the malformed line is not logged: %s", log.String())
	}
}

// TestDisabled: without Enable, Add lists nothing and Done is harmless.
func TestDisabled(t *testing.T) {
	e := Add("nothing", "true")
	if e != nil {
		t.Fatalf("Add without Enable returned %v", e)
	}
	e.Done()
}
