package lab

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/notify"
	"github.com/basalt-lava/basalt/internal/notify/smtptest"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/workerapi"
)

// holdingProxy accepts SMTP connections and holds them, silent, until
// release is closed; then it joins each to the real server at target.
func holdingProxy(t *testing.T, target string, release chan struct{}) (addr string, accepted chan struct{}) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	accepted = make(chan struct{}, 8)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			go func() {
				defer c.Close()
				<-release
				s, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer s.Close()
				go func() { _, _ = io.Copy(s, c) }()
				_, _ = io.Copy(c, s)
			}()
		}
	}()
	return l.Addr().String(), accepted
}

// TestNotifyMail: through the real lab and worker API, a job's e-mail
// recipient is mailed from the notify queue: an SMTP server that hangs
// (holding the only sender) delays neither the job's Finish nor the next
// job's start; once it answers, the mail arrives (one, though criteria
// all matched twice) with LAVA's subject.
func TestNotifyMail(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{})
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		f := newFixture(t, open(t), 1)
		must(t, f.st.SetUserEmail(ctx, "alice", "alice@example.org"))
		release := make(chan struct{})
		released := false
		t.Cleanup(func() {
			if !released {
				close(release)
			}
		})
		proxy, accepted := holdingProxy(t, sink.Addr, release)
		n := notify.New(notify.Config{Workers: 1, MailTimeout: time.Hour, Logf: t.Logf,
			Mail: &notify.MailConfig{Server: proxy, From: "lava@example.org", Sent: f.st}})
		n.Start()
		t.Cleanup(n.Stop)
		r := f.start(t, func(c *Config) {
			c.OnJobChange = n.Hook(notify.Source{Store: f.st, Logs: f.logs, URLPrefix: "http://lab.example"})
		})
		p := r.peer(t, "w1", f.token)
		before := len(sink.Messages(t))
		def := readFile(t, "job.yaml") + "notify:\n  criteria: {status: all}\n  recipients:\n  - to: {method: email, user: alice}\n"
		jobs, err := r.lab.Submit(ctx, f.alice, def)
		must(t, err)
		id1 := jobs[0].ID
		resp := pollFor(t, p, nil, hasStart)
		<-accepted // the Running mail holds the only sender
		must(t, p.Finish(ctx, workerapi.FinishRequest{Job: resp.Start[0].Job, Health: workerapi.Complete}))
		jobs, err = r.lab.Submit(ctx, f.alice, readFile(t, "job.yaml"))
		must(t, err)
		if resp = pollFor(t, p, nil, hasStart); int64(resp.Start[0].Job) != jobs[0].ID {
			t.Fatalf("started %+v, want %d", resp.Start, jobs[0].ID)
		}
		released = true
		close(release)
		ms := sink.Wait(t, before+1)[before:]
		if ms[0].RcptTo != "alice@example.org" || !strings.HasPrefix(ms[0].Subject, "LAVA notification for Test Job ") ||
			!strings.Contains(ms[0].Body, "/scheduler/job/") {
			t.Errorf("mail to %s: %q\n%s", ms[0].RcptTo, ms[0].Subject, ms[0].Body)
		}
		// The Finished transition found alice already sent: flush the
		// queue and check that no second mail came.
		done := make(chan struct{})
		n.Submit(0, func(context.Context) []notify.Delivery { close(done); return nil })
		<-done
		if ms := sink.Messages(t)[before:]; len(ms) != 1 {
			t.Errorf("%d mails for job %d, want 1", len(ms), id1)
		}
	})
}

// TestSubmitRecipients: as LAVA's submission check, a recipient naming
// an unknown user, or an address that is not one, refuses the job;
// the device owner placeholder and a known user pass.
func TestSubmitRecipients(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		f := newFixture(t, open(t), 1)
		r := f.start(t, nil)
		base := readFile(t, "job.yaml") + "notify:\n  criteria: {status: finished}\n  recipients:\n"
		for to, want := range map[string]string{
			"{method: email, user: nobody}":                `notify.recipients[0].to.user: "nobody" is not an existing user`,
			"{method: email, email: 'not-an-address'}":     `notify.recipients[0].to.email: "not-an-address" is not a valid email address`,
			"{method: email, user: alice}":                 "",
			"{method: email, user: '{LAVA_DEVICE_OWNER}'}": "",
		} {
			_, err := r.lab.Submit(ctx, f.alice, base+"  - to: "+to+"\n")
			if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
				t.Errorf("%s: %v, want %q", to, err, want)
			}
		}
	})
}
