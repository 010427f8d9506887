package labe2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/labtest"
	"github.com/basalt-lava/basalt/internal/value"
)

// anyLavacli is lavacli 2.9, or 1.2 when 2.9 is missing (and allowed to
// be): the fault cases watch the lab through either.
func anyLavacli(t *testing.T) lavacli {
	t.Helper()
	if labtest.Required() {
		return lavacli29(t)
	}
	bin := os.Getenv("BASALT_LAVACLI2")
	if bin == "" {
		bin = filepath.Join(labtest.Root, "build", "lavacli2", "lavacli")
	}
	if _, err := os.Stat(bin); err == nil {
		return lavacli29(t)
	}
	return lavacli12(t)
}

// show is `jobs show ID` as fields.
func (l *lab) show(t *testing.T, c lavacli, id string) map[string]string {
	t.Helper()
	return fields(ok(t, l.lavacli(t, c, "admin", "jobs", "show", id)).stdout)
}

// showYAML is `jobs show ID --yaml`: every field of scheduler.jobs.show.
func (l *lab) showYAML(t *testing.T, c lavacli, id string) *value.Map {
	t.Helper()
	r := ok(t, l.lavacli(t, c, "admin", "jobs", "show", id, "--yaml"))
	v, err := value.DecodeYAML([]byte(r.stdout))
	m, _ := v.(*value.Map)
	if err != nil || m == nil {
		t.Fatalf("jobs show --yaml is not a YAML map (%v): %s", err, r)
	}
	return m
}

// storedLog is the job's log as lavacli reads it.
func (l *lab) storedLog(t *testing.T, c lavacli, id string) []*value.Map {
	t.Helper()
	return parseLog(t, "jobs logs "+id, ok(t, l.lavacli(t, c, "admin", "jobs", "logs", id, "--raw", "--no-follow")).stdout)
}

// waitLogged waits until the job runs and its log holds s.
func (l *lab) waitLogged(t *testing.T, c lavacli, id, s string) map[string]string {
	t.Helper()
	var f map[string]string
	labtest.WaitFor(t, 10*time.Minute, "job "+id+" Running with "+s+" in its log", func() bool {
		f = l.show(t, c, id)
		if f["state"] == "Finished" {
			t.Fatalf("job %s finished before %q was logged: %v", id, s, f)
		}
		return f["state"] == "Running" && strings.Contains(l.lavacli(t, c, "admin", "jobs", "logs", id, "--raw", "--no-follow").stdout, s)
	})
	return f
}

