package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/notify"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/workerapi"
)

type callbackReq struct {
	ctype, auth string
	body        map[string]any
}

func receiver(t *testing.T, hold chan struct{}) (*httptest.Server, chan callbackReq) {
	ch := make(chan callbackReq, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		if len(b) > 0 {
			if err := json.Unmarshal(b, &m); err != nil {
				t.Errorf("callback body: %v: %s", err, b)
			}
		}
		ch <- callbackReq{r.Header.Get("Content-Type"), r.Header.Get("Authorization"), m}
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

// TestNotifyCallbacks: through the real lab and worker API, a job's
// notify callbacks are sent after its changes are stored; a receiver that
// hangs (holding the only sender) delays neither the job's Finish nor the
// next job's start; the KernelCI-style callback (POST, json, dataset all,
// token) carries the payload with the log and the results.
func TestNotifyCallbacks(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		f := newFixture(t, open(t), 1)
		hold := make(chan struct{})
		hang, hangCh := receiver(t, hold)
		good, goodCh := receiver(t, nil)
		n := notify.New(notify.Config{Workers: 1, Timeout: time.Hour, Logf: t.Logf})
		n.Start()
		t.Cleanup(n.Stop)
		released := false
		release := func() {
			if !released {
				released = true
				close(hold)
			}
		}
		t.Cleanup(release)
		suites := func(job int64, rs []store.Result) (map[string]string, error) {
			m := map[string]string{}
			for _, r := range rs {
				m[r.Suite] += fmt.Sprintf("- name: %s\n  result: %s\n", r.Case, r.Result)
			}
			return m, nil
		}
		r := f.start(t, func(c *Config) {
			c.OnJobChange = n.Hook(notify.Source{Store: f.st, Logs: f.logs, SuiteYAML: suites})
		})
		p := r.peer(t, "w1", f.token)
		base := readFile(t, "job.yaml")
		def1 := base + fmt.Sprintf("notify:\n  criteria: {status: all}\n  callback: {url: '%s/hang/{STATUS}'}\n", hang.URL)
		def2 := base + fmt.Sprintf("metadata: {node_id: 65af}\nnotify:\n  criteria: {status: finished}\n  callback: {content-type: json, dataset: all, method: POST, token: kci-secret, url: '%s/node/65af'}\n", good.URL)
		jobs, err := r.lab.Submit(ctx, f.alice, def1)
		must(t, err)
		id1 := jobs[0].ID
		resp := pollFor(t, p, nil, hasStart)
		if int64(resp.Start[0].Job) != id1 {
			t.Fatalf("started %+v, want %d", resp.Start, id1)
		}
		// The Running callback (criteria all) reaches the hanging
		// receiver, which now holds the only sender.
		if g := <-hangCh; g.body != nil || g.auth != "" {
			t.Errorf("GET callback sent a body or a token: %+v", g)
		}
		_, err = p.Log(ctx, resp.Start[0].Job, 0, logLines(0, 3))
		must(t, err)
		must(t, p.Finish(ctx, workerapi.FinishRequest{Job: resp.Start[0].Job, Health: workerapi.Complete, LogLines: 3}))
		// Finish returned while the receiver still hangs; the next job is
		// scheduled and started meanwhile.
		jobs, err = r.lab.Submit(ctx, f.alice, def2)
		must(t, err)
		id2 := jobs[0].ID
		resp = pollFor(t, p, nil, hasStart)
		if int64(resp.Start[0].Job) != id2 {
			t.Fatalf("started %+v, want %d", resp.Start, id2)
		}
		select {
		case g := <-hangCh:
			t.Fatalf("a second callback reached the receiver while the only sender hangs: %+v", g)
		default:
		}
		release()
		<-hangCh // job 1's Finished callback: criteria all delivers twice

		_, err = p.Log(ctx, resp.Start[0].Job, 0, logLines(0, 5))
		must(t, err)
		must(t, p.Finish(ctx, workerapi.FinishRequest{Job: resp.Start[0].Job, Health: workerapi.Complete, LogLines: 5,
			Results: []workerapi.Result{{Suite: "lava", Case: "job", Result: "pass"}, {Suite: "0_smoke", Case: "t", Result: "fail"}}}))
		g := <-goodCh
		if g.ctype != "application/json" || g.auth != "kci-secret" {
			t.Errorf("callback Content-Type %q Authorization %q", g.ctype, g.auth)
		}
		b := g.body
		if b["id"] != float64(id2) || b["status"] != float64(2) || b["status_string"] != "complete" || b["state_string"] != "Finished" ||
			b["actual_device_id"] != "qemu-01" || b["submitter_username"] != "alice" || b["definition"] != def2 {
			t.Errorf("payload %v", b)
		}
		if st, _ := b["start_time"].(string); st == "None" || !strings.HasSuffix(st, "+00:00") {
			t.Errorf("start_time %v", b["start_time"])
		}
		if md, _ := b["metadata"].([]any); len(md) != 1 || md[0].(map[string]any)["node_id"] != "65af" {
			t.Errorf("metadata %v", b["metadata"])
		}
		var want strings.Builder
		for _, l := range logLines(0, 5) {
			want.WriteString(l + "\n")
		}
		if b["log"] != want.String() {
			t.Errorf("log %q", b["log"])
		}
		res, _ := b["results"].(map[string]any)
		if res["lava"] != "- name: job\n  result: pass\n" || res["0_smoke"] != "- name: t\n  result: fail\n" {
			t.Errorf("results %v", b["results"])
		}
	})
}

