package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
)

// TestDevicePage: the device page of the test site's qemu-01 shows what
// LAVA's does, at both slash forms; an unknown device is a 404.
func TestDevicePage(t *testing.T) {
	ts := newTestSite(t)
	ctx := context.Background()
	if err := ts.st.UpdateDevice(ctx, "qemu-01", store.DeviceUpdate{Tags: &[]string{"usb", "big"}, Description: devPtr("rack 3 <b>"), PhysicalOwner: devPtr("alice")}); err != nil {
		t.Fatal(err)
	}
	if err := ts.st.CreateDevice(ctx, store.Device{Name: "qemu-02", DeviceType: "qemu"}); err != nil {
		t.Fatal(err)
	}
	if err := ts.st.ChangeDeviceHealth(ctx, "qemu-01", store.HealthMaintenance, store.Change{By: "admin", Reason: "new cable"}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/scheduler/device/qemu-01", "/scheduler/device/qemu-01/"} {
		wantBody(t, ts.get(t, path, ""), http.StatusOK,
			`<h1>qemu-01 <span class="badge dh-warning dv-page-health" id="device-health">Maintenance</span></h1>`,
			`<a href="/scheduler/device_type/qemu">qemu</a>`,
			`<a href="/scheduler/worker/w1" id="device-worker" class="tone-danger" title="worker offline">w1</a>`,
			`<span class="dv-tag">big</span>, <span class="dv-tag">usb</span>`,
			`<dd id="device-state">Maintenance</dd>`,
			`<dd id="device-health-reason">Good → Maintenance (new cable)</dd>`,
			`<dt>Configuration</dt><dd id="device-dict-status"><a id="device-dict-link" href="/scheduler/device/qemu-01/devicedict">Device Dictionary</a> <span class="tone-success">valid</span>, extends <code>qemu.jinja2</code>`,
			`rack 3 &lt;b&gt;`,
			`<a id="next-device" href="/scheduler/device/qemu-02">qemu-02 &rarr;</a>`,
			`<td>admin</td><td>Good → Maintenance (new cable)</td>`,
			`id="all-device-jobs" href="/scheduler/alljobs?device=qemu-01"`,
		)
	}
	rec := ts.get(t, "/scheduler/device/qemu-01", "")
	if strings.Contains(rec.Body.String(), `id="health-form"`) || strings.Contains(rec.Body.String(), `id="prev-device"`) {
		t.Errorf("anonymous device page has the health form or a previous device")
	}
	wantBody(t, ts.get(t, "/scheduler/device/qemu-02", ""), http.StatusOK,
		`<a id="prev-device" href="/scheduler/device/qemu-01">`, `id="no-worker"`, `<span class="tone-danger">none</span>`)
	wantBody(t, ts.get(t, "/scheduler/device/nope", ""), http.StatusNotFound, "device nope not found")

	// A broken dictionary is said on the page.
	if err := ts.st.SetDictionary(ctx, "qemu-02", "{% extends 'no-such.jinja2' %}"); err != nil {
		t.Fatal(err)
	}
	wantBody(t, ts.get(t, "/scheduler/device/qemu-02/", ""), http.StatusOK, `id="config-error"`, `<span class="tone-danger">invalid</span>`, "no-such.jinja2")
}

func devPtr[T any](v T) *T { return &v }

// TestDeviceRecentJobs: the recent jobs are the device's, newest first,
// without the jobs the viewer may not see; the current job is named in
// the state.
func TestDeviceRecentJobs(t *testing.T) {
	ts := newTestSite(t)
	ctx := context.Background()
	public := ts.submit(t, store.NewJob{Description: "public job"})
	private := ts.submit(t, store.NewJob{Description: "private job", Visibility: store.VisibilityPersonal})
	ts.submit(t, store.NewJob{Description: "never placed"})
	for _, j := range []store.Job{public, private} {
		if err := ts.st.Schedule(ctx, []store.Assignment{{Job: j.ID, Device: "qemu-01"}}); err != nil {
			t.Fatal(err)
		}
		if j.ID == public.ID {
			if err := ts.st.FinishJob(ctx, j.ID, store.Finish{Health: store.JobComplete}, public.Submitted); err != nil {
				t.Fatal(err)
			}
		}
	}
	anon := ts.get(t, "/scheduler/device/qemu-01", "").Body.String()
	if !strings.Contains(anon, "public job") || strings.Contains(anon, "private job") || strings.Contains(anon, "never placed") {
		t.Errorf("anonymous recent jobs: want the public job only:\n%s", anon)
	}
	wantBody(t, ts.get(t, "/scheduler/device/qemu-01", "alice"), http.StatusOK,
		`<dd id="device-state">Reserved — reserved for <a href="/scheduler/job/2">#2</a> private job`, "public job")
}

