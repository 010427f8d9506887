package lavarpc

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/logstore"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/storetest"
	"github.com/basalt-lava/basalt/internal/xmlrpc"
)

// rpcCase is one call and what must come back: a fault code (with a
// substring of its text), or a value equal to want, or one check accepts.
type rpcCase struct {
	name   string
	user   string
	method string
	args   []any
	fault  int
	msg    string
	want   any
	isNil  bool
	check  func(t *testing.T, v any)
}

func (e *env) run(t *testing.T, cases []rpcCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := e.call(c.user, c.method, c.args...)
			if c.fault != 0 {
				var f *xmlrpc.Fault
				if !errors.As(err, &f) || f.Code != c.fault || !strings.Contains(f.String, c.msg) {
					t.Fatalf("%s%v as %q = %#v, %v; want Fault %d containing %q", c.method, c.args, c.user, v, err, c.fault, c.msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s%v as %q: %v", c.method, c.args, c.user, err)
			}
			switch {
			case c.check != nil:
				c.check(t, v)
			case c.isNil:
				if v != nil {
					t.Errorf("%s%v = %#v, want nil", c.method, c.args, v)
				}
			default:
				if diff := cmp.Diff(v, c.want); diff != "" {
					t.Errorf("%s%v (-got +want):\n%s", c.method, c.args, diff)
				}
			}
		})
	}
}

// keys checks a struct reply has exactly these keys (LAVA's, which
// lavacli dereferences) and returns it.
func keys(t *testing.T, v any, want ...string) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("reply %#v is not a struct", v)
	}
	var got []string
	for k := range m {
		got = append(got, k)
	}
	if diff := cmp.Diff(sortedStrings(got), sortedStrings(want)); diff != "" {
		t.Errorf("struct keys (-got +want):\n%s", diff)
	}
	return m
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestSystem(t *testing.T) {
	e := newEnv(t)
	e.run(t, []rpcCase{
		{name: "version", method: "system.version", want: "2026.07"},
		{name: "whoami anonymous", method: "system.whoami", isNil: true},
		{name: "whoami", user: "alice", method: "system.whoami", want: "alice"},
		{name: "api_version", method: "system.api_version", want: int64(2)},
		{name: "master_config", method: "system.master_config", want: map[string]any{
			"EVENT_TOPIC": "org.lavasoftware", "EVENT_SOCKET": "tcp://*:5500", "EVENT_NOTIFICATION": false, "LOG_SIZE_LIMIT": int64(5)}},
		{name: "version with an argument", method: "system.version", args: []any{"x"}, fault: xmlrpc.CodeInternalError,
			msg: "system.version() takes 0 positional arguments but 1 was given"},
		{name: "unknown method", method: "scheduler.nope", fault: xmlrpc.CodeMethodNotFound, msg: "No such method: 'scheduler.nope'"},
		{name: "close", method: "close", isNil: true},
		{name: "listMethods", method: "system.listMethods", check: func(t *testing.T, v any) {
			have := map[string]bool{}
			for _, m := range v.([]any) {
				have[m.(string)] = true
			}
			for _, m := range []string{"scheduler.jobs.logs", "scheduler.devices.update", "scheduler.device_types.get_template",
				"scheduler.workers.show", "results.get_testjob_results_yaml", "scheduler.all_devices", "scheduler.job_details"} {
				if !have[m] {
					t.Errorf("listMethods lacks %s", m)
				}
			}
		}},
	})
	if got := e.api.version; got != DefaultVersion {
		t.Errorf("default version %q", got)
	}
}

