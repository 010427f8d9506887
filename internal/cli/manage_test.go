package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/store/storetest"
)

// manage runs `basalt manage --db db args...` through Main.
func manage(t *testing.T, db string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(append([]string{"manage", "--db", db}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// mustManage runs a command that must succeed and returns its stdout.
func mustManage(t *testing.T, db string, args ...string) string {
	t.Helper()
	code, out, errOut := manage(t, db, args...)
	if code != exitOK {
		t.Fatalf("basalt manage %s: exit %d, stderr:\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// TestManageSQLite runs every command on a fresh SQLite file.
func TestManageSQLite(t *testing.T) {
	testManage(t, filepath.Join(t.TempDir(), "lab.db"))
}

// TestManagePostgres runs the same commands on PostgreSQL, in a schema of
// its own, when BASALT_POSTGRES_DSN names a server
// (scripts/with-postgres.sh go test ./internal/cli -run Manage).
func TestManagePostgres(t *testing.T) {
	testManage(t, storetest.PostgresDSN(t, true))
}

func testManage(t *testing.T, db string) {
	dir := t.TempDir()
	dict := filepath.Join(dir, "board-01.jinja2")
	dictText := "{% extends 'qemu.jinja2' %}\n{% set netdevice = 'user' %}\n"
	if err := os.WriteFile(dict, []byte(dictText), 0o644); err != nil {
		t.Fatal(err)
	}
	tmpl := filepath.Join(dir, "qemu.jinja2")
	if err := os.WriteFile(tmpl, []byte("device_type: qemu\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// Users and tokens.
	mustManage(t, db, "users", "add", "admin", "--superuser", "--passwd", "pw")
	mustManage(t, db, "users", "add", "bob", "--email", "bob@example.org")
	mustManage(t, db, "users", "update", "admin", "--email", "root@example.org")
	if got, want := mustManage(t, db, "users", "list"), "NAME   SUPERUSER  EMAIL\nadmin  true       root@example.org\nbob    false      bob@example.org\n"; got != want {
		t.Errorf("users list:\n%s\nwant:\n%s", got, want)
	}
	if got := mustManage(t, db, "tokens", "add", "--user", "bob", "--secret", "s3cret"); got != "s3cret\n" {
		t.Errorf("tokens add --secret printed %q, want the secret", got)
	}
	tok := strings.TrimSpace(mustManage(t, db, "tokens", "add", "--user", "bob"))
	if len(tok) < 32 {
		t.Errorf("tokens add printed %q, want a random token", tok)
	}

	// Workers: the printed token authenticates the worker.
	wtok := strings.TrimSpace(mustManage(t, db, "workers", "add", "worker-1"))
	mustManage(t, db, "workers", "add", "worker-2", "--secret", "w2")
	if got, want := mustManage(t, db, "workers", "list"), "NAME      STATE    HEALTH  JOB LIMIT  LAST PING  DESCRIPTION\nworker-1  Offline  Active  -          never      -\nworker-2  Offline  Active  -          never      -\n"; got != want {
		t.Errorf("workers list:\n%s\nwant:\n%s", got, want)
	}

	// Device types and devices.
	mustManage(t, db, "device-types", "add", "qemu", "--template", tmpl)
	mustManage(t, db, "device-types", "add", "bbb")
	if got, want := mustManage(t, db, "device-types", "list"), "NAME  TEMPLATE  HEALTH CHECK  SCHEDULE        DESCRIPTION\nbbb   -         false         every 24 hours  -\nqemu  18 bytes  false         every 24 hours  -\n"; got != want {
		t.Errorf("device-types list:\n%s\nwant:\n%s", got, want)
	}
	mustManage(t, db, "devices", "add", "qemu-01", "--device-type", "qemu", "--worker", "worker-1", "--dictionary", dict, "--tags", "kvm, big")
	mustManage(t, db, "devices", "add", "bbb-01", "--device-type", "bbb")
	if got, want := mustManage(t, db, "devices", "list"), "NAME     DEVICE TYPE  WORKER    STATE  HEALTH   TAGS\nbbb-01   bbb          -         Idle   Unknown  -\nqemu-01  qemu         worker-1  Idle   Unknown  big,kvm\n"; got != want {
		t.Errorf("devices list:\n%s\nwant:\n%s", got, want)
	}
	mustManage(t, db, "devices", "update", "bbb-01", "--worker", "worker-2", "--tags", "usb", "--dictionary", dict)
	mustManage(t, db, "devices", "update", "qemu-01", "--worker", "", "--health", "maintenance")
	hc := filepath.Join(dir, "health.yaml")
	if err := os.WriteFile(hc, []byte("job_name: health\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustManage(t, db, "device-types", "update", "qemu", "--health-check", hc)

	// What administrators set: worker health and limit, a new token, the
	// health-check schedule, a device's owner and history, aliases.
	mustManage(t, db, "workers", "update", "worker-2", "--description", "rack 2", "--health", "maintenance", "--job-limit", "3")
	mustManage(t, db, "workers", "add", "worker-3", "--description", "spare")
	if got, want := mustManage(t, db, "workers", "list"), "NAME      STATE    HEALTH       JOB LIMIT  LAST PING  DESCRIPTION\n"+
		"worker-1  Offline  Active       -          never      -\nworker-2  Offline  Maintenance  3          never      rack 2\n"+
		"worker-3  Offline  Active       -          never      spare\n"; got != want {
		t.Errorf("workers list after update:\n%s\nwant:\n%s", got, want)
	}
	newTok := strings.TrimSpace(mustManage(t, db, "workers", "update", "worker-2", "--new-token"))
	if got := mustManage(t, db, "workers", "update", "worker-3", "--new-token", "--secret", "w3-new"); got != "w3-new\n" {
		t.Errorf("workers update --new-token --secret printed %q", got)
	}
	mustManage(t, db, "device-types", "update", "qemu", "--health-frequency", "5", "--health-denominator", "jobs", "--description", "emulated")
	mustManage(t, db, "device-types", "update", "bbb", "--disable-health-check")
	if got, want := mustManage(t, db, "device-types", "list"), "NAME  TEMPLATE  HEALTH CHECK  SCHEDULE      DESCRIPTION\n"+
		"bbb   -         false         disabled      -\nqemu  18 bytes  true          every 5 jobs  emulated\n"; got != want {
		t.Errorf("device-types list after update:\n%s\nwant:\n%s", got, want)
	}
	mustManage(t, db, "devices", "update", "bbb-01", "--description", "on the shelf", "--owner", "bob", "--group", "lab", "--health", "Bad", "--reason", "no power")
	mustManage(t, db, "devices", "update", "bbb-01", "--health", "Good")
	hist := mustManage(t, db, "devices", "history", "bbb-01")
	if !regexp.MustCompile(`^TIME +USER +CHANGE\n\S+Z +- +Unknown → Bad \(no power\)\n\S+Z +- +Bad → Good \(basalt manage\)\n$`).MatchString(hist) {
		t.Errorf("devices history bbb-01:\n%s", hist)
	}
	mustManage(t, db, "aliases", "add", "x86", "--device-type", "qemu")
	mustManage(t, db, "aliases", "add", "arm", "--device-type", "bbb")
	mustManage(t, db, "aliases", "remove", "arm")
	if got, want := mustManage(t, db, "aliases", "list"), "NAME  DEVICE TYPE\nx86   qemu\n"; got != want {
		t.Errorf("aliases list:\n%s\nwant:\n%s", got, want)
	}

	// The effects, read back from the store the server would use.
	st, err := openStore(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Authenticate(t.Context(), "bob", tok); err != nil {
		t.Errorf("the printed token does not authenticate bob: %v", err)
	}
	if _, err := st.AuthenticateWorker(t.Context(), "worker-1", wtok); err != nil {
		t.Errorf("the printed worker token does not authenticate worker-1: %v", err)
	}
	if _, err := st.AuthenticateWorker(t.Context(), "worker-2", newTok); err != nil {
		t.Errorf("the token workers update --new-token printed does not authenticate worker-2: %v", err)
	}
	if _, err := st.AuthenticateWorker(t.Context(), "worker-2", "w2"); err == nil {
		t.Error("worker-2's replaced token still authenticates")
	}
	if _, err := st.AuthenticateWorker(t.Context(), "worker-3", "w3-new"); err != nil {
		t.Errorf("worker-3's --secret token: %v", err)
	}
	if w, err := st.Worker(t.Context(), "worker-2"); err != nil || w.Health != "Maintenance" || w.JobLimit != 3 || w.Description != "rack 2" {
		t.Errorf("worker-2 after update = %+v, %v", w, err)
	}
	if dt, err := st.DeviceType(t.Context(), "qemu"); err != nil || dt.HealthFrequency != 5 || dt.HealthDenominator != "jobs" || dt.HealthDisabled {
		t.Errorf("qemu's schedule = %+v, %v", dt, err)
	}
	if a, err := st.Alias(t.Context(), "x86"); err != nil || a.DeviceType != "qemu" {
		t.Errorf("alias x86 = %+v, %v", a, err)
	}
	if _, err := st.CheckPassword(t.Context(), "admin", "pw"); err != nil {
		t.Errorf("admin's --passwd: %v", err)
	}
	d, err := st.Device(t.Context(), "bbb-01")
	if err != nil {
		t.Fatal(err)
	}
	if d.Dictionary != dictText || d.Worker != "worker-2" || strings.Join(d.Tags, ",") != "usb" ||
		d.Description != "on the shelf" || d.PhysicalOwner != "bob" || d.PhysicalGroup != "lab" || d.Health != "Good" {
		t.Errorf("bbb-01 after update = %+v", d)
	}
	if d, err := st.Device(t.Context(), "qemu-01"); err != nil || d.Worker != "" || d.Dictionary != dictText || d.Health != "Maintenance" {
		t.Errorf("qemu-01 after detaching = %+v, %v", d, err)
	}
	// update keeps the template it was not given.
	if dt, err := st.DeviceType(t.Context(), "qemu"); err != nil || dt.Template != "device_type: qemu\n" || dt.HealthCheck != "job_name: health\n" {
		t.Errorf("device type qemu = %+v, %v", dt, err)
	}

	// Refusals: a clear message and a non-zero exit, nothing changed.
	refusals := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"users", "add", "bob"}, exitFailed, "user bob: already exists"},
		{[]string{"users", "add"}, exitUsage, "want 1 argument(s), got 0"},
		{[]string{"users", "add", "carol", "--email", "carol"}, exitUsage, `--email: "carol" is not a valid email address`},
		{[]string{"users", "update", "bob"}, exitUsage, "nothing to update: give --email"},
		{[]string{"users", "update", "bob", "--email", "Bob <bob@example.org>"}, exitUsage, "is not a valid email address"},
		{[]string{"users", "update", "nobody", "--email", "n@example.org"}, exitFailed, "user nobody: not found"},
		{[]string{"tokens", "add"}, exitUsage, "--user is required"},
		{[]string{"tokens", "add", "--user", "nobody"}, exitFailed, "user nobody: not found"},
		{[]string{"workers", "add", "worker-1"}, exitFailed, "worker worker-1: already exists"},
		{[]string{"device-types", "add", "qemu"}, exitFailed, "device type qemu: already exists"},
		{[]string{"device-types", "add", "x", "--template", filepath.Join(dir, "absent")}, exitFailed, "absent"},
		{[]string{"devices", "add", "qemu-02", "--worker", "worker-1"}, exitUsage, "--device-type is required"},
		{[]string{"devices", "add", "qemu-02", "--device-type", "nosuch"}, exitFailed, `device type "nosuch" does not exist`},
		{[]string{"devices", "add", "qemu-02", "--device-type", "qemu", "--worker", "nosuch"}, exitFailed, `worker "nosuch" does not exist`},
		{[]string{"devices", "add", "qemu-02", "--device-type", "qemu", "--dictionary", dir}, exitFailed, "not a regular file"},
		{[]string{"devices", "add", "qemu-01", "--device-type", "qemu"}, exitFailed, "device qemu-01: already exists"},
		{[]string{"devices", "update", "nosuch", "--tags", "a"}, exitFailed, "device nosuch: not found"},
		{[]string{"devices", "update", "qemu-01", "--device-type", "nosuch"}, exitFailed, `device type "nosuch" does not exist`},
		{[]string{"device-types", "update", "nosuch", "--template", tmpl}, exitFailed, "device type nosuch: not found"},
		{[]string{"devices", "update", "qemu-01", "--health", "Fine"}, exitUsage, `--health "Fine": want Unknown, Good`},
		{[]string{"devices", "add", "qemu-02", "--device-type", "qemu", "--health", "Good"}, exitUsage, "flag provided but not defined: -health"},
		{[]string{"device-types", "remove", "qemu"}, exitFailed, "device type qemu"},
		{[]string{"users", "remove", "nobody"}, exitFailed, "nobody"},
		{[]string{"devices", "frob"}, exitUsage, `unknown object or action "devices frob"`},
		{[]string{"workers", "update", "worker-1", "--health", "Sleeping"}, exitUsage, `--health "Sleeping": want Active, Maintenance or Retired`},
		{[]string{"workers", "update", "worker-1", "--job-limit", "-1"}, exitUsage, "--job-limit -1: must not be negative"},
		{[]string{"workers", "update", "worker-1", "--secret", "x"}, exitUsage, "--secret goes with --new-token"},
		{[]string{"workers", "update", "nosuch", "--health", "Active"}, exitFailed, "worker nosuch: not found"},
		{[]string{"workers", "update", "nosuch", "--new-token"}, exitFailed, "worker nosuch: not found"},
		{[]string{"device-types", "update", "qemu", "--health-denominator", "weeks"}, exitUsage, `--health-denominator "weeks": want hours or jobs`},
		{[]string{"device-types", "update", "qemu", "--health-frequency", "-2"}, exitUsage, "--health-frequency -2: must not be negative"},
		{[]string{"device-types", "update", "nosuch", "--description", "x"}, exitFailed, "device type nosuch: not found"},
		{[]string{"device-types", "add", "x86"}, exitFailed, "device type x86: an alias has that name"},
		{[]string{"devices", "update", "qemu-01", "--owner", "carol"}, exitFailed, `user "carol" does not exist`},
		{[]string{"devices", "update", "qemu-01", "--reason", "why"}, exitUsage, "--reason goes with --health"},
		{[]string{"devices", "history", "nosuch"}, exitFailed, "device nosuch: not found"},
		{[]string{"aliases", "add", "x86", "--device-type", "bbb"}, exitFailed, "alias x86: already exists"},
		{[]string{"aliases", "add", "qemu", "--device-type", "bbb"}, exitFailed, "alias qemu: a device type has that name"},
		{[]string{"aliases", "add", "y", "--device-type", "nosuch"}, exitFailed, "device type nosuch: not found"},
		{[]string{"aliases", "add", "y"}, exitUsage, "--device-type is required"},
		{[]string{"aliases", "remove", "y"}, exitFailed, "alias y: not found"},
		{[]string{"users"}, exitUsage, "usage: basalt manage"},
	}
	for _, r := range refusals {
		code, out, errOut := manage(t, db, r.args...)
		if code != r.code || !strings.Contains(errOut, r.msg) || (r.code == exitFailed && !strings.HasPrefix(errOut, "basalt: ")) {
			t.Errorf("basalt manage %s: exit %d, stderr %q; want exit %d and %q", strings.Join(r.args, " "), code, errOut, r.code, r.msg)
		}
		if out != "" {
			t.Errorf("basalt manage %s: printed %q on stdout", strings.Join(r.args, " "), out)
		}
	}
	if got := mustManage(t, db, "devices", "list"); strings.Count(got, "\n") != 3 {
		t.Errorf("the refusals changed the devices:\n%s", got)
	}

	// Removal, in dependency order.
	mustManage(t, db, "devices", "remove", "qemu-01")
	mustManage(t, db, "devices", "remove", "bbb-01")
	mustManage(t, db, "device-types", "remove", "qemu")
	mustManage(t, db, "workers", "remove", "worker-1")
	mustManage(t, db, "users", "remove", "bob")
	if got := mustManage(t, db, "devices", "list"); got != "NAME  DEVICE TYPE  WORKER  STATE  HEALTH  TAGS\n" {
		t.Errorf("devices list after removal:\n%s", got)
	}
	mustManage(t, db, "users", "update", "admin", "--email", "")
	if got := mustManage(t, db, "users", "list"); got != "NAME   SUPERUSER  EMAIL\nadmin  true       \n" {
		t.Errorf("users list after removal:\n%s", got)
	}
}

// TestManageDefaultDatabase: without --db, manage opens the database
// basalt server uses by default (DATA-DIR/basalt.db), so that the two
// commands started in one folder share it.
func TestManageDefaultDatabase(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"manage", "--data-dir", dataDir, "users", "add", "alice"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("manage users add: exit %d: %s", code, stderr.String())
	}
	db := filepath.Join(dataDir, "basalt.db")
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("the default database: %v", err)
	}
	if out := mustManage(t, db, "users", "list"); !strings.Contains(out, "alice") {
		t.Errorf("users list on %s: no alice in\n%s", db, out)
	}
}