// TestDeviceHealthChange: a superuser sets the health with a reason (in
// the transitions, by them); others are refused; the CSRF token is
// needed.
func TestDeviceHealthChange(t *testing.T) {
	ts := newTestSite(t)
	ctx := context.Background()
	wantBody(t, ts.get(t, "/scheduler/device/qemu-01", "admin"), http.StatusOK, `id="health-form"`, `<option>Maintenance</option>`, `id="no-health-check"`)
	// form is new each time: post adds the session's CSRF token to it.
	form := func() url.Values { return url.Values{"health": {"maintenance"}, "reason": {"swap the <SD> card"}} }
	wantBody(t, ts.post(t, "/scheduler/device/qemu-01/health", "alice", form()), http.StatusForbidden, "administrator")
	wantBody(t, ts.post(t, "/scheduler/device/qemu-01/health", "", form()), http.StatusForbidden)
	forged := url.Values{"health": {"Bad"}, "csrf": {"forged"}}
	wantBody(t, ts.post(t, "/scheduler/device/qemu-01/health", "admin", forged), http.StatusForbidden, "CSRF")
	wantBody(t, ts.post(t, "/scheduler/device/qemu-01/health", "admin", url.Values{"health": {"Broken"}}), http.StatusBadRequest, "unknown device health")
	wantBody(t, ts.post(t, "/scheduler/device/nope/health/", "admin", form()), http.StatusNotFound)

	rec := ts.post(t, "/scheduler/device/qemu-01/health/", "admin", form())
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/scheduler/device/qemu-01" {
		t.Fatalf("health change: %d to %q, want 303 to the device page", rec.Code, rec.Header().Get("Location"))
	}
	d, err := ts.st.Device(ctx, "qemu-01")
	if err != nil || d.Health != store.HealthMaintenance {
		t.Fatalf("health after the change = %s, %v; want Maintenance", d.Health, err)
	}
	wantBody(t, ts.get(t, "/scheduler/device/qemu-01", ""), http.StatusOK,
		`<td>admin</td><td>Good → Maintenance (swap the &lt;SD&gt; card)</td>`)
}

