package notify

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/basalt-lava/basalt/internal/store"
)

// TestCallbackRemoteToken: through a real store and a receiver on
// 127.0.0.1, a callback whose token names one of the submitter's remote
// artifact tokens (KernelCI's `token: kernelci-callback`) carries that
// token's value in its header; a name the submitter has no remote token
// for (another user's is not looked at) is sent verbatim, as LAVA does;
// the job's definition keeps the name.
func TestCallbackRemoteToken(t *testing.T) {
	ctx := context.Background()
	st := mailLab(t)
	if err := st.PutRemoteToken(ctx, "alice", "kernelci-callback", "Bearer kci-0123"); err != nil {
		t.Fatal(err)
	}
	if err := st.PutRemoteToken(ctx, "bob", "bobs-token", "bob-secret"); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]string{} // path → header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got[r.URL.Path] = r.Header.Get("Authorization") + "|" + r.Header.Get("X-Token")
	}))
	defer srv.Close()
	def := `job_name: smoke
notify:
  criteria: {status: running}
  callbacks:
  - {url: '` + srv.URL + `/kci', method: POST, content-type: json, dataset: minimal, token: kernelci-callback}
  - {url: '` + srv.URL + `/header', token: kernelci-callback, header: X-Token}
  - {url: '` + srv.URL + `/verbatim', token: plain-value}
  - {url: '` + srv.URL + `/other-user', token: bobs-token}
`
	id := submitJob(t, st, def)
	var logs logRec
	n := New(Config{Workers: 1, Logf: logs.logf})
	n.Start()
	defer n.Stop()
	n.Hook(Source{Store: st})(id, store.JobRunning, store.JobUnknown)
	flush(t, n)
	n.Stop()
	mu.Lock()
	defer mu.Unlock()
	want := map[string]string{
		"/kci":        "Bearer kci-0123|",
		"/header":     "|Bearer kci-0123",
		"/verbatim":   "plain-value|",
		"/other-user": "bobs-token|",
	}
	var paths []string
	for p := range got {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	if len(got) != len(want) {
		t.Fatalf("callbacks reached %v, want %d (log %q)", paths, len(want), logs.lines)
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: Authorization|X-Token = %q, want %q", p, got[p], w)
		}
	}
	j, err := st.Job(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(j.Definition, "token: kernelci-callback") || strings.Contains(j.Definition, "kci-0123") {
		t.Errorf("stored definition changed:\n%s", j.Definition)
	}
}
