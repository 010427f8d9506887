package web

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/logstore"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/sqlite"
	"github.com/basalt-lava/basalt/internal/webauth"
)

var updateLists = flag.Bool("update-lists", false, "rewrite the list pages' golden files under testdata/")

// listSite is the web handler over a real SQLite store and lab, with
// users alice, bob (in group "lab") and the superuser root.
type listSite struct {
	st   store.Store
	lab  *lab.Lab
	auth *webauth.Auth
	h    http.Handler
}

func newListSite(t testing.TB) *listSite {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "basalt.db"))
	listMust(t, err)
	t.Cleanup(func() { st.Close() })
	logs, err := logstore.Open(filepath.Join(dir, "logs"), logstore.Options{})
	listMust(t, err)
	t.Cleanup(func() { logs.Close() })
	for _, u := range []struct {
		name  string
		super bool
	}{{"alice", false}, {"bob", false}, {"root", true}} {
		_, err := st.CreateUser(ctx, u.name, "pw-"+u.name, u.super)
		listMust(t, err)
	}
	listMust(t, st.CreateGroup(ctx, "lab"))
	listMust(t, st.AddGroupMember(ctx, "lab", "bob"))
	l, err := lab.New(lab.Config{Store: st, Logs: logs, DataDir: dir})
	listMust(t, err)
	auth := webauth.New(st, []byte(strings.Repeat("k", 32)))
	logger := slog.New(slog.NewTextHandler(listLogWriter{t}, nil))
	h, err := New(Config{Store: st, Logs: logs, Lab: l, Auth: auth, DataDir: dir, Logger: logger})
	listMust(t, err)
	return &listSite{st: st, lab: l, auth: auth, h: h}
}

// listLogWriter sends the pages' log to the test's.
type listLogWriter struct{ t testing.TB }

func (w listLogWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func listMust(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// session returns the cookie of user's login.
func (s *listSite) session(t testing.TB, user string) *http.Cookie {
	t.Helper()
	u, err := s.st.User(context.Background(), user)
	listMust(t, err)
	rec := httptest.NewRecorder()
	s.auth.Login(rec, httptest.NewRequest("GET", "/", nil), u)
	for _, c := range rec.Result().Cookies() {
		if c.Name == webauth.CookieName {
			return c
		}
	}
	t.Fatalf("no session cookie for %s", user)
	return nil
}

// get fetches path as user ("" anonymous).
func (s *listSite) get(t testing.TB, user, path string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	if user != "" {
		r.AddCookie(s.session(t, user))
	}
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, r)
	return rec
}

var listRowRE = regexp.MustCompile(`<tr class="job-row" data-job-id="(\d+)"`)

// listRowIDs are the ids of the job rows of a page, in order.
func listRowIDs(body string) []int64 {
	var out []int64
	for _, m := range listRowRE.FindAllStringSubmatch(body, -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		out = append(out, n)
	}
	return out
}

// listJobs stores the jobs of the list tests and returns their ids: 30
// public jobs of alice on qemu (every third finished Incomplete, every
// fifth on bbb), then a personal job of bob, a group job of alice for
// "lab", and a MultiNode pair of alice.
type listJobs struct {
	public             []int64
	personal, groupJob int64
	multinode          []int64
}

func (s *listSite) addJobs(t *testing.T) listJobs {
	t.Helper()
	ctx := context.Background()
	st := s.st
	listMust(t, st.PutDeviceType(ctx, store.DeviceType{Name: "qemu", Display: true}))
	listMust(t, st.PutDeviceType(ctx, store.DeviceType{Name: "bbb", Display: true}))
	_, err := st.CreateWorker(ctx, "w1", "")
	listMust(t, err)
	listMust(t, st.CreateDevice(ctx, store.Device{Name: "qemu-01", DeviceType: "qemu", Worker: "w1"}))
	var js listJobs
	var news []store.NewJob
	for i := 0; i < 30; i++ {
		dt := "qemu"
		if i%5 == 4 {
			dt = "bbb"
		}
		news = append(news, store.NewJob{Submitter: "alice", DeviceType: dt, Priority: 50, Description: fmt.Sprintf("smoke %02d", i)})
	}
	ids, err := st.Submit(ctx, news)
	listMust(t, err)
	js.public = ids
	for i, id := range ids {
		if i%3 != 0 {
			continue
		}
		_, err := st.CancelJob(ctx, id, time.Now())
		listMust(t, err)
	}
	// ids[1] ran on qemu-01 and failed with an infrastructure error, with
	// results; ids[2] ran and failed with a job error.
	listMust(t, st.Schedule(ctx, []store.Assignment{{Job: ids[1], Device: "qemu-01"}}))
	listMust(t, st.FinishJob(ctx, ids[1], store.Finish{Health: store.JobIncomplete, ErrorClass: "Infrastructure", ErrorMsg: "power <off>",
		Results: []store.Result{{Suite: "lava", Case: "job", Result: "fail"}, {Suite: "t", Case: "a", Result: "pass"},
			{Suite: "t", Case: "b", Result: "pass"}, {Suite: "t", Case: "c", Result: "fail"}}}, time.Now()))
	listMust(t, st.Schedule(ctx, []store.Assignment{{Job: ids[2], Device: "qemu-01"}}))
	listMust(t, st.FinishJob(ctx, ids[2], store.Finish{Health: store.JobIncomplete, ErrorClass: "Job", ErrorMsg: "bad url"}, time.Now()))

	p, err := st.Submit(ctx, []store.NewJob{{Submitter: "bob", DeviceType: "qemu", Visibility: store.VisibilityPersonal, Description: "bob's secret"}})
	listMust(t, err)
	js.personal = p[0]
	g, err := st.Submit(ctx, []store.NewJob{{Submitter: "alice", DeviceType: "qemu", Visibility: store.VisibilityGroup, VisibleGroups: []string{"lab"}, Description: "for the lab"}})
	listMust(t, err)
	js.groupJob = g[0]
	js.multinode, err = st.Submit(ctx, []store.NewJob{
		{Submitter: "alice", DeviceType: "qemu", Group: "mn1", SubID: 0, Description: "mn"},
		{Submitter: "alice", DeviceType: "qemu", Group: "mn1", SubID: 1, Description: "mn"},
	})
	listMust(t, err)
	return js
}

func newestFirst(ids ...int64) []int64 {
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[len(ids)-1-i] = id
	}
	return out
}