// TestDeviceDictionary: the dictionary page shows the raw Jinja2, what it
// extends and the rendered YAML, line by line; plain is the YAML as an
// attachment; a device without a dictionary has none (404).
func TestDeviceDictionary(t *testing.T) {
	ts := newTestSite(t)
	ctx := context.Background()
	for _, path := range []string{"/scheduler/device/qemu-01/devicedict", "/scheduler/device/qemu-01/devicedict/"} {
		wantBody(t, ts.get(t, path, ""), http.StatusOK,
			`<dd id="dict-extends"><code>qemu.jinja2</code></dd>`,
			`<div class="code" id="dict-jinja">`,
			`<div class="line" id="jinja-L3"><a class="ln" href="#jinja-L3">3</a><code><span class="hl-tag">{% </span><span class="hl-kw">extends</span>`,
			`<div class="code" id="dict-yaml">`,
			`<span class="hl-key">hostname</span>: <span class="hl-str">&#34;qemu-01&#34;</span>`,
			`id="dict-plain" href="/scheduler/device/qemu-01/devicedict/plain"`,
		)
	}
	for _, path := range []string{"/scheduler/device/qemu-01/devicedict/plain", "/scheduler/device/qemu-01/devicedict/plain/"} {
		rec := ts.get(t, path, "")
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/yaml; charset=utf-8" ||
			rec.Header().Get("Content-Disposition") != `attachment; filename="qemu-01.yaml"` || !strings.Contains(rec.Body.String(), "hostname: \"qemu-01\"\n") {
			t.Errorf("%s: %d %q %q\n%.500s", path, rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Content-Disposition"), rec.Body.String())
		}
	}
	if err := ts.st.CreateDevice(ctx, store.Device{Name: "bare", DeviceType: "qemu"}); err != nil {
		t.Fatal(err)
	}
	wantBody(t, ts.get(t, "/scheduler/device/bare/devicedict", ""), http.StatusNotFound, "dictionary of device bare not found")
	wantBody(t, ts.get(t, "/scheduler/device/bare/devicedict/plain", ""), http.StatusNotFound)
	wantBody(t, ts.get(t, "/scheduler/device/nope/devicedict", ""), http.StatusNotFound)
}

// TestDeviceList: filters by type, health, state, worker and tag; retired
// devices only when asked.
func TestDeviceList(t *testing.T) {
	ts := newTestSite(t)
	ctx := context.Background()
	if err := ts.st.PutDeviceType(ctx, store.DeviceType{Name: "bbb"}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []store.Device{
		{Name: "bbb-01", DeviceType: "bbb", Worker: "w1", Tags: []string{"usb"}},
		{Name: "old-01", DeviceType: "qemu", Worker: "w1"},
	} {
		if err := ts.st.CreateDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := ts.st.SetDeviceHealth(ctx, "old-01", store.HealthRetired); err != nil {
		t.Fatal(err)
	}
	rows := func(query string) []string {
		t.Helper()
		rec := ts.get(t, "/scheduler/alldevices"+query, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d", query, rec.Code)
		}
		var out []string
		for _, name := range []string{"bbb-01", "old-01", "qemu-01"} {
			if strings.Contains(rec.Body.String(), `<tr id="device-`+name+`">`) {
				out = append(out, name)
			}
		}
		return out
	}
	for query, want := range map[string]string{
		"":                          "bbb-01 qemu-01",
		"/":                         "bbb-01 qemu-01",
		"?retired=1":                "bbb-01 old-01 qemu-01",
		"?health=Retired":           "old-01",
		"?device_type=qemu":         "qemu-01",
		"?health=good":              "qemu-01",
		"?state=Idle&tag=usb":       "bbb-01",
		"?worker=w1&health=Unknown": "bbb-01",
		"?worker=w2":                "",
	} {
		if got := strings.Join(rows(query), " "); got != want {
			t.Errorf("alldevices%s = %q, want %q", query, got, want)
		}
	}
	wantBody(t, ts.get(t, "/scheduler/alldevices", ""), http.StatusOK, `<span class="badge dh-success">Good</span>`, "2 of 3 devices (retired devices hidden)")
}

// TestDeviceTypes: the list counts devices as LAVA does; the type page
// shows its template with its origin, health checks, aliases, devices.
func TestDeviceTypes(t *testing.T) {
	ts := newTestSite(t)
	ctx := context.Background()
	if err := ts.st.PingWorker(ctx, "w1", devTimeNow()); err != nil {
		t.Fatal(err)
	}
	if err := ts.st.CreateDevice(ctx, store.Device{Name: "qemu-02", DeviceType: "qemu", Worker: "w1"}); err != nil {
		t.Fatal(err)
	}
	if err := ts.st.SetDeviceHealth(ctx, "qemu-02", store.HealthBad); err != nil {
		t.Fatal(err)
	}
	if err := ts.st.AddAlias(ctx, "kvm", "qemu", false); err != nil {
		t.Fatal(err)
	}
	if err := ts.st.UpdateDeviceType(ctx, "qemu", store.DeviceTypeUpdate{HealthFrequency: devPtr(5), HealthDenominator: devPtr(store.PerJobs)}); err != nil {
		t.Fatal(err)
	}
	ts.submit(t, store.NewJob{})
	for _, p := range []string{"/scheduler/device_types", "/scheduler/device_types/"} {
		wantBody(t, ts.get(t, p, ""), http.StatusOK,
			`<tr id="dt-qemu"><td><a href="/scheduler/device_type/qemu">qemu</a></td>`,
			`<td class="num"><span class="badge dh-success">1</span></td>`,
			`<td class="num"><span class="badge dh-danger">1</span></td>`,
			`<td>one every 5 jobs</td>`)
	}
	for _, p := range []string{"/scheduler/device_type/qemu", "/scheduler/device_type/qemu/"} {
		wantBody(t, ts.get(t, p, ""), http.StatusOK,
			`<dd id="dt-aliases">kvm</dd>`,
			`<span class="badge dh-warning">1 / 2</span>`,
			`<code>(basalt)/qemu.jinja2</code>`,
			`<div class="code" id="template">`,
			`no health-check job`,
			`<tr id="device-qemu-02">`,
			`<table class="table" id="dt-jobs">`)
	}
	wantBody(t, ts.get(t, "/scheduler/device_type/nope", ""), http.StatusNotFound)
}

func devTimeNow() time.Time { return time.Now() }
