package labe2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/labtest"
	"github.com/basalt-lava/basalt/internal/value"
)

// The lab of the lavacli suite: two workers with one QEMU device each (so
// that a MultiNode group of two uses both), a third device held in
// Maintenance on a type of its own (a job for it stays queued), an
// administrator and two plain users.
func suiteLab(t *testing.T, postgres bool) *lab {
	return newLab(t, labtest.Config{
		Postgres:    postgres,
		Coordinator: true,
		Workers:     []string{"w1", "w2"},
		Devices: []labtest.Device{
			{Name: "qemu01", Worker: "w1"},
			{Name: "qemu02", Worker: "w2"},
			{Name: "held01", Worker: "w2", DeviceType: "qemu-held", Health: "Maintenance"},
		},
		Users: []string{"bob", "carol"},
	})
}

func TestLabSQLite(t *testing.T) {
	labtest.NeedQEMU(t)
	labSuite(t, suiteLab(t, false), "lavacli-2.9")
}

func TestLabPostgres(t *testing.T) {
	labtest.NeedQEMU(t)
	if os.Getenv("BASALT_POSTGRES_DSN") == "" {
		labtest.Missing(t, "BASALT_POSTGRES_DSN is not set: the PostgreSQL lab needs a server (scripts/with-postgres.sh starts one; make test runs it)")
	}
	// The MultiNode group goes through the other lavacli than on SQLite.
	labSuite(t, suiteLab(t, true), "lavacli-1.2")
}

// labSuite is the whole user-facing suite on one lab: every lavacli
// command each lavacli version runs, a MultiNode group submitted with
// the lavacli named, bad submissions and access control.
func labSuite(t *testing.T, l *lab, multinodeWith string) {
	clients := map[string]func(*testing.T) lavacli{"lavacli-1.2": lavacli12, "lavacli-2.9": lavacli29}
	for _, name := range []string{"lavacli-1.2", "lavacli-2.9"} {
		t.Run(name, func(t *testing.T) {
			clientSuite(t, l, clients[name](t))
		})
	}
	t.Run("multinode/"+multinodeWith, func(t *testing.T) {
		multinode(t, l, clients[multinodeWith](t))
	})
	for _, name := range []string{"lavacli-1.2", "lavacli-2.9"} {
		t.Run("bad-submissions/"+name, func(t *testing.T) {
			badSubmissions(t, l, clients[name](t))
		})
		t.Run("access/"+name, func(t *testing.T) {
			access(t, l, clients[name](t))
		})
	}
}

var lavaVersion = regexp.MustCompile(`^20\d{2}\.\d{1,2}`)

