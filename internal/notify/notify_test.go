package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/logstore"
	"github.com/basalt-lava/basalt/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const kernelciDef = `job_name: baseline-arm64
metadata:
  node_id: 65af
  kernel.version: 6.1
notify:
  callback: {content-type: json, dataset: all, method: POST, token: my-token, url: 'http://127.0.0.1/node/65af?s={STATUS}&t={ STATUS_STRING }&x={OTHER}'}
  criteria: {status: finished}
`

func sampleJob() Job {
	return Job{
		Job: store.Job{
			Definition: kernelciDef, State: store.JobFinished, Health: store.JobComplete, Priority: 50,
			Submitter: "kernelci", Device: "qemu-01", Description: "baseline-arm64",
			Submitted: time.Date(2026, 1, 1, 10, 0, 0, 123456000, time.UTC),
			Started:   time.Date(2026, 1, 1, 10, 0, 5, 0, time.UTC),
			Ended:     time.Date(2026, 1, 1, 10, 5, 0, 500000000, time.UTC),
		},
		ID:     1234,
		Log:    "- {dt: '2026-01-01T10:00:05.000001', lvl: info, msg: 'start: 0 validate'}\n",
		HasLog: true,
		Results: map[string]string{
			"lava":       "- name: job\n  result: pass\n",
			"0_baseline": "- name: dmesg-emerg\n  result: pass\n",
		},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\ngot  %s\nwant %s", name, got, want)
	}
}

func TestPayloadGolden(t *testing.T) {
	j := sampleJob()
	golden(t, "all.json", append(Build(j, "all").JSON(), '\n'))
	golden(t, "minimal.json", append(Build(j, "minimal").JSON(), '\n'))
	q := j
	q.State, q.Health, q.Device, q.Started, q.Ended = store.JobRunning, store.JobUnknown, "", time.Time{}, time.Time{}
	q.ErrorMsg = "boom"
	golden(t, "running-minimal.form", []byte(Build(q, "minimal").Form()+"\n"))
}

// TestPayloadKeys checks the key order and types §5.4 lists.
func TestPayloadKeys(t *testing.T) {
	want := []string{"id", "status", "status_string", "state", "state_string", "health", "health_string",
		"submit_time", "start_time", "end_time", "submitter_username", "submitter_email", "failure_comment",
		"priority", "description", "actual_device_id", "definition", "metadata", "health_check"}
	for _, tc := range []struct {
		dataset string
		extra   []string
	}{{"minimal", nil}, {"logs", []string{"log"}}, {"results", []string{"results"}}, {"all", []string{"log", "results"}}} {
		var keys []string
		for _, f := range Build(sampleJob(), tc.dataset) {
			keys = append(keys, f.key)
		}
		if g, w := strings.Join(keys, ","), strings.Join(append(append([]string{}, want...), tc.extra...), ","); g != w {
			t.Errorf("%s: keys %s, want %s", tc.dataset, g, w)
		}
	}
	var m map[string]any
	if err := json.Unmarshal(Build(sampleJob(), "all").JSON(), &m); err != nil {
		t.Fatal(err)
	}
	if m["status"] != float64(2) || m["start_time"] != "2026-01-01 10:00:05+00:00" || m["failure_comment"] != nil {
		t.Errorf("payload %v", m)
	}
	if md, _ := m["metadata"].([]any); len(md) != 2 || md[1].(map[string]any)["kernel.version"] != "6.1" {
		t.Errorf("metadata %v", m["metadata"])
	}
}

func TestPyTime(t *testing.T) {
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.Time{}, "None"},
		{time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC), "2026-01-01 10:00:00+00:00"},
		{time.Date(2026, 1, 1, 10, 0, 0, 1000, time.UTC), "2026-01-01 10:00:00.000001+00:00"},
		{time.Date(2026, 1, 1, 11, 0, 0, 999, time.FixedZone("x", 3600)), "2026-01-01 10:00:00+00:00"},
	} {
		if got := PyTime(tc.in); got != tc.want {
			t.Errorf("PyTime(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLegacyStatus(t *testing.T) {
	for _, tc := range []struct {
		s    store.JobState
		h    store.JobHealth
		code int
		text string
	}{
		{store.JobSubmitted, store.JobUnknown, 0, "submitted"},
		{store.JobScheduled, store.JobUnknown, 0, "submitted"},
		{store.JobRunning, store.JobUnknown, 1, "running"},
		{store.JobCanceling, store.JobUnknown, 5, "canceling"},
		{store.JobFinished, store.JobComplete, 2, "complete"},
		{store.JobFinished, store.JobIncomplete, 3, "incomplete"},
		{store.JobFinished, store.JobUnknown, 3, "incomplete"},
		{store.JobFinished, store.JobCanceled, 4, "canceled"},
	} {
		if c, s := LegacyStatus(tc.s, tc.h); c != tc.code || s != tc.text {
			t.Errorf("%s/%s = %d %s", tc.s, tc.h, c, s)
		}
	}
}

func TestMatch(t *testing.T) {
	R, F := store.JobRunning, store.JobFinished
	U, C, I, X := store.JobUnknown, store.JobComplete, store.JobIncomplete, store.JobCanceled
	for _, tc := range []struct {
		c      Criteria
		s      store.JobState
		h, old store.JobHealth
		want   bool
	}{
		{Criteria{Status: "all"}, R, U, U, true},
		{Criteria{Status: "all"}, F, C, U, true},
		{Criteria{Status: "all"}, store.JobCanceling, U, U, false},
		{Criteria{Status: "finished"}, F, I, U, true},
		{Criteria{Status: "finished"}, R, U, U, false},
		{Criteria{Status: "running"}, R, U, U, true},
		{Criteria{Status: "complete"}, F, C, U, true},
		{Criteria{Status: "complete"}, F, I, U, false},
		{Criteria{Status: "incomplete"}, F, I, U, true},
		{Criteria{Status: "canceled"}, F, X, U, true},
		{Criteria{Status: "incomplete", Type: "regression"}, F, I, C, true},
		{Criteria{Status: "incomplete", Type: "regression"}, F, I, U, false},
		{Criteria{Status: "complete", Type: "progression"}, F, C, I, true},
		{Criteria{Status: "complete", Type: "progression"}, F, C, C, false},
		{Criteria{Status: "finished", DependencyQuery: "x"}, F, C, U, false},
	} {
		if got := tc.c.Match(tc.s, tc.h, tc.old); got != tc.want {
			t.Errorf("%+v %s/%s old %s = %v", tc.c, tc.s, tc.h, tc.old, got)
		}
	}
}

func TestParse(t *testing.T) {
	s, err := Parse(kernelciDef)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Callbacks[0]
	if len(s.Callbacks) != 1 || c.Method != "POST" || c.ContentType != "json" || c.Dataset != "all" || c.Header != "Authorization" || c.Token != "my-token" {
		t.Errorf("%+v", s)
	}
	s, err = Parse("notify:\n  criteria: {status: all}\n  callbacks: [{url: 'http://x/'}]\n  recipients: [{to: {method: email, email: a@b}}]\n")
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Callbacks[0]; c.Method != "GET" || c.ContentType != "urlencoded" || c.Dataset != "minimal" || len(s.Recipients) != 1 || s.Recipients[0] != (Recipient{Method: "email", Email: "a@b"}) || s.Verbosity != Quiet {
		t.Errorf("defaults %+v", s)
	}
	if s, err := Parse("job_name: x\n"); s != nil || err != nil {
		t.Errorf("no notify: %v %v", s, err)
	}
	for def, want := range map[string]string{
		"notify: {callbacks: [{url: x}]}":                                                "notify.criteria: required",
		"notify: {criteria: {status: maybe}}":                                            "notify.criteria.status",
		"notify: {criteria: {status: all, type: sideways}}":                              "notify.criteria.type",
		"notify: {criteria: {status: all}, callbacks: [{method: GET}]}":                  "notify.callbacks[0].url: required",
		"notify: {criteria: {status: all}, callbacks: [{url: x, method: PUT}]}":          "notify.callbacks[0].method",
		"notify: {criteria: {status: all}, callbacks: [{url: x, dataset: y}]}":           "notify.callbacks[0].dataset",
		"notify: {criteria: {status: all}, callbacks: [{url: x, bogus: y}]}":             `unknown key "bogus"`,
		"notify: {criteria: {status: all}, callback: {url: x}, callbacks: []}":           "exclusive",
		"notify: {criteria: {status: all}, callbacks: [{url: x, token: [a]}]}":           "notify.callbacks[0].token: must be a string",
		"notify: {criteria: {status: all}, recipients: [{to: {method: email, bcc: y}}]}": `notify.recipients[0].to: unknown key "bcc"`,
		"notify: {criteria: {status: all}, recipients: [{to: {method: 3}}]}":             "notify.recipients[0].to.method: must be a string",
		"notify: {criteria: {status: all}, recipients: [{to: {method: fax}}]}":           "notify.recipients[0].to.method",
	} {
		if _, err := Parse(def); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", def, err, want)
		}
	}
}

func TestExpandURL(t *testing.T) {
	got := ExpandURL("http://h/{STATUS}/{ STATUS_STRING }/{OTHER}", store.JobFinished, store.JobIncomplete)
	if got != "http://h/3/incomplete/{OTHER}" {
		t.Error(got)
	}
}

// TestNotifierDelivers: a real receiver on 127.0.0.1 gets the
// KernelCI-style json with the raw token header.
func TestNotifierDelivers(t *testing.T) {
	type got struct {
		method, ctype, auth string
		body                []byte
	}
	ch := make(chan got, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- got{r.Method, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), b}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	spec, err := Parse(strings.Replace(kernelciDef, "http://127.0.0.1", srv.URL, 1))
	if err != nil {
		t.Fatal(err)
	}
	n := New(Config{Logf: t.Logf})
	n.Start()
	defer n.Stop()
	j := sampleJob()
	ds := Deliveries(spec, j, store.JobUnknown)
	if len(ds) != 1 || !strings.HasSuffix(ds[0].URL, "/node/65af?s=2&t=complete&x={OTHER}") {
		t.Fatalf("deliveries %+v", ds)
	}
	n.Enqueue(ds[0])
	g := <-ch
	if g.method != "POST" || g.ctype != "application/json" || g.auth != "my-token" {
		t.Errorf("request %s %s %q", g.method, g.ctype, g.auth)
	}
	if !bytes.Equal(g.body, Build(j, "all").JSON()) {
		t.Errorf("body %s", g.body)
	}
	// Running does not match criteria finished.
	j.State = store.JobRunning
	if ds := Deliveries(spec, j, store.JobUnknown); len(ds) != 0 {
		t.Errorf("running fired %d", len(ds))
	}
}

// TestNotifierHangingReceiver: Enqueue never waits for a receiver that
// hangs; with the senders busy and the queue full, the next delivery is
// dropped (reported false) instead of blocking.
func TestNotifierHangingReceiver(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	var logged []string
	logs := make(chan string, 8)
	n := New(Config{Workers: 1, QueueSize: 1, Timeout: time.Hour, Logf: func(f string, a ...any) { logs <- f }})
	n.Start()
	d := Delivery{Job: 7, Callback: Callback{Method: "GET", Header: "Authorization"}, URL: srv.URL}
	if !n.Enqueue(d) {
		t.Fatal("first delivery refused")
	}
	<-arrived // the only sender is now stuck in the hanging request
	if !n.Enqueue(d) {
		t.Fatal("second delivery refused with the queue empty")
	}
	if n.Enqueue(d) {
		t.Fatal("third delivery queued past the queue size")
	}
	logged = append(logged, <-logs)
	if !strings.Contains(logged[0], "queue full") {
		t.Errorf("log %q", logged[0])
	}
	n.Stop() // cancels the request in flight
	_ = context.Background()
}

// TestPyJSONString compares with what Python's json.dumps writes.
func TestPyJSONString(t *testing.T) {
	var b bytes.Buffer
	pyString(&b, "a&<>\"\\\n\té\x7f😀")
	if want := `"a&<>\"\\\n\t\u00e9\u007f\ud83d\ude00"`; b.String() != want {
		t.Errorf("got %s want %s", b.String(), want)
	}
}

// TestNotifierAllowedHosts: with AllowedHosts set, a callback to another
// host is not sent; one to an allowed host is.
func TestNotifierAllowedHosts(t *testing.T) {
	hits := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits <- r.URL.Path }))
	defer srv.Close()
	logs := make(chan string, 4)
	n := New(Config{Workers: 1, AllowedHosts: []string{"127.0.0.*"}, Logf: func(f string, a ...any) { logs <- f }})
	n.Start()
	defer n.Stop()
	get := Callback{Method: "GET", Header: "Authorization"}
	localhost := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	n.Enqueue(Delivery{Job: 1, Callback: get, URL: localhost + "/refused"})
	n.Enqueue(Delivery{Job: 2, Callback: get, URL: "file:///etc/passwd"})
	n.Enqueue(Delivery{Job: 3, Callback: get, URL: srv.URL + "/allowed"})
	// One sender sends in order: the allowed one arrives after both
	// refusals were logged.
	if p := <-hits; p != "/allowed" {
		t.Errorf("reached %s", p)
	}
	for range 2 {
		if l := <-logs; !strings.Contains(l, "not sent") {
			t.Errorf("log %q", l)
		}
	}
}

// TestReadLog: with a real log store, a job without a log has no log key,
// a log is sent whole, and one over the bound is left out.
func TestReadLog(t *testing.T) {
	ls, err := logstore.Open(t.TempDir(), logstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	logf := func(string, ...any) {}
	if _, ok := readLog(ls, 1, 1<<20, logf); ok {
		t.Error("a job without a log has one")
	}
	lines := []string{`- {"dt": "2026-01-01T00:00:00.000000", "lvl": "info", "msg": "a"}`, `- {"dt": "2026-01-01T00:00:01.000000", "lvl": "info", "msg": "b"}`}
	if _, err := ls.Append(2, 0, lines); err != nil {
		t.Fatal(err)
	}
	want := lines[0] + "\n" + lines[1] + "\n"
	if got, ok := readLog(ls, 2, 1<<20, logf); !ok || got != want {
		t.Errorf("log %q %v", got, ok)
	}
	if _, ok := readLog(ls, 2, int64(len(want))-1, logf); ok {
		t.Error("a log over the bound was sent")
	}
}