func TestJobListFiltersAndPaging(t *testing.T) {
	s := newListSite(t)
	js := s.addJobs(t)
	pub := js.public
	// What anonymous sees of /scheduler/alljobs, newest first: the
	// MultiNode pair, then the 30 public jobs.
	all := append(newestFirst(js.multinode...), newestFirst(pub...)...)

	for _, c := range []struct {
		name, user, path string
		want             []int64
	}{
		{"first page", "", "/scheduler/alljobs", all[:25]},
		{"with the slash", "", "/scheduler/alljobs/", all[:25]},
		{"second page", "", "/scheduler/alljobs?page=2", all[25:]},
		{"past the end is the last page", "", "/scheduler/alljobs?page=9", all[25:]},
		{"page size", "", "/scheduler/alljobs?length=5&page=2", all[5:10]},
		{"state", "", "/scheduler/alljobs?state=Finished&length=100",
			newestFirst(pub[0], pub[1], pub[2], pub[3], pub[6], pub[9], pub[12], pub[15], pub[18], pub[21], pub[24], pub[27])},
		{"health", "", "/scheduler/alljobs?health=Incomplete", newestFirst(pub[1], pub[2])},
		{"device type", "", "/scheduler/alljobs?device_type=bbb", newestFirst(pub[4], pub[9], pub[14], pub[19], pub[24], pub[29])},
		{"device", "", "/scheduler/alljobs?device=qemu-01", newestFirst(pub[1], pub[2])},
		{"search", "", "/scheduler/alljobs?search=SMOKE+1", newestFirst(pub[10:20]...)},
		{"search an id", "", "/scheduler/alljobs?search=" + strconv.FormatInt(js.multinode[0], 10), []int64{js.multinode[0]}},
		{"filters together", "", "/scheduler/alljobs?device_type=bbb&state=Finished", newestFirst(pub[9], pub[24])},
		{"an unknown state matches nothing", "", "/scheduler/alljobs?state=Lost", nil},
		{"a device type no longer there", "", "/scheduler/alljobs?device_type=gone", nil},
		{"submitter", "", "/scheduler/alljobs?submitter=bob", nil},
		{"bob sees his personal job and the lab's", "bob", "/scheduler/alljobs?submitter=bob", []int64{js.personal}},
		{"bob, a member of lab, sees the group job", "bob", "/scheduler/alljobs?search=for+the+lab", []int64{js.groupJob}},
		{"alice does not see bob's personal job", "alice", "/scheduler/alljobs?submitter=bob", nil},
		{"anonymous does not see the group job", "", "/scheduler/alljobs?search=for+the+lab", nil},
		{"a superuser sees everything", "root", "/scheduler/alljobs?length=3", []int64{js.multinode[1], js.multinode[0], js.groupJob}},
		{"active jobs", "", "/scheduler/activejobs", nil},
		{"queue", "", "/scheduler/queue?length=4", all[:4]},
		{"queue keeps to Submitted", "", "/scheduler/queue?state=Finished&device_type=bbb", newestFirst(pub[4], pub[14], pub[19], pub[29])},
		{"my jobs", "bob", "/scheduler/myjobs", []int64{js.personal}},
		{"my jobs ignore the submitter field", "bob", "/scheduler/myjobs?submitter=alice", []int64{js.personal}},
		{"job errors: LAVA's classes", "alice", "/scheduler/joberrors", []int64{pub[1]}},
		{"job errors: one class", "alice", "/scheduler/joberrors?error_class=job", []int64{pub[2]}},
		{"job errors: all", "alice", "/scheduler/joberrors?error_class=all", newestFirst(pub[1], pub[2])},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := s.get(t, c.user, c.path)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s as %q = %d, want 200:\n%s", c.path, c.user, rec.Code, rec.Body)
			}
			if diff := cmp.Diff(listRowIDs(rec.Body.String()), c.want); diff != "" {
				t.Errorf("GET %s as %q: job rows (-got +want):\n%s", c.path, c.user, diff)
			}
		})
	}
}