// A worker SIGKILLed mid-job: once its lease ran out the job ends
// Incomplete with an infrastructure error, what it logged before is kept,
// its device goes to health Unknown and, the worker back, gets a health
// check before anything else; the other worker's job is untouched.
func TestWorkerKilledMidJob(t *testing.T) {
	labtest.NeedQEMU(t)
	c := anyLavacli(t)
	l := newLab(t, labtest.Config{
		Lease:   10 * time.Second,
		Workers: []string{"w1", "w2"},
		Devices: []labtest.Device{
			{Name: "qemu01", Worker: "w1"},
			{Name: "other01", Worker: "w2", DeviceType: "qemu-other"},
		},
	})
	// On w2: a job that stays Running (its download never ends).
	other := submitted(t, ok(t, l.lavacli(t, c, "admin", "jobs", "submit",
		labtest.File(t, "other.yaml", labtest.JobSpec{Name: "other", DeviceType: "qemu-other", KernelURL: labtest.FixturesURL() + "/hang/vmlinuz"}.YAML(t)))))
	l.waitLogged(t, c, other, "/hang/vmlinuz")

	// On w1: the guest runs its test when the worker dies.
	id := submitted(t, ok(t, l.lavacli(t, c, "admin", "jobs", "submit",
		labtest.File(t, "job.yaml", labtest.JobSpec{Name: "killed", Steps: []string{"sleep 1000"}, TestTimeout: 600}.YAML(t)))))
	l.waitLogged(t, c, id, "always-fail")
	before := l.storedLog(t, c, id)
	// The type gets its health check now, so that the device's first one
	// is the one its health Unknown calls for.
	l.Manage(t, "device-types", "update", "qemu", "--health-check", labtest.File(t, "health.yaml", labtest.JobSpec{Name: "health"}.YAML(t)))

	l.KillWorker("w1")
	if left := labtest.ProcessesMentioning(l.JobsDir("w1")); len(left) > 0 {
		// Not the lab's to judge (the host's): noted, and ended so that
		// the health check boots a guest of its own.
		t.Logf("the killed worker's job processes outlive it: %v", left)
		for _, pid := range left {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	ok(t, l.lavacli(t, c, "admin", "jobs", "wait", id, "--polling", "1"))
	f := l.show(t, c, id)
	if f["Health"] != "Incomplete" {
		t.Errorf("the killed worker's job ended %s, want Incomplete: %v", f["Health"], f)
	}
	// The worker never wrote its lava/job result: the error is the
	// server's, in the job's error_type and error_msg (lavacli 2.9's
	// "error :" line; jobs show --yaml for both).
	shown := l.showYAML(t, c, id)
	if shown.String("error_type") != "Infrastructure" || !strings.Contains(shown.String("error_msg"), "w1") {
		t.Errorf("the killed worker's job: error_type %q, error_msg %q; want Infrastructure, naming worker w1", shown.String("error_type"), shown.String("error_msg"))
	}
	log := l.storedLog(t, c, id)
	if len(log) < len(before) || diffLines(keys(log[:len(before)]), keys(before)) != "" {
		t.Errorf("the log delivered before the kill (%d records) is not kept as it was: now %d records", len(before), len(log))
	}
	wantFields(t, l.lavacli(t, c, "admin", "devices", "show", "qemu01"), map[string]string{"health": "Unknown", "state": "Idle"})

	// Nothing else lost: the other worker's job still runs, then cancels.
	if f := l.show(t, c, other); f["state"] != "Running" {
		t.Errorf("the other worker's job: %v, want Running", f)
	}
	ok(t, l.lavacli(t, c, "admin", "jobs", "cancel", other))
	ok(t, l.lavacli(t, c, "admin", "jobs", "wait", other, "--polling", "1"))
	wantFields(t, l.lavacli(t, c, "admin", "jobs", "show", other), map[string]string{"Health": "Canceled"})

	// Back, w1's device gets its health check: it completes, and the
	// device is Good.
	known := map[string]bool{id: true, other: true}
	l.StartWorker(t, "w1")
	var hc string
	labtest.WaitFor(t, 5*time.Minute, "a health check on qemu01", func() bool {
		for _, j := range l.jobIDs(t, c, "admin", "jobs", "list") {
			if !known[j] {
				hc = j
				return true
			}
		}
		return false
	})
	ok(t, l.lavacli(t, c, "admin", "jobs", "wait", hc, "--polling", "1"))
	wantFields(t, l.lavacli(t, c, "admin", "jobs", "show", hc), map[string]string{"health-check": "True", "device": "qemu01", "Health": "Complete"})
	wantFields(t, l.lavacli(t, c, "admin", "devices", "show", "qemu01"), map[string]string{"health": "Good", "state": "Idle"})
}

// The server SIGKILLed mid-job and started again once the job ended on
// the worker: the worker kept the job running without its server,
// reconnects and delivers the rest of the log and the job's end; the
// stored log is the whole log, without a gap or a repeat.
func TestServerRestartMidJob(t *testing.T) {
	labtest.NeedQEMU(t)
	c := anyLavacli(t)
	l := newLab(t, labtest.Config{Workers: []string{"w1"}, Devices: []labtest.Device{{Name: "qemu01", Worker: "w1"}}})
	restartMidJob(t, l, c, l.KillServer, func() { l.StartServer(t) })
}

// PostgreSQL stopped under a running server mid-job, and started again
// once the job ended on the worker: the same (the job's end, at least,
// must wait for the database). The cluster is the test's own (BASALT_POSTGRES_BINDIR names the programs):
// restarting the one the other packages' tests share would break them.
func TestPostgresRestartMidJob(t *testing.T) {
	labtest.NeedQEMU(t)
	bindir := os.Getenv("BASALT_POSTGRES_BINDIR")
	if bindir == "" {
		labtest.Missing(t, "BASALT_POSTGRES_BINDIR is not set: restarting PostgreSQL needs its programs (scripts/with-postgres.sh sets it; make test runs it)")
	}
	c := anyLavacli(t)
	pg := newCluster(t, bindir)
	l := newLab(t, labtest.Config{DSN: pg.dsn, Workers: []string{"w1"}, Devices: []labtest.Device{{Name: "qemu01", Worker: "w1"}}})
	restartMidJob(t, l, c, func() { pg.ctl(t, "stop", "-m", "immediate") }, func() { pg.ctl(t, "restart") })
}

// restartMidJob runs the e2e job; once its guest runs it calls stop,
// waits until the job's QEMU is gone (the job ran on to its end on the
// worker, which is now delivering it), and a little more so that the
// worker's attempts meet the outage, then calls start. The job must
// complete with its whole log.
func restartMidJob(t *testing.T, l *lab, c lavacli, stop, start func()) {
	definition := labtest.JobSpec{Name: "lab"}.YAML(t)
	ref := referenceRun(t, definition)
	id := submitted(t, ok(t, l.lavacli(t, c, "admin", "jobs", "submit", labtest.File(t, "job.yaml", definition))))
	// 2.2 auto-login-action: QEMU runs.
	l.waitLogged(t, c, id, "start: 2.2 ")
	if len(labtest.ProcessesMentioning(l.JobsDir("w1"))) == 0 {
		t.Fatalf("no QEMU under %s while the job boots", l.JobsDir("w1"))
	}
	stop()
	labtest.WaitFor(t, 5*time.Minute, "the job's QEMU gone", func() bool { return len(labtest.ProcessesMentioning(l.JobsDir("w1"))) == 0 })
	time.Sleep(3 * time.Second)
	start()
	var warned []string
	for _, line := range strings.Split(l.Server.Output(), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			warned = append(warned, line)
		}
	}
	if len(warned) > 0 {
		t.Logf("the server warned %d times during the outage, first: %s", len(warned), warned[0])
	}
	ok(t, l.lavacli(t, c, "admin", "jobs", "wait", id, "--polling", "1"))
	wantFields(t, l.lavacli(t, c, "admin", "jobs", "show", id), map[string]string{"state": "Finished", "Health": "Complete"})
	log := l.storedLog(t, c, id)
	noRepeats(t, "jobs logs", log)
	if d := diffLines(skeleton(log), skeleton(ref.log)); d != "" {
		t.Errorf("the stored log is not basalt run's for the same job: %s", d)
	}
	// One run of the job: the worker kept it, nobody started it again.
	out := l.Worker("w1").Output()
	if n := strings.Count(out, "job "+id+": starting"); n != 1 {
		t.Errorf("the worker started job %s %d times, want once:\n%s", id, n, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "retry") {
			t.Logf("worker: %s", line)
		}
	}
	if n, ok := workerRecords(l, "w1", id); !ok {
		t.Errorf("the worker did not say how many log lines job %s had (\"delivering its log (N lines)\")", id)
	} else if n != len(log) {
		t.Errorf("the worker had %d log lines, the server holds %d", n, len(log))
	}
}

// workerRecords is the number of log lines the worker says it had for
// the job when it ended ("job ID: Complete; delivering its log (N lines)
// and results" on its output), if it said so.
func workerRecords(l *lab, worker, id string) (int, bool) {
	re := regexp.MustCompile(`job ` + regexp.QuoteMeta(id) + `: .*delivering its log \((\d+) lines\)`)
	m := re.FindAllStringSubmatch(l.Worker(worker).Output(), -1)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[len(m)-1][1])
	return n, err == nil
}

