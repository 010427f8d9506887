package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/notify/smtptest"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/sqlite"
)

// mailLab is a real SQLite store with users alice (the submitter) and
// bob (owner of device qemu01), both with addresses.
func mailLab(t *testing.T) store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/basalt.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, u := range []string{"alice", "bob", "carol"} {
		if _, err := st.CreateUser(ctx, u, "", false); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.SetUserEmail(ctx, "alice", "alice@example.org"))
	must(st.SetUserEmail(ctx, "bob", "bob@example.org"))
	must(st.PutDeviceType(ctx, store.DeviceType{Name: "qemu"}))
	_, err = st.CreateWorker(ctx, "worker1", "")
	must(err)
	must(st.CreateDevice(ctx, store.Device{Name: "qemu01", DeviceType: "qemu", Worker: "worker1", PhysicalOwner: "bob"}))
	return st
}

func submitJob(t *testing.T, st store.Store, def string) int64 {
	t.Helper()
	ids, err := st.Submit(context.Background(), []store.NewJob{{Definition: def, Submitter: "alice", DeviceType: "qemu", Priority: 50, Description: "smoke"}})
	if err != nil {
		t.Fatal(err)
	}
	return ids[0]
}

type logRec struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRec) logf(f string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, strings.TrimSpace(sprintf(f, a...)))
}

func (l *logRec) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range l.lines {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

// flush waits until every task queued before it ran: the notifier has
// one sender, which runs its queue in order.
func flush(t *testing.T, n *Notifier) {
	t.Helper()
	done := make(chan struct{})
	if !n.Submit(0, func(context.Context) []Delivery { close(done); return nil }) {
		t.Fatal("queue full")
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the notifier did not reach the end of its queue in a minute")
	}
}

// TestMailRecipients: through a real SMTP server, each e-mail recipient
// of a job (an address, a user, the device's owner, the same address
// twice) gets one mail with LAVA's subject and body, on the first
// matching transition only (criteria all: Running and Finished); an irc
// recipient and a user without an address get nothing.
func TestMailRecipients(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{})
	st := mailLab(t)
	def := `job_name: smoke
notify:
  criteria: {status: all}
  verbosity: quiet
  recipients:
  - to: {method: email, email: team@example.org}
  - to: {method: email, user: bob}
  - to: {method: email, user: '{LAVA_DEVICE_OWNER}'}
  - to: {method: email, user: carol}
  - to: {method: irc, handle: alice, server: irc.example.org}
`
	id := submitJob(t, st, def)
	if err := st.Schedule(context.Background(), []store.Assignment{{Job: id, Device: "qemu01"}}); err != nil {
		t.Fatal(err)
	}
	var logs logRec
	n := New(Config{Workers: 1, Logf: logs.logf, Mail: &MailConfig{Server: sink.Addr, From: "lava@example.org", Sent: st}})
	n.Start()
	defer n.Stop()
	hook := n.Hook(Source{Store: st, URLPrefix: "http://lava.example"})
	hook(id, store.JobRunning, store.JobUnknown)
	hook(id, store.JobFinished, store.JobUnknown)
	flush(t, n)
	ms := sink.Messages(t)
	got := map[string]smtptest.Message{}
	for _, m := range ms {
		got[m.RcptTo] = m
	}
	if len(ms) != 2 || got["team@example.org"].Raw == nil || got["bob@example.org"].Raw == nil {
		t.Fatalf("mails to %v, want one each to team@ and bob@", keys(got))
	}
	team, bob := got["team@example.org"], got["bob@example.org"]
	if want := "LAVA notification for Test Job " + itoa(id) + " smoke"; team.Subject != want {
		t.Errorf("subject %q, want %q", team.Subject, want)
	}
	if team.Header.Get("From") != "lava@example.org" || team.Header.Get("To") != "team@example.org" {
		t.Errorf("headers %v", team.Header)
	}
	if !strings.HasPrefix(team.Body, "\nHello,\n\nThe job with ID # "+itoa(id)+" is now in state Running and health Unknown. Job was submitted by alice.\n\nJob details and log file: http://lava.example/scheduler/job/"+itoa(id)+"\n") {
		t.Errorf("body to team@:\n%s", team.Body)
	}
	if !strings.HasPrefix(bob.Body, "\nDear bob,\n") {
		t.Errorf("body to bob:\n%s", bob.Body)
	}
	if !logs.has("e-mail recipient carol has no e-mail address") {
		t.Errorf("carol not reported: %q", logs.lines)
	}
}