// TestJobRows: what a row shows (display ids, LAVA's labels, the test
// counts, the error class), the pager's links keeping the filters, and
// the refresh hook of the active lists; against a golden copy of the
// table with its times blanked.
func TestJobRows(t *testing.T) {
	s := newListSite(t)
	js := s.addJobs(t)
	rec := s.get(t, "", "/scheduler/alljobs?length=10&search=smoke&page=2")
	body := rec.Body.String()
	for _, want := range []string{
		`<a rel="prev" href="/scheduler/alljobs?length=10&amp;search=smoke">`,
		`<a rel="next" href="/scheduler/alljobs?length=10&amp;page=3&amp;search=smoke">`,
		`Showing 11–20 of 30 jobs`,
		`<option value="Finished">Finished</option>`,
		`<input type="hidden" name="length" value="10">`,
		`<input type="search" name="search" value="smoke"`,
		`<a href="/scheduler/alljobs" class="active" aria-current="page">All jobs</a><a href="/scheduler/activejobs">Active jobs</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("alljobs page 2 lacks %s", want)
		}
	}
	if b := s.get(t, "", "/scheduler/alljobs?device_type=gone").Body.String(); !strings.Contains(b, `<option value="gone" selected>gone</option>`) {
		t.Errorf("the device-type select does not show the type filtering the table")
	}
	if strings.Contains(body, "data-refresh") {
		t.Errorf("alljobs refreshes itself; only the active lists do")
	}
	if q := s.get(t, "", "/scheduler/queue").Body.String(); !strings.Contains(q, `<section id="list" data-refresh="10">`) || !strings.Contains(q, `<script src="/static/lists.js?v=`) {
		t.Errorf("the queue does not refresh itself")
	}
	if q := s.get(t, "", "/scheduler/queue").Body.String(); !strings.Contains(q, `<td class="col-inqueue" data-label="In queue">for `) {
		t.Errorf("the queue does not say how long each job has waited")
	}

	rec = s.get(t, "", "/scheduler/alljobs?length=100")
	body = rec.Body.String()
	for _, want := range []string{
		// MultiNode display ids, linking to the job's own id.
		fmt.Sprintf(`<a href="/scheduler/job/%d" title="Job summary">%d.1</a>`, js.multinode[1], js.multinode[0]),
		// The test counts outside the lava suite, linking to the results.
		fmt.Sprintf(`<a href="/results/%d"><span class="tests-pass">2 passed</span>, <span class="tests-fail">1 failed</span></a>`, js.public[1]),
		`<abbr title="power &lt;off&gt;">Infrastructure</abbr>`,
		`<span class="state badge st-incomplete">Incomplete</span>`,
		`<span class="state badge st-canceled">Canceled</span>`,
		`<span class="state badge st-submitted">Submitted</span>`,
		`<a href="/scheduler/device/qemu-01" title="Device summary">qemu-01</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("alljobs lacks %s", want)
		}
	}
	table := regexp.MustCompile(`(?s)<table id="job-table".*?</table>`).FindString(
		s.get(t, "", "/scheduler/alljobs?search=smoke+0&length=4").Body.String())
	table = regexp.MustCompile(`<time datetime="[^"]*">[^<]*</time>`).ReplaceAllString(table, "<time>T</time>")
	table = regexp.MustCompile(`data-label="Duration">[^<]*<`).ReplaceAllString(table, `data-label="Duration">D<`)
	listGolden(t, "testdata/alljobs-table.golden.html", table)
}