// cluster is a PostgreSQL cluster of the test's own.
type cluster struct {
	bindir, dir, dsn string
	as               []string // runuser -u postgres -- (as root)
}

func newCluster(t *testing.T, bindir string) *cluster {
	t.Helper()
	// Not t.TempDir(): as root the server runs as postgres, which must
	// reach the folder.
	dir, err := os.MkdirTemp("", "basalt-labe2e-pg-")
	if err != nil {
		t.Fatal(err)
	}
	pg := &cluster{bindir: bindir, dir: dir}
	if os.Getuid() == 0 {
		if out, err := exec.Command("chown", "postgres", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown postgres %s: %v %s", dir, err, out)
		}
		pg.as = []string{"runuser", "-u", "postgres", "--"}
	}
	t.Cleanup(func() {
		pg.run("pg_ctl", "-D", filepath.Join(dir, "data"), "-m", "immediate", "-w", "stop")
		os.RemoveAll(dir)
	})
	if out, err := pg.run("initdb", "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "basalt", "-E", "UTF8"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := strings.TrimPrefix(labtest.FreeAddr(t), "127.0.0.1:")
	if out, err := pg.run("pg_ctl", "-D", filepath.Join(dir, "data"), "-l", filepath.Join(dir, "server.log"), "-w",
		"-o", fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %s -k %s -c fsync=off", port, dir), "start"); err != nil {
		t.Fatalf("pg_ctl start: %v\n%s", err, out)
	}
	pg.dsn = fmt.Sprintf("postgres://basalt@127.0.0.1:%s/postgres?sslmode=disable", port)
	return pg
}

func (pg *cluster) run(prog string, args ...string) ([]byte, error) {
	argv := append(append(append([]string{}, pg.as...), filepath.Join(pg.bindir, prog)), args...)
	return exec.Command(argv[0], argv[1:]...).CombinedOutput()
}

// ctl runs pg_ctl ACTION on the cluster; restart starts it again with the
// options it was started with.
func (pg *cluster) ctl(t *testing.T, action string, args ...string) {
	t.Helper()
	argv := append([]string{"-D", filepath.Join(pg.dir, "data"), "-l", filepath.Join(pg.dir, "server.log"), "-w"}, args...)
	if out, err := pg.run("pg_ctl", append(argv, action)...); err != nil {
		t.Fatalf("pg_ctl %s: %v\n%s", action, err, out)
	}
}