// TestMailSubmitterByDefault: a notify block with neither recipients nor
// callbacks mails the submitter (LAVA), here on Finished with the quiet
// body; a job with callbacks only mails nobody.
func TestMailSubmitterByDefault(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{})
	st := mailLab(t)
	id := submitJob(t, st, "job_name: smoke\nnotify:\n  criteria: {status: finished}\n")
	bodies := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- b
	}))
	defer srv.Close()
	cbOnly := submitJob(t, st, "job_name: smoke\nnotify:\n  criteria: {status: finished}\n  callbacks: [{url: '"+srv.URL+"', method: POST, content-type: json}]\n")
	n := New(Config{Workers: 1, Logf: t.Logf, Mail: &MailConfig{Server: sink.Addr, From: "lava@example.org", Sent: st}})
	n.Start()
	defer n.Stop()
	hook := n.Hook(Source{Store: st, URLPrefix: "http://lava.example"})
	hook(id, store.JobRunning, store.JobUnknown) // criteria finished: nothing
	hook(cbOnly, store.JobFinished, store.JobUnknown)
	hook(id, store.JobFinished, store.JobUnknown)
	flush(t, n)
	ms := sink.Messages(t)
	if len(ms) != 1 || ms[0].RcptTo != "alice@example.org" {
		t.Fatalf("%d mails (%v), want one to alice@", len(ms), ms)
	}
	var payload map[string]any
	if err := json.Unmarshal(<-bodies, &payload); err != nil || payload["submitter_email"] != "alice@example.org" {
		t.Errorf("callback submitter_email %v (%v)", payload["submitter_email"], err)
	}
	if !strings.Contains(ms[0].Body, "is now in state Finished") || !strings.Contains(ms[0].Body, "\nJob details:\nPriority: Medium\nDescription: smoke\n") {
		t.Errorf("body:\n%s", ms[0].Body)
	}
}

// TestMailSTARTTLS: with a sink that requires STARTTLS, the default mode
// (STARTTLS when offered) delivers; mode starttls against a sink without
// it fails, is logged, and leaves the recipient unsent so that a later
// transition tries again.
func TestMailSTARTTLS(t *testing.T) {
	tlsSink := smtptest.Start(t, smtptest.Options{STARTTLS: true})
	plain := smtptest.Start(t, smtptest.Options{})
	st := mailLab(t)
	id := submitJob(t, st, "job_name: smoke\nnotify:\n  criteria: {status: all}\n")
	n := New(Config{Workers: 1, Logf: t.Logf, Mail: &MailConfig{Server: tlsSink.Addr, From: "lava@example.org", TLSConfig: tlsSink.TLS}})
	n.Start()
	n.Hook(Source{Store: st})(id, store.JobRunning, store.JobUnknown)
	flush(t, n)
	n.Stop()
	if ms := tlsSink.Messages(t); len(ms) != 1 || ms[0].RcptTo != "alice@example.org" {
		t.Errorf("through STARTTLS: %d mails", len(ms))
	}

	var logs logRec
	n = New(Config{Workers: 1, Logf: logs.logf, Mail: &MailConfig{Server: plain.Addr, From: "lava@example.org", TLS: TLSStartTLS, Sent: st}})
	n.Start()
	defer n.Stop()
	n.Hook(Source{Store: st})(id, store.JobRunning, store.JobUnknown)
	flush(t, n)
	if len(plain.Messages(t)) != 0 || !logs.has("does not offer STARTTLS") {
		t.Errorf("starttls required against a plain server: mails %d, logs %q", len(plain.Messages(t)), logs.lines)
	}
	if ok, err := st.ClaimNotification(context.Background(), id, "email:alice@example.org"); !ok || err != nil {
		t.Errorf("the failed recipient is not left unsent: %v %v", ok, err)
	}
}

// TestMailUnreachable: a server that refuses connections, then one that
// accepts and never answers, cost the sender one bounded attempt each
// and never the caller of the hook: the hook returns at once while the
// only sender is stuck, and the mails are logged as failed.
func TestMailUnreachable(t *testing.T) {
	st := mailLab(t)
	id := submitJob(t, st, "job_name: smoke\nnotify:\n  criteria: {status: all}\n")

	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedAddr := refused.Addr().String()
	refused.Close()
	var logs logRec
	n := New(Config{Workers: 1, Logf: logs.logf, Mail: &MailConfig{Server: refusedAddr, From: "lava@example.org", Sent: st}})
	n.Start()
	n.Hook(Source{Store: st})(id, store.JobRunning, store.JobUnknown)
	flush(t, n)
	n.Stop()
	if !logs.has("e-mail to alice@example.org through " + refusedAddr) {
		t.Errorf("refused server: logs %q", logs.lines)
	}

	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			accepted <- c // holds it open and silent
		}
	}()
	logs = logRec{}
	n = New(Config{Workers: 1, QueueSize: 4, MailTimeout: 500 * time.Millisecond, Logf: logs.logf,
		Mail: &MailConfig{Server: hang.Addr().String(), From: "lava@example.org", Sent: st}})
	n.Start()
	defer n.Stop()
	hook := n.Hook(Source{Store: st})
	hook(id, store.JobRunning, store.JobUnknown)
	c := <-accepted // the only sender is now waiting for a greeting
	defer c.Close()
	for range 3 {
		hook(id, store.JobFinished, store.JobUnknown) // queued, not waited for
	}
	flush(t, n)
	if !logs.has("e-mail to alice@example.org through " + hang.Addr().String()) {
		t.Errorf("hanging server: logs %q", logs.lines)
	}
}

func keys(m map[string]smtptest.Message) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func sprintf(f string, a ...any) string { return fmt.Sprintf(f, a...) }