func listGolden(t *testing.T, path, got string) {
	t.Helper()
	if *updateLists {
		listMust(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	listMust(t, err)
	if diff := cmp.Diff(got, string(want)); diff != "" {
		t.Errorf("%s (-got +want; -update-lists rewrites it):\n%s", path, diff)
	}
}

func TestListLogin(t *testing.T) {
	s := newListSite(t)
	for _, path := range []string{"/scheduler/myjobs", "/scheduler/myjobs/", "/scheduler/joberrors"} {
		rec := s.get(t, "", path+"?state=Running")
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/accounts/login/?next="+url.QueryEscape(path+"?state=Running") {
			t.Errorf("GET %s anonymous = %d to %q, want 303 to the login page and back", path, rec.Code, rec.Header().Get("Location"))
		}
	}
	// A bad token header is anonymous on the pages (web.go's user): the
	// public jobs only.
	js := s.addJobs(t)
	r := httptest.NewRequest("GET", "/scheduler/alljobs?submitter=bob", nil)
	r.Header.Set("Authorization", "Token nope")
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK || len(listRowIDs(rec.Body.String())) != 0 {
		t.Errorf("GET alljobs with an invalid token = %d, rows %v; want 200 and not bob's personal job %d", rec.Code, listRowIDs(rec.Body.String()), js.personal)
	}
}

func TestHealthPages(t *testing.T) {
	s := newListSite(t)
	ctx := context.Background()
	js := s.addJobs(t)
	st := s.st
	listMust(t, st.CreateDevice(ctx, store.Device{Name: "qemu-02", DeviceType: "qemu", Worker: "w1"}))
	listMust(t, st.CreateDevice(ctx, store.Device{Name: "bbb-01", DeviceType: "bbb", Worker: "w1"}))
	listMust(t, st.CreateDevice(ctx, store.Device{Name: "old-01", DeviceType: "bbb"}))
	listMust(t, st.SetDeviceHealth(ctx, "old-01", store.HealthRetired))
	listMust(t, st.SetDeviceHealth(ctx, "bbb-01", store.HealthBad))
	hc, err := st.ScheduleHealthCheck(ctx, store.NewJob{Submitter: lab.HealthUser, DeviceType: "qemu", Description: "qemu health check"}, "qemu-01")
	listMust(t, err)
	listMust(t, st.FinishJob(ctx, hc, store.Finish{Health: store.JobComplete, DeviceHealth: store.HealthGood}, time.Now()))
	hc2, err := st.ScheduleHealthCheck(ctx, store.NewJob{Submitter: lab.HealthUser, DeviceType: "qemu", Description: "qemu health check"}, "qemu-02")
	listMust(t, err)

	if got := listRowIDs(s.get(t, "", "/scheduler/healthcheck").Body.String()); !cmp.Equal(got, []int64{hc2, hc}) {
		t.Errorf("healthcheck rows = %v, want %v", got, []int64{hc2, hc})
	}
	if got := listRowIDs(s.get(t, "", "/scheduler/healthcheck/?state=Finished").Body.String()); !cmp.Equal(got, []int64{hc}) {
		t.Errorf("healthcheck Finished rows = %v, want %v", got, []int64{hc})
	}

	for _, c := range []struct {
		path string
		want []int64
	}{
		{"/scheduler/labhealth/device/qemu-01", []int64{hc}},
		{"/scheduler/labhealth/device/qemu-02/", []int64{hc2}},
		{"/scheduler/labhealth/device/qemu-01?device=qemu-02", []int64{hc}},
		{"/scheduler/labhealth/device/bbb-01", nil},
	} {
		rec := s.get(t, "", c.path)
		if got := listRowIDs(rec.Body.String()); rec.Code != http.StatusOK || !cmp.Equal(got, c.want) {
			t.Errorf("GET %s = %d, rows %v; want 200, %v", c.path, rec.Code, got, c.want)
		}
	}
	if rec := s.get(t, "", "/scheduler/labhealth/device/nope"); rec.Code != http.StatusNotFound {
		t.Errorf("GET the health checks of an unknown device = %d, want 404", rec.Code)
	}

	body := s.get(t, "", "/scheduler/labhealth").Body.String()
	devs := regexp.MustCompile(`data-device="([^"]+)"`).FindAllStringSubmatch(body, -1)
	var names []string
	for _, m := range devs {
		names = append(names, m[1])
	}
	if diff := cmp.Diff(names, []string{"bbb-01", "qemu-01", "qemu-02"}); diff != "" {
		t.Errorf("labhealth devices (-got +want), the retired one left out:\n%s", diff)
	}
	for _, want := range []string{
		fmt.Sprintf(`<a href="/scheduler/job/%d">%d</a> <span class="state badge st-complete">Complete</span>`, hc, hc),
		`<span class="health badge st-bad">Bad</span>`,
		`<span class="health badge st-good">Good</span>`,
		`<a href="/scheduler/labhealth/device/qemu-01">health checks</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("labhealth lacks %s", want)
		}
	}
	body = s.get(t, "", "/scheduler/labhealth/?health=Bad").Body.String()
	if !strings.Contains(body, `data-device="bbb-01"`) || strings.Contains(body, `data-device="qemu-01"`) {
		t.Errorf("labhealth?health=Bad does not show bbb-01 alone")
	}
	body = s.get(t, "", "/scheduler/labhealth?search=QEMU&length=1&page=2").Body.String()
	if !strings.Contains(body, `data-device="qemu-02"`) || !strings.Contains(body, `<a rel="prev" href="/scheduler/labhealth?length=1&amp;search=QEMU">`) {
		t.Errorf("labhealth search and paging: %s", body)
	}

	// Running: qemu has qemu-01 idle and qemu-02 reserved for its health
	// check; the queue holds the public Submitted jobs and the hidden ones.
	body = s.get(t, "", "/scheduler/running/").Body.String()
	row := regexp.MustCompile(`(?s)<tr class="type-row" data-device-type="qemu">.*?</tr>`).FindString(body)
	queued := 0
	for _, id := range append(append([]int64{js.personal, js.groupJob}, js.multinode...), js.public...) {
		j, err := st.Job(ctx, id)
		listMust(t, err)
		if j.State == store.JobSubmitted && j.DeviceType == "qemu" {
			queued++
		}
	}
	for _, want := range []string{
		`data-label="Devices">2<`, `data-label="Idle">1<`, `data-label="Reserved">1<`, `data-label="Running">0<`,
		fmt.Sprintf(`<a href="/scheduler/queue?device_type=qemu">%d</a>`, queued), `every 24 hours`,
	} {
		if !strings.Contains(row, want) {
			t.Errorf("running's qemu row lacks %s:\n%s", want, row)
		}
	}
}
