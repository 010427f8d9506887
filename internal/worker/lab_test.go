package worker

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/coordinator"
	"github.com/basalt-lava/basalt/internal/dispatcher"
	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/logstore"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/sqlite"
	"github.com/basalt-lava/basalt/internal/workerapi"
)

// realLab is the real server side: a SQLite store, the log store and the
// lab's worker API over HTTP on 127.0.0.1, which can be restarted (a new
// Lab on the same database and log folder, on the same address).
type realLab struct {
	t       *testing.T
	st      store.Store
	logs    *logstore.Logs
	dataDir string
	user    store.User
	token   string
	coord   string // the MultiNode coordinator's address
	// allowLocal is the server's --allow-local-files, read by start.
	allowLocal []string

	mu   sync.Mutex
	lab  *lab.Lab
	addr string
	stop func()
}

// nohwTemplate is a device type whose devices have no hardware: the
// rendered configuration is testDevice with the type's name.
var nohwTemplate = strings.Replace(testDevice, "device_type: qemu", "device_type: nohw", 1)

func newRealLab(t *testing.T) *realLab {
	t.Helper()
	return newRealLabWith(t, logstore.Options{})
}

// newRealLabWith is newRealLab with the log store's options.
func newRealLabWith(t *testing.T, opts logstore.Options) *realLab {
	t.Helper()
	ctx := context.Background()
	dataDir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dataDir, "basalt.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs, err := logstore.Open(filepath.Join(dataDir, "logs"), opts)
	if err != nil {
		t.Fatal(err)
	}
	user, err := st.CreateUser(ctx, "alice", "", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutDeviceType(ctx, store.DeviceType{Name: "nohw", Template: nohwTemplate}); err != nil {
		t.Fatal(err)
	}
	token, err := st.CreateWorker(ctx, testWorker, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"nohw-01", "nohw-02"} {
		if err := st.CreateDevice(ctx, store.Device{Name: name, DeviceType: "nohw", Worker: testWorker, Dictionary: "{% extends 'nohw.jinja2' %}\n"}); err != nil {
			t.Fatal(err)
		}
		if err := st.SetDeviceHealth(ctx, name, store.HealthGood); err != nil {
			t.Fatal(err)
		}
	}
	// The MultiNode coordinator, as `basalt server` runs it.
	cl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	coord := coordinator.NewServer(coordinator.Options{})
	go coord.Serve(cl)
	t.Cleanup(func() { coord.Close() })
	r := &realLab{t: t, st: st, logs: logs, dataDir: dataDir, user: user, token: token, addr: "127.0.0.1:0", coord: cl.Addr().String()}
	r.start()
	t.Cleanup(r.shutdown)
	return r
}

// start starts a Lab and its HTTP server (on the address of the last one).
func (r *realLab) start() {
	r.t.Helper()
	logger := slog.New(slog.NewTextHandler(tWriter{r.t}, nil))
	l, err := lab.New(lab.Config{Store: r.st, Logs: r.logs, DataDir: r.dataDir, Lease: time.Minute, Logger: logger, CoordinatorAddr: r.coord,
		AllowLocalFiles: r.allowLocal})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	srv := serveHandler(r.t, r.addr, workerapi.NewHandler(l.WorkerServer()))
	r.mu.Lock()
	r.lab, r.addr = l, srv.Listener.Addr().String()
	r.stop = func() {
		cancel()
		if err := <-done; err != nil {
			r.t.Errorf("lab Run: %v", err)
		}
		srv.Close()
	}
	r.mu.Unlock()
}

// tWriter sends the lab's log to t.Log.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log("lab: " + strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func (r *realLab) shutdown() {
	r.mu.Lock()
	stop := r.stop
	r.stop = nil
	r.mu.Unlock()
	if stop != nil {
		stop()
	}
}

func (r *realLab) url() string { return "http://" + r.addr }

func (r *realLab) submit(commands ...string) int64 {
	r.t.Helper()
	def := strings.Replace(commandJob(commands...), "device_type: qemu", "device_type: nohw", 1)
	jobs, err := r.lab.Submit(context.Background(), r.user, def)
	if err != nil {
		r.t.Fatalf("submit: %v", err)
	}
	return jobs[0].ID
}

// waitJob waits until cond holds for the stored job (a bound on a hang,
// not a timing claim).
func (r *realLab) waitJob(id int64, what string, cond func(store.Job) bool) store.Job {
	r.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		j, err := r.st.Job(context.Background(), id)
		if err != nil {
			r.t.Fatal(err)
		}
		if cond(j) {
			return j
		}
		time.Sleep(50 * time.Millisecond)
	}
	j, _ := r.st.Job(context.Background(), id)
	ds, _ := r.st.Devices(context.Background())
	ws, _ := r.st.Workers(context.Background())
	r.t.Fatalf("job %d: %s: not within 2 minutes: %+v\ndevices %+v\nworkers %+v", id, what, j, ds, ws)
	return store.Job{}
}

