package webe2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/labtest"
	"github.com/basalt-lava/basalt/internal/value"
)

// The lab of these cases: one worker with a QEMU device, and a device
// held in Maintenance on a type of its own (a job for it stays queued
// until canceled). Callbacks get all the time they want (--notify-timeout
// 10m), so that a receiver that hangs keeps its request outstanding for
// the whole case.
func startLab(t *testing.T) *labtest.Lab {
	return labtest.Start(t, labtest.Config{
		Workers: []string{"w1"},
		Devices: []labtest.Device{
			{Name: "qemu01", Worker: "w1"},
			{Name: "held01", Worker: "w1", DeviceType: "qemu-held", Health: "Maintenance"},
		},
		Passwords:  map[string]string{"admin": adminPassword},
		ServerArgs: []string{"--notify-timeout", "10m"},
	})
}

const adminPassword = "correct horse battery staple"

// KernelCI's callback, as its LAVA job template writes it (a node id in
// the URL and the metadata, the token by its description, everything in
// JSON, once the job is finished). The submitter keeps the secret as a
// remote artifact token of that name (remoteToken), which the server
// sends in its place.
const kernelciNode = "65af0c1d9e2b"

func kernelciNotify(url string) string {
	return fmt.Sprintf(`metadata:
  node_id: %[2]s
notify:
  criteria:
    status: finished
  callback:
    url: %[1]s/node/%[2]s
    method: POST
    dataset: all
    token: kernelci-callback
    content-type: json
`, url, kernelciNode)
}

// The keys of a callback's payload, in LAVA's order (create_job_data).
var payloadKeys = []string{"id", "status", "status_string", "state", "state_string", "health", "health_string",
	"submit_time", "start_time", "end_time", "submitter_username", "submitter_email", "failure_comment",
	"priority", "description", "actual_device_id", "definition", "metadata", "health_check", "log", "results"}

// pyTime is str(datetime) of an aware UTC datetime.
var pyTime = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?\+00:00$`)

// TestLab is one lab through its users' eyes, in a browser: logging in,
// submitting a QEMU job through the submit form, watching its log grow
// on its page while it runs and its state turn to Complete, its results
// and pipeline description, the device page and its dictionary, the
// lists; and the job's KernelCI callback delivered while a callback of
// an earlier job to a receiver that hangs is still outstanding (and one
// to a refused port has failed).
func TestLab(t *testing.T) {
	labtest.NeedQEMU(t)
	b := newBrowser(t)
	var l *labtest.Lab
	// The receiver reads the job back from the lab before it answers, as
	// KernelCI's does: the callback must come after the change is stored.
	good := newReceiver(t, func(c callback) string {
		var p struct{ ID int64 }
		json.Unmarshal(c.Body, &p)
		v, err := rpcCall(l.URL(), "admin", l.Tokens["admin"], "scheduler.jobs.show", fmt.Sprint(p.ID))
		m, _ := v.(map[string]any)
		if err != nil || m == nil {
			return fmt.Sprintf("scheduler.jobs.show %d: %v", p.ID, err)
		}
		return fmt.Sprintf("%v %v", m["state"], m["health"])
	})
	hang := newHangingReceiver(t)
	refused := "http://" + labtest.FreeAddr(t) // nothing listens there
	l = startLab(t)

	b.page(l, "home-anonymous", "/", "Log in")
	// A user who wants to submit is sent to log in, and comes back.
	b.pageStatus(l, "jobsubmit-anonymous", "/scheduler/jobsubmit", http.StatusUnauthorized, "log in")
	b.click("#submit-login a")
	b.waitJS(30*time.Second, "the login page, to come back to the submit form", `location.pathname.startsWith('/accounts/login') && location.search.includes('jobsubmit')`)
	loginHere(t, b, "/scheduler/jobsubmit")
	newToken(t, b, l)
	remoteToken(t, b, l)
	b.open(l.URL() + "/scheduler/jobsubmit")

	// A job that stays queued, canceled: Finished, so its callbacks go,
	// the one refused first, then the one that hangs (a job's callbacks
	// are sent in order).
	heldJob := submit(t, l, "admin", labtest.JobSpec{Name: "held", DeviceType: "qemu-held", Extra: fmt.Sprintf(`notify:
  criteria:
    status: finished
  callbacks:
  - url: %s/refused
    method: POST
    content-type: json
  - url: %s/hang
    method: POST
    content-type: json
