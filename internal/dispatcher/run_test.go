package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/protocol"
	"github.com/basalt-lava/basalt/internal/results"
	"github.com/basalt-lava/basalt/internal/value"
)

// memSink keeps what a job hands its sink and checks the order the Sink
// contract promises: records numbered in turn, nothing after Results but
// Close, Results and Close once each.
type memSink struct {
	t       *testing.T
	onLine  func(string) // sees every record's line as it comes
	results error        // what Results returns
	close   error        // what Close returns

	mu       sync.Mutex
	lines    []string
	files    map[string][]byte
	outcomes []Outcome
	closed   int
}

func newMemSink(t *testing.T) *memSink { return &memSink{t: t, files: map[string][]byte{}} }

func (s *memSink) Log(rec joblog.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.outcomes) > 0 || s.closed > 0 {
		s.t.Errorf("record %d after Results or Close: %s", rec.Index, rec.Line)
	}
	if rec.Index != len(s.lines) {
		s.t.Errorf("record %d came as number %d", rec.Index, len(s.lines))
	}
	s.lines = append(s.lines, string(rec.Line))
	if s.onLine != nil {
		s.onLine(string(rec.Line))
	}
}

func (s *memSink) File(name string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed > 0 {
		s.t.Errorf("file %s after Close", name)
	}
	s.files[name] = append([]byte(nil), data...)
	return nil
}

func (s *memSink) Results(o Outcome) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed > 0 {
		s.t.Error("Results after Close")
	}
	s.outcomes = append(s.outcomes, o)
	return s.results
}

func (s *memSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed++
	return s.close
}

// log reads the records back as LAVA's log: every line must parse.
func (s *memSink) log() []*value.Map {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := value.DecodeYAML([]byte(strings.Join(s.lines, "")))
	if err != nil {
		s.t.Fatalf("the records do not read back as YAML: %v", err)
	}
	var out []*value.Map
	for _, e := range v.([]any) {
		out = append(out, e.(*value.Map))
	}
	return out
}

// checkEnded checks what every run leaves: one Results with the outcome
// Run returned, then one Close, and the lava/job result and the last
// line saying how the job ended.
func (s *memSink) checkEnded(o Outcome) {
	s.t.Helper()
	if len(s.outcomes) != 1 || s.closed != 1 {
		s.t.Fatalf("Results called %d times, Close %d times; want once each", len(s.outcomes), s.closed)
	}
	if got := s.outcomes[0]; got.Outcome != o.Outcome || len(got.Cases) != len(o.Cases) || got.JobName != o.JobName {
		s.t.Errorf("Results got %+v, Run returned %+v", got.Outcome, o.Outcome)
	}
	recs := s.log()
	last := recs[len(recs)-1]
	want := "job completed in "
	if !o.Completed() {
		want = fmt.Sprintf("job incomplete: %s error: %s", o.ErrorType(), o.Message)
	}
	if !strings.HasPrefix(last.String("msg"), want) {
		s.t.Errorf("last line %q, want %q", last.String("msg"), want)
	}
	job := findCase(o.Cases, "lava", "job")
	if job == nil || job.Result != o.Result {
		s.t.Errorf("lava/job case %+v, want result %s", job, o.Result)
	} else if !o.Completed() && job.Extra.String("error_type") != o.ErrorType() {
		s.t.Errorf("lava/job error_type %q, want %q", job.Extra.String("error_type"), o.ErrorType())
	}
}

func findCase(cases []results.Case, suite, name string) *results.Case {
	for i := range cases {
		if cases[i].Suite == suite && cases[i].Name == name {
			return &cases[i]
		}
	}
	return nil
}

// commandJob is a job of one `command` block naming one of
// testdata/run/device.yaml's host commands.
func commandJob(name string) []byte {
	return fmt.Appendf(nil, `device_type: qemu
job_name: run-%s
timeouts: {job: {minutes: 15}, action: {minutes: 12}}
visibility: public
secrets: {token: s3cret-value}
actions:
- command: {name: %s}
`, name, name)
}