// TestTransport: the paths, the HTTP-level answers to bad credentials, and
// what a GET gets.
func TestTransport(t *testing.T) {
	e := newEnv(t)
	call, _ := xmlrpc.MarshalCall("system.whoami")
	for _, path := range []string{"/RPC2", "/RPC2/", "//RPC2", "/"} {
		status, hdr, body := e.post("alice", path, call)
		if status != http.StatusOK || !bytes.Contains(body, []byte("<string>alice</string>")) || hdr.Get("Location") != "" {
			t.Errorf("POST %s = %d %s", path, status, body)
		}
	}
	if status, _, _ := e.post("alice", "/RPC3", call); status != http.StatusNotFound {
		t.Errorf("POST /RPC3 = %d, want 404", status)
	}
	for _, c := range []struct {
		name, header string
		status       int
	}{
		{"bad token", "Basic " + b64("alice:wrong"), http.StatusUnauthorized},
		{"token of another user", "Basic " + b64("alice:bobtok"), http.StatusUnauthorized},
		{"unknown user", "Basic " + b64("carol:caroltok"), http.StatusUnauthorized},
		{"no space", "Basic", http.StatusBadRequest},
		{"not Basic", "Bearer alicetok", http.StatusBadRequest},
		{"bad base64", "Basic !!!", http.StatusBadRequest},
		{"no colon", "Basic " + b64("alicetok"), http.StatusBadRequest},
		{"good", "Basic " + b64("alice:alicetok"), http.StatusOK},
		{"scheme in lower case", "basic " + b64("alice:alicetok"), http.StatusOK},
	} {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/RPC2", bytes.NewReader(call))
		req.Header.Set("Authorization", c.header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: HTTP %d, want %d", c.name, resp.StatusCode, c.status)
		}
		if c.status == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") != `Basic realm="XML-RPC Authentication token"` {
			t.Errorf("%s: WWW-Authenticate %q", c.name, resp.Header.Get("WWW-Authenticate"))
		}
	}
	// A GET is answered (no redirect) with the method list.
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(e.srv.URL + "/RPC2")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "scheduler.jobs.submit") {
		t.Errorf("GET /RPC2 = %d %q", resp.StatusCode, body)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestJobs(t *testing.T) {
	e := newEnv(t)
	pub := e.submit(jobDef(t, "public job", "public"))
	mine := e.submit(jobDef(t, "mine", "personal"))
	team := e.submit(jobDef(t, "team job", "{group: [team]}"))
	mn := e.ok("alice", "scheduler.jobs.submit", multinodeDef(t))
	s := func(id int64) string { return fmt.Sprint(id) }
	mnIDs := []any{s(team+1) + ".0", s(team+1) + ".1"}
	if diff := cmp.Diff(mn, mnIDs); diff != "" {
		t.Fatalf("MultiNode submit (-got +want):\n%s", diff)
	}
	e.run(t, []rpcCase{
		{name: "submit anonymous", method: "scheduler.jobs.submit", args: []any{jobDef(t, "x", "public")}, fault: 401,
			msg: "Authentication with user and token required for this API."},
		{name: "submit unknown type", user: "alice", method: "scheduler.jobs.submit", args: []any{strings.Replace(jobDef(t, "x", "public"), "device_type: qemu", "device_type: nope", 1)}, fault: 404,
			msg: `Specified device or device type not found: device type "nope"`},
		{name: "submit bad YAML", user: "alice", method: "scheduler.jobs.submit", args: []any{"device_type: [\n"}, fault: 400, msg: "Problem with submitted job data"},
		{name: "show string id", method: "scheduler.jobs.show", args: []any{s(pub)}, check: func(t *testing.T, v any) {
			m := keys(t, v, "id", "description", "device", "device_type", "health_check", "pipeline", "health", "state", "submitter",
				"submit_time", "start_time", "end_time", "tags", "visibility", "failure_comment", "error_msg", "error_type")
			want := map[string]any{"id": pub, "description": "public job", "device": nil, "device_type": "qemu", "health_check": false,
				"pipeline": true, "health": "Unknown", "state": "Submitted", "submitter": "alice", "start_time": nil, "end_time": nil,
				"tags": []any{}, "visibility": "Public", "failure_comment": nil, "error_msg": nil, "error_type": nil}
			for k, w := range want {
				if diff := cmp.Diff(m[k], w); diff != "" {
					t.Errorf("%s (-got +want):\n%s", k, diff)
				}
			}
			if st, ok := m["submit_time"].(time.Time); !ok || time.Since(st) > time.Hour {
				t.Errorf("submit_time = %#v, want a recent dateTime", m["submit_time"])
			}
		}},
		{name: "show int id", method: "scheduler.jobs.show", args: []any{pub}, check: func(t *testing.T, v any) {
			if v.(map[string]any)["id"] != pub {
				t.Errorf("id = %#v", v.(map[string]any)["id"])
			}
		}},
		{name: "show sub-job", method: "scheduler.jobs.show", args: []any{mnIDs[1]}, check: func(t *testing.T, v any) {
			if v.(map[string]any)["id"] != mnIDs[1] {
				t.Errorf("id = %#v, want %q", v.(map[string]any)["id"], mnIDs[1])
			}
		}},
		{name: "show unknown", method: "scheduler.jobs.show", args: []any{"999"}, fault: 404, msg: "Job '999' was not found."},
		{name: "show not a number", method: "scheduler.jobs.show", args: []any{"abc"}, fault: 404, msg: "Job 'abc' was not found."},
		{name: "show unknown sub-job", method: "scheduler.jobs.show", args: []any{s(team+1) + ".7"}, fault: 404},
		{name: "show personal anonymous", method: "scheduler.jobs.show", args: []any{s(mine)}, fault: 403,
			msg: fmt.Sprintf("Job '%d' not available to user 'AnonymousUser'.", mine)},
		{name: "show personal other user", user: "bob", method: "scheduler.jobs.show", args: []any{s(mine)}, fault: 403},
		{name: "show personal submitter", user: "alice", method: "scheduler.jobs.show", args: []any{s(mine)}, check: func(t *testing.T, v any) {
			if v.(map[string]any)["visibility"] != "Personal" {
				t.Errorf("visibility = %v", v.(map[string]any)["visibility"])
			}
		}},
		{name: "show personal superuser", user: "admin", method: "scheduler.jobs.show", args: []any{s(mine)}, check: func(*testing.T, any) {}},
		{name: "show group member", user: "bob", method: "scheduler.jobs.show", args: []any{s(team)}, check: func(t *testing.T, v any) {
			if v.(map[string]any)["visibility"] != "Group (team)" {
				t.Errorf("visibility = %v", v.(map[string]any)["visibility"])
			}
		}},
		{name: "show group superuser", user: "admin", method: "scheduler.jobs.show", args: []any{s(team)}, check: func(*testing.T, any) {}},
		{name: "show wrong count", method: "scheduler.jobs.show", args: []any{"1", "2"}, fault: xmlrpc.CodeInternalError, msg: "takes 1 positional argument but 2 were given"},
		{name: "definition", method: "scheduler.jobs.definition", args: []any{s(pub)}, want: jobDef(t, "public job", "public")},
		{name: "definition hidden", method: "scheduler.jobs.definition", args: []any{s(mine)}, fault: 403},
		{name: "cancel anonymous", method: "scheduler.jobs.cancel", args: []any{s(pub)}, fault: 401},
		{name: "cancel empty id", user: "alice", method: "scheduler.jobs.cancel", args: []any{""}, fault: 400, msg: "Bad request: TestJob id was not specified."},
		{name: "cancel by another user", user: "bob", method: "scheduler.jobs.cancel", args: []any{s(pub)}, fault: 403, msg: "Permission denied."},
		{name: "cancel hidden", user: "bob", method: "scheduler.jobs.cancel", args: []any{s(mine)}, fault: 403, msg: "not available to user 'bob'"},
		{name: "cancel", user: "alice", method: "scheduler.jobs.cancel", args: []any{s(pub)}, want: true},
		{name: "cancel again", user: "alice", method: "scheduler.jobs.cancel", args: []any{s(pub)}, want: true},
		{name: "cancel by superuser", user: "admin", method: "scheduler.jobs.cancel", args: []any{mine}, want: true},
		{name: "show canceled", method: "scheduler.jobs.show", args: []any{s(pub)}, check: func(t *testing.T, v any) {
			m := v.(map[string]any)
			if m["state"] != "Finished" || m["health"] != "Canceled" {
				t.Errorf("state, health = %v, %v", m["state"], m["health"])
			}
			if _, ok := m["end_time"].(time.Time); !ok {
				t.Errorf("end_time = %#v, want a dateTime", m["end_time"])
			}
		}},
		{name: "resubmit anonymous", method: "scheduler.jobs.resubmit", args: []any{s(pub)}, fault: 401},
		{name: "resubmit", user: "bob", method: "scheduler.jobs.resubmit", args: []any{s(pub)}, want: mn2(team)},
		{name: "resubmit MultiNode", user: "alice", method: "scheduler.jobs.resubmit", args: []any{mnIDs[0]}, check: func(t *testing.T, v any) {
			ids, ok := v.([]any)
			if !ok || len(ids) != 2 || !strings.HasSuffix(ids[1].(string), ".1") {
				t.Errorf("resubmit MultiNode = %#v, want two sub-job ids", v)
			}
		}},
		{name: "definition of a sub-job is the whole submission", method: "scheduler.jobs.definition", args: []any{mnIDs[1]}, want: multinodeDef(t)},
		{name: "validate", method: "scheduler.jobs.validate", args: []any{jobDef(t, "v", "public")}, want: map[string]any{}},
		{name: "validate strict", method: "scheduler.jobs.validate", args: []any{jobDef(t, "v", "public"), true}, want: map[string]any{}},
		{name: "validate invalid", method: "scheduler.jobs.validate", args: []any{strings.Replace(jobDef(t, "v", "public"), "priority: medium", "priority: urgent", 1)},
			check: func(t *testing.T, v any) {
				m := keys(t, v, "path", "msg")
				if !strings.Contains(fmt.Sprint(m["msg"]), "priority") {
					t.Errorf("validate = %v, want a problem about priority", m)
				}
			}},
		{name: "submit invalid lists every problem", user: "alice", method: "scheduler.jobs.submit",
			args:  []any{strings.Replace(strings.Replace(jobDef(t, "v", "public"), "priority: medium", "priority: urgent", 1), "method: qemu", "method: nope", 1)},
			fault: 400, msg: "Problem with submitted job data: job.yaml:"},
		{name: "submit too big", user: "alice", method: "scheduler.jobs.submit", args: []any{strings.Repeat("#", 11<<20)}, fault: 400, msg: "job definition"},
		{name: "cancel a sub-job cancels its group", user: "alice", method: "scheduler.jobs.cancel", args: []any{mnIDs[1]}, want: true},
		{name: "the group is canceled", method: "scheduler.jobs.show", args: []any{mnIDs[0]}, check: func(t *testing.T, v any) {
			if m := v.(map[string]any); m["health"] != "Canceled" {
				t.Errorf("sub-job 0 after canceling sub-job 1: %v, %v", m["state"], m["health"])
			}
		}},
		{name: "configuration not started", method: "scheduler.jobs.configuration", args: []any{s(team)}, user: "bob", fault: 404, msg: "has not started yet"},
	})
	// A running job's configuration: the definition and the rendered device.
	ctx := context.Background()
	must(t, e.st.Schedule(ctx, []store.Assignment{{Job: team, Device: "qemu01"}}))
	if _, ok, err := e.st.ClaimJob(ctx, "w1", time.Now()); !ok || err != nil {
		t.Fatalf("ClaimJob = %v, %v", ok, err)
	}
	e.run(t, []rpcCase{
		{name: "configuration", user: "bob", method: "scheduler.jobs.configuration", args: []any{team}, check: func(t *testing.T, v any) {
			l := v.([]any)
			if len(l) != 5 || l[0] != jobDef(t, "team job", "{group: [team]}") || !strings.Contains(fmt.Sprint(l[1]), "\nactions:\n") || l[2] != nil {
				t.Errorf("configuration = %#v", v)
			}
		}},
	})
	// The device configuration the lab kept when it sent the job is the
	// one returned, not a new rendering.
	kept := e.lab.JobFile(team, lab.DeviceFile)
	must(t, os.MkdirAll(filepath.Dir(kept), 0o755))
	must(t, os.WriteFile(kept, []byte("device_type: kept\n"), 0o644))
	e.run(t, []rpcCase{
		{name: "configuration kept", user: "bob", method: "scheduler.jobs.configuration", args: []any{team}, check: func(t *testing.T, v any) {
			if l := v.([]any); len(l) != 5 || l[1] != "device_type: kept\n" {
				t.Errorf("configuration = %#v, want the kept device.yaml", v)
			}
		}},
		{name: "show running", user: "bob", method: "scheduler.jobs.show", args: []any{team}, check: func(t *testing.T, v any) {
			m := v.(map[string]any)
			if m["device"] != "qemu01" || m["state"] != "Running" {
				t.Errorf("device, state = %v, %v", m["device"], m["state"])
			}
		}},
		// Bob may see the group job but not cancel it: only its submitter or
		// a superuser may.
		{name: "cancel visible not own", user: "bob", method: "scheduler.jobs.cancel", args: []any{team}, fault: 403, msg: "Permission denied."},
		{name: "cancel running", user: "alice", method: "scheduler.jobs.cancel", args: []any{team}, want: true},
		{name: "show canceling", user: "alice", method: "scheduler.jobs.show", args: []any{team}, check: func(t *testing.T, v any) {
			if v.(map[string]any)["state"] != "Canceling" {
				t.Errorf("state = %v", v.(map[string]any)["state"])
			}
		}},
	})
}

// mn2 is the id resubmitting the public job gets in TestJobs: the next one
// after the MultiNode pair.
func mn2(team int64) int64 { return team + 3 }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestJobLogs(t *testing.T) {
	e := newEnv(t)
	id := e.submit(jobDef(t, "logs", "public"))
	nolog := e.submit(jobDef(t, "no log", "public"))
	lines := []string{
		`- {dt: '2026-12-07T02:00:00.000000', lvl: info, msg: one}`,
		`- {dt: '2026-12-07T02:00:01.000000', lvl: debug, msg: two}`,
		`- {dt: '2026-12-07T02:00:02.000000', lvl: target, msg: three}`,
	}
	e.addLog(id, lines...)
	all := strings.Join(lines, "\n") + "\n"
	e.run(t, []rpcCase{
		{name: "all", method: "scheduler.jobs.logs", args: []any{fmt.Sprint(id), 0, nil}, want: []any{false, []byte(all)}},
		{name: "one arg", method: "scheduler.jobs.logs", args: []any{fmt.Sprint(id)}, want: []any{false, []byte(all)}},
		{name: "from 1", method: "scheduler.jobs.logs", args: []any{id, 1}, want: []any{false, []byte(lines[1] + "\n" + lines[2] + "\n")}},
		{name: "range", method: "scheduler.jobs.logs", args: []any{id, 1, 2}, want: []any{false, []byte(lines[1] + "\n")}},
		{name: "past the end", method: "scheduler.jobs.logs", args: []any{id, 3, nil}, want: []any{false, []byte{}}},
		{name: "end before start", method: "scheduler.jobs.logs", args: []any{id, 2, 1}, want: []any{false, []byte{}}},
		{name: "no log", method: "scheduler.jobs.logs", args: []any{nolog, 0, nil}, want: []any{false, []byte("[]")}},
		{name: "unknown", method: "scheduler.jobs.logs", args: []any{"999", 0, nil}, fault: 404},
		{name: "four args", method: "scheduler.jobs.logs", args: []any{id, 0, nil, 1}, fault: xmlrpc.CodeInternalError},
	})
	// Finished: the flag is true with the last lines.
	_, err := e.st.CancelJob(context.Background(), id, time.Now())
	must(t, err)
	e.run(t, []rpcCase{{name: "finished", method: "scheduler.jobs.logs", args: []any{id, 2, nil}, want: []any{true, []byte(lines[2] + "\n")}}})
	// A reply over the limit is cut on a line and says not finished, so
	// lavacli comes back for the rest (and its "lines" count stays right):
	// a finished job's 3,000-line log read as lavacli reads it.
	big := e.submit(jobDef(t, "big log", "public"))
	var want strings.Builder
	var biglines []string
	for i := 0; i < 3000; i++ {
		l := fmt.Sprintf("- {dt: '2026-12-07T02:00:00.%06d', lvl: info, msg: line %d of a long log}", i, i)
		biglines = append(biglines, l)
		want.WriteString(l + "\n")
	}
	e.addLog(big, biglines...)
	_, err = e.st.CancelJob(context.Background(), big, time.Now())
	must(t, err)
	e.api.maxLog = 1000
	var got strings.Builder
	calls := 0
	for start := 0; ; calls++ {
		v := e.ok("", "scheduler.jobs.logs", fmt.Sprint(big), start, nil).([]any)
		chunk := string(v[1].([]byte))
		got.WriteString(chunk)
		start += strings.Count(chunk, "\n")
		if v[0] == true {
			break
		}
		if calls > 100 || chunk == "" {
			t.Fatalf("not finished after %d calls (at line %d)", calls, start)
		}
	}
	if got.String() != want.String() || calls < 2 {
		t.Errorf("paged log: %d bytes in %d calls, want the %d bytes of the log in several", got.Len(), calls+1, want.Len())
	}
}

func TestJobList(t *testing.T) {
	e := newEnv(t)
	var ids []int64
	for i := 0; i < 5; i++ {
		ids = append(ids, e.submit(jobDef(t, fmt.Sprintf("j%d", i), "public")))
	}
	hidden := e.submit(jobDef(t, "hidden", "personal"))
	ctx := context.Background()
	_, err := e.st.CancelJob(ctx, ids[0], time.Now())
	must(t, err)
	idsOf := func(v any) []any {
		var out []any
		for _, j := range v.([]any) {
			out = append(out, j.(map[string]any)["id"])
		}
		return out
	}
	wantIDs := func(want ...int64) func(*testing.T, any) {
		return func(t *testing.T, v any) {
			var w []any
			for _, id := range want {
				w = append(w, id)
			}
			if diff := cmp.Diff(idsOf(v), w); diff != "" {
				t.Errorf("ids (-got +want):\n%s", diff)
			}
		}
	}
	e.run(t, []rpcCase{
		{name: "anonymous: newest first, hidden job left out", method: "scheduler.jobs.list", check: wantIDs(ids[4], ids[3], ids[2], ids[1], ids[0])},
		{name: "submitter sees it", user: "alice", method: "scheduler.jobs.list", check: wantIDs(hidden, ids[4], ids[3], ids[2], ids[1], ids[0])},
		{name: "lavacli's six args", user: "admin", method: "scheduler.jobs.list", args: []any{nil, nil, 0, 25, 0, false}, check: func(t *testing.T, v any) {
			wantIDs(hidden, ids[4], ids[3], ids[2], ids[1], ids[0])(t, v)
			keys(t, v.([]any)[0], "id", "description", "device_type", "health", "state", "submitter")
		}},
		{name: "start and limit", method: "scheduler.jobs.list", args: []any{nil, nil, 1, 2}, check: wantIDs(ids[3], ids[2])},
		{name: "start and limit superuser", user: "admin", method: "scheduler.jobs.list", args: []any{nil, nil, 1, 2}, check: wantIDs(ids[4], ids[3])},
		{name: "state in upper case", method: "scheduler.jobs.list", args: []any{"FINISHED", nil, 0, 25, nil, false}, check: wantIDs(ids[0])},
		{name: "health", method: "scheduler.jobs.list", args: []any{nil, "canceled"}, check: wantIDs(ids[0])},
		{name: "bad state", method: "scheduler.jobs.list", args: []any{"DONE"}, fault: 400, msg: "Invalid state 'DONE'"},
		{name: "bad health", method: "scheduler.jobs.list", args: []any{nil, "GREAT"}, fault: 400, msg: "Invalid health 'GREAT'"},
		{name: "since", method: "scheduler.jobs.list", args: []any{nil, nil, 0, 25, 10, false}, check: wantIDs(ids[0])},
		{name: "duration at least", method: "scheduler.jobs.list", args: []any{"RUNNING", nil, 0, 100, nil, false, 1}, check: wantIDs()},
		{name: "verbose", method: "scheduler.jobs.list", args: []any{nil, nil, 4, 1, 0, true}, check: func(t *testing.T, v any) {
			m := keys(t, v.([]any)[0], "id", "description", "device_type", "health", "state", "submitter",
				"actual_device", "start_time", "end_time", "error_msg", "error_type")
			end, ok := m["end_time"].(string)
			if !ok || !strings.HasSuffix(end, "+00:00") || m["start_time"] != nil || m["description"] != "j0" {
				t.Errorf("verbose entry %#v: end_time must be str(datetime), start_time nil", m)
			}
		}},
		{name: "limit clamped to 100", method: "scheduler.jobs.list", args: []any{nil, nil, 0, 1000}, check: wantIDs(ids[4], ids[3], ids[2], ids[1], ids[0])},
		{name: "eight args", method: "scheduler.jobs.list", args: []any{nil, nil, 0, 1, 0, false, nil, 1}, fault: xmlrpc.CodeInternalError},
		{name: "queue", method: "scheduler.jobs.queue", check: func(t *testing.T, v any) {
			wantIDs(ids[4], ids[3], ids[2], ids[1])(t, v)
			keys(t, v.([]any)[0], "id", "description", "requested_device_type", "submitter")
		}},
		{name: "queue by type", method: "scheduler.jobs.queue", args: []any{[]any{"qemu"}, 1, 2}, check: wantIDs(ids[3], ids[2])},
		{name: "queue by other type", method: "scheduler.jobs.queue", args: []any{[]any{"bbb"}, 0, 25}, want: []any{}},
		{name: "queue empty type list", method: "scheduler.jobs.queue", args: []any{[]any{}}, want: []any{}},
	})
}

func TestDevices(t *testing.T) {
	e := newEnv(t)
	e.run(t, []rpcCase{
		{name: "list", method: "scheduler.devices.list", want: []any{
			map[string]any{"hostname": "qemu01", "type": "qemu", "health": "Unknown", "state": "Idle", "current_job": nil, "pipeline": true},
			map[string]any{"hostname": "qemu02", "type": "qemu", "health": "Unknown", "state": "Idle", "current_job": nil, "pipeline": true},
		}},
		{name: "list all", method: "scheduler.devices.list", args: []any{true}, check: func(t *testing.T, v any) {
			if len(v.([]any)) != 3 {
				t.Errorf("list(True) = %d devices, want 3 (with the Retired one)", len(v.([]any)))
			}
		}},
		{name: "show", method: "scheduler.devices.show", args: []any{"qemu01"}, want: map[string]any{
			"hostname": "qemu01", "device_type": "qemu", "health": "Unknown", "state": "Idle", "health_job": true,
			"description": nil, "pipeline": true, "has_device_dict": true, "worker": "w1", "current_job": nil,
			"tags": []any{"kvm"}, "permissions": []any{}}},
		{name: "show unknown", method: "scheduler.devices.show", args: []any{"nope"}, fault: 404, msg: "Device 'nope' was not found."},
		{name: "get_dictionary", method: "scheduler.devices.get_dictionary", args: []any{"qemu01"}, want: []byte(qemuDict)},
		{name: "get_dictionary render", method: "scheduler.devices.get_dictionary", args: []any{"qemu01", true, nil}, check: func(t *testing.T, v any) {
			if s := string(v.([]byte)); !strings.Contains(s, "\nactions:\n") || !strings.Contains(s, "- -m 512\n") {
				t.Errorf("rendered: %.300s", s)
			}
		}},
		{name: "get_dictionary context", method: "scheduler.devices.get_dictionary", args: []any{"qemu01", true, "memory: 2048"}, check: func(t *testing.T, v any) {
			if s := string(v.([]byte)); !strings.Contains(s, "- -m 2048\n") {
				t.Errorf("rendered with memory 2048: %.300s", s)
			}
		}},
		{name: "get_dictionary context not a map", method: "scheduler.devices.get_dictionary", args: []any{"qemu01", true, "[1]"}, fault: 400, msg: "Unable to render the configuration of device qemu01"},
		{name: "get_dictionary bad context", method: "scheduler.devices.get_dictionary", args: []any{"qemu01", true, "a: [b"}, fault: 400, msg: "Job Context 'a: [b' is not valid"},
		{name: "get_dictionary none", method: "scheduler.devices.get_dictionary", args: []any{"qemu02"}, fault: 404, msg: "Device 'qemu02' does not have a configuration"},
		{name: "set_dictionary anonymous", method: "scheduler.devices.set_dictionary", args: []any{"qemu02", "x"}, fault: 403,
			msg: "User 'AnonymousUser' needs admin permission on device qemu02."},
		{name: "set_dictionary user", user: "alice", method: "scheduler.devices.set_dictionary", args: []any{"qemu02", "x"}, fault: 403},
		{name: "set_dictionary", user: "admin", method: "scheduler.devices.set_dictionary", args: []any{"qemu02", qemuDict}, want: true},
		{name: "get_dictionary set", method: "scheduler.devices.get_dictionary", args: []any{"qemu02", false, nil}, want: []byte(qemuDict)},
		{name: "update 7 args", user: "admin", method: "scheduler.devices.update", args: []any{"qemu02", nil, nil, nil, nil, "MAINTENANCE", nil}, isNil: true},
		{name: "update 8 args", user: "admin", method: "scheduler.devices.update", args: []any{"qemu02", "w1", nil, nil, nil, nil, nil, "bbb"}, isNil: true},
		{name: "update 9 args", user: "admin", method: "scheduler.devices.update", args: []any{"qemu02", nil, nil, nil, nil, "GOOD", nil, nil, "fixed"}, isNil: true},
		{name: "show updated", method: "scheduler.devices.show", args: []any{"qemu02"}, check: func(t *testing.T, v any) {
			m := v.(map[string]any)
			if m["health"] != "Good" || m["worker"] != "w1" || m["device_type"] != "bbb" || m["has_device_dict"] != true {
				t.Errorf("after update: %v", m)
			}
		}},
		{name: "health history", method: "scheduler.devices.show", args: []any{"qemu02"}, check: func(t *testing.T, v any) {
			log, err := e.st.DeviceLog(context.Background(), "qemu02", 0)
			must(t, err)
			var got []string
			for _, l := range log {
				got = append(got, l.By+": "+l.String())
			}
			want := []string{"admin: Maintenance → Good (fixed)", "admin: Unknown → Maintenance (xmlrpc api)"}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("qemu02's device log, newest first (-got +want):\n%s", diff)
			}
		}},
		{name: "update owner and description", user: "admin", method: "scheduler.devices.update", args: []any{"qemu02", nil, "alice", "team", nil, nil, "on the shelf"}, isNil: true},
		{name: "show owner and description", method: "scheduler.devices.show", args: []any{"qemu02"}, check: func(t *testing.T, v any) {
			if d := v.(map[string]any)["description"]; d != "on the shelf" {
				t.Errorf("description = %#v, want on the shelf", d)
			}
			d, err := e.st.Device(context.Background(), "qemu02")
			must(t, err)
			if d.PhysicalOwner != "alice" || d.PhysicalGroup != "team" || d.Health != store.HealthGood {
				t.Errorf("stored: owner %q, group %q, health %s; want alice, team, Good", d.PhysicalOwner, d.PhysicalGroup, d.Health)
			}
		}},
		{name: "update unknown owner", user: "admin", method: "scheduler.devices.update", args: []any{"qemu02", nil, "carol"}, fault: 404, msg: "Unable to find username 'carol'"},
		{name: "update 10 args", user: "admin", method: "scheduler.devices.update", args: []any{"qemu02", nil, nil, nil, nil, nil, nil, nil, nil, nil},
			fault: xmlrpc.CodeInternalError, msg: "takes from 1 to 9 positional arguments but 10 were given"},
		{name: "update bad health", user: "admin", method: "scheduler.devices.update", args: []any{"qemu02", nil, nil, nil, nil, "maintenance", nil}, fault: 400, msg: "Health 'maintenance' is invalid"},
		{name: "update unknown worker", user: "admin", method: "scheduler.devices.update", args: []any{"qemu02", "w9", nil, nil, nil, "BAD", nil}, fault: 404, msg: "Unable to find worker 'w9'"},
		{name: "update not admin", user: "alice", method: "scheduler.devices.update", args: []any{"qemu02", nil, nil, nil, nil, "MAINTENANCE", nil}, fault: 403},
		{name: "update unknown device", user: "admin", method: "scheduler.devices.update", args: []any{"nope"}, fault: 404},
		{name: "a refused update changed nothing", method: "scheduler.devices.show", args: []any{"qemu02"}, check: func(t *testing.T, v any) {
			if h := v.(map[string]any)["health"]; h != "Good" {
				t.Errorf("health = %v after refused updates, want Good", h)
			}
		}},
		{name: "tags.add", user: "admin", method: "scheduler.devices.tags.add", args: []any{"qemu01", "usb"}, isNil: true},
		{name: "tags.add again", user: "admin", method: "scheduler.devices.tags.add", args: []any{"qemu01", "usb"}, isNil: true},
		{name: "tags.list", method: "scheduler.devices.tags.list", args: []any{"qemu01"}, want: []any{"kvm", "usb"}},
		{name: "tags.delete", user: "admin", method: "scheduler.devices.tags.delete", args: []any{"qemu01", "kvm"}, isNil: true},
		{name: "tags.delete unknown", user: "admin", method: "scheduler.devices.tags.delete", args: []any{"qemu01", "kvm"}, fault: 404, msg: "Tag 'kvm' was not found."},
		{name: "tags.add not admin", user: "bob", method: "scheduler.devices.tags.add", args: []any{"qemu01", "x"}, fault: 403},
		{name: "tags.list unknown", method: "scheduler.devices.tags.list", args: []any{"nope"}, fault: 404},
		{name: "scheduler.tags.list", method: "scheduler.tags.list", want: []any{map[string]any{"name": "usb", "description": nil}}},
		{name: "scheduler.tags.show", method: "scheduler.tags.show", args: []any{"usb"}, want: map[string]any{"name": "usb", "description": nil, "devices": []any{"qemu01"}}},
		{name: "scheduler.tags.show unknown", method: "scheduler.tags.show", args: []any{"kvm"}, fault: 404, msg: "Tag 'kvm' was not found."},
		{name: "aliases.list", method: "scheduler.aliases.list", want: []any{}},
		{name: "aliases.show", method: "scheduler.aliases.show", args: []any{"x"}, fault: 404, msg: "Alias 'x' was not found."},
		{name: "aliases.add", user: "admin", method: "scheduler.aliases.add", args: []any{"x86", "qemu"}, isNil: true},
		{name: "aliases.add again", user: "admin", method: "scheduler.aliases.add", args: []any{"x86", "bbb"}, fault: 400, msg: "Alias or DeviceType name already exists."},
		{name: "aliases.add a type's name", user: "admin", method: "scheduler.aliases.add", args: []any{"bbb", "qemu"}, fault: 400, msg: "Alias or DeviceType name already exists."},
		{name: "aliases.add unknown type", user: "admin", method: "scheduler.aliases.add", args: []any{"y", "nope"}, fault: 400, msg: "DeviceType does not exist"},
		{name: "aliases.add not admin", user: "alice", method: "scheduler.aliases.add", args: []any{"y", "qemu"}, fault: 403},
		{name: "aliases.add arm", user: "admin", method: "scheduler.aliases.add", args: []any{"arm", "bbb"}, isNil: true},
		{name: "aliases.list added", method: "scheduler.aliases.list", want: []any{"arm", "x86"}},
		{name: "aliases.show added", method: "scheduler.aliases.show", args: []any{"x86"}, want: map[string]any{"name": "x86", "device_type": "qemu"}},
		{name: "aliases.delete", user: "admin", method: "scheduler.aliases.delete", args: []any{"arm"}, isNil: true},
		{name: "aliases.delete again", user: "admin", method: "scheduler.aliases.delete", args: []any{"arm"}, fault: 404, msg: "Alias 'arm' was not found."},
		{name: "aliases.delete not admin", user: "bob", method: "scheduler.aliases.delete", args: []any{"x86"}, fault: 403},
		{name: "aliases.list deleted", method: "scheduler.aliases.list", want: []any{"x86"}},
		{name: "add anonymous", method: "scheduler.devices.add", args: []any{"qemu03", "qemu", "w1"}, fault: 401},
		{name: "add not admin", user: "alice", method: "scheduler.devices.add", args: []any{"qemu03", "qemu", "w1"}, fault: 403,
			msg: "User 'alice' is missing permission lava_scheduler_app.change_device."},
		{name: "add", user: "admin", method: "scheduler.devices.add", args: []any{"qemu03", "qemu", "w1", nil, nil, true, "GOOD", "third"}, isNil: true},
		{name: "add exists", user: "admin", method: "scheduler.devices.add", args: []any{"qemu03", "qemu", "w1"}, fault: 400, msg: "device already exists?"},
		{name: "add unknown type", user: "admin", method: "scheduler.devices.add", args: []any{"qemu04", "nope", "w1"}, fault: 404, msg: "DeviceType 'nope' was not found."},
		{name: "add unknown worker", user: "admin", method: "scheduler.devices.add", args: []any{"qemu04", "qemu", "w9"}, fault: 404, msg: "Worker 'w9' was not found."},
		{name: "added", method: "scheduler.devices.show", args: []any{"qemu03"}, check: func(t *testing.T, v any) {
			if m := v.(map[string]any); m["health"] != "Good" || m["state"] != "Idle" || m["has_device_dict"] != false || m["description"] != "third" {
				t.Errorf("added device: %v", m)
			}
		}},
		{name: "delete", user: "admin", method: "scheduler.devices.delete", args: []any{"qemu03"}, isNil: true},
		{name: "delete unknown", user: "admin", method: "scheduler.devices.delete", args: []any{"qemu03"}, fault: 404},
		{name: "all_devices", method: "scheduler.all_devices", want: []any{
			[]any{"qemu01", "qemu", "idle", nil, true},
			[]any{"qemu02", "bbb", "idle", nil, true},
		}},
	})
	// A device with a job on it shows the job's id in current_job.
	id := e.submit(jobDef(t, "on qemu01", "public"))
	must(t, e.st.Schedule(context.Background(), []store.Assignment{{Job: id, Device: "qemu01"}}))
	e.run(t, []rpcCase{
		{name: "current_job", method: "scheduler.devices.show", args: []any{"qemu01"}, check: func(t *testing.T, v any) {
			if m := v.(map[string]any); m["current_job"] != id || m["state"] != "Reserved" {
				t.Errorf("current_job, state = %v, %v; want %d, Reserved", m["current_job"], m["state"], id)
			}
		}},
		{name: "all_devices reserved", method: "scheduler.all_devices", check: func(t *testing.T, v any) {
			if d := v.([]any)[0].([]any); d[2] != "reserved" || d[3] != id {
				t.Errorf("all_devices[0] = %v", d)
			}
		}},
	})
}

