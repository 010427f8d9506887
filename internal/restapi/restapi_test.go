package restapi

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/basalt-lava/basalt/internal/resultexport"
	"github.com/basalt-lava/basalt/internal/store"
)

// restCase is one request and what must come back.
type restCase struct {
	name   string
	method string // GET when empty
	path   string
	user   string
	body   any
	status int
	check  func(t *testing.T, r reply)
}

func (e *env) run(t *testing.T, cases []restCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := c.method
			if m == "" {
				m = "GET"
			}
			r := e.do(m, c.path, c.user, c.body)
			if r.status != c.status {
				t.Fatalf("%s %s as %q = %d %s, want %d", m, c.path, c.user, r.status, r.body, c.status)
			}
			if c.check != nil {
				c.check(t, r)
			}
		})
	}
}

// detailIs checks DRF's {"detail": msg}.
func detailIs(msg string) func(t *testing.T, r reply) {
	return func(t *testing.T, r reply) {
		t.Helper()
		if d := r.json(t)["detail"]; d != msg {
			t.Errorf("detail = %q, want %q", d, msg)
		}
	}
}

// field returns the JSON value at key, checking the reply is an object.
func field(t *testing.T, r reply, key string) any {
	t.Helper()
	m := r.json(t)
	v, ok := m[key]
	if !ok {
		t.Fatalf("reply %s has no %q", r.body, key)
	}
	return v
}

// results returns a page's results, checking the envelope.
func results(t *testing.T, r reply) []map[string]any {
	t.Helper()
	m := r.json(t)
	for _, k := range []string{"count", "next", "previous", "results"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("page %s has no %q", r.body, k)
		}
	}
	var out []map[string]any
	for _, x := range m["results"].([]any) {
		out = append(out, x.(map[string]any))
	}
	return out
}

// names lists key's value of each result.
func names(rs []map[string]any, key string) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprint(r[key]))
	}
	return out
}

