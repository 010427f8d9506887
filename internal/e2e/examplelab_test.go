package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/proctest"
)

// TestExampleLab runs examples/lab/run.sh, what `make example-lab` runs
// and the README's lab command: basalt server, basalt worker with two
// QEMU devices, Debian's lavacli (1.2) submitting the example job and
// reading back its state, log and results; with BASALT_LAVACLI2 (make
// test sets it) the same again with lavacli 2.x. Each run is in a folder
// of the test's own (LAB_DIR), on ports of the system's choosing, so it
// clashes neither with another test nor with a lab on this machine.
func TestExampleLab(t *testing.T) {
	needFixtures(t)
	clients := []struct{ name, bin string }{{"lavacli-1.2", "lavacli"}}
	if bin := os.Getenv("BASALT_LAVACLI2"); bin != "" {
		clients = append(clients, struct{ name, bin string }{"lavacli-2", bin})
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			if _, err := exec.LookPath(c.bin); err != nil {
				if os.Getenv("BASALT_E2E") == "1" {
					t.Fatalf("%s (make deps installs it): %v", c.bin, err)
				}
				t.Skipf("%s (make deps installs it): %v", c.bin, err)
			}
			exampleLab(t, c.bin)
		})
	}
}

// TestExampleLabInterrupted stops the script while its job runs (QEMU
// started): by Ctrl-C (SIGINT to its whole process group, as a terminal
// sends it) and by SIGTERM to the script alone. Either way it stops the
// processes it started, and only after the worker has reported the job's
// end to the server.
func TestExampleLabInterrupted(t *testing.T) {
	needFixtures(t)
	if _, err := exec.LookPath("lavacli"); err != nil {
		if os.Getenv("BASALT_E2E") == "1" {
			t.Fatalf("lavacli (make deps installs it): %v", err)
		}
		t.Skipf("lavacli (make deps installs it): %v", err)
	}
	root, _ := filepath.Abs("../..")
	for _, c := range []struct {
		name   string
		signal syscall.Signal
		group  bool
		status int
	}{
		{"ctrl-c", syscall.SIGINT, true, 130},
		{"sigterm", syscall.SIGTERM, false, 143},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			lab := filepath.Join(dir, "lab")
			outPath := filepath.Join(dir, "output")
			outFile, err := os.Create(outPath)
			if err != nil {
				t.Fatal(err)
			}
			defer outFile.Close()
			cmd := exec.Command(filepath.Join(root, "examples", "lab", "run.sh"))
			cmd.Env = append(os.Environ(), "BASALT="+basalt, "FIXTURES="+fixtures, "LAB_DIR="+lab)
			cmd.Stdout, cmd.Stderr = outFile, outFile
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			// A guard against a script that never ends: the whole group
			// killed, and the test fails below.
			guard := time.AfterFunc(10*time.Minute, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
			defer guard.Stop()
			output := func() string { b, _ := os.ReadFile(outPath); return string(b) }
			// Until QEMU runs the job.
			for running := false; !running; {
				select {
				case err := <-done:
					t.Fatalf("the script ended (%v) before its job ran QEMU:\n%s", err, output())
				case <-time.After(200 * time.Millisecond):
				}
				for _, pid := range proctest.Naming(lab + "/") {
					running = running || strings.Contains(proctest.Cmdline(pid), "qemu-system")
				}
			}
			if c.group {
				syscall.Kill(-cmd.Process.Pid, c.signal)
			} else {
				cmd.Process.Signal(c.signal)
			}
			err = <-done
			noneLeft(t, lab)
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != c.status {
				t.Errorf("the script ended with %v, want exit status %d", err, c.status)
			}
			got := output()
			if !strings.Contains(got, "example-lab: stopped what it started; the lab's data is in "+lab+"\n") {
				t.Errorf("the script did not say it stopped what it started:\n%s", got)
			}
			server, _ := os.ReadFile(filepath.Join(lab, "server.log"))
			if !regexp.MustCompile(`msg="job finished" .*job=1 health=(Canceled|Incomplete)`).Match(server) {
				t.Errorf("the server did not record the job's end before it stopped:\n%s\n%s", server, got)
			}
		})
	}
}