func TestDeviceTypes(t *testing.T) {
	e := newEnv(t)
	e.run(t, []rpcCase{
		{name: "list", method: "scheduler.device_types.list", want: []any{
			map[string]any{"name": "bbb", "devices": int64(1), "installed": true, "template": false},
			map[string]any{"name": "qemu", "devices": int64(2), "installed": true, "template": true},
		}},
		{name: "show", method: "scheduler.device_types.show", args: []any{"qemu"}, check: func(t *testing.T, v any) {
			m := keys(t, v, "name", "description", "display", "health_disabled", "health_denominator", "health_frequency",
				"aliases", "devices", "default_template", "permissions")
			if diff := cmp.Diff(m["devices"], []any{"qemu01", "qemu02"}); diff != "" {
				t.Errorf("devices (-got +want):\n%s", diff)
			}
		}},
		{name: "show unknown", method: "scheduler.device_types.show", args: []any{"nope"}, fault: 404, msg: "Device-type 'nope' was not found."},
		{name: "get_template shipped", method: "scheduler.device_types.get_template", args: []any{"qemu"}, check: shippedQemu},
		{name: "get_template bad name", method: "scheduler.device_types.get_template", args: []any{"../x"}, fault: 400, msg: "Invalid device-type '../x'"},
		{name: "get_template unknown", method: "scheduler.device_types.get_template", args: []any{"nope"}, fault: 404},
		{name: "set_template user", user: "alice", method: "scheduler.device_types.set_template", args: []any{"qemu", "x"}, fault: 403,
			msg: "No 'change' permissions for device-type 'qemu'."},
		{name: "set_template unknown", user: "admin", method: "scheduler.device_types.set_template", args: []any{"nope", "x"}, fault: 404},
		{name: "set_template", user: "admin", method: "scheduler.device_types.set_template", args: []any{"qemu", "{# mine #}\n"}, isNil: true},
		{name: "get_template set", method: "scheduler.device_types.get_template", args: []any{"qemu"}, want: []byte("{# mine #}\n")},
		{name: "default_template false", method: "scheduler.device_types.show", args: []any{"qemu"}, check: func(t *testing.T, v any) {
			if v.(map[string]any)["default_template"] != false {
				t.Errorf("default_template = %v after set_template", v.(map[string]any)["default_template"])
			}
		}},
		{name: "set_template empty deletes", user: "admin", method: "scheduler.device_types.set_template", args: []any{"qemu", ""}, isNil: true},
		{name: "get_template back", method: "scheduler.device_types.get_template", args: []any{"qemu"}, check: shippedQemu},
		{name: "get_health_check", method: "scheduler.device_types.get_health_check", args: []any{"qemu"}, want: []byte("job_name: health check\n")},
		{name: "get_health_check none", method: "scheduler.device_types.get_health_check", args: []any{"bbb"}, fault: 404},
		{name: "set_health_check", user: "admin", method: "scheduler.device_types.set_health_check", args: []any{"bbb", "job_name: hc\n"}, isNil: true},
		{name: "get_health_check set", method: "scheduler.device_types.get_health_check", args: []any{"bbb"}, want: []byte("job_name: hc\n")},
		{name: "add", user: "admin", method: "scheduler.device_types.add", args: []any{"rpi4", nil, true, false, 24, "hours"}, isNil: true},
		{name: "add exists", user: "admin", method: "scheduler.device_types.add", args: []any{"rpi4", nil, true, false, 24, "hours"}, fault: 400, msg: "already used"},
		{name: "add bad denominator", user: "admin", method: "scheduler.device_types.add", args: []any{"x", nil, true, false, 24, "days"}, fault: 400, msg: "invalid health_denominator"},
		{name: "add not admin", user: "alice", method: "scheduler.device_types.add", args: []any{"y", nil, true, false, 24, "hours"}, fault: 403},
		{name: "add 5 args", user: "admin", method: "scheduler.device_types.add", args: []any{"y", nil, true, false, 24}, fault: xmlrpc.CodeInternalError},
		{name: "show added", method: "scheduler.device_types.show", args: []any{"rpi4"}, check: func(t *testing.T, v any) {
			m := v.(map[string]any)
			got := []any{m["description"], m["display"], m["health_frequency"], m["health_denominator"], m["health_disabled"]}
			if diff := cmp.Diff(got, []any{nil, true, int64(24), "hours", false}); diff != "" {
				t.Errorf("rpi4 as added: description, display, frequency, denominator, disabled (-got +want):\n%s", diff)
			}
		}},
		{name: "add with values", user: "admin", method: "scheduler.device_types.add", args: []any{"rpi5", "the new one", false, true, 3, "jobs"}, isNil: true},
		{name: "show added with values", method: "scheduler.device_types.show", args: []any{"rpi5"}, check: func(t *testing.T, v any) {
			m := v.(map[string]any)
			got := []any{m["description"], m["display"], m["health_frequency"], m["health_denominator"], m["health_disabled"]}
			if diff := cmp.Diff(got, []any{"the new one", false, int64(3), "jobs", false}); diff != "" {
				t.Errorf("rpi5 as added: description, display, frequency, denominator, disabled (-got +want):\n%s", diff)
			}
		}},
		{name: "update", user: "admin", method: "scheduler.device_types.update", args: []any{"rpi4", nil, nil, nil, nil, nil, nil}, isNil: true},
		{name: "update values", user: "admin", method: "scheduler.device_types.update", args: []any{"rpi4", "boards", false, nil, 10, "jobs", true}, isNil: true},
		{name: "show updated", method: "scheduler.device_types.show", args: []any{"rpi4"}, check: func(t *testing.T, v any) {
			m := v.(map[string]any)
			got := []any{m["description"], m["display"], m["health_frequency"], m["health_denominator"], m["health_disabled"]}
			if diff := cmp.Diff(got, []any{"boards", false, int64(10), "jobs", true}); diff != "" {
				t.Errorf("rpi4 updated: description, display, frequency, denominator, disabled (-got +want):\n%s", diff)
			}
			dt, err := e.st.DeviceType(context.Background(), "rpi4")
			must(t, err)
			if dt.HealthFrequency != 10 || dt.HealthDenominator != store.PerJobs || !dt.HealthDisabled {
				t.Errorf("stored rpi4: %+v", dt)
			}
		}},
		{name: "update only frequency", user: "admin", method: "scheduler.device_types.update", args: []any{"rpi4", nil, nil, nil, 12, nil, nil}, isNil: true},
		{name: "show only frequency", method: "scheduler.device_types.show", args: []any{"rpi4"}, check: func(t *testing.T, v any) {
			m := v.(map[string]any)
			got := []any{m["description"], m["display"], m["health_frequency"], m["health_denominator"], m["health_disabled"]}
			if diff := cmp.Diff(got, []any{"boards", false, int64(12), "jobs", true}); diff != "" {
				t.Errorf("rpi4 after a frequency update (-got +want):\n%s", diff)
			}
		}},
		{name: "update bad denominator", user: "admin", method: "scheduler.device_types.update", args: []any{"rpi4", nil, nil, nil, nil, "weeks", nil}, fault: 400, msg: "invalid health_denominator"},
		{name: "update not admin", user: "bob", method: "scheduler.device_types.update", args: []any{"rpi4", nil, nil, nil, nil, nil, nil}, fault: 403},
		{name: "devices", method: "scheduler.device_types.devices", args: []any{"qemu"}, want: []any{
			map[string]any{"hostname": "qemu01", "health": "Unknown", "state": "Idle"},
			map[string]any{"hostname": "qemu02", "health": "Unknown", "state": "Idle"},
		}},
		{name: "devices by health", method: "scheduler.device_types.devices", args: []any{"bbb", "RETIRED"}, want: []any{
			map[string]any{"hostname": "old01", "health": "Retired", "state": "Idle"},
		}},
		{name: "devices bad health", method: "scheduler.device_types.devices", args: []any{"bbb", "great"}, fault: 400},
		{name: "devices empty health", method: "scheduler.device_types.devices", args: []any{"bbb", ""}, check: func(t *testing.T, v any) {
			if len(v.([]any)) != 1 {
				t.Errorf("devices(bbb, \"\") = %v, want every device of bbb", v)
			}
		}},
		{name: "aliases.list", method: "scheduler.device_types.aliases.list", args: []any{"qemu"}, want: []any{}},
		{name: "aliases.list unknown", method: "scheduler.device_types.aliases.list", args: []any{"nope"}, fault: 404},
		{name: "aliases.add", user: "admin", method: "scheduler.device_types.aliases.add", args: []any{"qemu", "x86"}, isNil: true},
		{name: "aliases.add second", user: "admin", method: "scheduler.device_types.aliases.add", args: []any{"qemu", "amd64"}, isNil: true},
		{name: "aliases.add moves", user: "admin", method: "scheduler.device_types.aliases.add", args: []any{"bbb", "x86"}, isNil: true},
		{name: "aliases.add a type's name", user: "admin", method: "scheduler.device_types.aliases.add", args: []any{"bbb", "qemu"}, fault: 400},
		{name: "aliases.add not admin", user: "alice", method: "scheduler.device_types.aliases.add", args: []any{"qemu", "y"}, fault: 403, msg: "No 'admin' permissions for device-type 'qemu'."},
		{name: "aliases.add unknown type", user: "admin", method: "scheduler.device_types.aliases.add", args: []any{"nope", "y"}, fault: 404},
		{name: "aliases.list added", method: "scheduler.device_types.aliases.list", args: []any{"qemu"}, want: []any{"amd64"}},
		{name: "aliases.list moved", method: "scheduler.device_types.aliases.list", args: []any{"bbb"}, want: []any{"x86"}},
		{name: "show aliases", method: "scheduler.device_types.show", args: []any{"bbb"}, check: func(t *testing.T, v any) {
			if diff := cmp.Diff(v.(map[string]any)["aliases"], []any{"x86"}); diff != "" {
				t.Errorf("bbb's aliases (-got +want):\n%s", diff)
			}
		}},
		{name: "aliases.delete other type's", user: "admin", method: "scheduler.device_types.aliases.delete", args: []any{"qemu", "x86"}, fault: 404, msg: "Alias 'x86' was not found."},
		{name: "aliases.delete", user: "admin", method: "scheduler.device_types.aliases.delete", args: []any{"bbb", "x86"}, isNil: true},
		{name: "aliases.list after delete", method: "scheduler.aliases.list", want: []any{"amd64"}},
	})
}

