package labe2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/labtest"
)

// restPython is Debian's Python, which has python3-requests and
// python3-yaml (the pyenv python3 first on PATH may not).
const restPython = "/usr/bin/python3"

// TestRESTClients runs testdata/rest_clients.py, the REST v0.2 calls
// KernelCI, SQUAD's REST mode and Collabora's lava-api make, shaped as
// they make them (python3-requests, as KernelCI and SQUAD use it), against
// a real `basalt server` with a real `basalt worker` running the QEMU job
// it submits: pagination followed through absolute "next" URLs, 404 on an
// empty log range, 403 without or with a bad token, form and JSON
// submissions, cancel and resubmit without the trailing slash, results
// read back by suite and test case.
func TestRESTClients(t *testing.T) { restClients(t, false) }

// TestRESTClientsPostgres is TestRESTClients on PostgreSQL (the job lists'
// filters, counts and pages are SQL).
func TestRESTClientsPostgres(t *testing.T) {
	labtest.NeedQEMU(t)
	if os.Getenv("BASALT_POSTGRES_DSN") == "" {
		labtest.Missing(t, "BASALT_POSTGRES_DSN is not set: the PostgreSQL lab needs a server (scripts/with-postgres.sh starts one; make test runs it)")
	}
	restClients(t, true)
}

func restClients(t *testing.T, postgres bool) {
	labtest.NeedQEMU(t)
	if err := exec.Command(restPython, "-c", "import requests, yaml").Run(); err != nil {
		labtest.Missing(t, "%s has no requests or yaml module (apt-get install python3-requests python3-yaml, or make deps): %v", restPython, err)
	}
	l := newLab(t, labtest.Config{
		Postgres: postgres,
		Workers:  []string{"w1"},
		// qemu02 is in Maintenance: listed, never given the job, so the
		// device list spans two pages of one.
		Devices: []labtest.Device{{Name: "qemu01", Worker: "w1"}, {Name: "qemu02", Worker: "w1", Health: "Maintenance"}},
		Users:   []string{"alice", "bob"},
	})
	l.Manage(t, "aliases", "add", "qemu-x86", "--device-type", "qemu")
	l.Manage(t, "devices", "update", "qemu02", "--tags", "usb,big-ram")
	job := labtest.File(t, "job.yaml", labtest.JobSpec{Name: "rest"}.YAML(t))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, restPython, filepath.Join(labtest.Root, "internal", "labe2e", "testdata", "rest_clients.py"),
		l.URL(), l.Tokens["alice"], l.Tokens["bob"], job)
	out, err := cmd.CombinedOutput()
	t.Logf("rest_clients.py:\n%s", out)
	if err != nil {
		t.Fatalf("rest_clients.py: %v\nserver log (end):\n%s", err, labtest.LastLines(l.Server.Output(), 40))
	}
	for _, want := range []string{
		"kernelci: GET devices -> 2 devices in 2 pages",
		"squad: POST jobs/",
		"lava-api: GET jobs/",
		"then 404",
		"anonymous: POST jobs/ -> 403 Authentication credentials were not provided.",
		"bad token: GET jobs/ -> 403 Invalid token.",
		"all REST client calls passed",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("rest_clients.py did not print %q", want)
		}
	}
}