// TestNotifyMultiNode: every sub-job of a MultiNode group sends its own
// callback, with its own id (not the display id).
func TestNotifyMultiNode(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		f := newFixture(t, open(t), 1)
		tok2, err := f.st.CreateWorker(ctx, "w2", "")
		must(t, err)
		must(t, f.st.CreateDevice(ctx, store.Device{Name: "qemu-02", DeviceType: "qemu", Worker: "w2", Dictionary: readFile(t, "device.jinja2")}))
		must(t, f.st.SetDeviceHealth(ctx, "qemu-02", store.HealthGood))
		good, goodCh := receiver(t, nil)
		n := notify.New(notify.Config{Logf: t.Logf})
		n.Start()
		t.Cleanup(n.Stop)
		r := f.start(t, func(c *Config) { c.OnJobChange = n.Hook(notify.Source{Store: f.st, Logs: f.logs}) })
		p1, p2 := r.peer(t, "w1", f.token), r.peer(t, "w2", tok2)
		for _, p := range []*workerapi.Peer{p1, p2} {
			_, err := p.Poll(ctx, nil, 0)
			must(t, err)
		}
		def := readFile(t, "multinode.yaml") + fmt.Sprintf("notify:\n  criteria: {status: finished}\n  callback: {method: POST, content-type: json, url: '%s/cb'}\n", good.URL)
		jobs, err := r.lab.Submit(ctx, f.alice, def)
		must(t, err)
		s1 := pollFor(t, p1, nil, hasStart).Start[0]
		s2 := pollFor(t, p2, nil, hasStart).Start[0]
		must(t, p1.Finish(ctx, workerapi.FinishRequest{Job: s1.Job, Health: workerapi.Complete}))
		must(t, p2.Finish(ctx, workerapi.FinishRequest{Job: s2.Job, Health: workerapi.Complete}))
		got := map[float64]bool{}
		for range 2 {
			g := <-goodCh
			got[g.body["id"].(float64)] = true
			if g.body["status_string"] != "complete" {
				t.Errorf("sub-job %v: status %v", g.body["id"], g.body["status_string"])
			}
		}
		if !got[float64(jobs[0].ID)] || !got[float64(jobs[1].ID)] {
			t.Errorf("callbacks for %v, want jobs %d and %d", got, jobs[0].ID, jobs[1].ID)
		}
	})
}