func TestWorkers(t *testing.T) {
	e := newEnv(t)
	must(t, e.st.PingWorker(context.Background(), "w1", time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC)))
	e.run(t, []rpcCase{
		{name: "list", method: "scheduler.workers.list", want: []any{"w1", "w2"}},
		{name: "list all", method: "scheduler.workers.list", args: []any{true}, want: []any{"w1", "w2"}},
		{name: "show", method: "scheduler.workers.show", args: []any{"w1"}, want: map[string]any{
			"hostname": "w1", "description": nil, "state": "Online", "health": "Active", "devices": []any{"qemu01"},
			"last_ping": time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC), "job_limit": int64(0), "version": nil,
			"default_config": true, "default_env": true, "default_env_dut": true}},
		{name: "show never pinged", method: "scheduler.workers.show", args: []any{"w2"}, check: func(t *testing.T, v any) {
			m := v.(map[string]any)
			if m["last_ping"] != time.Unix(0, 0).UTC() || m["state"] != "Offline" {
				t.Errorf("last_ping, state = %#v, %v", m["last_ping"], m["state"])
			}
			if diff := cmp.Diff(m["devices"], []any{"old01", "qemu02"}); diff != "" {
				t.Errorf("devices (-got +want):\n%s", diff)
			}
		}},
		{name: "show unknown", method: "scheduler.workers.show", args: []any{"w9"}, fault: 404, msg: "Worker 'w9' was not found."},
		{name: "show as admin", user: "admin", method: "scheduler.workers.show", args: []any{"w1"}, check: func(t *testing.T, v any) {
			m := keys(t, v, "hostname", "description", "state", "health", "devices", "last_ping", "job_limit", "version",
				"default_config", "default_env", "default_env_dut", "token")
			if m["token"] != tokenNotice {
				t.Errorf("token = %#v, want the notice that it is kept hashed", m["token"])
			}
		}},
		{name: "update 3 args", user: "admin", method: "scheduler.workers.update", args: []any{"w1", nil, "MAINTENANCE"}, isNil: true},
		{name: "show in maintenance", method: "scheduler.workers.show", args: []any{"w1"}, check: func(t *testing.T, v any) {
			m := v.(map[string]any)
			if m["health"] != "Maintenance" || m["description"] != nil || m["job_limit"] != int64(0) {
				t.Errorf("after update(w1, None, MAINTENANCE): health %v, description %v, job_limit %v", m["health"], m["description"], m["job_limit"])
			}
		}},
		{name: "update 4 args", user: "admin", method: "scheduler.workers.update", args: []any{"w1", "desc", "ACTIVE", 2}, isNil: true},
		{name: "show updated", method: "scheduler.workers.show", args: []any{"w1"}, check: func(t *testing.T, v any) {
			m := v.(map[string]any)
			if m["health"] != "Active" || m["description"] != "desc" || m["job_limit"] != int64(2) {
				t.Errorf("after update(w1, desc, ACTIVE, 2): health %v, description %v, job_limit %v", m["health"], m["description"], m["job_limit"])
			}
		}},
		{name: "update description only", user: "admin", method: "scheduler.workers.update", args: []any{"w1", "rack 2"}, isNil: true},
		{name: "show description only", method: "scheduler.workers.show", args: []any{"w1"}, check: func(t *testing.T, v any) {
			m := v.(map[string]any)
			if m["health"] != "Active" || m["description"] != "rack 2" || m["job_limit"] != int64(2) {
				t.Errorf("after update(w1, rack 2): health %v, description %v, job_limit %v", m["health"], m["description"], m["job_limit"])
			}
		}},
		{name: "update bad health", user: "admin", method: "scheduler.workers.update", args: []any{"w1", nil, "ONLINE"}, fault: 400, msg: "Invalid health: ONLINE"},
		{name: "update bad limit", user: "admin", method: "scheduler.workers.update", args: []any{"w1", nil, nil, -1}, fault: 400, msg: "Invalid job limit"},
		{name: "update anonymous", method: "scheduler.workers.update", args: []any{"w1", nil, "MAINTENANCE"}, fault: 401},
		{name: "update not admin", user: "alice", method: "scheduler.workers.update", args: []any{"w1", nil, "MAINTENANCE"}, fault: 403},
		{name: "update unknown", user: "admin", method: "scheduler.workers.update", args: []any{"w9"}, fault: 404},
		{name: "add", user: "admin", method: "scheduler.workers.add", args: []any{"w3", "third", false}, check: func(t *testing.T, v any) {
			tok, ok := v.(string)
			if !ok || len(tok) != 64 {
				t.Fatalf("workers.add returned %#v, want the worker's token", v)
			}
			if _, err := e.st.AuthenticateWorker(context.Background(), "w3", tok); err != nil {
				t.Errorf("the token workers.add returned does not authenticate w3: %v", err)
			}
		}},
		{name: "add exists", user: "admin", method: "scheduler.workers.add", args: []any{"w3"}, fault: 400, msg: "worker already exists?"},
		{name: "add disabled", user: "admin", method: "scheduler.workers.add", args: []any{"w4", nil, true}, check: func(t *testing.T, v any) {}},
		{name: "list added", method: "scheduler.workers.list", want: []any{"w1", "w2", "w3"}},
		{name: "list added all", method: "scheduler.workers.list", args: []any{true}, want: []any{"w1", "w2", "w3", "w4"}},
		{name: "show added", method: "scheduler.workers.show", args: []any{"w3"}, check: func(t *testing.T, v any) {
			if m := v.(map[string]any); m["description"] != "third" || m["health"] != "Active" {
				t.Errorf("w3: description %v, health %v; want third, Active", m["description"], m["health"])
			}
		}},
		{name: "show disabled", method: "scheduler.workers.show", args: []any{"w4"}, check: func(t *testing.T, v any) {
			if m := v.(map[string]any); m["description"] != nil || m["health"] != "Retired" {
				t.Errorf("w4: description %v, health %v; want None, Retired", m["description"], m["health"])
			}
		}},
		{name: "get_config", method: "scheduler.workers.get_config", args: []any{"w1"}, fault: 404, msg: "Worker 'w1' does not have a dispatcher configuration"},
		{name: "get_env unknown", method: "scheduler.workers.get_env", args: []any{"w9"}, fault: 404, msg: "Worker 'w9' was not found."},
		{name: "get_env_dut bad name", method: "scheduler.workers.get_env_dut", args: []any{"../w1"}, fault: 400, msg: "Invalid worker name"},
	})
}