// clientSuite is what one lavacli does on the lab, with what a LAVA user
// expects to read.
func clientSuite(t *testing.T, l *lab, c lavacli) {
	dictFile := filepath.Join(labtest.Root, "internal", "e2e", "testdata", "device.jinja2")
	dict, err := os.ReadFile(dictFile)
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := os.ReadFile(filepath.Join(labtest.Root, "internal", "device", "devicetypes", "qemu.jinja2"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("system version", func(t *testing.T) {
		r := ok(t, l.lavacli(t, c, "admin", "system", "version"))
		if !lavaVersion.MatchString(r.stdout) {
			t.Errorf("system version %q is not LAVA-style YYYY.MM (lavacli gates its commands on it)", r.stdout)
		}
	})
	t.Run("devices list", func(t *testing.T) {
		r := ok(t, l.lavacli(t, c, "admin", "devices", "list"))
		for _, want := range []string{"Devices:\n", "* qemu01 (qemu): Idle,Good\n", "* qemu02 (qemu): Idle,Good\n", "* held01 (qemu-held): Idle,Maintenance\n"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("devices list lacks %q:\n%s", want, r.stdout)
			}
		}
	})
	t.Run("devices show", func(t *testing.T) {
		r := ok(t, l.lavacli(t, c, "admin", "devices", "show", "qemu01"))
		wantFields(t, r, map[string]string{"name": "qemu01", "device-type": "qemu", "state": "Idle", "health": "Good",
			"worker": "w1", "device-dict": "True", "current job": "None", "pipeline": "True"})
	})
	t.Run("devices dict", func(t *testing.T) {
		// The dictionary manage stored, or that with the comment the other
		// lavacli's set added.
		r := ok(t, l.lavacli(t, c, "admin", "devices", "dict", "get", "qemu02"))
		if !strings.HasPrefix(r.stdout, string(dict)) {
			t.Errorf("devices dict get qemu02 is not the dictionary manage stored:\n%s", r.stdout)
		}
		// The same dictionary with a comment naming who set it: the jobs
		// that follow still run on it.
		changed := string(dict) + "{# set with " + c.name + " #}\n"
		ok(t, l.lavacli(t, c, "admin", "devices", "dict", "set", "qemu02", labtest.File(t, "qemu02.jinja2", changed)))
		r = ok(t, l.lavacli(t, c, "admin", "devices", "dict", "get", "qemu02"))
		if strings.TrimRight(r.stdout, "\n") != strings.TrimRight(changed, "\n") {
			t.Errorf("devices dict get after set:\n%s\nwant:\n%s", r.stdout, changed)
		}
		r = ok(t, l.lavacli(t, c, "admin", "devices", "dict", "get", "qemu02", "--render"))
		v, err := value.DecodeYAML([]byte(r.stdout))
		m, _ := v.(*value.Map)
		if err != nil || m == nil {
			t.Fatalf("devices dict get --render is not a YAML map (%v):\n%s", err, clip(r.stdout, 20))
		}
		// What the dictionary's variables make of qemu.jinja2.
		if got, _ := m.Lookup("actions", "boot", "methods", "qemu", "parameters", "command"); got != "qemu-system-x86_64" {
			t.Errorf("rendered actions.boot.methods.qemu.parameters.command = %v, want qemu-system-x86_64", got)
		}
		if !strings.Contains(r.stdout, "-m 512") && !strings.Contains(r.stdout, "memory: 512") {
			t.Errorf("rendered dictionary lacks the dictionary's memory 512:\n%s", clip(r.stdout, 60))
		}
	})
	t.Run("device-types list", func(t *testing.T) {
		r := ok(t, l.lavacli(t, c, "admin", "device-types", "list"))
		for _, want := range []string{"Device-Types:\n", "* qemu (2)\n", "* qemu-held (1)\n"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("device-types list lacks %q:\n%s", want, r.stdout)
			}
		}
	})
	t.Run("device-types template", func(t *testing.T) {
		r := ok(t, l.lavacli(t, c, "admin", "device-types", "template", "get", "qemu"))
		// Before any set: Basalt's shipped qemu.jinja2 (the type has no
		// template of its own). After the other lavacli's set: that one.
		if !strings.Contains(r.stdout, strings.TrimRight(string(shipped), "\n")) {
			t.Errorf("device-types template get qemu is not the shipped qemu.jinja2 (plus a comment):\n%s", clip(r.stdout, 20))
		}
		changed := string(shipped) + "{# set with " + c.name + " #}\n"
		ok(t, l.lavacli(t, c, "admin", "device-types", "template", "set", "qemu", labtest.File(t, "qemu.jinja2", changed)))
		r = ok(t, l.lavacli(t, c, "admin", "device-types", "template", "get", "qemu"))
		if strings.TrimRight(r.stdout, "\n") != strings.TrimRight(changed, "\n") {
			t.Errorf("device-types template get after set: %d bytes, want %d:\n%s", len(r.stdout), len(changed), clip(r.stdout, 10))
		}
	})
	t.Run("workers list", func(t *testing.T) {
		r := ok(t, l.lavacli(t, c, "admin", "workers", "list"))
		for _, want := range []string{"Workers:\n", "* w1\n", "* w2\n"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("workers list lacks %q:\n%s", want, r.stdout)
			}
		}
	})
	t.Run("job", func(t *testing.T) {
		qemuJob(t, l, c)
	})
	t.Run("cancel", func(t *testing.T) {
		cancelJob(t, l, c)
	})
}

// wantFields checks lavacli's "key : value" listing.
func wantFields(t *testing.T, r run, want map[string]string) map[string]string {
	t.Helper()
	got := fields(r.stdout)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("lavacli %s: %s = %q, want %q\n%s", strings.Join(r.args, " "), k, got[k], v, r.stdout)
		}
	}
	return got
}

