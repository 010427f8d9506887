package workerapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/limits"
)

// PeerConfig configures a Peer.
type PeerConfig struct {
	// URL is the server's base URL ("http://lab.example:8000"); the
	// protocol's paths are added to it.
	URL string
	// Worker and Token identify the worker.
	Worker string
	Token  string
	// Version is the worker's Basalt version, sent with every poll.
	Version string
	// Client makes the requests; nil means a client without an overall
	// timeout (a poll is held up to MaxWait, and ctx bounds every call).
	Client *http.Client
	// MinBackoff and MaxBackoff bound the wait between retries of a
	// transient failure (the wait doubles from MinBackoff, with jitter);
	// zero means 200ms and 10s.
	MinBackoff, MaxBackoff time.Duration
	// MaxAttempts bounds the attempts of one call; zero retries until ctx
	// ends.
	MaxAttempts int
	// AttemptTimeout bounds one attempt beyond the time a poll is held, so
	// a server that vanished without closing the connection is noticed and
	// retried; zero means 30s.
	AttemptTimeout time.Duration
	// OnRetry, if set, is told of each transient failure before the wait
	// that follows it (attempt counts from 1), for the worker's log.
	OnRetry func(path string, attempt int, err error)
}

// Peer is a worker's side of the protocol. Its methods are safe for
// concurrent use. Transient failures (the network, a 5xx, a 429) are
// retried with backoff until ctx ends or MaxAttempts is reached, which is
// safe because every call is idempotent; refusals come back at once as a
// *StatusError, *GapError, ErrUnknownJob or ErrUnauthorized.
type Peer struct {
	cfg  PeerConfig
	base string
}

// NewPeer checks cfg and returns its Peer.
func NewPeer(cfg PeerConfig) (*Peer, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http(s)://host[:port]", cfg.URL)
	}
	if cfg.Worker == "" || cfg.Token == "" {
		return nil, errors.New("a worker needs a name and a token")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 200 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 30 * time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	return &Peer{cfg: cfg, base: strings.TrimSuffix(cfg.URL, "/")}, nil
}

// Poll sends a heartbeat with the jobs the worker runs and waits up to
// wait (at most MaxWait) for work. The worker's name and version are
// filled in.
func (p *Peer) Poll(ctx context.Context, running []RunningJob, wait time.Duration) (PollResponse, error) {
	req := PollRequest{Worker: p.cfg.Worker, Version: p.cfg.Version, Running: running, WaitMS: wait.Milliseconds()}
	if req.Running == nil {
		req.Running = []RunningJob{}
	}
	var resp PollResponse
	err := p.call(ctx, PollPath, req.Wait(), MaxRequestBytes, req, &resp)
	return resp, err
}

// Log sends lines index, index+1, ... of job's log and returns how many
// lines the server holds. Resending lines the server holds is harmless; a
// *GapError says where to resend from.
func (p *Peer) Log(ctx context.Context, job JobID, index int64, lines []string) (acked int64, err error) {
	if len(lines) > MaxLogLines {
		return 0, &limits.Error{What: "log request", Limit: fmt.Sprintf("%d lines", MaxLogLines)}
	}
	if lines == nil {
		lines = []string{}
	}
	var resp LogResponse
	err = p.call(ctx, LogPath, 0, MaxLogRequestBytes, LogRequest{Worker: p.cfg.Worker, Job: job, Index: index, Lines: lines}, &resp)
	if gap := (*GapError)(nil); errors.As(err, &gap) {
		gap.Job, gap.Got = job, index
	}
	return resp.Acked, err
}

// logEnvelope is room kept in a Log request for everything but the lines
// (field names, the worker's name, the job and index).
const logEnvelope = 4096