func exampleLab(t *testing.T, lavacli string) {
	root, _ := filepath.Abs("../..")
	lab := filepath.Join(t.TempDir(), "lab")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "examples", "lab", "run.sh"))
	cmd.Env = append(os.Environ(), "BASALT="+basalt, "FIXTURES="+fixtures, "LAB_DIR="+lab, "LAVACLI="+lavacli)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	noneLeft(t, lab)
	if err != nil {
		t.Fatalf("examples/lab/run.sh: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^\$ lavacli system version\n20\d\d\.\d+`),
		regexp.MustCompile(`(?m)^\* qemu01 \(qemu\): Idle,`),
		regexp.MustCompile(`(?m)^\* qemu02 \(qemu\): Idle,`),
		regexp.MustCompile(`(?m)^\$ lavacli jobs submit .*\n1$`),
		regexp.MustCompile(`(?mi)^health *: Complete$`),
		regexp.MustCompile(`(?m)^20\S+ job completed in `),
		regexp.MustCompile(`(?m)^\* 0_basalt-smoke\.always-fail \[fail\]$`),
		regexp.MustCompile(`(?m)^\* 1_basalt-guest\.guest-root \[pass\]$`),
		regexp.MustCompile(`(?m)^example-lab: job 1 ran on qemu0[12]: Complete; its test cases: 8 pass, 1 fail, 1 skip$`),
		regexp.MustCompile(`(?m)^example-lab: GET /api/v0.2/jobs/1/: state Finished, health Complete, device qemu0[12]$`),
		regexp.MustCompile(`(?m)^example-lab: its page: http://127\.0\.0\.1:\d+/scheduler/job/1 `),
		regexp.MustCompile(`(?m)^example-lab: stopped what it started; the lab's data is in ` + regexp.QuoteMeta(lab) + `$`),
	} {
		if !want.MatchString(got) {
			t.Errorf("the script's output does not match %s:\n%s", want, got)
		}
	}
	// The places the README names hold what it says.
	log, err := os.ReadFile(filepath.Join(lab, "data", "jobs", "1", "logs.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(log, []byte("- {")) || !bytes.Contains(log, []byte("job completed in")) {
		t.Errorf("%s/data/jobs/1/logs.yaml is not the job's whole log in LAVA's format:\n%.300s", lab, log)
	}
	if fi, err := os.Stat(filepath.Join(lab, "config", "lavacli.yaml")); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("config/lavacli.yaml holds a token and is mode %v", fi.Mode().Perm())
	}
	for _, f := range []string{"basalt.db", "server.log", "worker01.log", "job-1.results"} {
		if _, err := os.Stat(filepath.Join(lab, f)); err != nil {
			t.Error(err)
		}
	}
}

// noneLeft fails t if a process the script started is still there:
// every one names the lab's folder on its command line (the file server,
// the server, the worker, QEMU below it) or in its environment (lavacli's
// XDG_CONFIG_HOME).
func noneLeft(t *testing.T, lab string) {
	t.Helper()
	for _, pid := range proctest.Naming(lab + "/") {
		t.Errorf("process %d (%s) left running after the script ended", pid, proctest.Cmdline(pid))
	}
}

// TestExampleLabForeignFolder: LAB_DIR naming a folder the script did not
// make, and not empty, is refused and left as it was (the script empties
// its own folder at each run, never one of the user's).
func TestExampleLabForeignFolder(t *testing.T) {
	needFixtures(t)
	root, _ := filepath.Abs("../..")
	lab := t.TempDir()
	mine := filepath.Join(lab, "mine.txt")
	if err := os.WriteFile(mine, []byte("keep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(root, "examples", "lab", "run.sh"))
	cmd.Env = append(os.Environ(), "BASALT="+basalt, "FIXTURES="+fixtures, "LAB_DIR="+lab)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the script ran in a folder it did not make:\n%s", out)
	}
	if !strings.Contains(string(out), "was not made by this script") {
		t.Errorf("the refusal does not say why:\n%s", out)
	}
	if b, err := os.ReadFile(mine); err != nil || string(b) != "keep me\n" {
		t.Errorf("the user's file was touched: %q, %v", b, err)
	}
	noneLeft(t, lab)
}