func (r *realLab) log(id int64) []string {
	r.t.Helper()
	var b bytes.Buffer
	if _, err := r.logs.Read(id, 0, -1, &b); err != nil {
		r.t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

func (r *realLab) logHas(id int64, s string) bool {
	for _, l := range r.log(id) {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// TestRealLab runs jobs through the lab's own worker server, SQLite
// store and log store: a job completes with its whole log and results
// stored, two run at once, the server restarts mid-job and the log is
// still whole, and a job canceled on the server is canceled with its
// cleanup run.
func TestRealLab(t *testing.T) {
	r := newRealLab(t)
	startWorker(t, r.url(), func(c *Config) { c.Token, c.PollWait = r.token, 5*time.Second })
	ctx := context.Background()

	a := r.submit("slow", "chatty")
	b := r.submit("hang")
	r.waitJob(b, "to start", func(j store.Job) bool { return j.State == store.JobRunning && r.logHas(b, "hang-started") })
	r.waitJob(a, "to run", func(j store.Job) bool { return r.logHas(a, "slow-line-5") })

	// The server restarts while both run.
	r.shutdown()
	time.Sleep(300 * time.Millisecond)
	r.start()

	ja := r.waitJob(a, "to finish", func(j store.Job) bool { return j.State == store.JobFinished })
	if ja.Health != store.JobComplete {
		t.Fatalf("job %d ended %s (%s: %s), want Complete", a, ja.Health, ja.ErrorClass, ja.ErrorMsg)
	}
	logA := r.log(a)
	checkLog(t, logA, workerapi.FinishRequest{LogLines: int64(len(logA))}, map[string]int{"chatty-line-": 500, "slow-line-": 40})
	res, err := r.st.Results(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range res {
		names = append(names, x.Suite+"/"+x.Case+"="+x.Result)
	}
	if !strings.Contains(strings.Join(names, " "), "lava/job=pass") {
		t.Errorf("stored results %v: no lava/job=pass", names)
	}
	// The finish's results keep the time and log line of the records the
	// lab read as the log streamed.
	for _, x := range res {
		if x.Logged.IsZero() || x.LogStart == nil || x.LogEnd == nil || *x.LogStart >= int64(len(logA)) {
			t.Errorf("result %s/%s: logged %v, lines %v-%v", x.Suite, x.Case, x.Logged, x.LogStart, x.LogEnd)
			continue
		}
		if line := logA[*x.LogStart]; !strings.Contains(line, "results") || !strings.Contains(line, x.Case) {
			t.Errorf("result %s/%s: its log line %d is %s", x.Suite, x.Case, *x.LogStart, line)
		}
	}

	// The job's files are on the server beside its log: the device
	// configuration it was sent and the description the job published.
	jobDir := filepath.Dir(r.logs.Path(a))
	if dev, err := os.ReadFile(filepath.Join(jobDir, lab.DeviceFile)); err != nil || !strings.Contains(string(dev), "device_type: nohw") {
		t.Errorf("the server's device.yaml of job %d: %v\n%s", a, err, dev)
	}
	if desc, err := os.ReadFile(filepath.Join(jobDir, dispatcher.DescriptionFile)); err != nil || !strings.Contains(string(desc), "pipeline:") {
		t.Errorf("the server's description.yaml of job %d: %v\n%.500s", a, err, desc)
	}

	if err := r.lab.Cancel(ctx, r.user, r.waitJob(b, "running", func(store.Job) bool { return true })); err != nil {
		t.Fatal(err)
	}
	jb := r.waitJob(b, "to finish", func(j store.Job) bool { return j.State == store.JobFinished })
	if jb.Health != store.JobCanceled {
		t.Fatalf("job %d ended %s (%s: %s), want Canceled", b, jb.Health, jb.ErrorClass, jb.ErrorMsg)
	}
	logB := r.log(b)
	checkLog(t, logB, workerapi.FinishRequest{LogLines: int64(len(logB))}, nil)
	if !strings.Contains(strings.Join(logB, "\n"), "undo-ran") {
		t.Error("the canceled job's cleanup did not run")
	}
	checkNoProcess(t, "sleep\x00613")
}

// multinodeJob is a MultiNode group of two roles on devices without
// hardware: each role runs a chatty command; the group's start is the
// coordinator's barrier, which both sub-jobs must reach.
const multinodeJob = `job_name: worker-multinode
visibility: public
timeouts: {job: {minutes: 15}, action: {minutes: 12}}
protocols:
  lava-multinode:
    roles:
      left: {device_type: nohw, count: 1}
      right: {device_type: nohw, count: 1}
    timeout: {minutes: 5}
actions:
- command: {name: chatty, role: [left, right]}
`

// TestRealLabMultiNode runs a MultiNode group through the real lab: each
// sub-job reaches the coordinator the server names and both complete.
func TestRealLabMultiNode(t *testing.T) {
	r := newRealLab(t)
	startWorker(t, r.url(), func(c *Config) {
		c.Token, c.PollWait, c.CoordinatorPollDelay = r.token, 5*time.Second, 100*time.Millisecond
	})
	jobs, err := r.lab.Submit(context.Background(), r.user, multinodeJob)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 {
		t.Fatalf("%d sub-jobs, want 2", len(jobs))
	}
	for _, j := range jobs {
		got := r.waitJob(j.ID, "to finish", func(j store.Job) bool { return j.State == store.JobFinished })
		if got.Health != store.JobComplete {
			t.Errorf("sub-job %d ended %s (%s: %s), want Complete", j.ID, got.Health, got.ErrorClass, got.ErrorMsg)
		}
		log := r.log(j.ID)
		checkLog(t, log, workerapi.FinishRequest{LogLines: int64(len(log))}, map[string]int{"chatty-line-": 500})
		text := strings.Join(log, "\n")
		if !strings.Contains(text, "coordinator "+r.coord) || !strings.Contains(text, "lava-multinode protocol initialised") {
			t.Errorf("sub-job %d's log does not show the group meeting at the coordinator %s", j.ID, r.coord)
		}
	}
}

// TestLogOverItsLimit: a job whose log goes past the log store's limit is
// ended by the server, Incomplete with a Job error naming the limit and
// lava/log-upload and lava/job failed, its log kept up to the limit; the
// worker stops the job (a command that would sleep for 10 minutes) and
// its device is free for the next job, which completes.
func TestLogOverItsLimit(t *testing.T) {
	const limit = 16 << 10
	r := newRealLabWith(t, logstore.Options{MaxLogBytes: limit})
	startWorker(t, r.url(), func(c *Config) { c.Token, c.PollWait = r.token, 5*time.Second })
	ctx := context.Background()

	id := r.submit("chatty", "hang")
	j := r.waitJob(id, "to be ended", func(j store.Job) bool { return j.State == store.JobFinished })
	if j.Health != store.JobIncomplete || j.ErrorClass != "Job" || !strings.Contains(j.ErrorMsg, "over the limit of 16384 bytes") ||
		strings.Contains(j.ErrorMsg, r.dataDir) {
		t.Errorf("job %d ended %s, %s: %q; want Incomplete, Job, naming the limit (and not the server's folders)", id, j.Health, j.ErrorClass, j.ErrorMsg)
	}
	if info, err := os.Stat(r.logs.Path(id)); err != nil || info.Size() > limit {
		t.Errorf("the kept log: %v, %d bytes (limit %d)", err, info.Size(), limit)
	}
	// The log is cut, not emptied, and ends with the error and results.
	log := r.log(id)
	if n := len(log); n < 10 || !strings.Contains(log[n-3], "over the limit of 16384 bytes") ||
		!strings.Contains(log[n-2], "log-upload") || !strings.Contains(log[n-1], `"case": "job"`) {
		t.Errorf("the kept log (%d lines) ends:\n%s", n, strings.Join(log[max(0, n-3):], "\n"))
	}
	res, err := r.st.Results(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range res {
		names = append(names, x.Suite+"/"+x.Case+"="+x.Result)
		if x.Suite == "lava" && (x.LogStart == nil || *x.LogStart >= int64(len(log)) || !strings.Contains(log[*x.LogStart], x.Case)) {
			t.Errorf("result %s/%s: log line %v is not its record", x.Suite, x.Case, x.LogStart)
		}
	}
	if got := strings.Join(names, " "); !strings.Contains(got, "lava/log-upload=fail") || !strings.Contains(got, "lava/job=fail") {
		t.Errorf("results %v: want lava/log-upload=fail and lava/job=fail", names)
	}
	// The worker stopped the job: its command is gone and the device
	// runs the next job.
	next := r.submit("slow")
	jn := r.waitJob(next, "to finish", func(j store.Job) bool { return j.State == store.JobFinished })
	if jn.Health != store.JobComplete {
		t.Errorf("next job %d ended %s (%s: %s)", next, jn.Health, jn.ErrorClass, jn.ErrorMsg)
	}
	checkNoProcess(t, "sleep\x00613")
}