func TestResults(t *testing.T) {
	e := newEnv(t)
	id := e.submit(jobDef(t, "res", "public"))
	mine := e.submit(jobDef(t, "mine", "personal"))
	m := 12.5
	zero, three, twelve, forty := int64(0), int64(3), int64(12), int64(40)
	must(t, e.st.AddResults(context.Background(), id, []store.Result{
		{Suite: "lava", Case: "job", Result: "pass", Metadata: "{case: job, definition: lava, result: pass, level: ''}",
			Logged: time.Date(2026, 12, 7, 4, 5, 7, 0, time.UTC), LogStart: &zero, LogEnd: &three},
		{Suite: "0_smoke", Case: "linux-posix-pwd", Result: "pass", Metadata: "case: linux-posix-pwd\nlevel: 0.1\nresult: pass\n"},
		{Suite: "0_smoke", Case: "speed", Result: "fail", Measurement: &m, Units: "MB/s",
			Logged: time.Date(2026, 12, 7, 4, 5, 6, 123000, time.UTC), LogStart: &twelve, LogEnd: &forty},
		{Suite: "lava", Case: "finalize", Result: "pass"},
	}))
	stored, err := e.st.Results(context.Background(), id)
	must(t, err)
	speedID := fmt.Sprint(stored[2].ID)
	parse := func(t *testing.T, v any) []map[string]any {
		t.Helper()
		s, ok := v.(string)
		if !ok {
			t.Fatalf("reply %#v is not a string (lavacli 2.x YAML-loads it as one)", v)
		}
		var out []map[string]any
		if err := yaml.Unmarshal([]byte(s), &out); err != nil {
			t.Fatalf("reply is not YAML: %v\n%s", err, s)
		}
		return out
	}
	names := func(want ...string) func(*testing.T, any) {
		return func(t *testing.T, v any) {
			var got []string
			for _, r := range parse(t, v) {
				got = append(got, fmt.Sprintf("%s.%s [%s]", r["suite"], r["name"], r["result"]))
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("results (-got +want):\n%s", diff)
			}
		}
	}
	sid := fmt.Sprint(id)
	e.run(t, []rpcCase{
		{name: "anonymous", method: "results.get_testjob_results_yaml", args: []any{sid}, fault: 401, msg: "Authentication with user and token required"},
		{name: "job", user: "bob", method: "results.get_testjob_results_yaml", args: []any{sid},
			check: names("lava.job [pass]", "lava.finalize [pass]", "0_smoke.linux-posix-pwd [pass]", "0_smoke.speed [fail]")},
		{name: "fields", user: "bob", method: "results.get_testjob_results_yaml", args: []any{id}, check: func(t *testing.T, v any) {
			rs := parse(t, v)
			speed := rs[3]
			for k, w := range map[string]any{"name": "speed", "job": sid, "suite": "0_smoke", "result": "fail",
				"measurement": "12.5000000000", "unit": "MB/s", "level": "", "log_start_line": "12", "log_end_line": "40",
				"logged": "2026-12-07 04:05:06.000123+00:00", "id": speedID, "url": "/results/testcase/" + speedID} {
				if speed[k] != w {
					t.Errorf("%s = %#v, want %#v", k, speed[k], w)
				}
			}
			// LAVA tests the lines for truth: line 0 exports as "", and
			// a time with no microseconds has no fraction.
			for k, w := range map[string]any{"log_start_line": "", "log_end_line": "3", "logged": "2026-12-07 04:05:07+00:00"} {
				if rs[0][k] != w {
					t.Errorf("lava.job %s = %#v, want %#v", k, rs[0][k], w)
				}
			}
			if rs[1]["logged"] != "None" || rs[1]["log_start_line"] != "" {
				t.Errorf("a result without a time or lines: logged %#v, log_start_line %#v, want \"None\", \"\"", rs[1]["logged"], rs[1]["log_start_line"])
			}
			if rs[0]["measurement"] != "None" {
				t.Errorf("measurement of a case without one = %#v, want \"None\"", rs[0]["measurement"])
			}
			if md, ok := rs[2]["metadata"].(map[string]any); !ok || md["case"] != "linux-posix-pwd" || rs[2]["level"] != "0.1" {
				t.Errorf("metadata, level = %#v, %#v", rs[2]["metadata"], rs[2]["level"])
			}
		}},
		{name: "hidden is 401", user: "bob", method: "results.get_testjob_results_yaml", args: []any{mine}, fault: 401, msg: fmt.Sprintf("Permission denied for user to job %d", mine)},
		{name: "empty id", user: "bob", method: "results.get_testjob_results_yaml", args: []any{""}, fault: 400},
		{name: "unknown", user: "bob", method: "results.get_testjob_results_yaml", args: []any{"999"}, fault: 404, msg: "Specified job not found."},
		{name: "no results", user: "alice", method: "results.get_testjob_results_yaml", args: []any{mine}, want: "[]\n"},
		{name: "suite", user: "bob", method: "results.get_testsuite_results_yaml", args: []any{sid, "0_smoke"}, check: names("0_smoke.linux-posix-pwd [pass]", "0_smoke.speed [fail]")},
		{name: "suite limit offset", user: "bob", method: "results.get_testsuite_results_yaml", args: []any{sid, "0_smoke", 1, 1}, check: names("0_smoke.speed [fail]")},
		// A notify callback's results are each suite as this call answers it.
		{name: "suite as SuiteYAML", user: "bob", method: "results.get_testsuite_results_yaml", args: []any{sid, "0_smoke"}, check: func(t *testing.T, v any) {
			all, err := SuiteYAML(id, stored)
			must(t, err)
			if v != all["0_smoke"] || len(all) != 2 {
				t.Errorf("SuiteYAML %q, the call answers %q", all, v)
			}
		}},
		{name: "suite limit", user: "bob", method: "results.get_testsuite_results_yaml", args: []any{sid, "0_smoke", 1}, check: names("0_smoke.linux-posix-pwd [pass]")},
		{name: "suite offset alone ignored", user: "bob", method: "results.get_testsuite_results_yaml", args: []any{sid, "0_smoke", nil, 1}, check: names("0_smoke.linux-posix-pwd [pass]", "0_smoke.speed [fail]")},
		{name: "suite offset past the end", user: "bob", method: "results.get_testsuite_results_yaml", args: []any{sid, "0_smoke", 10, 5}, want: "[]\n"},
		{name: "suite unknown", user: "bob", method: "results.get_testsuite_results_yaml", args: []any{sid, "nope"}, fault: 404, msg: "Specified test suite not found."},
		{name: "case", user: "bob", method: "results.get_testcase_results_yaml", args: []any{sid, "lava", "job"}, check: names("lava.job [pass]")},
		{name: "case unknown", user: "bob", method: "results.get_testcase_results_yaml", args: []any{sid, "lava", "nope"}, want: "[]\n"},
		{name: "suites", user: "bob", method: "results.get_testjob_suites_list_yaml", args: []any{sid}, check: func(t *testing.T, v any) {
			rs := parse(t, v)
			if len(rs) != 2 || rs[0]["name"] != "lava" || rs[1]["name"] != "0_smoke" || rs[0]["job"] != sid {
				t.Errorf("suites = %v", rs)
			}
		}},
		{name: "metadata", user: "bob", method: "results.get_testjob_metadata", args: []any{sid}, want: []any{
			map[string]any{"source": "https://example.com/x.git"}, map[string]any{"build": "12"}}},
	})
}

