package notify

import (
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
)

func f64(v float64) *float64 { return &v }

// mailCases are the bodies checked against golden files; the same
// situations rendered by LAVA's testjob_notification.txt (jinja2, the
// template of lava_scheduler_app) gave these texts.
func mailCases() map[string]MailJob {
	sub := time.Date(2026, 1, 1, 10, 0, 0, 123456000, time.UTC)
	job := store.Job{ID: 12, State: store.JobFinished, Health: store.JobComplete, Priority: 50, Submitter: "alice",
		Description: "smoke test", Submitted: sub, Started: sub.Add(5 * time.Second), Ended: sub.Add(300 * time.Second),
		Definition: "job_name: smoke test\nmetadata:\n  build: '42'\n  kernel: 6.1\n", Device: "qemu01"}
	dev := &store.Device{Name: "qemu01", DeviceType: "qemu", Worker: "worker1", PhysicalOwner: "bob"}
	rs := []store.Result{
		{Suite: "lava", Case: "validate", Result: "pass"},
		{Suite: "0_smoke", Case: "uname", Result: "pass"},
		{Suite: "0_smoke", Case: "boot-time", Result: "pass", Measurement: f64(1.5), Units: "seconds"},
		{Suite: "0_smoke", Case: "noisy", Result: "fail"},
		{Suite: "lava", Case: "job", Result: "fail", Metadata: "error_type: Infrastructure\nerror_msg: boom\n"},
	}
	incomplete := job
	incomplete.Health = store.JobIncomplete
	running := job
	running.State, running.Health, running.Ended = store.JobRunning, store.JobUnknown, time.Time{}
	canceled := job
	canceled.Health, canceled.Device, canceled.Started, canceled.Priority = store.JobCanceled, "", time.Time{}, 42
	return map[string]MailJob{
		"quiet-complete":     {Job: job, DisplayID: "12", URLPrefix: "http://lava.example", User: "alice", Verbosity: Quiet, Device: dev},
		"verbose-incomplete": {Job: incomplete, DisplayID: "12", URLPrefix: "http://lava.example", Verbosity: Verbose, Device: &store.Device{Name: "qemu01", DeviceType: "qemu"}, LavaJob: lavaJobMetadata(rs), Results: rs},
		"verbose-blacklist":  {Job: job, DisplayID: "11.1", URLPrefix: "http://lava.example", Verbosity: Verbose, Device: dev, Results: rs, Blacklist: []string{"lava", "noisy"}},
		"status-only":        {Job: job, DisplayID: "12", URLPrefix: "http://lava.example", Verbosity: StatusOnly, Device: dev},
		"quiet-running":      {Job: running, DisplayID: "12", URLPrefix: "http://lava.example", Verbosity: Quiet, Device: dev},
		"quiet-canceled":     {Job: canceled, DisplayID: "12", URLPrefix: "http://lava.example", Verbosity: Quiet},
	}
}

func TestBodyGolden(t *testing.T) {
	for name, m := range mailCases() {
		golden(t, "mail-"+name+".txt", []byte(Body(m)))
	}
}

func TestSubject(t *testing.T) {
	j := store.Job{ID: 7, Description: strings.Repeat("é", 250)}
	if got, want := Subject(j), "LAVA notification for Test Job 7 "+strings.Repeat("é", 200); got != want {
		t.Errorf("subject %q", got)
	}
}

func TestDuration(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{0, "0:00:00"}, {295500 * time.Millisecond, "0:04:55"}, {26 * time.Hour, "1 day, 2:00:00"}, {50 * time.Hour, "2 days, 2:00:00"}} {
		if got := duration(t0, t0.Add(tc.d)); got != tc.want {
			t.Errorf("duration(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
	if got := duration(time.Time{}, t0); got != "None" {
		t.Errorf("duration without start = %q", got)
	}
}

// TestMessageHeaders: a hostile description cannot add a header (its
// line break encodes the subject), and a long non-ASCII subject is folded
// into lines SMTP accepts.
func TestMessageHeaders(t *testing.T) {
	for _, desc := range []string{"x\r\nBcc: evil@example.org", strings.Repeat("é", 200)} {
		m := Mail{To: "a@example.org", Subject: Subject(store.Job{ID: 1, Description: desc}), Body: strings.Repeat("long line ", 200)}
		raw := string(message("lava@example.org", m, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
		head, body, _ := strings.Cut(raw, "\r\n\r\n")
		for _, l := range strings.Split(head, "\r\n") {
			if strings.HasPrefix(strings.ToLower(l), "bcc:") || len(l) > 998 {
				t.Errorf("header line %q", l)
			}
		}
		for _, l := range strings.Split(body, "\r\n") {
			if len(l) > 76 {
				t.Errorf("body line of %d bytes", len(l))
			}
		}
		msg, err := mail.ReadMessage(strings.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil || got != m.Subject {
			t.Errorf("subject decodes to %q, %v; want %q", got, err, m.Subject)
		}
	}
}
