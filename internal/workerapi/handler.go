package workerapi

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/basalt-lava/basalt/internal/limits"
)

// Server is what the protocol needs of a Basalt server. The handler has
// authenticated the worker, decoded and bounded the request and checked
// that its Worker field is the authenticated worker before any method but
// Authenticate is called.
type Server interface {
	// Authenticate checks a worker's name and token; it returns
	// ErrUnauthorized (or an error wrapping it) for an unknown worker or a
	// wrong token. Implementations compare in constant time
	// (CompareToken).
	Authenticate(ctx context.Context, worker, token string) error
	// Poll records the worker's heartbeat (extending its lease) and
	// answers with work. With req.Wait() > 0 it may hold the request that
	// long, answering early once there is something to start or cancel;
	// when the wait or ctx ends it answers with what it has, not an error.
	Poll(ctx context.Context, worker string, req PollRequest) (PollResponse, error)
	// Log stores lines req.Index... of the job's log, skipping those it
	// already holds, and returns how many it holds. A request starting past
	// its end returns a *GapError; a job that is not the worker's,
	// ErrUnknownJob.
	Log(ctx context.Context, worker string, req LogRequest) (LogResponse, error)
	// Finish ends the job; finishing an ended job again succeeds and
	// changes nothing. A log shorter than req.LogLines returns a *GapError;
	// a job that is not the worker's, ErrUnknownJob.
	Finish(ctx context.Context, worker string, req FinishRequest) (FinishResponse, error)
}

// CompareToken reports whether a token presented by a worker is the one
// expected, in time that does not depend on where they differ.
func CompareToken(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// NewHandler serves the protocol under PathPrefix, delegating to s.
func NewHandler(s Server) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST "+PollPath, endpoint(s, MaxRequestBytes, "poll request", func(ctx context.Context, w string, r PollRequest) (any, error) {
		return s.Poll(ctx, w, r)
	}))
	mux.Handle("POST "+LogPath, endpoint(s, MaxLogRequestBytes, "log request", func(ctx context.Context, w string, r LogRequest) (any, error) {
		if len(r.Lines) > MaxLogLines {
			return nil, &limits.Error{What: "log request", Limit: fmt.Sprintf("%d lines", MaxLogLines)}
		}
		if r.Index < 0 {
			return nil, badRequest("log index %d is negative", r.Index)
		}
		return s.Log(ctx, w, r)
	}))
	mux.Handle("POST "+FinishPath, endpoint(s, MaxRequestBytes, "finish request", func(ctx context.Context, w string, r FinishRequest) (any, error) {
		switch r.Health {
		case Complete, Incomplete, Canceled:
		default:
			return nil, badRequest("health %q is not one of Complete, Incomplete, Canceled", r.Health)
		}
		return s.Finish(ctx, w, r)
	}))
	if fs, ok := s.(FileServer); ok {
		mux.Handle("POST "+FilePath, endpoint(s, MaxFileRequestBytes, "file request", func(ctx context.Context, w string, r FileRequest) (any, error) {
			if err := CheckFileName(r.Name); err != nil {
				var lim *limits.Error
				if errors.As(err, &lim) {
					return nil, err
				}
				return nil, badRequest("%v", err)
			}
			if len(r.Data) > MaxFileBytes {
				return nil, &limits.Error{What: "published file " + r.Name, Limit: fmt.Sprintf("%d bytes (MaxFileBytes)", MaxFileBytes)}
			}
			return fs.File(ctx, w, r)
		}))
	}
	mux.HandleFunc(PathPrefix, func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusNotFound, errorReply{Error: fmt.Sprintf("no endpoint %s %s in worker protocol v1", r.Method, r.URL.Path)})
	})
	return mux
}

// workerNamed is every request body: the worker it claims to come from.
type workerNamed interface {
	PollRequest | LogRequest | FinishRequest | FileRequest
}

func workerOf(v any) string {
	switch r := v.(type) {
	case *PollRequest:
		return r.Worker
	case *LogRequest:
		return r.Worker
	case *FinishRequest:
		return r.Worker
	case *FileRequest:
		return r.Worker
	}
	return ""
}

type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{fmt.Sprintf(format, args...)}
}

func endpoint[T workerNamed](s Server, maxBytes int64, what string, call func(context.Context, string, T) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		worker := r.Header.Get(WorkerHeader)
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if worker == "" || !ok || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="basalt-worker"`)
			reply(w, http.StatusUnauthorized, errorReply{Error: "a worker request needs the " + WorkerHeader + " header and Authorization: Bearer <worker token>"})
			return
		}
		if err := s.Authenticate(ctx, worker, token); err != nil {
			writeError(w, err)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBytes+1))
		if err != nil {
			reply(w, http.StatusBadRequest, errorReply{Error: fmt.Sprintf("reading the %s: %v", what, err)})
			return
		}
		if int64(len(body)) > maxBytes {
			writeError(w, &limits.Error{What: what + " body", Limit: fmt.Sprintf("%d bytes", maxBytes)})
			return
		}
		var req T
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			reply(w, http.StatusBadRequest, errorReply{Error: fmt.Sprintf("the %s is not valid: %v", what, err)})
			return
		}
		if dec.More() {
			reply(w, http.StatusBadRequest, errorReply{Error: fmt.Sprintf("the %s has data after its JSON object", what)})
			return
		}
		if got := workerOf(&req); got != worker {
			reply(w, http.StatusForbidden, errorReply{Error: fmt.Sprintf("the %s names worker %q, the request is authenticated as %q", what, got, worker)})
			return
		}
		resp, err := call(ctx, worker, req)
		if err != nil {
			writeError(w, err)
			return
		}
		reply(w, http.StatusOK, resp)
	})
}

// The codes of errorReply.
const (
	codeGap          = "gap"
	codeUnknownJob   = "unknown_job"
	codeUnauthorized = "unauthorized"
)

// writeError maps a Server's error to its status. Errors the worker cannot
// act on (500) keep their text: the worker logs it and retries.
func writeError(w http.ResponseWriter, err error) {
	var gap *GapError
	var lim *limits.Error
	var bad *requestError
	switch {
	case errors.As(err, &gap):
		exp := gap.Expected
		reply(w, http.StatusConflict, errorReply{Error: gap.Error(), Code: codeGap, Expected: &exp})
	case errors.Is(err, ErrUnauthorized):
		w.Header().Set("WWW-Authenticate", `Bearer realm="basalt-worker"`)
		reply(w, http.StatusUnauthorized, errorReply{Error: "unknown worker or wrong token", Code: codeUnauthorized})
	case errors.Is(err, ErrUnknownJob):
		reply(w, http.StatusNotFound, errorReply{Error: err.Error(), Code: codeUnknownJob})
	case errors.As(err, &lim):
		reply(w, http.StatusRequestEntityTooLarge, errorReply{Error: lim.Error()})
	case errors.As(err, &bad) || errors.Is(err, ErrBadFile):
		reply(w, http.StatusBadRequest, errorReply{Error: err.Error()})
	default:
		reply(w, http.StatusInternalServerError, errorReply{Error: err.Error()})
	}
}

func reply(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b = []byte(`{"error":"encoding the reply failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