// LogBatch returns how many of lines, from the first, fit in one Log
// request (MaxLogLines, and MaxLogRequestBytes once encoded). It returns 0
// when lines[0] alone is too large: the worker must replace that record by
// a shorter one, as LAVA's sender does.
func LogBatch(lines []string) int {
	size := int64(logEnvelope)
	for i, l := range lines {
		if i == MaxLogLines {
			return i
		}
		b, _ := json.Marshal(l) // a string always encodes
		size += int64(len(b)) + 1
		if size > MaxLogRequestBytes {
			return i
		}
	}
	return len(lines)
}

// Finish ends a job; the worker's name is filled in. Calling it again is
// harmless.
func (p *Peer) Finish(ctx context.Context, req FinishRequest) error {
	req.Worker = p.cfg.Worker
	err := p.call(ctx, FinishPath, 0, MaxRequestBytes, req, &FinishResponse{})
	if gap := (*GapError)(nil); errors.As(err, &gap) {
		gap.Job, gap.Got = req.Job, req.LogLines
	}
	return err
}

// transientError is a failure worth retrying.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

func (p *Peer) call(ctx context.Context, path string, held time.Duration, maxBytes int64, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("%s: encoding the request: %w", path, err)
	}
	if int64(len(body)) > maxBytes {
		return fmt.Errorf("%s: %w", path, &limits.Error{What: "request body", Limit: fmt.Sprintf("%d bytes", maxBytes)})
	}
	backoff := p.cfg.MinBackoff
	for attempt := 1; ; attempt++ {
		err := p.once(ctx, path, held+p.cfg.AttemptTimeout, body, resp)
		var tr *transientError
		if err == nil || !errors.As(err, &tr) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w (after %d attempts; last: %v)", path, ctx.Err(), attempt, tr.err)
		}
		if p.cfg.MaxAttempts > 0 && attempt >= p.cfg.MaxAttempts {
			return fmt.Errorf("%s: giving up after %d attempts: %w", path, attempt, tr.err)
		}
		if p.cfg.OnRetry != nil {
			p.cfg.OnRetry(path, attempt, tr.err)
		}
		// Full jitter in [backoff/2, backoff], so that workers that lost
		// the same server do not come back in step.
		d := backoff/2 + rand.N(backoff/2+1)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w (after %d attempts; last: %v)", path, ctx.Err(), attempt, tr.err)
		case <-t.C:
		}
		backoff = min(backoff*2, p.cfg.MaxBackoff)
	}
}

// once makes one attempt; a failure worth retrying is a *transientError.
func (p *Peer) once(ctx context.Context, path string, timeout time.Duration, body []byte, resp any) error {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(actx, http.MethodPost, p.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Authorization", "Bearer "+p.cfg.Token)
	hr.Header.Set(WorkerHeader, p.cfg.Worker)
	res, err := p.cfg.Client.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", path, ctx.Err())
		}
		return &transientError{fmt.Errorf("%s: %w", path, err)}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, MaxResponseBytes+1))
	if err != nil {
		return &transientError{fmt.Errorf("%s: reading the reply: %w", path, err)}
	}
	if int64(len(data)) > MaxResponseBytes {
		return fmt.Errorf("%s: %w", path, &limits.Error{What: "server's reply", Limit: fmt.Sprintf("%d bytes", MaxResponseBytes)})
	}
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, resp); err != nil {
			return fmt.Errorf("%s: the server's reply is not valid: %w", path, err)
		}
		return nil
	}
	var er errorReply
	if json.Unmarshal(data, &er) != nil || er.Error == "" {
		er.Error = strings.TrimSpace(string(data))
		if len(er.Error) > 200 {
			er.Error = er.Error[:200] + "..."
		}
	}
	switch {
	case er.Code == codeGap && er.Expected != nil:
		return &GapError{Expected: *er.Expected}
	case er.Code == codeUnknownJob:
		return fmt.Errorf("%s: %w: %s", path, ErrUnknownJob, er.Error)
	case res.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%s: %w: %s", path, ErrUnauthorized, er.Error)
	case res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests:
		return &transientError{&StatusError{Path: path, Code: res.StatusCode, Message: er.Error}}
	}
	return &StatusError{Path: path, Code: res.StatusCode, Message: er.Error}
}
