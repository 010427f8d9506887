package lavarpc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
)

// TestLavacliAdmin runs lavacli's administration commands (workers,
// devices, device types, aliases) and checks that what they change is
// stored: read back through lavacli and from the store.
func TestLavacliAdmin(t *testing.T) {
	for version, bin := range lavaclis(t) {
		t.Run(version, func(t *testing.T) { testLavacliAdmin(t, bin) })
	}
}

func testLavacliAdmin(t *testing.T, bin string) {
	e := newEnv(t)
	ctx := context.Background()
	dir := t.TempDir()
	run := func(user string, args ...string) (string, error) {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(cctx, bin, append([]string{"--uri", e.url(user, "/RPC2")}, args...)...)
		cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+dir, "HOME="+dir, "PYTHONIOENCODING=utf-8")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	expect := func(user string, args []string, patterns ...string) string {
		t.Helper()
		out, err := run(user, args...)
		if err != nil {
			t.Errorf("lavacli %s as %q: %v\n%s", strings.Join(args, " "), user, err, out)
			return out
		}
		for _, p := range patterns {
			if !regexp.MustCompile("(?m)" + p).MatchString(out) {
				t.Errorf("lavacli %s: output does not match %q:\n%s", strings.Join(args, " "), p, out)
			}
		}
		return out
	}
	worker := func(name string) store.Worker {
		t.Helper()
		w, err := e.st.Worker(ctx, name)
		must(t, err)
		return w
	}

	// Workers.
	expect("admin", []string{"workers", "update", "--description", "rack 2", "--health", "MAINTENANCE", "--job-limit", "3", "w1"})
	expect("alice", []string{"workers", "show", "w1"}, `^description : rack 2$`, `^health\s*: Maintenance$`, `^job limit\s*: 3$`)
	if w := worker("w1"); w.Description != "rack 2" || w.Health != store.WorkerMaintenance || w.JobLimit != 3 {
		t.Errorf("stored w1 after workers update: %+v", w)
	}
	expect("admin", []string{"system", "active"}, `^\* w1$`, `^\* w2$`)
	if w := worker("w1"); w.Health != store.WorkerActive {
		t.Errorf("w1 after system active: %s, want Active", w.Health)
	}
	expect("admin", []string{"workers", "maintenance", "--no-wait", "w2"})
	if w := worker("w2"); w.Health != store.WorkerMaintenance {
		t.Errorf("w2 after workers maintenance: %s, want Maintenance", w.Health)
	}
	expect("admin", []string{"system", "maintenance", "--exclude", "w2"}, `^\* w1$`, `^\* w2 \[SKIP\]$`)
	if w := worker("w1"); w.Health != store.WorkerMaintenance {
		t.Errorf("w1 after system maintenance: %s, want Maintenance", w.Health)
	}
	expect("admin", []string{"workers", "add", "--description", "new host", "w3"})
	expect("admin", []string{"workers", "add", "--disabled", "w4"})
	expect("alice", []string{"workers", "list"}, `^\* w3$`)
	if out, _ := run("alice", "workers", "list"); strings.Contains(out, "w4") {
		t.Errorf("workers list shows the retired w4:\n%s", out)
	}
	expect("admin", []string{"workers", "show", "w3"}, `^description : new host$`, `^token\s*: \(kept hashed`)
	expect("alice", []string{"workers", "show", "w4"}, `^health\s*: Retired$`)

	// Devices: the health change is in the device log with its user.
	expect("admin", []string{"devices", "update", "--description", "bench 4", "--health", "MAINTENANCE", "qemu01"})
	expect("alice", []string{"devices", "show", "qemu01"}, `^description : bench 4$`, `^health\s*: Maintenance$`)
	expect("admin", []string{"devices", "update", "--user", "bob", "qemu01"})
	d, err := e.st.Device(ctx, "qemu01")
	must(t, err)
	if d.PhysicalOwner != "bob" || d.Description != "bench 4" {
		t.Errorf("stored qemu01: owner %q, description %q", d.PhysicalOwner, d.Description)
	}
	log, err := e.st.DeviceLog(ctx, "qemu01", 1)
	must(t, err)
	if len(log) != 1 || log[0].By != "admin" || log[0].String() != "Unknown → Maintenance (xmlrpc api)" {
		t.Errorf("qemu01's last log entry = %+v", log)
	}

	// Device types.
	expect("admin", []string{"device-types", "add", "--description", "Pi 4", "--health-frequency", "5", "--health-denominator", "jobs", "rpi4"})
	expect("alice", []string{"device-types", "show", "rpi4"}, `^description\s*: Pi 4$`, `^health disabled : False$`)
	expect("alice", []string{"device-types", "show", "--yaml", "rpi4"}, `health_frequency: 5`, `health_denominator: jobs`)
	expect("admin", []string{"device-types", "update", "--health-frequency", "12", "--health-denominator", "hours", "--health-disabled", "--hide", "rpi4"})
	expect("alice", []string{"device-types", "show", "rpi4"}, `^display\s*: False$`, `^health disabled : True$`)
	dt, err := e.st.DeviceType(ctx, "rpi4")
	must(t, err)
	if dt.HealthFrequency != 12 || dt.HealthDenominator != store.PerHours || !dt.HealthDisabled || dt.Display || dt.Description != "Pi 4" {
		t.Errorf("stored rpi4 after device-types update: %+v", dt)
	}

	// Aliases, and a job submitted for one.
	expect("admin", []string{"aliases", "add", "x86", "qemu"})
	expect("alice", []string{"aliases", "list"}, `^\* x86$`)
	expect("alice", []string{"aliases", "show", "x86"}, `^name\s*: x86$`, `^device-type: qemu$`)
	expect("admin", []string{"device-types", "aliases", "add", "rpi4", "pi"})
	expect("alice", []string{"device-types", "aliases", "list", "rpi4"}, `^\* pi$`)
	expect("alice", []string{"device-types", "show", "rpi4"}, `^aliases\s*: \['pi'\]$`)
	expect("admin", []string{"device-types", "aliases", "delete", "rpi4", "pi"})
	if out, _ := run("alice", "aliases", "list"); strings.Contains(out, "* pi") {
		t.Errorf("aliases list after device-types aliases delete:\n%s", out)
	}
	job := filepath.Join(dir, "alias.yaml")
	must(t, os.WriteFile(job, []byte(strings.Replace(jobDef(t, "for an alias", "public"), "device_type: qemu", "device_type: x86", 1)), 0o644))
	out := expect("alice", []string{"jobs", "submit", job}, `^\d+$`)
	var id int64
	fmt.Sscan(strings.TrimSpace(out), &id)
	if j, err := e.st.Job(ctx, id); err != nil || j.DeviceType != "qemu" {
		t.Errorf("job %d submitted for alias x86: device type %q, %v; want qemu", id, j.DeviceType, err)
	}
	expect("admin", []string{"aliases", "delete", "x86"})
	// lavacli 1.2 prints a refused submission and exits 0.
	if out, _ := run("alice", "jobs", "submit", job); !strings.Contains(out, `Fault 404: 'Specified device or device type not found: device type "x86"'`) {
		t.Errorf("a job for a deleted alias: lavacli printed\n%s\nwant the 404 fault", out)
	}
}