func TestLegacy(t *testing.T) {
	e := newEnv(t)
	id := e.ok("alice", "scheduler.submit_job", jobDef(t, "legacy", "public")).(int64)
	e.run(t, []rpcCase{
		{name: "job_details", method: "scheduler.job_details", args: []any{fmt.Sprint(id)}, check: func(t *testing.T, v any) {
			m := v.(map[string]any)
			if m["status"] != "Submitted" || m["definition"] != jobDef(t, "legacy", "public") || m["is_pipeline"] != true ||
				m["multinode_definition"] != "" || m["submitter_username"] != "alice" {
				t.Errorf("job_details = %v", m)
			}
			if _, ok := m["token"]; ok {
				t.Errorf("job_details leaks a token")
			}
		}},
		{name: "cancel_job", user: "alice", method: "scheduler.cancel_job", args: []any{id}, want: true},
		{name: "job_details canceled", method: "scheduler.job_details", args: []any{id}, check: func(t *testing.T, v any) {
			if s := v.(map[string]any)["status"]; s != "Canceled" {
				t.Errorf("status = %v", s)
			}
		}},
		{name: "resubmit_job", user: "alice", method: "scheduler.resubmit_job", args: []any{id}, want: id + 1},
		{name: "event socket", method: "scheduler.get_publisher_event_socket", want: "tcp://*:5500"},
	})
}

