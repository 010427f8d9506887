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

// TestWorkerPages: the list shows state, health, last ping, device count
// and job limit; a worker's page its devices (retired hidden unless
// asked) and the visible jobs on them.
func TestWorkerPages(t *testing.T) {
	ts := newTestSite(t)
	ctx := context.Background()
	if _, err := ts.st.CreateWorker(ctx, "w2", ""); err != nil {
		t.Fatal(err)
	}
	if err := ts.st.PingWorker(ctx, "w1", time.Now().Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := ts.st.UpdateWorker(ctx, "w2", store.WorkerUpdate{Health: devPtr(store.WorkerMaintenance), JobLimit: devPtr(3), Description: devPtr("lab <2>")}, store.Change{}); err != nil {
		t.Fatal(err)
	}
	if err := ts.st.CreateDevice(ctx, store.Device{Name: "old-01", DeviceType: "qemu", Worker: "w1"}); err != nil {
		t.Fatal(err)
	}
	if err := ts.st.SetDeviceHealth(ctx, "old-01", store.HealthRetired); err != nil {
		t.Fatal(err)
	}
	running := ts.submit(t, store.NewJob{Description: "on w1"})
	private := ts.submit(t, store.NewJob{Description: "secret", Visibility: store.VisibilityPersonal})
	if err := ts.st.CreateDevice(ctx, store.Device{Name: "qemu-03", DeviceType: "qemu", Worker: "w1"}); err != nil {
		t.Fatal(err)
	}
	if err := ts.st.Schedule(ctx, []store.Assignment{{Job: running.ID, Device: "qemu-01"}, {Job: private.ID, Device: "qemu-03"}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/scheduler/allworkers", "/scheduler/allworkers/"} {
		wantBody(t, ts.get(t, p, ""), http.StatusOK,
			`<tr id="worker-w1"><td><a href="/scheduler/worker/w1">w1</a></td>`,
			`<td class="worker-state"><span class="badge st-online">Online</span></td>`,
			`<td class="worker-state"><span class="badge st-offline">Offline</span></td>`,
			`<span class="badge dh-warning">Maintenance</span>`,
			`>2 h 0 min ago</td>`, `<td class="worker-ping">never</td>`,
			`<td class="num"><a href="/scheduler/alldevices?worker=w1">2</a></td>`,
			`<td class="num">3</td>`, `lab &lt;2&gt;`)
	}
	for _, p := range []string{"/scheduler/worker/w1", "/scheduler/worker/w1/"} {
		rec := ts.get(t, p, "")
		wantBody(t, rec, http.StatusOK, `<table class="table dv-devices" id="worker-devices">`, `<tr id="device-qemu-01">`,
			`Reserved for <a href="/scheduler/job/1">#1</a>`, `<table class="table" id="worker-jobs">`, "on w1")
		if strings.Contains(rec.Body.String(), "device-old-01") || strings.Contains(rec.Body.String(), "secret") {
			t.Errorf("%s lists the retired device or another user's private job", p)
		}
	}
	wantBody(t, ts.get(t, "/scheduler/worker/w1?retired=1", ""), http.StatusOK, `<tr id="device-old-01">`)
	wantBody(t, ts.get(t, "/scheduler/worker/nope", ""), http.StatusNotFound, "worker nope not found")
}

// TestWorkerHealthChange: a superuser sets a worker's health (cascading to
// its devices, logged with the reason); others are refused.
func TestWorkerHealthChange(t *testing.T) {
	ts := newTestSite(t)
	ctx := context.Background()
	wantBody(t, ts.get(t, "/scheduler/worker/w1", "admin"), http.StatusOK, `id="worker-health-form"`, `<option>Retired</option>`)
	if strings.Contains(ts.get(t, "/scheduler/worker/w1", "alice").Body.String(), "worker-health-form") {
		t.Errorf("alice sees the worker health form")
	}
	form := func(h string) url.Values { return url.Values{"health": {h}, "reason": {"moving racks"}} }
	wantBody(t, ts.post(t, "/scheduler/worker/w1/health", "alice", form("Retired")), http.StatusForbidden)
	wantBody(t, ts.post(t, "/scheduler/worker/w1/health", "admin", form("Gone")), http.StatusBadRequest, "unknown worker health")
	wantBody(t, ts.post(t, "/scheduler/worker/nope/health", "admin", form("Retired")), http.StatusNotFound)
	rec := ts.post(t, "/scheduler/worker/w1/health/", "admin", form("retired"))
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/scheduler/worker/w1" {
		t.Fatalf("worker health change: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	wk, err := ts.st.Worker(ctx, "w1")
	if err != nil || wk.Health != store.WorkerRetired {
		t.Fatalf("worker health %s, %v; want Retired", wk.Health, err)
	}
	wantBody(t, ts.get(t, "/scheduler/device/qemu-01", ""), http.StatusOK,
		`<td>admin</td><td>Good → Retired (worker going retired: moving racks)</td>`)
}
