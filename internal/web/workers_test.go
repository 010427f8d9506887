package web

import (
	"context"
	"net/http"
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