// TestCapWriter: the log-reply bound keeps whole lines only.
func TestCapWriter(t *testing.T) {
	w := &capWriter{max: 10}
	var err error
	for _, chunk := range []string{"abc\nde", "f\nghijkl", "mn\nop\n", "qr\n"} {
		if _, err = io.WriteString(w, chunk); err != nil {
			break
		}
	}
	if !errors.Is(err, errLogCap) || string(w.buf[:w.lastNL]) != "abc\ndef\nghijklmn\nop\n" {
		t.Errorf("capWriter: %v, kept %q", err, w.buf[:w.lastNL])
	}
}

// TestPythonShapes runs Python's own xmlrpc.client (what lavacli is built
// on) against the server and pins the reply shapes lavacli reads: dateTime
// or None times with .value, base64 and strings where str() is taken, YAML
// results as a string, ints where lavacli formats %d.
func TestPythonShapes(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skipf("skipping: %s is absent (%v)", python, err)
	}
	e := newEnv(t)
	id := e.submit(jobDef(t, "shapes é", "public"))
	e.ok("alice", "scheduler.jobs.submit", multinodeDef(t))
	hidden := e.submit(jobDef(t, "hidden", "personal"))
	e.addLog(id, `- {dt: '2026-12-07T02:00:00.000000', lvl: info, msg: 'start: 1 deploy'}`, `- {dt: '2026-12-07T02:00:01.000000', lvl: target, msg: "Linux version é"}`)
	start, end := int64(1), int64(1)
	must(t, e.st.AddResults(context.Background(), id, []store.Result{
		{Suite: "lava", Case: "job", Result: "pass", Logged: time.Date(2026, 12, 7, 2, 0, 2, 0, time.UTC)},
		{Suite: "0_smoke", Case: "pwd", Result: "fail", Logged: time.Date(2026, 12, 7, 2, 0, 1, 250000000, time.UTC), LogStart: &start, LogEnd: &end}}))
	must(t, e.st.PingWorker(context.Background(), "w1", time.Now()))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "testdata/shapes.py", e.url("admin", "/RPC2"), e.url("", "/RPC2"), fmt.Sprint(id), fmt.Sprintf("%d.1", id+1), fmt.Sprint(hidden))
	cmd.Env = append(os.Environ(), "PYTHONIOENCODING=utf-8", "PYTHONPATH=")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("shapes.py: %v\nstdout:\n%s\nstderr:\n%s", err, got, stderr.String())
	}
	golden(t, "testdata/shapes.golden", got)
}

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		must(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(got), string(want)); diff != "" {
		t.Errorf("%s (-got +want):\n%s", path, diff)
	}
}

