package workerapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/basalt-lava/basalt/internal/limits"
)

// FilePath is where a worker sends the files a job publishes (the
// dispatcher's Sink.File: description.yaml, the pipeline as run), one per
// request, before the job's Finish, so that a finished job's files are on
// the server. A request of its own, not a field of Finish: a Finish stays
// small and is retried whole, a file is bounded on its own, and a server
// of an earlier v1 answers the path 404 (no endpoint), which the worker
// takes as "the server keeps no files" and finishes the job as before:
// the change is backward compatible within v1 both ways.
const FilePath = PathPrefix + "file"

// Limits on the files of a job. A file or a job over them is refused with
// a *limits.Error naming the limit (HTTP 413), and the worker goes on
// without that file.
const (
	// MaxFileBytes bounds one published file.
	MaxFileBytes = 4 << 20
	// MaxJobFileBytes bounds the files the server keeps of one job.
	MaxJobFileBytes = 16 << 20
	// MaxFileRequestBytes bounds a File request body: a file of
	// MaxFileBytes in base64 and the rest of the request.
	MaxFileRequestBytes = MaxFileBytes/3*4 + 64<<10
	// MaxFileName bounds a file's name.
	MaxFileName = 255
)

// FileRequest carries one file a job published. Uploading the same name
// again replaces it (a worker that restarts sends its files again).
type FileRequest struct {
	Worker string `json:"worker"`
	Job    JobID  `json:"job"`
	Name   string `json:"name"`
	Data   []byte `json:"data"` // base64 in JSON
}

// FileResponse acknowledges a file.
type FileResponse struct{}

// FileServer is the optional part of a Server that keeps the files of a
// job (NewHandler serves FilePath only for a Server that implements it).
// The handler has checked the name (CheckFileName) and the file's size
// against MaxFileBytes; the implementation bounds the job's total
// (MaxJobFileBytes) and returns ErrUnknownJob for a job that is not the
// worker's or not running.
type FileServer interface {
	File(ctx context.Context, worker string, req FileRequest) (FileResponse, error)
}

// CheckFileName accepts a plain file name: not empty, not "." or "..",
// no path separator, NUL or control character, not hidden, at most
// MaxFileName bytes.
func CheckFileName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("the file has no name")
	case len(name) > MaxFileName:
		return &limits.Error{What: "file name", Limit: fmt.Sprintf("%d bytes", MaxFileName)}
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("file name %q starts with a dot", name)
	case strings.ContainsAny(name, "/\\"):
		return fmt.Errorf("file name %q is a path, not a plain file name", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("file name %q has a control character", name)
		}
	}
	return nil
}

// File sends a file job published; the worker's name is filled in. An
// error wrapping ErrNoFiles says the server keeps no files.
func (p *Peer) File(ctx context.Context, job JobID, name string, data []byte) error {
	if err := CheckFileName(name); err != nil {
		return err
	}
	if len(data) > MaxFileBytes {
		return &limits.Error{What: fmt.Sprintf("published file %s", name), Limit: fmt.Sprintf("%d bytes (MaxFileBytes)", MaxFileBytes)}
	}
	err := p.call(ctx, FilePath, 0, MaxFileRequestBytes, FileRequest{Worker: p.cfg.Worker, Job: job, Name: name, Data: data}, &FileResponse{})
	if se := (*StatusError)(nil); errors.As(err, &se) && se.Code == http.StatusNotFound {
		return fmt.Errorf("%w: %v", ErrNoFiles, err)
	}
	return err
}

// ErrNoFiles is the answer of a server that does not keep a job's files
// (one of an earlier v1).
var ErrNoFiles = errors.New("the server keeps no job files")

// ErrBadFile is a Server's refusal of a file for its name (HTTP 400): the
// worker goes on without it.
var ErrBadFile = errors.New("file refused")