func runConfigFor(t *testing.T, jobText []byte) RunConfig {
	t.Helper()
	dev, err := os.ReadFile(filepath.Join("testdata", "run", "device.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return RunConfig{
		Job:     Source{Text: jobText},
		Device:  Source{Text: dev, Name: "testdata/run/device.yaml"},
		Options: Options{JobID: "77"},
		Intro:   "run_test: a scripted job",
		TmpDir:  filepath.Join(t.TempDir(), "scratch"),
	}
}

func TestRunCompletes(t *testing.T) {
	cfg := runConfigFor(t, commandJob("pass"))
	configured := 0
	cfg.ProcessGrace = 1234 * time.Millisecond
	cfg.Configure = func(j *pipeline.Job) {
		configured++
		if j.Runtime.ProcessGrace != cfg.ProcessGrace {
			t.Errorf("the job's process grace is %v, want RunConfig's %v", j.Runtime.ProcessGrace, cfg.ProcessGrace)
		}
		if j.Runtime.Log == nil || j.Runtime.TmpDir != cfg.TmpDir || j.Runtime.Publish == nil || j.ID != "77" {
			t.Errorf("Configure saw log %v, scratch %q, publish %v, job id %s", j.Runtime.Log != nil, j.Runtime.TmpDir, j.Runtime.Publish != nil, j.ID)
		}
	}
	sink := newMemSink(t)
	o := Run(context.Background(), cfg, sink)
	sink.checkEnded(o)
	if !o.Completed() || o.Class != "" || o.SinkErr != nil || o.JobName != "run-pass" {
		t.Fatalf("outcome %+v, want a completed job run-pass", o)
	}
	if configured != 1 {
		t.Errorf("Configure called %d times, want once", configured)
	}
	for _, name := range []string{"validate", "user-command", "job"} {
		if c := findCase(o.Cases, "lava", name); c == nil || c.Result != "pass" {
			t.Errorf("lava/%s: %+v, want pass", name, c)
		}
	}
	recs := sink.log()
	if recs[0].String("msg") != cfg.Intro {
		t.Errorf("first line %q, want the intro", recs[0].String("msg"))
	}
	// The command echoes the job's secret: the log shows it masked.
	masked := false
	for _, l := range sink.lines {
		if strings.Contains(l, "s3cret-value") {
			t.Errorf("secret in the log: %s", l)
		}
		masked = masked || strings.Contains(l, joblog.Masked)
	}
	if !masked {
		t.Error("no [MASKED] in the log: the command's output was not logged")
	}
	p, err := PrepareSources(cfg.Job, cfg.Device, cfg.Options)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := DescriptionYAML(p.Pipeline)
	if got := sink.files[DescriptionFile]; string(got) != string(want) {
		t.Errorf("description.yaml:\n%s\nwant:\n%s", got, want)
	}
	if _, err := os.Stat(cfg.TmpDir); !os.IsNotExist(err) {
		t.Errorf("scratch folder left behind: %v", err)
	}
}

func TestRunFails(t *testing.T) {
	cfg := runConfigFor(t, commandJob("fail"))
	cfg.KeepTmp = true
	sink := newMemSink(t)
	o := Run(context.Background(), cfg, sink)
	sink.checkEnded(o)
	if o.Completed() || o.Class == "" || o.Class == pipeline.ClassCanceled {
		t.Fatalf("outcome %+v, want a failed job", o.Outcome)
	}
	if c := findCase(o.Cases, "lava", "user-command"); c == nil || c.Result != "fail" {
		t.Errorf("lava/user-command: %+v, want fail", c)
	}
	if _, err := os.Stat(cfg.TmpDir); err != nil {
		t.Errorf("KeepTmp: scratch folder gone: %v", err)
	}
	if sink.files[DescriptionFile] == nil {
		t.Error("no description.yaml")
	}
}

// Canceling the context cancels the job: the command's process is
// stopped, the job ends Canceled with the reason the front end gives,
// and the sink still gets everything.
func TestRunCanceled(t *testing.T) {
	cfg := runConfigFor(t, commandJob("hang"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg.CancelReason = func() string { return "stopped by the test" }
	sink := newMemSink(t)
	sink.onLine = func(l string) {
		if strings.Contains(l, "sleep 600") { // the command started
			cancel()
		}
	}
	o := Run(ctx, cfg, sink)
	sink.checkEnded(o)
	// The reason, once: not followed by the pipeline's own "the job was
	// canceled: context canceled".
	if o.Class != pipeline.ClassCanceled || o.Message != "the job was canceled (stopped by the test)" {
		t.Fatalf("outcome %+v, want exactly: Canceled, the job was canceled (stopped by the test)", o.Outcome)
	}
}

// An invalid job never runs: every problem is logged, the description
// is still published, the lava/validate case fails and no scratch
// folder is made.
func TestRunInvalidJob(t *testing.T) {
	cfg := runConfigFor(t, commandJob("nosuch"))
	cfg.Configure = func(*pipeline.Job) { t.Error("Configure called for an invalid job") }
	sink := newMemSink(t)
	o := Run(context.Background(), cfg, sink)
	sink.checkEnded(o)
	if o.Class != pipeline.ClassJob || !strings.HasPrefix(o.Message, "invalid job: 1 error (first: job.yaml:") {
		t.Fatalf("outcome %+v, want an invalid job naming job.yaml", o.Outcome)
	}
	if c := findCase(o.Cases, "lava", "validate"); c == nil || c.Result != "fail" {
		t.Errorf("lava/validate: %+v, want fail", c)
	}
	if findCase(o.Cases, "lava", "user-command") != nil {
		t.Error("the invalid job ran its command")
	}
	if sink.files[DescriptionFile] == nil {
		t.Error("no description.yaml for a job whose pipeline was built")
	}
	if _, err := os.Stat(cfg.TmpDir); !os.IsNotExist(err) {
		t.Errorf("scratch folder made for an invalid job: %v", err)
	}
}

func TestRunUnreadableJob(t *testing.T) {
	cfg := runConfigFor(t, nil)
	cfg.Job = Source{Path: filepath.Join(t.TempDir(), "missing.yaml")}
	sink := newMemSink(t)
	o := Run(context.Background(), cfg, sink)
	sink.checkEnded(o)
	if o.Class != pipeline.ClassJob || !strings.Contains(o.Message, "reading job definition") || o.JobName != "" {
		t.Fatalf("outcome %+v, want a Job error naming the file", o.Outcome)
	}
	if len(sink.files) != 0 {
		t.Errorf("files published: %v", sink.files)
	}
}

// What the sink fails to keep is reported apart. A lost log alone does
// not change how the job ended; results that were not kept make a
// completed job incomplete (Infrastructure), so that no front end calls
// it complete.
func TestRunSinkErrors(t *testing.T) {
	cfg := runConfigFor(t, commandJob("pass"))
	sink := newMemSink(t)
	errClose := errors.New("log lost")
	sink.close = errClose
	o := Run(context.Background(), cfg, sink)
	sink.checkEnded(o)
	if !o.Completed() || !errors.Is(o.SinkErr, errClose) {
		t.Fatalf("outcome %+v, SinkErr %v; want completed, with the sink's error", o.Outcome, o.SinkErr)
	}

	cfg = runConfigFor(t, commandJob("pass"))
	sink = newMemSink(t)
	errResults := errors.New("results lost at s3cret-value")
	sink.results, sink.close = errResults, errClose
	o = Run(context.Background(), cfg, sink)
	if o.Completed() || o.Class != pipeline.ClassInfrastructure || !errors.Is(o.SinkErr, errResults) || !errors.Is(o.SinkErr, errClose) {
		t.Fatalf("outcome %+v, SinkErr %v; want incomplete (Infrastructure), with both sink errors", o.Outcome, o.SinkErr)
	}
	if want := "the job completed, but its results were not kept: results lost at " + joblog.Masked; o.Message != want {
		t.Errorf("message %q, want %q", o.Message, want)
	}
	if len(sink.outcomes) != 1 || !sink.outcomes[0].Completed() {
		t.Errorf("the sink got %+v: want the job's own ending, completed", sink.outcomes)
	}
}

// Everything Run hands the sink goes through the job's masker: a file an
// action publishes, the results and the outcome (the job's secret and a
// URL's password show as [MASKED]).
func TestRunMasksSink(t *testing.T) {
	cfg := runConfigFor(t, commandJob("pass"))
	cfg.Configure = func(j *pipeline.Job) {
		if err := j.Runtime.Publish("notes.txt", []byte("token s3cret-value, from https://bob:pa55@host/x\n")); err != nil {
			t.Error(err)
		}
		j.Runtime.Log.Result(value.MapOf("definition", "0_t", "case", "s3cret-value", "result", "pass", "reference", "http://u:pa55@h/"))
	}
	sink := newMemSink(t)
	o := Run(context.Background(), cfg, sink)
	sink.checkEnded(o)
	if got, want := string(sink.files["notes.txt"]), "token [MASKED], from https://bob:[MASKED]@host/x\n"; got != want {
		t.Errorf("published %q, want %q", got, want)
	}
	c := findCase(sink.outcomes[0].Cases, "0_t", joblog.Masked)
	if c == nil || c.Extra.String("reference") != "http://u:"+joblog.Masked+"@h/" {
		t.Errorf("the sink's results: %+v", sink.outcomes[0].Cases)
	}
	for _, l := range sink.lines {
		if strings.Contains(l, "s3cret-value") || strings.Contains(l, "pa55") {
			t.Errorf("log line in clear: %s", l)
		}
	}
}

// A MultiNode sub-job needs a coordinator: without one, or when the
// front end cannot say where it is, the job ends before anything runs.
func TestRunSubJobCoordinator(t *testing.T) {
	sub := groupOf(t).Members[0]
	for _, tc := range []struct {
		name  string
		coord func() (protocol.Settings, error)
		class pipeline.Class
		msg   string
	}{
		{"none", nil, pipeline.ClassConfiguration, "no coordinator is configured"},
		{"unreadable configuration", func() (protocol.Settings, error) {
			return protocol.Settings{}, pipeline.ConfigurationError("lava-coordinator.conf: bad")
		}, pipeline.ClassConfiguration, "lava-coordinator.conf: bad"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := sub.Config
			cfg.Coordinator = tc.coord
			sink := newMemSink(t)
			o := Run(context.Background(), cfg, sink)
			sink.checkEnded(o)
			if o.Class != tc.class || !strings.Contains(o.Message, tc.msg) {
				t.Errorf("outcome %+v, want %s saying %q", o.Outcome, tc.class, tc.msg)
			}
			if findCase(o.Cases, "lava", "user-command") != nil {
				t.Error("the sub-job ran its command")
			}
		})
	}
}

// groupOf splits testdata/run/group.yaml, each member on the scripted
// device with a sink of its own.
func groupOf(t *testing.T) *Group {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "run", "group.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := value.DecodeYAML(b)
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGroup(v.(*value.Map), 40)
	if err != nil {
		t.Fatalf("NewGroup: %v", err)
	}
	dev, err := os.ReadFile(filepath.Join("testdata", "run", "device.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range g.Members {
		m.Config.Device = Source{Text: dev}
		m.Config.TmpDir = filepath.Join(t.TempDir(), m.Name())
	}
	return g
}

// A group runs every member at once against a coordinator of its own;
// the essential role's failure cancels the other member, which says why,
// and every member ends with its sink closed.
func TestRunGroupEssentialFailure(t *testing.T) {
	g := groupOf(t)
	sinks := map[string]*memSink{}
	var mu sync.Mutex
	var ended, essential []string
	var coordinator string
	cfg := GroupConfig{
		Started: func(s protocol.Settings) error {
			coordinator = s.Addr
			for _, m := range g.Members {
				sinks[m.Role] = newMemSink(t)
				m.Sink = sinks[m.Role]
			}
			return nil
		},
		Ended: func(m *Member) {
			mu.Lock()
			defer mu.Unlock()
			ended = append(ended, m.Role)
		},
		EssentialFailed: func(m *Member) {
			mu.Lock()
			defer mu.Unlock()
			essential = append(essential, m.Role)
		},
	}
	if err := RunGroup(context.Background(), g, cfg); err != nil {
		t.Fatalf("RunGroup: %v", err)
	}
	if !strings.HasPrefix(coordinator, "127.0.0.1:") {
		t.Errorf("coordinator %q, want one of the group's own on 127.0.0.1", coordinator)
	}
	byRole := map[string]*Member{}
	for _, m := range g.Members {
		byRole[m.Role] = m
		sinks[m.Role].checkEnded(m.Outcome)
	}
	failer, waiter := byRole["failer"], byRole["waiter"]
	if failer.Outcome.Completed() || failer.Outcome.Class == pipeline.ClassCanceled {
		t.Errorf("failer: %+v, want a failure", failer.Outcome.Outcome)
	}
	wantMsg := fmt.Sprintf("the job was canceled (essential role failer (job %s) ended incomplete: %s error: ", failer.ID, failer.Outcome.ErrorType())
	if waiter.Outcome.Class != pipeline.ClassCanceled || !strings.Contains(waiter.Outcome.Message, wantMsg) {
		t.Errorf("waiter: %+v, want Canceled saying %q", waiter.Outcome.Outcome, wantMsg)
	}
	if len(ended) != 2 || len(essential) != 1 || essential[0] != "failer" {
		t.Errorf("Ended for %v, EssentialFailed for %v; want both ended, failer essential", ended, essential)
	}
}

// A member that cannot run stops the whole group before anything starts.
func TestRunGroupInvalidMember(t *testing.T) {
	g := groupOf(t)
	g.Members[1].Config.Device = Source{Text: []byte("device_type: [")}
	started := false
	err := RunGroup(context.Background(), g, GroupConfig{Started: func(protocol.Settings) error { started = true; return nil }})
	var ge *GroupError
	if !errors.As(err, &ge) || len(ge.Problems) != 1 || ge.Problems[0].Member != g.Members[1] {
		t.Fatalf("RunGroup = %v, want a *GroupError for %s alone", err, g.Members[1].Name())
	}
	if started {
		t.Error("the group started")
	}
	if d := ge.Problems[0].Errors; len(d) == 0 || d[0].File != DefaultDeviceName {
		t.Errorf("problems %v, want the device's, named %s", d, DefaultDeviceName)
	}
}
