package worker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/value"
	"github.com/basalt-lava/basalt/internal/workerapi"
	"github.com/google/go-cmp/cmp"
)

// testDevice is a device with no hardware: only host commands, which a
// real /bin/sh runs (the dispatcher's `command` action), and the keys
// LAVA's device schema requires.
const testDevice = `device_type: qemu
constants: {}
parameters: {}
actions:
  deploy: {methods: {}}
  boot: {connections: {}, methods: {}}
timeouts: {actions: {}, connections: {}}
commands:
  users:
    chatty: {do: "i=0; while [ $i -lt 500 ]; do echo chatty-line-$i; i=$((i+1)); done"}
    slow: {do: "i=0; while [ $i -lt 40 ]; do echo slow-line-$i; i=$((i+1)); sleep 0.05; done"}
    hang: {do: "echo hang-started; exec sleep 613", undo: "echo undo-ran"}
`

// commandJob is a job running the named user commands in turn.
func commandJob(names ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "device_type: qemu\njob_name: worker-%s\ntimeouts: {job: {minutes: 15}, action: {minutes: 12}}\nvisibility: public\nactions:\n", strings.Join(names, "-"))
	for _, n := range names {
		fmt.Fprintf(&b, "- command: {name: %s}\n", n)
	}
	return b.String()
}

func startJob(id workerapi.JobID, commands ...string) workerapi.StartJob {
	return workerapi.StartJob{Job: id, Definition: commandJob(commands...), Device: testDevice}
}

// testWorker runs a worker against url until the test ends (or stop is
// called), its messages going to t.Log.
type runner struct {
	w       *Worker
	workDir string
	cancel  context.CancelCauseFunc
	done    chan error
	once    sync.Once
}

func startWorker(t *testing.T, url string, mod func(*Config)) *runner {
	t.Helper()
	return startWorkerWith(t, url, mod, nil)
}

