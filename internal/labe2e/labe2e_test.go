// Package labe2e runs a Basalt lab as its users and administrators do:
// the real `basalt` binary as `basalt server` (SQLite, and PostgreSQL when
// BASALT_POSTGRES_DSN is set), `basalt manage` to set it up and two
// `basalt worker` processes with QEMU devices (TCG, the fixtures of
// `make fixtures`), driven by LAVA's own command-line client: Debian's
// lavacli 1.2 and lavacli 2.9 from Debian unstable
// (`make lavacli2`, scripts/get-lavacli2.sh). Each case checks what a LAVA
// user reads in lavacli's output, and that a job run by the lab gives the
// results and log `basalt run` gives for the same job and device.
//
// The faults of a lab are cases too: a worker killed mid-job, the server
// killed and restarted mid-job, PostgreSQL restarted mid-job, bad
// submissions, bad credentials and private jobs.
//
// Everything here boots QEMU and skips under -short. Without the fixtures,
// QEMU or a lavacli the cases skip saying what is missing, except under
// BASALT_E2E=1 (what `make test` sets, so CI), where that is a failure.
package labe2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/labtest"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// A lavacli is one version of LAVA's client.
type lavacli struct {
	name string // "lavacli-1.2", for subtest names
	bin  string
}

// lavacli12 is Debian bookworm's lavacli (apt-get install lavacli).
func lavacli12(t *testing.T) lavacli {
	t.Helper()
	bin, err := exec.LookPath("lavacli")
	if err != nil {
		labtest.Missing(t, "lavacli 1.2 is not installed (apt-get install lavacli, or make deps)")
	}
	return checkVersion(t, lavacli{"lavacli-1.2", bin}, "lavacli 1.2")
}

// lavacli29 is lavacli 2.9 from Debian unstable, fetched by
// `make lavacli2` into build/lavacli2 (BASALT_LAVACLI2 names another).
func lavacli29(t *testing.T) lavacli {
	t.Helper()
	bin := os.Getenv("BASALT_LAVACLI2")
	if bin == "" {
		bin = filepath.Join(labtest.Root, "build", "lavacli2", "lavacli")
	}
	if _, err := os.Stat(bin); err != nil {
		labtest.Missing(t, "lavacli 2.9 is not at %s (make lavacli2 fetches it)", bin)
	}
	return checkVersion(t, lavacli{"lavacli-2.9", bin}, "lavacli 2.")
}

func checkVersion(t *testing.T, c lavacli, want string) lavacli {
	t.Helper()
	out, err := exec.Command(c.bin, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), want) {
		labtest.Missing(t, "%s --version: %q (%v), want %s", c.bin, out, err, want)
	}
	return c
}