// qemuJob submits the e2e QEMU job, follows its log while it runs, and
// checks what lavacli reads back against `basalt run` on the same job.
func qemuJob(t *testing.T, l *lab, c lavacli) {
	definition := labtest.JobSpec{Name: "lab"}.YAML(t)
	ref := referenceRun(t, definition)
	jobFile := labtest.File(t, "job.yaml", definition)
	id := submitted(t, ok(t, l.lavacli(t, c, "admin", "jobs", "submit", jobFile)))

	// `jobs logs ID` follows by default: it ends by itself once the job
	// finished, having printed the whole log.
	followed := make(chan run, 1)
	go func() { followed <- l.lavacliNoFail(c, "admin", "jobs", "logs", id, "--raw", "--polling", "1") }()

	r := ok(t, l.lavacli(t, c, "admin", "jobs", "wait", id, "--polling", "1"))
	if !strings.Contains(r.stdout, "Finished") && !strings.Contains(r.stdout, "Running") && r.stdout != "" {
		t.Logf("jobs wait printed %q", r.stdout)
	}
	r = ok(t, l.lavacli(t, c, "admin", "jobs", "show", id))
	f := wantFields(t, r, map[string]string{"id": id, "submitter": "admin", "device-type": "qemu", "state": "Finished",
		"Health": "Complete", "health-check": "False", "visibility": "Public", "description": "basalt-e2e-lab"})
	if d := f["device"]; d != "qemu01" && d != "qemu02" {
		t.Errorf("jobs show: device %q, want qemu01 or qemu02", d)
	}

	var fr run
	select {
	case fr = <-followed:
	case <-time.After(2 * time.Minute):
		t.Fatal("jobs logs (following) did not end within 2 minutes of the job's end")
	}
	transcript(t, c, fr)
	if fr.code != 0 {
		t.Fatalf("jobs logs (following): %s", fr)
	}
	r = ok(t, l.lavacli(t, c, "admin", "jobs", "logs", id, "--raw", "--no-follow"))
	log := parseLog(t, "jobs logs --no-follow", r.stdout)
	flog := parseLog(t, "jobs logs (following)", fr.stdout)
	if d := diffLines(keys(flog), keys(log)); d != "" {
		t.Errorf("the log followed while the job ran is not the stored log: %s", d)
	}
	noRepeats(t, "jobs logs", log)
	if d := diffLines(skeleton(log), skeleton(ref.log)); d != "" {
		t.Errorf("the lab's log (jobs logs) is not basalt run's for the same job: %s", d)
	}
	// The plain `jobs logs` prints every record too.
	r = ok(t, l.lavacli(t, c, "admin", "jobs", "logs", id, "--no-follow"))
	if n := strings.Count(r.stdout, "\n"); n < len(log) {
		t.Errorf("jobs logs --no-follow printed %d lines for %d records", n, len(log))
	}

	r = ok(t, l.lavacli(t, c, "admin", "jobs", "definition", id))
	if strings.TrimRight(r.stdout, "\n") != strings.TrimRight(definition, "\n") {
		t.Errorf("jobs definition is not what was submitted:\n%s", clip(r.stdout, 20))
	}

	r = ok(t, l.lavacli(t, c, "admin", "results", id))
	for _, want := range []string{"Results:\n", "* 0_e2e-smoke.always-pass [pass]\n", "* 0_e2e-smoke.always-fail [fail]\n",
		"* 0_e2e-smoke.skipped [skip]\n", "* lava.job [pass]\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("results %s lacks %q:\n%s", id, want, clip(r.stdout, 60))
		}
	}
	r = ok(t, l.lavacli(t, c, "admin", "results", id, "--yaml"))
	v, err := value.DecodeYAML([]byte(r.stdout))
	if err != nil {
		t.Fatalf("results --yaml does not parse: %v", err)
	}
	var cases []*value.Map
	for _, e := range v.([]any) {
		if m, ok := e.(*value.Map); ok {
			cases = append(cases, m)
		}
	}
	got, want := caseKeys(cases, "suite", "name"), caseKeys(ref.results, "definition", "case")
	if d := diffCounts(got, want); d != "" {
		t.Errorf("results --yaml against basalt run's results (suite.case [result]):\n%s", d)
	}
	for _, cs := range cases {
		// As LAVA's export_testcase: the case's id, its url by id, when
		// it was logged, and the log line of its record (all strings).
		if cid := cs.String("id"); cid == "" || cs.String("url") != "/results/testcase/"+cid || cs.String("logged") == "" {
			t.Errorf("results --yaml %s.%s: id %v url %v logged %v", cs.String("suite"), cs.String("name"), cs.Value("id"), cs.Value("url"), cs.Value("logged"))
		}
		if n, err := strconv.Atoi(cs.String("log_start_line")); err != nil || n <= 0 || n >= len(log) || log[n].String("lvl") != "results" ||
			log[n].Map("msg").String("case") != cs.String("name") {
			t.Errorf("results --yaml %s.%s: log_start_line %v is not the line of its record", cs.String("suite"), cs.String("name"), cs.Value("log_start_line"))
		}
		if cs.String("suite") == "0_e2e-smoke" && cs.String("name") == "measured" {
			// LAVA stores a measurement as a decimal of 10 places and
			// exports it as a string ("42.5000000000"): compared as a number.
			if m, err := strconv.ParseFloat(fmt.Sprint(cs.Value("measurement")), 64); err != nil || m != 42.5 || cs.String("unit") != "ms" {
				t.Errorf("measured: measurement %v unit %v, want 42.5 ms", cs.Value("measurement"), cs.Value("unit"))
			}
		}
	}
}

