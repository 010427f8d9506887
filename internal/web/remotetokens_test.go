package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/workerapi"
)

// TestRemoteTokensPage: the tokens page adds, lists (names only) and
// deletes the user's remote artifact tokens, with the CSRF token; the
// value is stored and never shown back, not even in an error; another
// user neither sees nor deletes them.
func TestRemoteTokensPage(t *testing.T) {
	ts := newTestSite(t)
	wantBody(t, ts.get(t, "/api/tokens/", "alice"), http.StatusOK, `id="remote-token-form"`, "No remote artifact tokens yet.")

	rec := ts.post(t, "/api/tokens/", "alice", url.Values{"action": {"remote-add"}, "name": {"kernelci-callback"}, "token": {"kci-S3CRET-value"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/api/tokens/" {
		t.Fatalf("remote-add: %d %q, want a redirect to the tokens page", rec.Code, rec.Header().Get("Location"))
	}
	if v, err := ts.st.RemoteToken(t.Context(), "alice", "kernelci-callback"); err != nil || v != "kci-S3CRET-value" {
		t.Errorf("stored %q, %v", v, err)
	}
	page := ts.get(t, "/api/tokens/", "alice")
	wantBody(t, page, http.StatusOK, `id="remote-tokens"`, "<td>kernelci-callback</td>")
	if strings.Contains(page.Body.String(), "kci-S3CRET-value") {
		t.Error("the tokens page shows a remote token's value")
	}
	if strings.Contains(ts.get(t, "/api/tokens/", "admin").Body.String(), "<td>kernelci-callback</td>") {
		t.Error("another user's page lists alice's remote token")
	}

	// A bad value: refused, named by the token's name, the value not echoed.
	rec = ts.post(t, "/api/tokens/", "alice", url.Values{"action": {"remote-add"}, "name": {"bad"}, "token": {"evil\r\nX-Injected: bad-VALUE"}})
	wantBody(t, rec, http.StatusBadRequest, `id="remote-token-error"`, "control character")
	if strings.Contains(rec.Body.String(), "bad-VALUE") {
		t.Error("the error shows the value")
	}
	rec = ts.post(t, "/api/tokens/", "alice", url.Values{"action": {"remote-add"}, "name": {""}, "token": {"v"}})
	wantBody(t, rec, http.StatusBadRequest, "name is empty")

	// Without the CSRF token nothing changes.
	rec = ts.post(t, "/api/tokens/", "alice", url.Values{"csrf": {"forged"}, "action": {"remote-delete"}, "name": {"kernelci-callback"}})
	wantBody(t, rec, http.StatusForbidden, "CSRF")
	rec = ts.post(t, "/api/tokens/", "alice", url.Values{"csrf": {"forged"}, "action": {"remote-add"}, "name": {"x"}, "token": {"y"}})
	wantBody(t, rec, http.StatusForbidden, "CSRF")

	ts.post(t, "/api/tokens/", "admin", url.Values{"action": {"remote-delete"}, "name": {"kernelci-callback"}})
	if _, err := ts.st.RemoteToken(t.Context(), "alice", "kernelci-callback"); err != nil {
		t.Errorf("another user's delete removed alice's token: %v", err)
	}
	rec = ts.post(t, "/api/tokens/", "alice", url.Values{"action": {"remote-delete"}, "name": {"kernelci-callback"}})
	if rec.Code != http.StatusSeeOther {
		t.Errorf("remote-delete: %d", rec.Code)
	}
	if ts, _ := ts.st.RemoteTokens(t.Context(), "", false); len(ts) != 0 {
		t.Errorf("after delete: %+v", ts)
	}
}

// TestRemoteTokensJobPageKeepsNames: a job whose download header names
// one of alice's remote tokens, started through the lab's real worker
// server, reaches the worker with the value while its job page, its
// definition tab and download show the name.
func TestRemoteTokensJobPageKeepsNames(t *testing.T) {
	f := newJobFixture(t)
	ctx := t.Context()
	_, err := f.st.CreateWorker(ctx, "w9", "w9-token")
	must(t, err)
	w9 := "w9"
	for _, d := range []string{"qemu-01", "qemu-02"} {
		must(t, f.st.UpdateDevice(ctx, d, store.DeviceUpdate{Worker: &w9}))
	}
	must(t, f.st.PutRemoteToken(ctx, "alice", "artifacts", "Bearer art-S3CRET"))
	j := f.submit(t, func(d string) string {
		return strings.Replace(d, "        url: http://127.0.0.1:8000/vmlinuz\n",
			"        url: http://127.0.0.1:8000/vmlinuz\n        headers: {Authorization: artifacts}\n", 1)
	})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.lab.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	wsrv := httptest.NewServer(workerapi.NewHandler(f.lab.WorkerServer()))
	defer wsrv.Close()
	p, err := workerapi.NewPeer(workerapi.PeerConfig{URL: wsrv.URL, Worker: "w9", Token: "w9-token", MaxAttempts: 3})
	must(t, err)
	var sent string
	for deadline := time.Now().Add(30 * time.Second); sent == "" && time.Now().Before(deadline); {
		resp, err := p.Poll(ctx, nil, time.Second)
		must(t, err)
		if len(resp.Start) > 0 {
			sent = resp.Start[0].Definition
		}
	}
	if !strings.Contains(sent, "Bearer art-S3CRET") {
		t.Fatalf("the worker received no job with the token's value:\n%s", sent)
	}
	id := strconv.FormatInt(j.ID, 10)
	for _, path := range []string{"/scheduler/job/" + id, "/scheduler/job/" + id + "/definition", "/scheduler/job/" + id + "/definition/plain"} {
		resp, body := f.get(t, "alice", path)
		wantStatus(t, resp, body, 200)
		if strings.Contains(body, "art-S3CRET") {
			t.Errorf("%s shows the remote token's value", path)
		}
		if strings.HasSuffix(path, "definition/plain") && !strings.Contains(body, "Authorization: artifacts") {
			t.Errorf("%s lost the token's name:\n%s", path, body)
		}
	}
}