func wantNames(key string, want ...string) func(t *testing.T, r reply) {
	return func(t *testing.T, r reply) {
		t.Helper()
		got := names(results(t, r), key)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s of the results = %v, want %v", key, got, want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// jobLab submits public, personal and group jobs as alice, runs and
// finishes the first with results and a log.
type jobLab struct {
	pub, mine, team, queued int64
	suite, caseFail         int64
}

func (e *env) jobs(t *testing.T) jobLab {
	var l jobLab
	l.pub = e.submit("alice", jobDef(t, "public job", "public"))[0].ID
	l.mine = e.submit("alice", jobDef(t, "mine", "personal"))[0].ID
	l.team = e.submit("alice", jobDef(t, "team job", "{group: [team]}"))[0].ID
	l.queued = e.submit("bob", jobDef(t, "bob's", "public"))[0].ID
	for i := 0; i < 5; i++ {
		e.addLog(l.pub, fmt.Sprintf(`- {"dt": "2026-01-01T10:00:0%d.000000", "lvl": "info", "msg": "line %d"}`, i, i))
	}
	e.finish(l.pub, []store.Result{
		{Suite: "lava", Case: "job", Result: "pass", Metadata: "{case: job, result: pass}"},
		{Suite: "0_smoke", Case: "pwd", Result: "pass", Measurement: ptr(1.5), Units: "s", Metadata: "case: pwd\nresult: pass\n", LogStart: ptr(int64(1)), LogEnd: ptr(int64(2))},
		{Suite: "0_smoke", Case: "uname", Result: "fail", LogStart: ptr(int64(2)), LogEnd: ptr(int64(4))},
	})
	rs, err := e.st.Results(context.Background(), l.pub)
	must(t, err)
	l.suite, l.caseFail = rs[1].ID, rs[2].ID
	return l
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	l := e.jobs(t)
	// A session cookie, as the web pages' login sets it.
	cookieUser := func(method, path string, csrf bool) reply {
		r := e.do("GET", "/api/v0.2/system/whoami/", "", nil)
		_ = r
		req := newSessionRequest(t, e, "bob")
		hdr := []string{"Cookie", req.Header.Get("Cookie")}
		if csrf {
			hdr = append(hdr, "X-CSRF-Token", e.auth.CSRF(req))
		}
		return e.do(method, path, "", url.Values{"definition": {jobDef(t, "via session", "public")}}, hdr...)
	}
	e.run(t, []restCase{
		{name: "whoami anonymous", path: "/api/v0.2/system/whoami/", status: 200, check: func(t *testing.T, r reply) {
			if u := field(t, r, "user"); u != "" {
				t.Errorf("user = %q", u)
			}
		}},
		{name: "whoami token", path: "/api/v0.2/system/whoami/", user: "alice", status: 200, check: func(t *testing.T, r reply) {
			if u := field(t, r, "user"); u != "alice" {
				t.Errorf("user = %q", u)
			}
		}},
		{name: "invalid token is 403 even to read", path: "/api/v0.2/jobs/", user: "nobody", status: 403, check: detailIs("Invalid token.")},
		{name: "submit without a token is 403", method: "POST", path: "/api/v0.2/jobs/", body: map[string]any{"definition": "x"}, status: 403,
			check: detailIs("Authentication credentials were not provided.")},
		{name: "validate is open to everyone", method: "POST", path: "/api/v0.2/jobs/validate/", body: map[string]any{"definition": jobDef(t, "v", "public")}, status: 200},
		{name: "aliases need a user", path: "/api/v0.2/aliases/", status: 403, check: detailIs("Authentication credentials were not provided.")},
		{name: "tags need a user", path: "/api/v0.2/tags/", status: 403},
		{name: "device set_health needs a superuser", method: "POST", path: "/api/v0.2/devices/qemu01/set_health/", user: "alice",
			body: map[string]any{"health": "maintenance"}, status: 403, check: detailIs("You do not have permission to perform this action.")},
		{name: "v0.3 serves the same", path: "/api/v0.3/system/version/", status: 200, check: func(t *testing.T, r reply) {
			if v := field(t, r, "version"); v != "2026.07" {
				t.Errorf("version = %q", v)
			}
		}},
		{name: "api root", path: "/api/v0.2/", status: 200, check: func(t *testing.T, r reply) {
			if !strings.HasSuffix(fmt.Sprint(field(t, r, "jobs")), "/api/v0.2/jobs/") {
				t.Errorf("root %s", r.body)
			}
		}},
		{name: "unknown resource", path: "/api/v0.2/nope/", status: 404, check: detailIs("Not found.")},
		{name: "personal job hidden from anonymous", path: fmt.Sprintf("/api/v0.2/jobs/%d/", l.mine), status: 404},
		{name: "personal job hidden from bob", path: fmt.Sprintf("/api/v0.2/jobs/%d/", l.mine), user: "bob", status: 404},
		{name: "personal job shown to its submitter", path: fmt.Sprintf("/api/v0.2/jobs/%d/", l.mine), user: "alice", status: 200},
		{name: "group job shown to a member", path: fmt.Sprintf("/api/v0.2/jobs/%d", l.team), user: "bob", status: 200},
		{name: "group job shown to a superuser", path: fmt.Sprintf("/api/v0.2/jobs/%d", l.team), user: "admin", status: 200},
		{name: "suites of a hidden job is 403", path: fmt.Sprintf("/api/v0.2/jobs/%d/suites/", l.mine), user: "bob", status: 403},
		{name: "list hides private jobs from anonymous", path: "/api/v0.2/jobs/?ordering=id", status: 200,
			check: wantNames("id", fmt.Sprint(l.pub), fmt.Sprint(l.queued))},
		{name: "list shows bob his group's job", path: "/api/v0.2/jobs/?ordering=id", user: "bob", status: 200,
			check: wantNames("id", fmt.Sprint(l.pub), fmt.Sprint(l.team), fmt.Sprint(l.queued))},
	})
	t.Run("basic is ignored", func(t *testing.T) {
		r := e.do("GET", "/api/v0.2/system/whoami/", "", nil, "Authorization", "Basic YWxpY2U6YWxpY2V0b2s=")
		if r.status != 200 || field(t, r, "user") != "" {
			t.Errorf("whoami with Basic = %d %s, want anonymous", r.status, r.body)
		}
	})
	t.Run("session needs CSRF to change", func(t *testing.T) {
		if r := cookieUser("POST", "/api/v0.2/jobs/", false); r.status != 403 {
			t.Errorf("session POST without CSRF = %d %s, want 403", r.status, r.body)
		}
		if r := cookieUser("POST", "/api/v0.2/jobs/", true); r.status != 201 {
			t.Errorf("session POST with CSRF = %d %s, want 201", r.status, r.body)
		}
	})
}

func TestJobs(t *testing.T) {
	e := newEnv(t)
	l := e.jobs(t)
	jp := func(format string) string { return fmt.Sprintf(format, l.pub) }
	e.run(t, []restCase{
		{name: "detail", path: jp("/api/v0.2/jobs/%d/"), status: 200, check: func(t *testing.T, r reply) {
			m := r.json(t)
			for _, k := range []string{"id", "submitter", "viewing_groups", "description", "health_check", "requested_device_type", "tags",
				"actual_device", "submit_time", "start_time", "end_time", "state", "health", "priority", "definition", "metadata",
				"original_definition", "multinode_definition", "failure_tags", "failure_comment"} {
				if _, ok := m[k]; !ok {
					t.Errorf("job has no %q", k)
				}
			}
			if m["state"] != "Finished" || m["health"] != "Complete" || m["actual_device"] != "qemu01" || m["submitter"] != "alice" ||
				m["description"] != "public job" || m["multinode_definition"] != "" || m["requested_device_type"] != "qemu" {
				t.Errorf("job %v", m)
			}
			if st, _ := m["submit_time"].(string); !strings.HasSuffix(st, "Z") || !strings.Contains(st, "T") {
				t.Errorf("submit_time %q is not ISO 8601 with Z", st)
			}
			if md, _ := m["metadata"].(map[string]any); md["build"] != "12" {
				t.Errorf("metadata = %v", m["metadata"])
			}
		}},
		{name: "detail without slash, no redirect", path: jp("/api/v0.2/jobs/%d"), status: 200},
		{name: "detail of a sub_id is 404", path: jp("/api/v0.2/jobs/%d.0/"), status: 404},
		{name: "detail unknown", path: "/api/v0.2/jobs/999999/", status: 404},
		{name: "list pages with absolute next", path: "/api/v0.2/jobs/?limit=1&format=json", status: 200, check: func(t *testing.T, r reply) {
			m := r.json(t)
			if m["count"] != float64(2) || len(m["results"].([]any)) != 1 || m["previous"] != nil {
				t.Fatalf("page %s", r.body)
			}
			next, _ := m["next"].(string)
			u, err := url.Parse(next)
			if err != nil || u.Scheme != "http" || u.Host == "" || u.Query().Get("offset") != "1" || u.Query().Get("format") != "json" {
				t.Errorf("next = %q", next)
			}
		}},
		{name: "a parameter given twice is its last value", path: "/api/v0.2/jobs/?limit=1&format=json&limit=256", status: 200, check: func(t *testing.T, r reply) {
			if len(results(t, r)) != 2 {
				t.Errorf("page %s", r.body)
			}
		}},
		{name: "list second page has previous", path: "/api/v0.2/jobs/?limit=1&offset=1", status: 200, check: func(t *testing.T, r reply) {
			m := r.json(t)
			prev, _ := m["previous"].(string)
			if m["next"] != nil || !strings.Contains(prev, "limit=1") || strings.Contains(prev, "offset") {
				t.Errorf("page %s", r.body)
			}
		}},
		{name: "default order is -id", path: "/api/v0.2/jobs/", status: 200, check: wantNames("id", fmt.Sprint(l.queued), fmt.Sprint(l.pub))},
		{name: "state filter", path: "/api/v0.2/jobs/?state=Finished", status: 200, check: wantNames("id", fmt.Sprint(l.pub))},
		{name: "state__in filter", path: "/api/v0.2/jobs/?state__in=Submitted,Running", status: 200, check: wantNames("id", fmt.Sprint(l.queued))},
		{name: "state and state__in both hold", path: "/api/v0.2/jobs/?state=Finished&state__in=Submitted,Running", status: 200, check: wantNames("id")},
		{name: "state__iexact", path: "/api/v0.2/jobs/?state__iexact=finished", status: 200, check: wantNames("id", fmt.Sprint(l.pub))},
		{name: "health filter", path: "/api/v0.2/jobs/?health=Complete", status: 200, check: wantNames("id", fmt.Sprint(l.pub))},
		{name: "bad state is 400", path: "/api/v0.2/jobs/?state=Bogus", status: 400, check: func(t *testing.T, r reply) { field(t, r, "state") }},
		{name: "id__gt", path: fmt.Sprintf("/api/v0.2/jobs/?id__gt=%d", l.pub), user: "admin", status: 200,
			check: wantNames("id", fmt.Sprint(l.queued), fmt.Sprint(l.team), fmt.Sprint(l.mine))},
		{name: "id__in", path: fmt.Sprintf("/api/v0.2/jobs/?id__in=%d,%d", l.pub, l.mine), status: 200, check: wantNames("id", fmt.Sprint(l.pub))},
		{name: "id__lt bad number", path: "/api/v0.2/jobs/?id__lt=x", status: 400},
		{name: "submitter", path: "/api/v0.2/jobs/?submitter__username=bob", status: 200, check: wantNames("id", fmt.Sprint(l.queued))},
		{name: "description contains", path: "/api/v0.2/jobs/?description__icontains=PUBLIC", status: 200, check: wantNames("id", fmt.Sprint(l.pub))},
		{name: "device", path: "/api/v0.2/jobs/?actual_device__hostname=qemu01", status: 200, check: wantNames("id", fmt.Sprint(l.pub))},
		{name: "end_time__gt RFC 3339", path: "/api/v0.2/jobs/?end_time__gt=2000-01-01T00:00:00Z", status: 200, check: wantNames("id", fmt.Sprint(l.pub))},
		{name: "start_time__isnull", path: "/api/v0.2/jobs/?start_time__isnull=true", status: 200, check: wantNames("id", fmt.Sprint(l.queued))},
		{name: "health_check", path: "/api/v0.2/jobs/?health_check=true", status: 200, check: wantNames("id")},
		{name: "ordering id", path: "/api/v0.2/jobs/?ordering=id", status: 200, check: wantNames("id", fmt.Sprint(l.pub), fmt.Sprint(l.queued))},
		{name: "unknown parameter ignored", path: "/api/v0.2/jobs/?color=blue", status: 200},
		{name: "logs whole", path: jp("/api/v0.2/jobs/%d/logs/"), status: 200, check: func(t *testing.T, r reply) {
			if ct := r.header.Get("Content-Type"); ct != "application/yaml" {
				t.Errorf("Content-Type %q", ct)
			}
			if cd := r.header.Get("Content-Disposition"); cd != fmt.Sprintf("attachment; filename=job_%d.yaml", l.pub) {
				t.Errorf("Content-Disposition %q", cd)
			}
			var lines []map[string]any
			if err := yaml.Unmarshal(r.body, &lines); err != nil || len(lines) != 5 {
				t.Errorf("log %q: %d lines, %v", r.body, len(lines), err)
			}
		}},
		{name: "logs range", path: jp("/api/v0.2/jobs/%d/logs/?start=1&end=3"), status: 200, check: func(t *testing.T, r reply) {
			if got := strings.Count(string(r.body), "\n"); got != 2 || !strings.Contains(string(r.body), "line 1") || strings.Contains(string(r.body), "line 3") {
				t.Errorf("range [1,3) = %q", r.body)
			}
		}},
		{name: "logs from start to the end", path: jp("/api/v0.2/jobs/%d/logs/?start=4"), status: 200},
		{name: "logs empty range is 404", path: jp("/api/v0.2/jobs/%d/logs/?start=5"), status: 404},
		{name: "logs absent is 404", path: fmt.Sprintf("/api/v0.2/jobs/%d/logs/", l.queued), status: 404},
		{name: "logs bad start", path: jp("/api/v0.2/jobs/%d/logs/?start=-1"), status: 400},
		{name: "metadata", path: jp("/api/v0.2/jobs/%d/metadata/"), status: 200, check: func(t *testing.T, r reply) {
			if fmt.Sprint(field(t, r, "metadata")) != "[map[source:https://example.com/x.git] map[build:12]]" {
				t.Errorf("metadata %s", r.body)
			}
		}},
		{name: "suites", path: jp("/api/v0.2/jobs/%d/suites/"), status: 200, check: func(t *testing.T, r reply) {
			rs := results(t, r)
			if len(rs) != 2 || rs[0]["name"] != "lava" || rs[1]["name"] != "0_smoke" || rs[1]["id"] != float64(l.suite) || rs[1]["job"] != float64(l.pub) ||
				!strings.HasSuffix(fmt.Sprint(rs[1]["resource_uri"]), fmt.Sprintf("/api/v0.2/jobs/%d/suites/%d/", l.pub, l.suite)) {
				t.Errorf("suites %s", r.body)
			}
		}},
		{name: "suite tests", path: fmt.Sprintf("/api/v0.2/jobs/%d/suites/%d/tests/?limit=1", l.pub, l.suite), status: 200, check: func(t *testing.T, r reply) {
			m := r.json(t)
			rs := results(t, r)
			if m["count"] != float64(2) || m["next"] == nil || len(rs) != 1 {
				t.Fatalf("page %s", r.body)
			}
			c := rs[0]
			if c["name"] != "pwd" || c["result"] != "pass" || c["measurement"] != "1.5000000000" || c["unit"] != "s" ||
				c["start_log_line"] != float64(1) || c["end_log_line"] != float64(2) || c["suite"] != float64(l.suite) {
				t.Errorf("case %v", c)
			}
			var md map[string]any
			if s, ok := c["metadata"].(string); !ok || yaml.Unmarshal([]byte(s), &md) != nil || md["case"] != "pwd" {
				t.Errorf("metadata %#v is not a YAML string", c["metadata"])
			}
		}},
		{name: "suite detail", path: fmt.Sprintf("/api/v0.2/jobs/%d/suites/%d/", l.pub, l.suite), status: 200, check: func(t *testing.T, r reply) {
			if field(t, r, "name") != "0_smoke" {
				t.Errorf("%s", r.body)
			}
		}},
		{name: "suite csv", path: fmt.Sprintf("/api/v0.2/jobs/%d/suites/%d/csv/", l.pub, l.suite), status: 200, check: func(t *testing.T, r reply) {
			rows, err := resultexport.ParseCSV(strings.NewReader(string(r.body)))
			if err != nil || len(rows) != 2 || r.header.Get("Content-Disposition") != "attachment; filename=suite_0_smoke.csv" {
				t.Errorf("csv %s %v (%v)", r.body, r.header, err)
			}
		}},
		{name: "suite yaml paged", path: fmt.Sprintf("/api/v0.2/jobs/%d/suites/%d/yaml/?limit=1&offset=1", l.pub, l.suite), status: 200, check: func(t *testing.T, r reply) {
			var cases []map[string]any
			if err := yaml.Unmarshal(r.body, &cases); err != nil || len(cases) != 1 || cases[0]["name"] != "uname" {
				t.Errorf("yaml %s (%v)", r.body, err)
			}
		}},
		{name: "suite test detail in another suite is 404", path: fmt.Sprintf("/api/v0.2/jobs/%d/suites/%d/tests/%d/", l.pub, l.suite, l.suite-1), status: 404},
		{name: "suite unknown", path: jp("/api/v0.2/jobs/%d/suites/999999/tests/"), status: 404},
		{name: "tests of the job", path: jp("/api/v0.2/jobs/%d/tests/"), status: 200, check: wantNames("name", "job", "pwd", "uname")},
		{name: "test detail", path: fmt.Sprintf("/api/v0.2/jobs/%d/tests/%d/", l.pub, l.caseFail), status: 200, check: func(t *testing.T, r reply) {
			if field(t, r, "result") != "fail" || field(t, r, "measurement") != nil {
				t.Errorf("case %s", r.body)
			}
			// lava-api parses these strictly: logged set, metadata a YAML
			// string with definition, case and result.
			var md map[string]any
			if s, ok := field(t, r, "metadata").(string); !ok || yaml.Unmarshal([]byte(s), &md) != nil ||
				md["definition"] != "0_smoke" || md["case"] != "uname" || md["result"] != "fail" {
				t.Errorf("metadata %v", field(t, r, "metadata"))
			}
			if l, _ := field(t, r, "logged").(string); !strings.HasSuffix(l, "Z") {
				t.Errorf("logged %q", l)
			}
		}},
		{name: "junit", path: jp("/api/v0.2/jobs/%d/junit/"), status: 200, check: func(t *testing.T, r reply) {
			var doc struct {
				Tests    int `xml:"tests,attr"`
				Failures int `xml:"failures,attr"`
			}
			if err := xml.Unmarshal(r.body, &doc); err != nil || doc.Tests != 3 || doc.Failures != 1 || !strings.Contains(string(r.body), "line 3") {
				t.Errorf("junit %s (%v)", r.body, err)
			}
		}},
		{name: "tap13", path: jp("/api/v0.2/jobs/%d/tap13/"), status: 200, check: func(t *testing.T, r reply) {
			if !strings.HasPrefix(string(r.body), "TAP version 13\n1..3\n") || !strings.Contains(string(r.body), "not ok 3 uname") {
				t.Errorf("tap13 %s", r.body)
			}
		}},
		{name: "csv", path: jp("/api/v0.2/jobs/%d/csv/?limit=2&offset=1"), status: 200, check: func(t *testing.T, r reply) {
			rows, err := resultexport.ParseCSV(strings.NewReader(string(r.body)))
			if err != nil || len(rows) != 2 || rows[0]["name"] != "pwd" {
				t.Errorf("csv %s (%v)", r.body, err)
			}
		}},
		{name: "yaml", path: jp("/api/v0.2/jobs/%d/yaml/"), status: 200, check: func(t *testing.T, r reply) {
			var cases []map[string]any
			if err := yaml.Unmarshal(r.body, &cases); err != nil || len(cases) != 3 || cases[1]["log_start_line"] != "1" {
				t.Errorf("yaml %s (%v)", r.body, err)
			}
		}},
		{name: "job PUT not allowed", method: "PUT", path: jp("/api/v0.2/jobs/%d/"), user: "admin", body: map[string]any{}, status: 405},
	})
}

func TestSubmitCancelResubmit(t *testing.T) {
	e := newEnv(t)
	var first float64
	e.run(t, []restCase{
		{name: "submit JSON", method: "POST", path: "/api/v0.2/jobs/", user: "alice", body: map[string]any{"definition": jobDef(t, "j", "public")}, status: 201,
			check: func(t *testing.T, r reply) {
				m := r.json(t)
				ids, _ := m["job_ids"].([]any)
				if m["message"] != "job(s) successfully submitted" || len(ids) != 1 {
					t.Fatalf("submit %s", r.body)
				}
				first = ids[0].(float64)
			}},
		{name: "submit form", method: "POST", path: "/api/v0.2/jobs", user: "alice", body: url.Values{"definition": {jobDef(t, "j", "public")}}, status: 201},
		{name: "submit multinode", method: "POST", path: "/api/v0.2/jobs/", user: "alice", body: map[string]any{"definition": readFile(t, "testdata/multinode.yaml")}, status: 201,
			check: func(t *testing.T, r reply) {
				ids, _ := field(t, r, "job_ids").([]any)
				if len(ids) != 2 || !strings.HasSuffix(fmt.Sprint(ids[0]), ".0") || !strings.HasSuffix(fmt.Sprint(ids[1]), ".1") {
					t.Errorf("job_ids %v, want sub_id strings", ids)
				}
			}},
		{name: "submit without definition", method: "POST", path: "/api/v0.2/jobs/", user: "alice", body: map[string]any{}, status: 400,
			check: func(t *testing.T, r reply) {
				if fmt.Sprint(field(t, r, "definition")) != "[This field is required.]" {
					t.Errorf("%s", r.body)
				}
			}},
		{name: "submit invalid", method: "POST", path: "/api/v0.2/jobs/", user: "alice", body: map[string]any{"definition": "job_name: x\n"}, status: 400,
			check: func(t *testing.T, r reply) {
				if !strings.HasPrefix(fmt.Sprint(field(t, r, "message")), "Problem with submitted job data: ") {
					t.Errorf("%s", r.body)
				}
			}},
		{name: "submit unknown type", method: "POST", path: "/api/v0.2/jobs/", user: "alice",
			body: map[string]any{"definition": strings.Replace(jobDef(t, "x", "public"), "device_type: qemu", "device_type: nope", 1)}, status: 400,
			check: func(t *testing.T, r reply) {
				if field(t, r, "message") != "Specified device or device type not found." {
					t.Errorf("%s", r.body)
				}
			}},
		{name: "validate invalid", method: "POST", path: "/api/v0.2/jobs/validate/", body: map[string]any{"definition": "job_name: x\n"}, status: 200,
			check: func(t *testing.T, r reply) {
				if !strings.HasPrefix(fmt.Sprint(field(t, r, "message")), "Job invalid: ") {
					t.Errorf("%s", r.body)
				}
			}},
		{name: "validate missing", method: "POST", path: "/api/v0.2/jobs/validate/", body: map[string]any{}, status: 400},
	})
	id := int64(first)
	e.run(t, []restCase{
		{name: "cancel by another user is 403", path: fmt.Sprintf("/api/v0.2/jobs/%d/cancel/", id), user: "bob", status: 403},
		{name: "cancel anonymous GET is 403", path: fmt.Sprintf("/api/v0.2/jobs/%d/cancel/", id), status: 403},
		{name: "cancel anonymous POST is 403", method: "POST", path: fmt.Sprintf("/api/v0.2/jobs/%d/cancel", id), status: 403},
		{name: "cancel POST without slash", method: "POST", path: fmt.Sprintf("/api/v0.2/jobs/%d/cancel", id), user: "alice", status: 200,
			check: func(t *testing.T, r reply) {
				if field(t, r, "message") != "Job cancel signal sent." {
					t.Errorf("%s", r.body)
				}
			}},
		{name: "state canceled", path: fmt.Sprintf("/api/v0.2/jobs/%d", id), status: 200, check: func(t *testing.T, r reply) {
			if field(t, r, "health") != "Canceled" || field(t, r, "state") != "Finished" {
				t.Errorf("%s", r.body)
			}
		}},
		{name: "cancel again GET is fine for anyone", path: fmt.Sprintf("/api/v0.2/jobs/%d/cancel/", id), user: "bob", status: 200},
		{name: "cancel unknown", path: "/api/v0.2/jobs/999999/cancel/", user: "alice", status: 404},
		{name: "resubmit POST without slash", method: "POST", path: fmt.Sprintf("/api/v0.2/jobs/%d/resubmit", id), user: "bob", status: 201},
		{name: "resubmit GET not allowed", path: fmt.Sprintf("/api/v0.2/jobs/%d/resubmit/", id), user: "bob", status: 405},
		{name: "batch cancel", method: "POST", path: "/api/v0.2/jobs/batch-cancel/", user: "alice", body: map[string]any{"job_ids": []any{id + 1, 999999}}, status: 200,
			check: func(t *testing.T, r reply) {
				if fmt.Sprint(field(t, r, "job_ids")) != fmt.Sprintf("[%d]", id+1) || fmt.Sprint(field(t, r, "invalid_job_ids")) != "[999999]" {
					t.Errorf("%s", r.body)
				}
			}},
	})
}

func readFile(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	must(t, err)
	return string(b)
}

func TestDevicesAndMore(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	hc, err := e.st.ScheduleHealthCheck(ctx, store.NewJob{Definition: "job_name: hc\n", Submitter: "admin", DeviceType: "qemu", HealthCheck: true}, "qemu01")
	must(t, err)
	if _, ok, err := e.st.ClaimJob(ctx, "w1", time.Now()); err != nil || !ok {
		t.Fatalf("ClaimJob = %v, %v", ok, err)
	}
	must(t, e.st.FinishJob(ctx, hc, store.Finish{Health: store.JobComplete, DeviceHealth: store.HealthGood}, time.Now()))
	e.run(t, []restCase{
		{name: "huge limit and offset", path: "/api/v0.2/devices/?limit=9223372036854775807&offset=9223372036854775807", status: 200},
		{name: "huge limit", path: "/api/v0.2/jobs/?limit=9223372036854775807", status: 200},
		{name: "devices hide retired", path: "/api/v0.2/devices/", status: 200, check: wantNames("hostname", "qemu01", "qemu02")},
		{name: "devices all", path: "/api/v0.2/devices/?all=1", status: 200, check: wantNames("hostname", "old01", "qemu01", "qemu02")},
		{name: "devices without slash", path: "/api/v0.2/devices?limit=1", status: 200, check: func(t *testing.T, r reply) {
			if len(results(t, r)) != 1 || field(t, r, "next") == nil {
				t.Errorf("%s", r.body)
			}
		}},
		{name: "devices by health, any case", path: "/api/v0.2/devices/?health=good&worker_host=w1", status: 200, check: wantNames("hostname", "qemu01")},
		{name: "devices by health, none", path: "/api/v0.2/devices/?health=GOOD&worker_host=w2", status: 200, check: wantNames("hostname")},
		{name: "devices by tag", path: "/api/v0.2/devices/?tags__name=kvm", status: 200, check: wantNames("hostname", "qemu01")},
		{name: "devices ordering", path: "/api/v0.2/devices/?ordering=-hostname", status: 200, check: wantNames("hostname", "qemu02", "qemu01")},
		{name: "device detail", path: "/api/v0.2/devices/qemu01/", status: 200, check: func(t *testing.T, r reply) {
			m := r.json(t)
			if m["device_type"] != "qemu" || m["health"] != "Good" || m["state"] != "Idle" || m["worker_host"] != "w1" || m["last_health_report_job"] != float64(hc) ||
				fmt.Sprint(m["tags"]) != fmt.Sprint([]any{float64(NameID("tag", "kvm"))}) {
				t.Errorf("device %v", m)
			}
		}},
		{name: "device unknown", path: "/api/v0.2/devices/nope/", status: 404},
		{name: "dictionary", path: "/api/v0.2/devices/qemu01/dictionary/", status: 200, check: func(t *testing.T, r reply) {
			if string(r.body) != qemuDict || r.header.Get("Content-Type") != "text/plain" {
				t.Errorf("%q %v", r.body, r.header)
			}
		}},
		{name: "dictionary rendered", path: "/api/v0.2/devices/qemu01/dictionary/?render=1&context=" + url.QueryEscape("{arch: amd64}"), status: 200, check: func(t *testing.T, r reply) {
			var cfg map[string]any
			if err := yaml.Unmarshal(r.body, &cfg); err != nil || cfg["hostname"] != "qemu01" {
				t.Errorf("rendered %s (%v)", r.body, err)
			}
		}},
		{name: "dictionary absent is 400", path: "/api/v0.2/devices/qemu02/dictionary/", status: 400},
		{name: "dictionary set", method: "POST", path: "/api/v0.2/devices/qemu02/dictionary/", user: "admin", body: url.Values{"dictionary": {qemuDict}}, status: 200},
		{name: "dictionary now set", path: "/api/v0.2/devices/qemu02/dictionary", status: 200},
		{name: "set_health", method: "POST", path: "/api/v0.2/devices/qemu02/set_health/", user: "admin", body: map[string]any{"health": "maintenance", "reason": "rack move"}, status: 202},
		{name: "health changed", path: "/api/v0.2/devices/qemu02/", status: 200, check: func(t *testing.T, r reply) {
			if field(t, r, "health") != "Maintenance" {
				t.Errorf("%s", r.body)
			}
		}},
		{name: "set_health bad", method: "POST", path: "/api/v0.2/devices/qemu02/set_health/", user: "admin", body: map[string]any{"health": "sleepy"}, status: 400},
		{name: "device validate good", method: "POST", path: "/api/v0.2/devices/validate/", user: "admin", body: qemuDict, status: 200, check: func(t *testing.T, r reply) {
			if field(t, r, "message") != "Device dictionary valid." {
				t.Errorf("%s", r.body)
			}
		}},
		{name: "device validate bad", method: "POST", path: "/api/v0.2/devices/validate/", user: "admin", body: "{% extends 'nope.jinja2' %}", status: 200, check: func(t *testing.T, r reply) {
			if !strings.HasPrefix(fmt.Sprint(field(t, r, "message")), "Device dictionary invalid: ") {
				t.Errorf("%s", r.body)
			}
		}},
		{name: "device types", path: "/api/v0.2/devicetypes/", status: 200, check: func(t *testing.T, r reply) {
			rs := results(t, r)
			if len(rs) != 2 || rs[1]["name"] != "qemu" || fmt.Sprint(rs[1]["aliases"]) != "[q]" || rs[1]["health_denominator"] != "hours" {
				t.Errorf("%s", r.body)
			}
		}},
		{name: "device type template", path: "/api/v0.2/devicetypes/qemu/template/", status: 200, check: func(t *testing.T, r reply) {
			if !strings.Contains(string(r.body), "qemu") || r.header.Get("Content-Disposition") != "attachment; filename=qemu.jinja2" {
				t.Errorf("%s", r.body)
			}
		}},
		{name: "device type template set", method: "POST", path: "/api/v0.2/devicetypes/bbb/template/", user: "admin", body: url.Values{"template": {"{% extends 'base.jinja2' %}"}}, status: 204},
		{name: "device type template set by a user", method: "POST", path: "/api/v0.2/devicetypes/bbb/template/", user: "alice", body: url.Values{"template": {"x"}}, status: 403,
			check: detailIs("Insufficient permissions. Please contact system administrator.")},
		{name: "health check", path: "/api/v0.2/devicetypes/qemu/health_check/", status: 200, check: func(t *testing.T, r reply) {
			if string(r.body) != "job_name: health check\n" {
				t.Errorf("%q", r.body)
			}
		}},
		{name: "health check absent is 400", path: "/api/v0.2/devicetypes/bbb/health_check/", status: 400},
		{name: "health check of an unknown type is 404", path: "/api/v0.2/devicetypes/nope/health_check/", status: 404},
		{name: "health check set", method: "POST", path: "/api/v0.2/devicetypes/bbb/health_check/", user: "admin", body: url.Values{"config": {"job_name: hc\n"}}, status: 204},
		{name: "health check set read back", path: "/api/v0.2/devicetypes/bbb/health_check", status: 200, check: func(t *testing.T, r reply) {
			if string(r.body) != "job_name: hc\n" {
				t.Errorf("%q", r.body)
			}
		}},
		{name: "health check set without config", method: "POST", path: "/api/v0.2/devicetypes/bbb/health_check/", user: "admin", body: url.Values{}, status: 400},
		{name: "device type unknown", path: "/api/v0.2/devicetypes/nope/", status: 404},
		{name: "workers", path: "/api/v0.2/workers/", status: 200, check: wantNames("hostname", "w1", "w2")},
		{name: "worker detail", path: "/api/v0.2/workers/w1/", status: 200, check: func(t *testing.T, r reply) {
			m := r.json(t)
			if m["state"] != "Offline" || m["health"] != "Active" {
				t.Errorf("%v", m)
			}
			if _, ok := m["token"]; ok {
				t.Errorf("worker shows a token")
			}
		}},
		{name: "worker config absent", path: "/api/v0.2/workers/w1/config/", status: 400},
		{name: "worker set_health", method: "POST", path: "/api/v0.2/workers/w2/set_health/", user: "admin", body: map[string]any{"health": "MAINTENANCE"}, status: 202},
		{name: "worker health changed", path: "/api/v0.2/workers/?health=Maintenance", status: 200, check: wantNames("hostname", "w2")},
		{name: "aliases", path: "/api/v0.2/aliases/", user: "alice", status: 200, check: func(t *testing.T, r reply) {
			rs := results(t, r)
			if len(rs) != 1 || rs[0]["name"] != "q" || rs[0]["device_type"] != "qemu" {
				t.Errorf("%s", r.body)
			}
		}},
		{name: "tags", path: "/api/v0.2/tags/", user: "alice", status: 200, check: func(t *testing.T, r reply) {
			rs := results(t, r)
			if len(rs) != 1 || rs[0]["name"] != "kvm" || rs[0]["id"] != float64(NameID("tag", "kvm")) {
				t.Errorf("%s", r.body)
			}
		}},
		{name: "tag detail", path: fmt.Sprintf("/api/v0.2/tags/%d/", NameID("tag", "kvm")), user: "alice", status: 200},
		{name: "master_config", path: "/api/v0.2/system/master_config/", status: 200, check: func(t *testing.T, r reply) {
			m := r.json(t)
			var keys []string
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if strings.Join(keys, ",") != "EVENT_NOTIFICATION,EVENT_SOCKET,EVENT_TOPIC,LOG_SIZE_LIMIT" {
				t.Errorf("%s", r.body)
			}
		}},
		{name: "token", method: "POST", path: "/api/v0.2/token/", body: url.Values{"username": {"alice"}, "password": {"pw-alice"}}, status: 200},
		{name: "token v0.3 JSON", method: "POST", path: "/api/v0.3/token/", body: map[string]any{"username": "alice", "password": "pw-alice"}, status: 200},
		{name: "token wrong password", method: "POST", path: "/api/v0.2/token/", body: map[string]any{"username": "alice", "password": "x"}, status: 400},
	})
	t.Run("token works", func(t *testing.T) {
		r := e.do("POST", "/api/v0.2/token/", "", map[string]any{"username": "bob", "password": "pw-bob"})
		tok, _ := field(t, r, "token").(string)
		r = e.do("GET", "/api/v0.2/system/whoami/", "", nil, "Authorization", "token "+tok)
		if field(t, r, "user") != "bob" {
			t.Errorf("whoami with the new token = %s", r.body)
		}
	})
	t.Run("device log keeps the reason", func(t *testing.T) {
		log, err := e.st.DeviceLog(context.Background(), "qemu02", 1)
		if err != nil || len(log) != 1 || log[0].Reason != "rack move" || log[0].By != "admin" {
			t.Errorf("device log %+v, %v", log, err)
		}
	})
}
