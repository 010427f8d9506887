package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/logstore"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/workerapi"
)

// DeviceFile is the device configuration the server sent a job's worker,
// kept in the job's folder beside its log (LAVA's device.yaml of a job,
// what scheduler.jobs.configuration returns).
const DeviceFile = "device.yaml"

// JobFile is the path of a file of job's: <data-dir>/jobs/<id>/<name>,
// the folder of its log (the log store's, when it says where that is).
func (l *Lab) JobFile(job int64, name string) string {
	if p, ok := l.logs.(interface{ Path(int64) string }); ok {
		return filepath.Join(filepath.Dir(p.Path(job)), name)
	}
	return filepath.Join(l.cfg.DataDir, "jobs", strconv.FormatInt(job, 10), name)
}

// reservedFile reports whether name is one of the server's own files of
// a job, which a worker may not replace.
func reservedFile(name string) bool {
	switch name {
	case logstore.LogFile, logstore.IndexFile, DeviceFile:
		return true
	}
	return false
}

// keepDevice writes the device configuration sent for job j, replacing
// one sent before (a job started again after a server restart gets the
// same rendering).
func (l *Lab) keepDevice(j int64, config string) error {
	return writeJobFile(l.JobFile(j, DeviceFile), []byte(config))
}

func writeJobFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".upload-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

var filesMu sync.Mutex

var _ workerapi.FileServer = workerServer{}

// File keeps a file a running job published in the job's folder; the
// job's files together stay under workerapi.MaxJobFileBytes.
func (s workerServer) File(ctx context.Context, worker string, req workerapi.FileRequest) (workerapi.FileResponse, error) {
	j, err := s.ownJob(ctx, worker, req.Job)
	if err != nil {
		return workerapi.FileResponse{}, err
	}
	if j.State != store.JobRunning && j.State != store.JobCanceling {
		return workerapi.FileResponse{}, fmt.Errorf("job %d is %s, not running: %w", req.Job, j.State, workerapi.ErrUnknownJob)
	}
	if err := workerapi.CheckFileName(req.Name); err != nil {
		return workerapi.FileResponse{}, fmt.Errorf("%w: %v", workerapi.ErrBadFile, err)
	}
	if reservedFile(req.Name) {
		return workerapi.FileResponse{}, fmt.Errorf("%w: job %d: %q is the server's own file of a job, not one a job publishes", workerapi.ErrBadFile, req.Job, req.Name)
	}
	filesMu.Lock() // the total and the write, one upload at a time
	defer filesMu.Unlock()
	path := s.l.JobFile(j.ID, req.Name)
	total := int64(len(req.Data))
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if reservedFile(e.Name()) || e.Name() == req.Name || !e.Type().IsRegular() {
			continue
		}
		if info, err := e.Info(); err == nil {
			total += info.Size()
		}
	}
	if total > workerapi.MaxJobFileBytes {
		return workerapi.FileResponse{}, &limits.Error{What: fmt.Sprintf("files of job %d (with %s)", j.ID, req.Name),
			Limit: fmt.Sprintf("%d bytes (MaxJobFileBytes)", workerapi.MaxJobFileBytes)}
	}
	if err := writeJobFile(path, req.Data); err != nil {
		return workerapi.FileResponse{}, fmt.Errorf("keeping %s of job %d: %w", req.Name, j.ID, err)
	}
	return workerapi.FileResponse{}, nil
}

// logFull ends a job whose log the log store refuses for its size (the
// log is full: every later batch would be refused the same way, and the
// worker would retry it for ever). As lava-run does when the server
// refuses its log, the log is cut and the failure recorded: as much of
// the start of the refused batch as fits with the job's end is appended
// (halving it until it fits), the end being an error naming the limit and the results lava/log-upload
// fail and lava/job fail; the job ends Incomplete with a Job error. The
// worker is answered ErrUnknownJob with the reason, so it stops the job.
func (s workerServer) logFull(ctx context.Context, j store.Job, full *limits.Error, index int64, lines []string) error {
	l := s.l
	lim := *full
	// Neither the server's folders nor the sizes of the batch refused
	// (the log is cut below them) are the job's business.
	lim.Path, lim.What = "", fmt.Sprintf("log of job %d", j.ID)
	now := l.now()
	f := store.Finish{Health: store.JobIncomplete, ErrorClass: "Job",
		ErrorMsg: fmt.Sprintf("%v: the log is cut there and the job was stopped", &lim)}
	if j.State == store.JobCanceling {
		f.Health = store.JobCanceled
	}
	finishRules(j, &f)
	dt := now.UTC().Format("2006-01-02T15:04:05.000000")
	msg := strconv.QuoteToASCII(f.ErrorMsg)
	end := []string{
		fmt.Sprintf(`- {"dt": "%s", "lvl": "error", "msg": %s}`, dt, msg),
		fmt.Sprintf(`- {"dt": "%s", "lvl": "results", "msg": {"definition": "lava", "case": "log-upload", "result": "fail"}}`, dt),
		fmt.Sprintf(`- {"dt": "%s", "lvl": "results", "msg": {"definition": "lava", "case": "job", "result": "fail", "error_type": %s, "error_msg": %s}}`,
			dt, strconv.QuoteToASCII(f.ErrorClass), msg),
	}
	meta := func(m map[string]string) string { b, _ := json.Marshal(m); return string(b) }
	rs := []store.Result{
		{Suite: "lava", Case: "log-upload", Result: "fail", Metadata: meta(map[string]string{"definition": "lava", "case": "log-upload", "result": "fail"}), Logged: now},
		{Suite: "lava", Case: "job", Result: "fail", Logged: now,
			Metadata: meta(map[string]string{"definition": "lava", "case": "job", "result": "fail", "error_type": f.ErrorClass, "error_msg": f.ErrorMsg})},
	}
	// Halving the batch's start until it fits with the end: a bounded
	// number of tries whatever the batch.
	held, err := l.logs.Len(j.ID)
	if err != nil {
		return err
	}
	if skip := held - index; skip > 0 && skip <= int64(len(lines)) {
		lines = lines[skip:]
	}
	n := len(lines)
	for {
		batch := append(slices.Clone(lines[:n]), end...)
		if _, err := l.logs.Append(j.ID, held, batch); err == nil {
			for i := range rs {
				line := held + int64(n) + 1 + int64(i)
				rs[i].LogStart, rs[i].LogEnd = &line, &line
			}
			break
		}
		if n == 0 {
			l.log.Warn("the job's log is full: its end is not logged", "job", j.ID)
			break
		}
		n /= 2
	}
	if err := l.st.AddResults(ctx, j.ID, rs); err != nil {
		return err
	}
	if err := l.st.FinishJob(ctx, j.ID, f, now); err != nil && !errors.Is(err, store.ErrTransition) {
		return err
	} else if err == nil {
		l.changed(j.ID, store.JobFinished, j.Health)
	}
	l.log.Warn("job incomplete: its log is over its limit", "job", j.ID, "err", &lim)
	l.Kick()
	return fmt.Errorf("job %d was ended by the server: %s: %w", j.ID, f.ErrorMsg, workerapi.ErrUnknownJob)
}
