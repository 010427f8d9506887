package events

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/sqlite"
)

type wsLab struct {
	st                  store.Store
	srv                 *httptest.Server
	ws                  *WS
	aliceTok, workerTok string
}

// newWSLab is a real store (alice, bob, worker w1 with device d1) fed to
// a hub served by the WebSocket on a real HTTP server.
func newWSLab(t *testing.T) *wsLab {
	t.Helper()
	ctx := context.Background()
	raw, err := sqlite.Open(ctx, t.TempDir()+"/basalt.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	h := NewHub()
	l := &wsLab{st: Feed(raw, h)}
	for _, u := range []string{"alice", "bob"} {
		if _, err := l.st.CreateUser(ctx, u, "", false); err != nil {
			t.Fatal(err)
		}
	}
	if l.aliceTok, err = l.st.CreateToken(ctx, "alice", "", ""); err != nil {
		t.Fatal(err)
	}
	if err := l.st.PutDeviceType(ctx, store.DeviceType{Name: "qemu"}); err != nil {
		t.Fatal(err)
	}
	if l.workerTok, err = l.st.CreateWorker(ctx, "w1", ""); err != nil {
		t.Fatal(err)
	}
	if err := l.st.CreateDevice(ctx, store.Device{Name: "d1", DeviceType: "qemu", Worker: "w1"}); err != nil {
		t.Fatal(err)
	}
	l.ws = NewWS(WSConfig{Hub: h, Store: l.st, Logf: t.Logf})
	l.srv = httptest.NewServer(l.ws)
	t.Cleanup(l.srv.Close)
	t.Cleanup(l.ws.Close)
	return l
}

func (l *wsLab) dial(t *testing.T, h http.Header) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(l.srv.URL, "http")+"/ws/", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func basic(user, secret string) http.Header {
	return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))}}
}

// read returns the next message as raw JSON.
func read(t *testing.T, c *websocket.Conn) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitSubscribed waits until n connections are subscribed to the hub.
func waitSubscribed(t *testing.T, l *wsLab, n int) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); l.ws.cfg.Hub.Subscribers() < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers after a minute, want %d", l.ws.cfg.Hub.Subscribers(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWSHealthz: GET /ws/v1/healthz answers lava-publisher's JSON.
func TestWSHealthz(t *testing.T) {
	l := newWSLab(t)
	resp, err := http.Get(l.srv.URL + "/ws/v1/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var m map[string]string
	if resp.StatusCode != 200 || json.Unmarshal(b, &m) != nil || m["health"] != "good" {
		t.Errorf("healthz %d %s", resp.StatusCode, b)
	}
}

// TestWSBadCredentials: as lava-publisher, the connection is accepted,
// then {"error": ...} is sent and the connection closed.
func TestWSBadCredentials(t *testing.T) {
	l := newWSLab(t)
	for _, tc := range []struct {
		h    http.Header
		want string
	}{
		{http.Header{"Authorization": {"Token abc"}}, "Only Basic authentication is supported"},
		{http.Header{"Authorization": {"Basic !!!"}}, "Invalid basic authentication"},
		{basic("alice", "wrong"), "Unknown user"},
		{http.Header{"Lava-Token": {"x"}, "Lava-Host": {"nosuch"}}, "Unknown worker"},
		{http.Header{"Lava-Token": {"wrong"}, "Lava-Host": {"w1"}}, "Invalid worker token"},
	} {
		c := l.dial(t, tc.h)
		var m map[string]string
		if b := read(t, c); json.Unmarshal(b, &m) != nil || m["error"] != tc.want {
			t.Errorf("%v: got %s, want error %q", tc.h, b, tc.want)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, _, err := c.Read(ctx)
		cancel()
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			t.Errorf("%v: after the error: %v, want a close", tc.h, err)
		}
	}
}

// TestWSEvents: each connection gets the events it may see, as five
// strings with the data double-encoded: a private job only to its
// submitter (not to anonymous or another user), devices and workers to
// every user, and to a worker only the jobs on its devices.
func TestWSEvents(t *testing.T) {
	l := newWSLab(t)
	ctx := context.Background()
	alice := l.dial(t, basic("alice", l.aliceTok))
	anon := l.dial(t, nil)
	worker := l.dial(t, http.Header{"Lava-Token": {l.workerTok}, "Lava-Host": {"w1"}})
	waitSubscribed(t, l, 3)

	ids, err := l.st.Submit(ctx, []store.NewJob{
		{Definition: "x", Submitter: "alice", DeviceType: "qemu", Description: "private one", Visibility: store.VisibilityPersonal},
		{Definition: "y", Submitter: "alice", DeviceType: "qemu", Description: "public one"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.st.Schedule(ctx, []store.Assignment{{Job: ids[1], Device: "d1"}}); err != nil {
		t.Fatal(err)
	}
	if err := l.st.PingWorker(ctx, "w1", time.Now()); err != nil {
		t.Fatal(err)
	}
	summary := func(c *websocket.Conn, n int) []string {
		var out []string
		for range n {
			var msg []string
			b := read(t, c)
			if err := json.Unmarshal(b, &msg); err != nil || len(msg) != 5 {
				t.Fatalf("message %s is not five strings", b)
			}
			var data map[string]any
			if err := json.Unmarshal([]byte(msg[4]), &data); err != nil {
				t.Fatalf("data %q: %v", msg[4], err)
			}
			switch {
			case msg[0] == "org.lavasoftware.testjob":
				out = append(out, msg[3]+" job "+data["description"].(string)+" "+data["state"].(string))
			case msg[0] == "org.lavasoftware.device":
				out = append(out, msg[3]+" device "+data["device"].(string)+" "+data["state"].(string))
			case msg[0] == "org.lavasoftware.worker":
				out = append(out, msg[3]+" worker "+data["hostname"].(string)+" "+data["state"].(string))
			}
		}
		return out
	}
	want := func(who string, got []string, want ...string) {
		t.Helper()
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s got\n%s\nwant\n%s", who, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	want("alice", summary(alice, 5), "alice job private one Submitted", "alice job public one Submitted",
		"alice job public one Scheduled", "lavaserver device d1 Reserved", "lavaserver worker w1 Online")
	want("anonymous", summary(anon, 4), "alice job public one Submitted", "alice job public one Scheduled",
		"lavaserver device d1 Reserved", "lavaserver worker w1 Online")
	want("worker", summary(worker, 1), "alice job public one Scheduled")

	// bob may not see alice's private job either.
	bobTok, err := l.st.CreateToken(ctx, "bob", "", "")
	if err != nil {
		t.Fatal(err)
	}
	bob := l.dial(t, basic("bob", bobTok))
	waitSubscribed(t, l, 4)
	if _, err := l.st.CancelJob(ctx, ids[0], time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := l.st.CancelJob(ctx, ids[1], time.Now()); err != nil {
		t.Fatal(err)
	}
	want("bob", summary(bob, 2), "alice job public one Finished", "lavaserver device d1 Idle")
	want("alice", summary(alice, 3), "alice job private one Finished", "alice job public one Finished", "lavaserver device d1 Idle")

	// On shutdown the connections end "going away".
	l.ws.Close()
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, _, err = alice.Read(rctx)
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("after Close: %v, want going away", err)
	}
}
