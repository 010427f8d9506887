package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
