package worker

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"

	"github.com/basalt-lava/basalt/internal/workerapi"
)

// uploadFiles sends the server the files the job published (its output
// folder: description.yaml, the pipeline as run), before its Finish, so
// that the server has them once the job is finished. A file the server
// refuses (over a limit, a name it keeps for itself) is logged and left
// out; a server that keeps no files (an earlier v1) ends the uploads; the
// job is reported either way.
func (j *runningJob) uploadFiles(ctx context.Context) {
	dir := filepath.Join(j.dir, outputDir)
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			j.w.logf("job %d: its published files: %v", j.id, err)
		}
		return
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := readFileMax(filepath.Join(dir, e.Name()), workerapi.MaxFileBytes)
		if err == nil {
			err = j.w.peer.File(ctx, j.id, e.Name(), data)
		}
		switch {
		case err == nil:
		case errors.Is(err, workerapi.ErrNoFiles):
			j.w.logf("job %d: %v: its published files stay on the worker until it is reported", j.id, err)
			return
		case errors.Is(err, workerapi.ErrUnknownJob), ctx.Err() != nil:
			return // the Finish says what follows
		default:
			j.w.logf("job %d: published file %s not kept by the server: %v", j.id, e.Name(), err)
		}
	}
}

// readFileMax reads a file, only its first max+1 bytes when it is longer
// (enough for the limit to be named when it is sent).
func readFileMax(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max+1))
}