// TestHostileArguments calls every method with every argument count up to
// ten and arguments of every XML-RPC type, anonymous and as a superuser:
// each call answers a value that encodes or a fault, never a panic.
func TestHostileArguments(t *testing.T) {
	e := newEnv(t)
	e.submit(jobDef(t, "x", "public"))
	e.addLog(1, `- {dt: '2026-12-07T02:00:00.000000', lvl: info, msg: x}`)
	names, err := e.api.rpc.Dispatch(context.Background(), "system.listMethods", nil)
	must(t, err)
	values := []any{nil, int64(-1), int64(1), "1", "", "qemu01", "../x", []any{}, []any{"qemu"}, map[string]any{"a": int64(1)}, []byte("1"), true, 1.5, time.Unix(0, 0)}
	admin, err := e.st.User(context.Background(), "admin")
	must(t, err)
	for _, ctx := range []context.Context{context.Background(), context.WithValue(context.Background(), userKey, admin)} {
		for _, name := range names.([]string) {
			if name == "system.multicall" {
				continue
			}
			for n := 0; n <= 10; n++ {
				for _, v := range values {
					args := make([]any, n)
					for i := range args {
						args[i] = v
					}
					got, err := e.api.rpc.Dispatch(ctx, name, args)
					if err != nil {
						if strings.Contains(err.Error(), "panic") {
							t.Errorf("%s%v: %v", name, args, err)
						}
						continue
					}
					if _, err := xmlrpc.MarshalResponse(got); err != nil {
						t.Errorf("%s%v: the reply does not encode: %v", name, args, err)
					}
				}
			}
		}
	}
}

// shippedQemu checks a reply is Basalt's shipped qemu template.
func shippedQemu(t *testing.T, v any) {
	b, ok := v.([]byte)
	if !ok || !bytes.Contains(b, []byte("{% extends 'base.jinja2' %}")) || !bytes.Contains(b, []byte("qemu.jinja2")) {
		t.Errorf("template = %.200q, want the shipped qemu.jinja2", v)
	}
}

// TestListVisibility: a list holds the jobs its caller may see, group
// members included, and pages over those.
func TestListVisibility(t *testing.T) {
	e := newEnv(t)
	pub := e.submit(jobDef(t, "public", "public"))
	team := e.submit(jobDef(t, "team", "{group: [team]}"))
	mine := e.submit(jobDef(t, "mine", "personal"))
	team2 := e.submit(jobDef(t, "team 2", "{group: [team]}"))
	ids := func(want ...int64) func(*testing.T, any) {
		return func(t *testing.T, v any) {
			var got, w []any
			for _, j := range v.([]any) {
				got = append(got, j.(map[string]any)["id"])
			}
			for _, id := range want {
				w = append(w, id)
			}
			if diff := cmp.Diff(got, w); diff != "" {
				t.Errorf("ids (-got +want):\n%s", diff)
			}
		}
	}
	e.run(t, []rpcCase{
		{name: "anonymous", method: "scheduler.jobs.list", check: ids(pub)},
		{name: "group member", user: "bob", method: "scheduler.jobs.list", check: ids(team2, team, pub)},
		{name: "group member paged", user: "bob", method: "scheduler.jobs.list", args: []any{nil, nil, 1, 1}, check: ids(team)},
		{name: "submitter", user: "alice", method: "scheduler.jobs.list", check: ids(team2, mine, team, pub)},
		{name: "superuser", user: "admin", method: "scheduler.jobs.list", check: ids(team2, mine, team, pub)},
		{name: "queue as group member", user: "bob", method: "scheduler.jobs.queue", check: ids(team2, team, pub)},
	})
}

// TestConcurrentCalls: clients at once submitting, reading, listing,
// paging a log that grows and canceling, each call answered right (run
// with -race).
func TestConcurrentCalls(t *testing.T) {
	e := newEnv(t)
	logged := e.submit(jobDef(t, "logged", "public"))
	def := jobDef(t, "CLIENT", "public") // read here: t.Fatal is for this goroutine only
	done := make(chan error)
	const clients, calls = 6, 15
	for c := 0; c < clients; c++ {
		go func(c int) {
			var err error
			defer func() { done <- err }()
			for i := 0; i < calls && err == nil; i++ {
				switch (c + i) % 5 {
				case 0:
					var v any
					if v, err = e.try("alice", "scheduler.jobs.submit", strings.Replace(def, "CLIENT", fmt.Sprintf("c%d-%d", c, i), 1)); err == nil {
						_, err = e.try("alice", "scheduler.jobs.cancel", v)
					}
				case 1:
					_, err = e.try("", "scheduler.jobs.show", logged)
				case 2:
					_, err = e.try("bob", "scheduler.jobs.list", nil, nil, 0, 25, 0, true)
				case 3:
					held, lerr := e.logs.Len(logged)
					if lerr != nil {
						err = lerr
						break
					}
					if _, err = e.logs.Append(logged, held, []string{fmt.Sprintf("- {dt: '2026-12-07T02:00:00.000000', lvl: info, msg: c%d %d}", c, i)}); err != nil {
						var gap *logstore.GapError
						if errors.As(err, &gap) {
							err = nil // another client appended first
						}
						break
					}
					_, err = e.try("", "scheduler.jobs.logs", logged, 0, nil)
				case 4:
					_, err = e.try("alice", "scheduler.devices.list")
				}
			}
		}(c)
	}
	for c := 0; c < clients; c++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	n, err := e.logs.Len(logged)
	must(t, err)
	v := e.ok("", "scheduler.jobs.logs", logged, 0, nil).([]any)
	if got := int64(strings.Count(string(v[1].([]byte)), "\n")); got != n {
		t.Errorf("log read back: %d lines, the log holds %d", got, n)
	}
}

// TestPostgres runs the tests that read and write jobs on PostgreSQL
// (BASALT_POSTGRES_DSN, set by scripts/with-postgres.sh; skipped without).
func TestPostgres(t *testing.T) {
	storetest.PostgresDSN(t, false)
	onPostgres = true
	defer func() { onPostgres = false }()
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"Jobs", TestJobs}, {"JobLogs", TestJobLogs}, {"JobList", TestJobList}, {"ListVisibility", TestListVisibility},
		{"Devices", TestDevices}, {"Workers", TestWorkers}, {"Results", TestResults}, {"ConcurrentCalls", TestConcurrentCalls},
	} {
		t.Run(tc.name, tc.fn)
	}
}