`, refused, hang.srv.URL)}.YAML(t))
	rpc(t, l, "admin", "scheduler.jobs.cancel", heldJob)
	select {
	case p := <-hang.arrived:
		if p != "/hang" {
			t.Fatalf("the hanging receiver got %s", p)
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("job %s's callback to the hanging receiver never came", heldJob)
	}
	// The refused callback went before it, and failed (logged).
	if out := l.Server.Output(); !strings.Contains(out, refused+"/refused") || !strings.Contains(out, "connection refused") {
		t.Errorf("the server did not log the refused callback to %s/refused:\n%s", refused, labtest.LastLines(out, 20))
	}

	// While that callback is outstanding, a QEMU job is submitted in the
	// browser, scheduled, run and finished, its page following it live,
	// and its own callback is delivered.
	definition := labtest.JobSpec{Name: "kernelci", Extra: kernelciNotify(good.srv.URL),
		Steps: []string{"for i in $(seq 1 10); do echo tick-$i; sleep 1; done"}}.YAML(t)
	id := submitJob(t, b, definition)
	watchJob(t, b, id)
	if state, health := jobState(t, l, id); state != "Finished" || health != "Complete" {
		t.Errorf("job %s: %s, %s; want Finished, Complete", id, state, health)
	}
	cb := good.next(t, 2*time.Minute, "job "+id+"'s KernelCI callback")
	if n := hang.outstanding(); n != 1 {
		t.Errorf("the hanging callback is no longer outstanding (%d open) when job %s's callback arrived: the test shows nothing", n, id)
	}
	if cb.Seen != "Finished Complete" {
		t.Errorf("job %s, read back by the callback's receiver before it answered: %s, want Finished Complete", id, cb.Seen)
	}
	checkKernelCI(t, cb, id, definition)

	jobTabs(t, b, id)
	pages := []struct {
		name, path string
		want       []string
	}{
		{"device", "/scheduler/device/qemu01", []string{"qemu01", "Idle", "Good", "w1", "basalt-e2e-kernelci", "extends"}},
		{"devicedict", "/scheduler/device/qemu01/devicedict", []string{"{% extends 'qemu.jinja2' %}", "{% set memory = 512 %}", "qemu-system-x86_64", "-m 512"}},
		{"alljobs", "/scheduler/alljobs", []string{id, heldJob, "basalt-e2e-kernelci", "Complete", "Canceled"}},
		{"queue", "/scheduler/queue", nil},
		{"alldevices", "/scheduler/alldevices", []string{"qemu01", "held01", "Maintenance"}},
		{"device_types", "/scheduler/device_types", []string{"qemu", "qemu-held"}},
		{"device_type", "/scheduler/device_type/qemu", []string{"qemu01"}},
		{"allworkers", "/scheduler/allworkers", []string{"w1"}},
		{"worker", "/scheduler/worker/w1", []string{"qemu01", "held01"}},
		{"labhealth", "/scheduler/labhealth", []string{"qemu01"}},
		{"results", "/results/" + id, []string{"0_e2e-smoke", "lava"}},
		{"results-suite", "/results/" + id + "/0_e2e-smoke", []string{"always-pass", "always-fail", "measured"}},
		{"results-case", "/results/" + id + "/0_e2e-smoke/measured", []string{"42.5"}},
		{"tokens", "/api/tokens/", []string{"admin"}},
		{"home", "/", []string{"admin"}},
	}
	for _, p := range pages {
		b.page(l, p.name, p.path, p.want...)
	}
}

// checkKernelCI checks a callback as KernelCI's receiver reads it
// (kernelci-pipeline lava_callback.py): POST /node/ID with the raw token
// in Authorization, a JSON body with LAVA's keys in LAVA's order, the
// legacy status KernelCI maps to pass, the device, the node id in the
// metadata, the log as YAML lines and each suite's results as YAML.
func checkKernelCI(t *testing.T, cb callback, id, definition string) {
	t.Helper()
	if cb.Method != "POST" || cb.Path != "/node/"+kernelciNode {
		t.Errorf("callback: %s %s, want POST /node/%s", cb.Method, cb.Path, kernelciNode)
	}
	if got := cb.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("callback Content-Type %q, want application/json", got)
	}
	if got := cb.Header.Get("Authorization"); got != "kernelci-callback-secret" {
		t.Errorf("callback Authorization %q, want the value of the remote token kernelci-callback", got)
	}
	// The keys, in order.
	dec := json.NewDecoder(bytes.NewReader(cb.Body))
	var keys []string
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("callback body is not a JSON object: %v\n%s", err, clip(cb.Body))
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("callback body: %v", err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("callback body: %v", err)
		}
	}
	if strings.Join(keys, " ") != strings.Join(payloadKeys, " ") {
		t.Errorf("callback keys:\n got %v\nwant %v", keys, payloadKeys)
	}
	var p struct {
		ID            int64               `json:"id"`
		Status        int                 `json:"status"`
		StatusString  string              `json:"status_string"`
		State         int                 `json:"state"`
		StateString   string              `json:"state_string"`
		Health        int                 `json:"health"`
		HealthString  string              `json:"health_string"`
		SubmitTime    string              `json:"submit_time"`
		StartTime     string              `json:"start_time"`
		EndTime       string              `json:"end_time"`
		Submitter     string              `json:"submitter_username"`
		Failure       *string             `json:"failure_comment"`
		Description   string              `json:"description"`
		Device        *string             `json:"actual_device_id"`
		Definition    string              `json:"definition"`
		Metadata      []map[string]string `json:"metadata"`
		HealthCheck   bool                `json:"health_check"`
		Log           string              `json:"log"`
		Results       map[string]string   `json:"results"`
		PriorityValue int                 `json:"priority"`
	}
	if err := json.Unmarshal(cb.Body, &p); err != nil {
		t.Fatalf("callback body: %v\n%s", err, clip(cb.Body))
	}
	want := fmt.Sprintf("id %s status 2 complete state 5 Finished health 1 Complete submitter admin description basalt-e2e-kernelci device qemu01 health_check false", id)
	device := "<null>"
	if p.Device != nil {
		device = *p.Device
	}
	got := fmt.Sprintf("id %d status %d %s state %d %s health %d %s submitter %s description %s device %s health_check %t",
		p.ID, p.Status, p.StatusString, p.State, p.StateString, p.Health, p.HealthString, p.Submitter, p.Description, device, p.HealthCheck)
	if got != want {
		t.Errorf("callback payload:\n got %s\nwant %s", got, want)
	}
	for name, v := range map[string]string{"submit_time": p.SubmitTime, "start_time": p.StartTime, "end_time": p.EndTime} {
		if !pyTime.MatchString(v) {
			t.Errorf("callback %s %q is not str(datetime) of a UTC time", name, v)
		}
	}
	if p.Definition != definition {
		t.Errorf("callback definition is not the job's definition:\n%s", p.Definition)
	}
	if len(p.Metadata) != 1 || p.Metadata[0]["node_id"] != kernelciNode {
		t.Errorf("callback metadata %v, want [{node_id: %s}]", p.Metadata, kernelciNode)
	}
	// The log: YAML records, KernelCI keeps those of level target (the
	// serial console), which hold the test's ticks.
	v, err := value.DecodeYAML([]byte(p.Log))
	records, _ := v.([]any)
	if err != nil || len(records) == 0 {
		t.Fatalf("callback log is not a YAML list of records (%v): %s", err, clip([]byte(p.Log)))
	}
	target := 0
	ticks := false
	for _, r := range records {
		m, ok := r.(*value.Map)
		if !ok {
			t.Fatalf("callback log record %v is not a map", r)
		}
		if lvl, _ := m.Get("lvl"); lvl == "target" {
			target++
			if msg, _ := m.Get("msg"); strings.Contains(fmt.Sprint(msg), "tick-10") {
				ticks = true
			}
		}
	}
	if target == 0 || !ticks {
		t.Errorf("callback log: %d target records, tick-10 among them: %t", target, ticks)
	}
	// The results: a YAML list per suite; the test definition's cases as
	// the job ran them, and lava's job case.
	cases := map[string]string{}
	for suite, y := range p.Results {
		v, err := value.DecodeYAML([]byte(y))
		list, _ := v.([]any)
		if err != nil {
			t.Errorf("callback results[%s] is not YAML: %v", suite, err)
			continue
		}
		for _, c := range list {
			m, _ := c.(*value.Map)
			if m == nil {
				continue
			}
			name, _ := m.Get("name")
			result, _ := m.Get("result")
			cases[suite+"/"+fmt.Sprint(name)] = fmt.Sprint(result)
			if name == "measured" {
				measurement, _ := m.Get("measurement")
				units, _ := m.Get("unit")
				cases[suite+"/measured/measurement"] = fmt.Sprint(measurement, " ", units)
			}
		}
	}
	for k, want := range map[string]string{
		"lava/job": "pass", "0_e2e-smoke/always-pass": "pass", "0_e2e-smoke/always-fail": "fail",
		"0_e2e-smoke/skipped": "skip", "0_e2e-smoke/measured": "pass",
	} {
		if cases[k] != want {
			t.Errorf("callback results: %s = %q, want %q (suites %v)", k, cases[k], want, keysOf(p.Results))
		}
	}
	t.Logf("KernelCI callback of job %s: %d bytes, %d log records, suites %v, measured %s", id, len(cb.Body), len(records), keysOf(p.Results), cases["0_e2e-smoke/measured/measurement"])
}

func keysOf(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func clip(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}