// keys is every record of a log, whole.
func keys(log []*value.Map) []string {
	s := make([]string, len(log))
	for i, r := range log {
		s[i] = recordKey(r)
	}
	return s
}

func diffCounts(got, want map[string]int) string {
	var b strings.Builder
	for k, n := range want {
		if got[k] != n {
			fmt.Fprintf(&b, "  %s: %d, want %d\n", k, got[k], n)
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			fmt.Fprintf(&b, "  %s: %d, want none\n", k, n)
		}
	}
	return b.String()
}

// lavacliNoFail is lavacli for another goroutine: it never fails the test.
func (l *lab) lavacliNoFail(c lavacli, user string, args ...string) run {
	r, err := l.exec(c, l.uri(user), args...)
	if err != nil {
		r.code, r.stderr = -1, err.Error()
	}
	return r
}

// cancelJob cancels a running job: lavacli 1.2 while it downloads (a
// download that never ends), lavacli 2.9 while its test runs in QEMU
// (QEMU must be stopped and reaped). It ends Canceled and its device is
// Idle again, health unchanged.
func cancelJob(t *testing.T, l *lab, c lavacli) {
	spec := labtest.JobSpec{Name: "cancel", KernelURL: labtest.FixturesURL() + "/hang/vmlinuz"}
	marker := "downloading " + labtest.FixturesURL() + "/hang/vmlinuz"
	if c.name == "lavacli-2.9" {
		spec = labtest.JobSpec{Name: "cancel", Steps: []string{"sleep 1000"}, TestTimeout: 600}
		marker = "always-fail"
	}
	id := submitted(t, ok(t, l.lavacli(t, c, "admin", "jobs", "submit", labtest.File(t, "cancel.yaml", spec.YAML(t)))))
	var device string
	labtest.WaitFor(t, 10*time.Minute, "job "+id+" Running with "+marker+" in its log", func() bool {
		f := fields(ok(t, l.lavacli(t, c, "admin", "jobs", "show", id)).stdout)
		if f["state"] == "Finished" {
			t.Fatalf("job %s finished before it could be canceled: %v", id, f)
		}
		device = f["device"]
		return f["state"] == "Running" && strings.Contains(l.lavacli(t, c, "admin", "jobs", "logs", id, "--raw", "--no-follow").stdout, marker)
	})
	// What the device page says of a running job.
	wantFields(t, l.lavacli(t, c, "admin", "devices", "show", device), map[string]string{"state": "Running", "current job": id})
	ok(t, l.lavacli(t, c, "admin", "jobs", "cancel", id))
	ok(t, l.lavacli(t, c, "admin", "jobs", "wait", id, "--polling", "1"))
	wantFields(t, l.lavacli(t, c, "admin", "jobs", "show", id), map[string]string{"state": "Finished", "Health": "Canceled", "device": device})
	labtest.WaitFor(t, time.Minute, device+" Idle again", func() bool {
		return fields(l.lavacli(t, c, "admin", "devices", "show", device).stdout)["state"] == "Idle"
	})
	wantFields(t, l.lavacli(t, c, "admin", "devices", "show", device), map[string]string{"state": "Idle", "health": "Good", "current job": "None"})
	log := parseLog(t, "jobs logs", ok(t, l.lavacli(t, c, "admin", "jobs", "logs", id, "--raw", "--no-follow")).stdout)
	var job *value.Map
	for _, r := range resultsOf(log) {
		if r.String("definition") == "lava" && r.String("case") == "job" {
			job = r
		}
	}
	if job == nil || job.String("error_type") != "Canceled" {
		t.Errorf("the canceled job's lava/job result: %s, want error_type Canceled", value.GoString(job))
	}
	if c.name == "lavacli-2.9" {
		// Its cleanup ran: QEMU was powered off and nothing of the job's
		// is left running on the worker.
		if r := findResult(log, "lava", "power-off"); r == nil {
			t.Errorf("the canceled job's finalize (lava/power-off) did not run")
		}
	}
	for _, w := range l.Cfg.Workers {
		if left := labtest.ProcessesMentioning(l.JobsDir(w)); len(left) > 0 {
			t.Errorf("processes of worker %s's jobs left after the cancel: %v", w, left)
		}
	}
}

func findResult(log []*value.Map, def, name string) *value.Map {
	for _, r := range resultsOf(log) {
		if r.String("definition") == def && r.String("case") == name {
			return r
		}
	}
	return nil
}
