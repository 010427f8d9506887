package coordinator

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"time"
)

// ErrTimeout is wrapped by Poll's error when its timeout passes while the
// coordinator keeps answering "wait" (or cannot be reached).
var ErrTimeout = errors.New("coordinator poll timed out")

// Client defaults.
const (
	DefaultPollDelay = time.Second
	DefaultBlocksize = 4096
	// DefaultIOTimeout bounds one exchange when ctx has no earlier
	// deadline: a coordinator that accepts and then says nothing must
	// not hold the job.
	DefaultIOTimeout = 60 * time.Second
	// retryStep is what LAVA's client adds to its delay after each
	// failed connection; maxRetryDelay caps the growth (LAVA's does not).
	retryStep     = 2 * time.Second
	maxRetryDelay = 30 * time.Second
)

// Client talks to a coordinator: one TCP connection per request, as LAVA's
// dispatcher does. The zero value of every field but Addr is usable.
type Client struct {
	Addr      string        // host:port of the coordinator
	PollDelay time.Duration // sleep between polls while the reply is "wait"; 0 means 1 s
	Blocksize int           // read buffer size; 0 means 4096
	// Base is merged into every request (request keys win): LAVA's base
	// message {port, blocksize, poll_delay, host, hostname, client_name,
	// group_name, role}.
	Base map[string]any
	Logf func(format string, args ...any) // nil: silent

	// MaxReply caps a reply body; 0 means DefaultMaxBody.
	MaxReply int
	// IOTimeout bounds one exchange; 0 means DefaultIOTimeout.
	IOTimeout time.Duration
}

// replyError marks a reply that arrived but makes no sense (not a frame,
// not JSON, no "response"). Polling again would get the same, so Poll
// gives up on it at once; LAVA's client likewise stops on a non-JSON reply.
type replyError struct{ err error }

func (e *replyError) Error() string { return e.err.Error() }
func (e *replyError) Unwrap() error { return e.err }

// Exchange sends one request on a new connection and reads the reply.
func (c *Client) Exchange(ctx context.Context, req map[string]any) (Reply, error) {
	if err := ctx.Err(); err != nil {
		return Reply{}, err
	}
	msg := make(map[string]any, len(c.Base)+len(req))
	maps.Copy(msg, c.Base)
	maps.Copy(msg, req)
	body, err := Marshal(msg)
	if err != nil {
		return Reply{}, &replyError{fmt.Errorf("encoding %s request: %w", describe(req), err)}
	}

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		return Reply{}, fmt.Errorf("connecting to coordinator %s: %w", c.Addr, err)
	}
	defer conn.Close()
	ioTimeout := c.IOTimeout
	if ioTimeout <= 0 {
		ioTimeout = DefaultIOTimeout
	}
	deadline := time.Now().Add(ioTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	// A cancelled ctx must interrupt a blocked read or write at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if err := WriteFrame(conn, body); err != nil {
		return Reply{}, c.ioErr(ctx, "sending", req, err)
	}
	// The coordinator reads until the announced length; shutting the
	// write side tells it nothing more is coming, as LAVA's client does.
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	bs := c.Blocksize
	if bs <= 0 {
		bs = DefaultBlocksize
	}
	rb, err := ReadFrame(bufio.NewReaderSize(conn, bs), c.MaxReply)
	if err != nil {
		if err == io.EOF {
			err = errors.New("connection closed without a reply")
		}
		// A truncated reply is a dropped connection and worth another
		// try; a malformed or oversized frame would come back the same.
		var fe *FrameError
		if errors.As(err, &fe) && !fe.Truncated && fe.Err == nil || errors.Is(err, ErrFrameTooLarge) {
			return Reply{}, &replyError{fmt.Errorf("coordinator %s reply to %s: %w", c.Addr, describe(req), err)}
		}
		return Reply{}, c.ioErr(ctx, "receiving reply to", req, err)
	}
	reply, err := parseReply(rb)
	if err != nil {
		return Reply{}, &replyError{fmt.Errorf("coordinator %s, %s: %w", c.Addr, describe(req), err)}
	}
	return reply, nil
}

func (c *Client) ioErr(ctx context.Context, what string, req map[string]any, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%s %s (coordinator %s): %w", what, describe(req), c.Addr, err)
}

// Poll repeats req while the coordinator answers "wait", sleeping
// PollDelay between tries. Connection and read errors are retried too,
// each adding 2 s to the delay as LAVA's client does (capped at 30 s);
// the delay drops back to PollDelay after a good exchange. After timeout
// (0: no limit besides ctx) it returns an error wrapping ErrTimeout; when
// ctx ends it returns ctx's error. Any other reply, "nack" included, is
// returned with a nil error: what a nack means is the caller's business
// (LAVA's dispatcher turns it into a failed test case).
func (c *Client) Poll(ctx context.Context, req map[string]any, timeout time.Duration) (Reply, error) {
	parent := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, timeout, ErrTimeout)
		defer cancel()
	}
	base := c.PollDelay
	if base <= 0 {
		base = DefaultPollDelay
	}
	delay := base
	var lastErr error
	for {
		reply, err := c.Exchange(ctx, req)
		var re *replyError
		switch {
		case err == nil && reply.Response != RespWait:
			return reply, nil
		case err == nil:
			delay = base
		case errors.As(err, &re):
			return Reply{}, err
		case ctx.Err() != nil:
			// Fall through to the end check below.
		default:
			lastErr = err
			c.logf("coordinator: %v; retrying in %s", err, delay)
		}
		if ctx.Err() == nil {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		if ctx.Err() != nil {
			if parent.Err() == nil && errors.Is(context.Cause(ctx), ErrTimeout) {
				if lastErr != nil {
					return Reply{}, fmt.Errorf("%w: %s after %s (last error: %v)", ErrTimeout, describe(req), timeout, lastErr)
				}
				return Reply{}, fmt.Errorf("%w: %s after %s", ErrTimeout, describe(req), timeout)
			}
			return Reply{}, fmt.Errorf("%s: %w", describe(req), parent.Err())
		}
		if err != nil {
			delay = min(delay+retryStep, maxRetryDelay)
		}
	}
}

func (c *Client) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

// describe names a request in errors: "lava_wait \"ready\"".
func describe(req map[string]any) string {
	s := fmt.Sprint(req["request"])
	if id, ok := req["messageID"]; ok {
		s += fmt.Sprintf(" %q", fmt.Sprint(id))
	}
	return s
}
