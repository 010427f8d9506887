package labe2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/labtest"
	"github.com/basalt-lava/basalt/internal/notify/smtptest"
)

// startLavacli starts a lavacli that keeps running (events listen/wait)
// in the lab's HOME, its output unbuffered into a file, killed when the
// test ends.
func (l *lab) startLavacli(t *testing.T, c lavacli, name, uri string, args ...string) *labtest.Proc {
	t.Helper()
	home := filepath.Join(l.Dir, "home")
	p := labtest.StartProcEnv(t, name, l.Dir, []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1"}, c.bin, append([]string{"--uri", uri}, args...)...)
	t.Cleanup(func() { p.Kill(syscall.SIGKILL) })
	return p
}

// waitConnections waits until the server logged n WebSocket
// connections: each is then subscribed to every event that follows.
func (l *lab) waitConnections(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); strings.Count(l.Server.Output(), "[WS] connection from ") < n; {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not log %d WebSocket connections:\n%s", n, labtest.LastLines(l.Server.Output(), 30))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitExit waits for a lavacli that should end by itself.
func waitExit(t *testing.T, p *labtest.Proc) {
	t.Helper()
	select {
	case <-p.Done():
		if p.Err() != nil {
			t.Errorf("%s: %v\n%s", p.Name, p.Err(), p.Output())
		}
	case <-time.After(5 * time.Minute):
		t.Fatalf("%s did not return:\n%s", p.Name, p.Output())
	}
}

// TestEventsLavacli: lavacli 2.9's events commands on a real lab through
// the /ws/ WebSocket. `events listen` prints each transition of a job
// (Submitted, Scheduled, Running, Finished) and of its device (Reserved,
// Running, Idle) as LAVA's server makes them; without credentials it
// does not see a private job; `events wait device` and `events wait
// worker` return on the change they wait for, and `jobs wait` (which
// polls) returns when the job ends. The server is given an SMTP server
// (Debian's aiosmtpd): bob's job, whose notify block names no recipient,
// mails bob once it finishes. The jobs fail at their first download (a
// missing file), so no QEMU boots.
func TestEventsLavacli(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a lab: skipped under -short")
	}
	c := lavacli29(t)
	sink := smtptest.Start(t, smtptest.Options{})
	l := newLab(t, labtest.Config{Workers: []string{"w1"}, Devices: []labtest.Device{{Name: "qemu01", Worker: "w1"}}, Users: []string{"bob"},
		ServerArgs: []string{"--smtp-server", sink.Addr, "--smtp-from", "lab@example.org", "--public-url", "http://lab.example/"}})
	l.Manage(t, "users", "update", "bob", "--email", "bob@example.org")
	admin := l.startLavacli(t, c, "listen-admin", l.uri("admin"), "events", "listen")
	anon := l.startLavacli(t, c, "listen-anonymous", "http://"+l.Addr+"/RPC2", "events", "listen")
	running := l.startLavacli(t, c, "wait-device", l.uri("admin"), "events", "wait", "device", "qemu01", "--state", "RUNNING")
	maint := l.startLavacli(t, c, "wait-worker", l.uri("admin"), "events", "wait", "worker", "w1", "--health", "MAINTENANCE")
	l.waitConnections(t, 4)
	for _, p := range []*labtest.Proc{admin, anon} {
		if !strings.Contains(p.Output(), "Connecting to http://") {
			t.Errorf("%s:\n%s", p.Name, p.Output())
		}
	}
	if strings.Contains(admin.Output(), "admin:") || strings.Contains(admin.Output(), l.Tokens["admin"]) {
		t.Errorf("lavacli printed the credentials:\n%s", admin.Output())
	}

	ok(t, l.lavacli(t, c, "admin", "workers", "update", "w1", "--health", "MAINTENANCE"))
	waitExit(t, maint)
	// Back to Active: LAVA sets the worker's Good devices Unknown; the
	// administrator says the board is Good again.
	ok(t, l.lavacli(t, c, "admin", "workers", "update", "w1", "--health", "ACTIVE"))
	ok(t, l.lavacli(t, c, "admin", "devices", "update", "qemu01", "--health", "GOOD"))

	// bob's private job, then admin's public one: both fail fast.
	private := labtest.JobSpec{Name: "events-private", KernelURL: labtest.FixturesURL() + "/absent/vmlinuz", Visibility: "personal"}
	privDef := private.YAML(t) + "notify:\n  criteria: {status: finished}\n  verbosity: verbose\n"
	privID := submitted(t, ok(t, l.lavacli(t, c, "bob", "jobs", "submit", labtest.File(t, "private.yaml", privDef))))
	public := labtest.JobSpec{Name: "events", KernelURL: labtest.FixturesURL() + "/absent/vmlinuz"}
	id := submitted(t, ok(t, l.lavacli(t, c, "admin", "jobs", "submit", labtest.File(t, "public.yaml", public.YAML(t)))))
	ok(t, l.lavacli(t, c, "admin", "jobs", "wait", id))
	waitExit(t, running)

	finished := fmt.Sprintf("- [%s] <qemu01> state=Finished health=Incomplete (basalt-e2e-events)", id)
	for _, p := range []*labtest.Proc{admin, anon} {
		p.WaitOutput(t, finished, 2*time.Minute)
	}
	out := admin.Output()
	// What lavacli prints, in the order the lab made the changes.
	want := []string{
		"org.lavasoftware.worker lavaserver - [w1] state=Online health=Maintenance",
		"org.lavasoftware.worker lavaserver - [w1] state=Online health=Active",
		"org.lavasoftware.device lavaserver - [qemu01] <qemu> state=Idle health=Unknown",
		"org.lavasoftware.device lavaserver - [qemu01] <qemu> state=Idle health=Good",
		fmt.Sprintf("org.lavasoftware.testjob bob - [%s] <??> state=Submitted health=Unknown (basalt-e2e-events-private)", privID),
		fmt.Sprintf("org.lavasoftware.testjob admin - [%s] <??> state=Submitted health=Unknown (basalt-e2e-events)", id),
		fmt.Sprintf("org.lavasoftware.testjob admin - [%s] <qemu01> state=Scheduled health=Unknown (basalt-e2e-events)", id),
		fmt.Sprintf("org.lavasoftware.device lavaserver - [qemu01] <qemu> state=Reserved health=Good for %s", id),
		fmt.Sprintf("org.lavasoftware.testjob admin - [%s] <qemu01> state=Running health=Unknown (basalt-e2e-events)", id),
		fmt.Sprintf("org.lavasoftware.device lavaserver - [qemu01] <qemu> state=Running health=Good for %s", id),
		"org.lavasoftware.testjob admin " + finished,
		"org.lavasoftware.device lavaserver - [qemu01] <qemu> state=Idle health=Good",
	}
	at := 0
	for _, w := range want {
		i := strings.Index(out[at:], w)
		if i < 0 {
			t.Errorf("events listen lacks, after what came before, %q:\n%s", w, out)
			break
		}
		at += i + len(w)
	}
	dt := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00 org\.lavasoftware\.`)
	if n := len(dt.FindAllString(out, -1)); n < len(want) {
		t.Errorf("%d event lines start with LAVA's isoformat datetime and topic, want at least %d:\n%s", n, len(want), out)
	}
	a := anon.Output()
	if strings.Contains(a, "["+privID+"]") || strings.Contains(a, "events-private") {
		t.Errorf("the anonymous listener saw bob's private job %s:\n%s", privID, a)
	}
	if !strings.Contains(a, fmt.Sprintf("[%s] <??> state=Submitted", id)) {
		t.Errorf("the anonymous listener did not see the public job:\n%s", a)
	}
	// bob's private job is Finished too before the public one ran: the
	// admin, a superuser, saw it.
	if !strings.Contains(out, fmt.Sprintf("- [%s] <qemu01> state=Finished health=Incomplete (basalt-e2e-events-private)", privID)) {
		t.Errorf("the admin did not see bob's private job finish:\n%s", out)
	}
	if !strings.Contains(running.Output(), "Connecting to") {
		t.Errorf("events wait device:\n%s", running.Output())
	}

	ms := sink.Wait(t, 1)
	m := ms[0]
	t.Logf("the mail bob got:\n%s", m.Raw)
	if len(ms) != 1 || m.RcptTo != "bob@example.org" || m.Header.Get("From") != "lab@example.org" ||
		m.Subject != "LAVA notification for Test Job "+privID+" basalt-e2e-events-private" {
		t.Errorf("%d mails, the first to %s from %s: %q", len(ms), m.RcptTo, m.Header.Get("From"), m.Subject)
	}
	for _, w := range []string{"\nDear bob,\n", "is now in state Finished and health Incomplete. Job was submitted by bob.",
		"Job details and log file: http://lab.example/scheduler/job/" + privID + "\n",
		"\nJob error: unable to download", "\nDevice details:\nHostname: qemu01\nType: qemu\nOwner: None\nWorker: w1\n",
		"\nTest Suite lava: http://lab.example/results/" + privID + "/lava\n"} {
		if !strings.Contains(m.Body, w) {
			t.Errorf("the mail lacks %q:\n%s", w, m.Body)
		}
	}
}