// startWorkerWith is startWorker with a change to the Worker before it
// runs.
func startWorkerWith(t *testing.T, url string, mod func(*Config), modW func(*Worker)) *runner {
	t.Helper()
	cfg := Config{URL: url, Name: testWorker, Token: testToken, Version: "test", WorkDir: t.TempDir(),
		PollWait: 2 * time.Second, RetryDelay: 50 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		KillGrace: 2 * time.Second,
		Logf:      func(format string, args ...any) { t.Logf("worker: "+format, args...) }}
	if mod != nil {
		mod(&cfg)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if modW != nil {
		modW(w)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	r := &runner{w: w, workDir: cfg.WorkDir, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- w.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop ends the worker as SIGTERM does and waits for Run to return.
func (r *runner) stop(t *testing.T) error {
	t.Helper()
	var err error
	r.once.Do(func() {
		r.cancel(errStopped)
		select {
		case err = <-r.done:
		case <-time.After(2 * time.Minute):
			t.Fatal("the worker did not stop")
		}
	})
	return err
}

// checkLog checks a job's stored log: every line one LAVA record that
// reads back as YAML, as many lines as the finish said, the worker's
// intro first and "job completed"/"job incomplete" last, and each
// want-prefix's numbered lines present exactly once and in order.
func checkLog(t *testing.T, lines []string, fin workerapi.FinishRequest, want map[string]int) {
	t.Helper()
	if int64(len(lines)) != fin.LogLines {
		t.Errorf("the server holds %d log lines, the finish says %d", len(lines), fin.LogLines)
	}
	var msgs []string
	for i, l := range lines {
		if !strings.HasPrefix(l, `- {"dt": "`) || strings.Contains(l, "\n") {
			t.Fatalf("line %d is not one LAVA record: %q", i, l)
		}
		v, err := value.DecodeYAML([]byte(l + "\n"))
		if err != nil {
			t.Fatalf("line %d does not read as YAML: %v\n%s", i, err, l)
		}
		m := v.([]any)[0].(*value.Map)
		msgs = append(msgs, fmt.Sprint(m.Value("msg")))
	}
	if len(msgs) == 0 || !strings.HasPrefix(msgs[0], "basalt worker w1: job ") {
		t.Errorf("first line %q, want the worker's intro", msgs[0])
	}
	for prefix, n := range want {
		next := 0
		for _, m := range msgs {
			// A command's output: ">> chatty-line-12".
			tail, ok := strings.CutPrefix(m, ">> "+prefix)
			if !ok {
				continue
			}
			if tail != fmt.Sprint(next) {
				t.Fatalf("%s%s where %s%d was due: a line lost, repeated or out of order", prefix, tail, prefix, next)
			}
			next++
		}
		if next != n {
			t.Errorf("%d lines %s..., want %d", next, prefix, n)
		}
	}
}

// TestLogWholeThroughFaults runs a chatty job through a server that
// answers 503 to some requests and loses the replies of others: the log
// arrives whole, in order, once.
func TestLogWholeThroughFaults(t *testing.T) {
	rec := newRecorder()
	f := &faults{failEvery: 3, dropEvery: 5}
	srv := serveOn(t, rec, "", f)
	startWorker(t, srv.URL, nil)
	rec.start(startJob(1, "chatty", "slow"))
	rec.waitFor(t, "job 1 to finish", func() bool { _, ok := rec.finished[1]; return ok })
	fin, _ := rec.finishOf(1)
	if fin.Health != workerapi.Complete {
		t.Fatalf("job 1 ended %s (%s: %s), want Complete", fin.Health, fin.ErrorType, fin.ErrorMessage)
	}
	checkLog(t, rec.logOf(1), fin, map[string]int{"chatty-line-": 500, "slow-line-": 40})
	f.mu.Lock()
	t.Logf("%d requests, %d answered 503, %d replies lost", f.n, f.failed, f.lost)
	if f.failed == 0 || f.lost == 0 {
		t.Errorf("the faults did not happen: %d 503s, %d lost replies", f.failed, f.lost)
	}
	f.mu.Unlock()
	var names []string
	for _, r := range fin.Results {
		names = append(names, r.Suite+"/"+r.Case+"="+r.Result)
	}
	for _, want := range []string{"lava/validate=pass", "lava/user-command=pass", "lava/job=pass"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("results %v: no %s", names, want)
		}
	}
}

// TestServerRestart closes the server mid-job and starts a new one on the
// same address and state, which has also lost the last lines it held:
// the job keeps running, the worker reconnects and the log is whole.
func TestServerRestart(t *testing.T) {
	rec := newRecorder()
	srv := serveOn(t, rec, "", nil)
	addr := srv.Listener.Addr().String()
	var mu sync.Mutex
	var said []string
	r := startWorker(t, srv.URL, func(c *Config) {
		c.Logf = func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			said = append(said, fmt.Sprintf(format, args...))
			t.Logf("worker: "+format, args...)
		}
	})
	rec.start(startJob(2, "slow", "chatty"))
	rec.waitFor(t, "job 2's log to reach slow-line-10", func() bool { return rec.logHas(2, "slow-line-10") })
	srv.Close()
	rec.loseTail(2, 4)
	time.Sleep(500 * time.Millisecond) // the worker meets a closed port
	serveOn(t, rec, addr, nil)
	rec.waitFor(t, "job 2 to finish", func() bool { _, ok := rec.finished[2]; return ok })
	fin, _ := rec.finishOf(2)
	if fin.Health != workerapi.Complete {
		t.Fatalf("job 2 ended %s (%s: %s), want Complete", fin.Health, fin.ErrorType, fin.ErrorMessage)
	}
	checkLog(t, rec.logOf(2), fin, map[string]int{"chatty-line-": 500, "slow-line-": 40})
	mu.Lock()
	if !slices.Contains(said, "connected to "+srv.URL+" again") {
		t.Errorf("the worker did not say it reconnected: %q", said)
	}
	mu.Unlock()
	rec.waitFor(t, "job 2's folder to go", func() bool {
		_, err := os.Stat(filepath.Join(r.workDir, "jobs", "2"))
		return os.IsNotExist(err)
	})
}

// TestCancelMidJob cancels a job on the server while its command runs:
// the command is stopped, the job's cleanup runs (the command's undo) and
// the job is reported Canceled with its whole log.
func TestCancelMidJob(t *testing.T) {
	rec := newRecorder()
	srv := serveOn(t, rec, "", nil)
	startWorker(t, srv.URL, nil)
	rec.start(startJob(3, "hang"))
	rec.waitFor(t, "job 3's command to start", func() bool { return rec.logHas(3, "hang-started") })
	rec.cancelJob(3)
	rec.waitFor(t, "job 3 to finish", func() bool { _, ok := rec.finished[3]; return ok })
	fin, _ := rec.finishOf(3)
	if fin.Health != workerapi.Canceled || !strings.Contains(fin.ErrorMessage, "canceled on the server") {
		t.Fatalf("job 3 ended %s (%s: %s), want Canceled on the server", fin.Health, fin.ErrorType, fin.ErrorMessage)
	}
	log := rec.logOf(3)
	checkLog(t, log, fin, nil)
	if !strings.Contains(strings.Join(log, "\n"), "undo-ran") {
		t.Error("the command's undo did not run: no cleanup")
	}
	checkNoProcess(t, "sleep\x00613")
}

// TestJobNoLongerListed: the server ends a job on its own (a lost lease):
// the worker stops it, sends nothing more and removes its files.
func TestJobNoLongerListed(t *testing.T) {
	rec := newRecorder()
	srv := serveOn(t, rec, "", nil)
	r := startWorker(t, srv.URL, nil)
	rec.start(startJob(4, "hang"))
	rec.waitFor(t, "job 4's command to start and a poll listing it", func() bool {
		return rec.logHas(4, "hang-started") && len(rec.heard) == 1 && rec.heard[0].Job == 4
	})
	rec.forget(4)
	rec.waitFor(t, "a poll without job 4", func() bool { return len(rec.heard) == 0 })
	if _, err := os.Stat(filepath.Join(r.workDir, "jobs", "4")); !os.IsNotExist(err) {
		t.Errorf("job 4's folder is still there: %v", err)
	}
	if n := rec.finishes[4]; n != 0 {
		t.Errorf("job 4 was reported %d times, want none", n)
	}
	checkNoProcess(t, "sleep\x00613")
}

// TestTwoJobsAtOnce runs two jobs side by side: both run at the same time
// (one poll lists both) and both complete with their whole logs.
func TestTwoJobsAtOnce(t *testing.T) {
	rec := newRecorder()
	srv := serveOn(t, rec, "", nil)
	startWorker(t, srv.URL, nil)
	rec.start(startJob(5, "slow", "hang"))
	rec.start(startJob(6, "chatty", "hang"))
	rec.waitFor(t, "a poll with jobs 5 and 6 running", func() bool {
		return len(rec.heard) == 2 && rec.logHas(5, "hang-started") && rec.logHas(6, "hang-started")
	})
	rec.cancelJob(5)
	rec.cancelJob(6)
	rec.waitFor(t, "jobs 5 and 6 to finish", func() bool { return len(rec.finished) == 2 })
	for id, want := range map[workerapi.JobID]map[string]int{5: {"slow-line-": 40}, 6: {"chatty-line-": 500}} {
		fin, _ := rec.finishOf(id)
		if fin.Health != workerapi.Canceled {
			t.Errorf("job %d ended %s (%s), want Canceled", id, fin.Health, fin.ErrorMessage)
		}
		checkLog(t, rec.logOf(id), fin, want)
	}
}

// TestCancelUnknownJob: a cancel for a job the worker does not run is
// answered with a Canceled finish, so the server can close it.
func TestCancelUnknownJob(t *testing.T) {
	rec := newRecorder()
	rec.owner[9] = true
	srv := serveOn(t, rec, "", nil)
	startWorker(t, srv.URL, nil)
	rec.cancelJob(9)
	rec.waitFor(t, "job 9 to finish", func() bool { _, ok := rec.finished[9]; return ok })
	if fin, _ := rec.finishOf(9); fin.Health != workerapi.Canceled {
		t.Errorf("job 9 reported %s, want Canceled", fin.Health)
	}
}

// failingWriter fails with ENOSPC once it has taken limit bytes.
type failingWriter struct {
	f     *os.File
	limit int
	n     int
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n >= w.limit {
		return 0, &os.PathError{Op: "write", Path: w.f.Name(), Err: syscall.ENOSPC}
	}
	w.n += len(p)
	return w.f.Write(p)
}

func (w *failingWriter) Close() error { return w.f.Close() }

// TestSpoolWriteFails: a disk that fills up mid-job ends the job
// Incomplete with an Infrastructure error naming the problem, with what
// was written delivered.
func TestSpoolWriteFails(t *testing.T) {
	rec := newRecorder()
	srv := serveOn(t, rec, "", nil)
	startWorkerWith(t, srv.URL, nil, func(w *Worker) { w.createSpool = fullDiskSpool })
	rec.start(startJob(7, "slow", "hang"))
	rec.waitFor(t, "job 7 to finish", func() bool { _, ok := rec.finished[7]; return ok })
	fin, _ := rec.finishOf(7)
	if fin.Health != workerapi.Incomplete || fin.ErrorType != "Infrastructure" || !strings.Contains(fin.ErrorMessage, "no space left on device") {
		t.Fatalf("job 7 ended %s (%s: %s), want Incomplete with an Infrastructure error naming the full disk", fin.Health, fin.ErrorType, fin.ErrorMessage)
	}
	if got := rec.logOf(7); int64(len(got)) != fin.LogLines || len(got) == 0 {
		t.Errorf("the server holds %d lines, the finish says %d", len(got), fin.LogLines)
	}
	checkNoProcess(t, "sleep\x00613")
}

// fullDiskSpool is a spool on a disk that fills up after 2 KiB.
func fullDiskSpool(path string, onFailure func(error)) (*spool, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	rd, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return newSpool(path, &failingWriter{f: f, limit: 2 << 10}, rd, rd, onFailure, spoolBuffer, spoolChunk, spoolInterval), nil
}

// checkNoProcess fails when a process runs whose command line (NUL
// separated) is cmdline.
func checkNoProcess(t *testing.T, cmdline string) {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.TrimRight(string(b), "\x00") == cmdline {
			st, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			t.Errorf("process %s still there: %q (%s)", e.Name(), cmdline, st)
		}
	}
}

// TestRestartDeliversWhatWasLeft: a worker stopped while its server is
// away gives up reporting its canceled job after the shutdown grace and
// keeps the job's files; the next worker process on the same work folder
// delivers the rest of the log and the end once the server is back.
func TestRestartDeliversWhatWasLeft(t *testing.T) {
	rec := newRecorder()
	srv := serveOn(t, rec, "", nil)
	addr := srv.Listener.Addr().String()
	workDir := t.TempDir()
	first := startWorker(t, srv.URL, func(c *Config) { c.WorkDir, c.ShutdownGrace = workDir, 500*time.Millisecond })
	rec.start(startJob(10, "slow", "hang"))
	rec.waitFor(t, "job 10's command to start", func() bool { return rec.logHas(10, "hang-started") })
	srv.Close()
	rec.loseTail(10, 3)
	if err := first.stop(t); err != nil {
		t.Fatalf("first worker: %v", err)
	}
	if _, ok := rec.finishOf(10); ok {
		t.Fatal("job 10 reported while the server was down")
	}
	if _, err := os.Stat(filepath.Join(workDir, "jobs", "10", pendingFile)); err != nil {
		t.Fatalf("the job's end was not kept: %v", err)
	}

	serveOn(t, rec, addr, nil)
	startWorker(t, "http://"+addr, func(c *Config) { c.WorkDir = workDir })
	rec.waitFor(t, "job 10 to finish", func() bool { _, ok := rec.finished[10]; return ok })
	fin, _ := rec.finishOf(10)
	if fin.Health != workerapi.Canceled || !strings.Contains(fin.ErrorMessage, "the worker is shutting down") {
		t.Fatalf("job 10 ended %s (%s), want Canceled by the shutdown", fin.Health, fin.ErrorMessage)
	}
	log := rec.logOf(10)
	checkLog(t, log, fin, map[string]int{"slow-line-": 40})
	if !strings.Contains(strings.Join(log, "\n"), "undo-ran") {
		t.Error("the log after the restart misses the cleanup")
	}
	rec.waitFor(t, "job 10's folder to go", func() bool {
		_, err := os.Stat(filepath.Join(workDir, "jobs", "10"))
		return os.IsNotExist(err)
	})
}

// TestServerTimeout: a job whose timeout the server sets runs out of it:
// it is stopped, its cleanup runs, and it ends Incomplete as a timeout.
func TestServerTimeout(t *testing.T) {
	rec := newRecorder()
	srv := serveOn(t, rec, "", nil)
	startWorker(t, srv.URL, nil)
	s := startJob(11, "hang")
	s.TimeoutMS = 1500
	rec.start(s)
	rec.waitFor(t, "job 11 to finish", func() bool { _, ok := rec.finished[11]; return ok })
	fin, _ := rec.finishOf(11)
	if fin.Health != workerapi.Incomplete || fin.ErrorType != "LAVATimeout" || !strings.Contains(fin.ErrorMessage, "the job timeout of 1.5s set by the server ran out") {
		t.Fatalf("job 11 ended %s (%s: %s), want Incomplete, LAVATimeout, naming the server's timeout", fin.Health, fin.ErrorType, fin.ErrorMessage)
	}
	log := rec.logOf(11)
	checkLog(t, log, fin, nil)
	if !strings.Contains(strings.Join(log, "\n"), "undo-ran") {
		t.Error("the command's undo did not run: no cleanup")
	}
}

// TestRestartedJobContinuesTheLog: a job the server starts again with
// lines already held (StartJob.LogAcked) gets this run's log after them;
// a server holding fewer than it said gets it after what it holds.
func TestRestartedJobContinuesTheLog(t *testing.T) {
	for _, c := range []struct {
		name       string
		held, said int
	}{
		{"held as said", 5, 5},
		{"fewer held than said", 2, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := newRecorder()
			old := make([]string, c.held)
			for i := range old {
				old[i] = fmt.Sprintf(`- {"dt": "2026-01-01T00:00:00.000000+00:00", "lvl": "info", "msg": "earlier run %d"}`, i)
			}
			rec.logs[12] = append([]string(nil), old...)
			srv := serveOn(t, rec, "", nil)
			startWorker(t, srv.URL, nil)
			s := startJob(12, "chatty")
			s.LogAcked = int64(c.said)
			rec.start(s)
			rec.waitFor(t, "job 12 to finish", func() bool { _, ok := rec.finished[12]; return ok })
			fin, _ := rec.finishOf(12)
			log := rec.logOf(12)
			if diff := cmp.Diff(log[:c.held], old); diff != "" {
				t.Fatalf("the earlier run's lines changed (-got +want):\n%s", diff)
			}
			checkLog(t, log[c.held:], workerapi.FinishRequest{LogLines: fin.LogLines - int64(c.held)}, map[string]int{"chatty-line-": 500})
			if fin.Health != workerapi.Complete || fin.LogLines != int64(len(log)) {
				t.Errorf("finish %s with %d lines, the server holds %d", fin.Health, fin.LogLines, len(log))
			}
		})
	}
}

// TestJobFolderCannotBeMade: a worker that cannot make a job's folder
// (the work folder broken under it) reports the job Incomplete with an
// infrastructure error naming the problem, and goes on.
func TestJobFolderCannotBeMade(t *testing.T) {
	rec := newRecorder()
	srv := serveOn(t, rec, "", nil)
	r := startWorker(t, srv.URL, nil)
	rec.waitFor(t, "a first poll", func() bool { return rec.polls > 0 })
	jobs := filepath.Join(r.workDir, "jobs")
	if err := os.RemoveAll(jobs); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(jobs, []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec.start(startJob(13, "chatty"))
	rec.waitFor(t, "job 13 to finish", func() bool { _, ok := rec.finished[13]; return ok })
	fin, _ := rec.finishOf(13)
	if fin.Health != workerapi.Incomplete || fin.ErrorType != "Infrastructure" || !strings.Contains(fin.ErrorMessage, "creating the job's folder") || !strings.Contains(fin.ErrorMessage, "not a directory") {
		t.Fatalf("job 13 ended %s (%s: %s), want Incomplete with an Infrastructure error naming the folder", fin.Health, fin.ErrorType, fin.ErrorMessage)
	}
}
