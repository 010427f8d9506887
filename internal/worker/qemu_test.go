package worker

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/workerapi"
)

// fixtures is where `make fixtures` leaves the guest the QEMU tests boot.
var fixtures = filepath.Join("..", "..", "build", "fixtures", "x86_64")

// needQEMU skips under -short, and without the fixtures or QEMU unless
// BASALT_E2E=1, when their absence is a failure (as internal/e2e does).
func needQEMU(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("boots QEMU: skipped under -short")
	}
	missing := ""
	for _, f := range []string{"vmlinuz", "rootfs.cpio.gz"} {
		if _, err := os.Stat(filepath.Join(fixtures, f)); err != nil {
			missing = "fixture missing (run `make fixtures`): " + err.Error()
		}
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		missing = "qemu-system-x86_64 is not installed"
	}
	if missing != "" {
		if os.Getenv("BASALT_E2E") == "1" {
			t.Fatal(missing)
		}
		t.Skip(missing)
	}
}

// TestRealLabQEMU runs a QEMU job (TCG) through the real lab and the
// worker: it completes with its results stored as the guest reported
// them and its log whole; then a second one is canceled while it boots,
// and QEMU is stopped and reaped.
func TestRealLabQEMU(t *testing.T) {
	needQEMU(t)
	images := httptest.NewServer(http.FileServer(http.Dir(fixtures)))
	t.Cleanup(images.Close)
	def, err := os.ReadFile(filepath.Join("testdata", "qemu-job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	job := strings.ReplaceAll(string(def), "@URL@", images.URL)

	r := newRealLab(t)
	ctx := context.Background()
	if err := r.st.PutDeviceType(ctx, store.DeviceType{Name: "qemu"}); err != nil {
		t.Fatal(err)
	}
	dict := "{% extends 'qemu.jinja2' %}\n{% set arch = 'amd64' %}\n{% set no_kvm = True %}\n{% set memory = 512 %}\n"
	if err := r.st.CreateDevice(ctx, store.Device{Name: "qemu-01", DeviceType: "qemu", Worker: testWorker, Dictionary: dict}); err != nil {
		t.Fatal(err)
	}
	if err := r.st.SetDeviceHealth(ctx, "qemu-01", store.HealthGood); err != nil {
		t.Fatal(err)
	}
	w := startWorker(t, r.url(), func(c *Config) { c.Token = r.token })

	jobs, err := r.lab.Submit(ctx, r.user, job)
	if err != nil {
		t.Fatal(err)
	}
	id := jobs[0].ID
	j := r.waitJob(id, "to finish", func(j store.Job) bool { return j.State == store.JobFinished })
	if j.Health != store.JobComplete {
		t.Fatalf("job %d ended %s (%s: %s), want Complete", id, j.Health, j.ErrorClass, j.ErrorMsg)
	}
	log := r.log(id)
	checkLog(t, log, workerapi.FinishRequest{LogLines: int64(len(log))}, nil)
	res, err := r.st.Results(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, x := range res {
		v := x.Result
		if x.Measurement != nil {
			v += " " + strconv.FormatFloat(*x.Measurement, 'f', -1, 64) + " " + x.Units
		}
		got[x.Suite+"/"+x.Case] = v
	}
	for k, want := range map[string]string{"0_worker-smoke/always-pass": "pass", "0_worker-smoke/always-fail": "fail",
		"0_worker-smoke/measured": "pass 42.5 ms", "0_worker-smoke/skipped": "skip", "lava/job": "pass"} {
		if got[k] != want {
			t.Errorf("result %s = %q, want %q (all: %v)", k, got[k], want, got)
		}
	}

	// A second job, canceled while QEMU boots.
	jobs, err = r.lab.Submit(ctx, r.user, job)
	if err != nil {
		t.Fatal(err)
	}
	id = jobs[0].ID
	// The guest's console is logged at level target once QEMU runs.
	j = r.waitJob(id, "to boot", func(store.Job) bool { return r.logHas(id, `"lvl": "target"`) })
	if err := r.lab.Cancel(ctx, r.user, j); err != nil {
		t.Fatal(err)
	}
	j = r.waitJob(id, "to finish", func(j store.Job) bool { return j.State == store.JobFinished })
	if j.Health != store.JobCanceled {
		t.Fatalf("job %d ended %s (%s: %s), want Canceled", id, j.Health, j.ErrorClass, j.ErrorMsg)
	}
	log = r.log(id)
	checkLog(t, log, workerapi.FinishRequest{LogLines: int64(len(log))}, nil)
	text := strings.Join(log, "\n")
	for _, want := range []string{"stopping /usr/bin/qemu-system-x86_64", "power-off"} {
		if !strings.Contains(text, want) {
			t.Errorf("the canceled job's log has no %q: QEMU not stopped or no cleanup", want)
		}
	}
	checkNoQEMU(t, w.workDir)
}

// checkNoQEMU fails when a QEMU whose command line names the worker's
// folder (its images are there) still runs.
func checkNoQEMU(t *testing.T, workDir string) {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), "qemu-system") && strings.Contains(string(b), workDir) {
			t.Errorf("QEMU %s still runs: %q", e.Name(), strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
}
