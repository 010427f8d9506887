package download

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/hostfiles"
	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/pipeline"
)

// source is the byte stream of one attempt.
type source struct {
	r    io.Reader
	size int64 // -1 when unknown
	// close releases the stream.
	close func()
	// readError classifies an error of r after n bytes.
	readError func(err error, n int64) error
}

func (s *source) Close() { s.close() }

// openFile opens a file:// URL: a local regular file, never a device or a
// fifo, which could stream forever, and only where policy allows.
func openFile(u *url.URL, policy *hostfiles.Policy) (*source, error) {
	if u.Host != "" && u.Host != "localhost" {
		return nil, pipeline.JobError("file url '%s' names the host %q: only local files (file:///path) can be read", u.Redacted(), u.Host)
	}
	p := u.Path
	if !filepath.IsAbs(p) {
		return nil, pipeline.JobError("file url '%s' has no absolute path", u.Redacted())
	}
	// Checked before the open, which would block on a named pipe.
	f, st, err := policy.OpenRegular(p, "image file")
	var nr *limits.NotRegularError
	var he *hostfiles.Error
	switch {
	case errors.As(err, &he):
		return nil, pipeline.JobError("file url '%s': %v", u.Redacted(), err)
	case errors.As(err, &nr) && nr.Mode.IsDir():
		return nil, pipeline.JobError("image file '%s' is a directory, not a file", p)
	case errors.As(err, &nr):
		return nil, pipeline.JobError("image file '%s' is not a regular file", p)
	case err != nil:
		return nil, pipeline.JobError("image file '%s' does not exist or is not readable: %v", p, errors.Unwrap(err))
	}
	return &source{
		r:     f,
		size:  st.Size(),
		close: func() { f.Close() },
		readError: func(err error, _ int64) error {
			return pipeline.InfrastructureError("unable to read from %s: %v", p, err)
		},
	}, nil
}

// transport is shared by every HTTP download so that connections are
// reused. Compression is disabled: with Go's transparent gzip the bytes
// hashed would not be the bytes served, and the size not the
// Content-Length.
var transport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableCompression = true
	return t
}()

var client = &http.Client{Transport: transport}

// errStalled is the cause of a request ended by the idle timer.
var errStalled = errors.New("stalled")

// openHTTP sends the GET request and checks the status. An idle timer
// covers the connection, the response header and every read of the body:
// a server that stops sending ends the attempt instead of the action's
// whole timeout.
func openHTTP(ctx context.Context, req Request, u *url.URL) (*source, error) {
	shown := u.Redacted()
	idle := req.IdleTimeout
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	for k, v := range req.Headers {
		if !validHeader(k, v) {
			return nil, pipeline.JobError("invalid HTTP header %q for '%s'", k, shown)
		}
	}
	rctx, cancel := context.WithCancelCause(ctx)
	hreq, err := http.NewRequestWithContext(rctx, http.MethodGet, u.String(), nil)
	if err != nil {
		cancel(nil)
		return nil, pipeline.JobError("invalid url '%s': %v", shown, err)
	}
	hreq.Header.Set("User-Agent", UserAgent)
	for k, v := range req.Headers {
		hreq.Header.Set(k, v)
	}
	timer := time.AfterFunc(idle, func() { cancel(errStalled) })
	resp, err := client.Do(hreq)
	if err != nil {
		timer.Stop()
		stalled := errors.Is(context.Cause(rctx), errStalled)
		cancel(nil)
		if stalled {
			return nil, transient(pipeline.InfrastructureError("no response from '%s' within %s", shown, idle))
		}
		return nil, requestError(err, shown)
	}
	release := func() {
		timer.Stop()
		resp.Body.Close()
		cancel(nil)
	}
	if resp.StatusCode != http.StatusOK {
		// Read a little of the body so the connection may be reused.
		_, _ = io.CopyN(io.Discard, resp.Body, 4096)
		release()
		return nil, statusError(resp, shown)
	}
	timer.Reset(idle)
	return &source{
		r:     &idleReader{r: resp.Body, t: timer, idle: idle},
		size:  resp.ContentLength,
		close: release,
		readError: func(err error, n int64) error {
			switch {
			case errors.Is(context.Cause(rctx), errStalled):
				return transient(pipeline.InfrastructureError("no data received from '%s' for %s after %d bytes", shown, idle, n))
			case errors.Is(err, io.ErrUnexpectedEOF) && resp.ContentLength >= 0:
				return transient(pipeline.InfrastructureError(
					"download of '%s' finished (%d bytes) but was not the expected size (%d bytes), check your networking", shown, n, resp.ContentLength))
			default:
				return transient(pipeline.InfrastructureError("unable to download '%s' after %d bytes: %v", shown, n, err))
			}
		},
	}, nil
}

// requestError classifies a request that got no response. A name that
// does not resolve is the job's URL; a certificate the lab does not trust
// will not change by trying again; anything else (refused, reset, timed
// out) may.
func requestError(err error, shown string) error {
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return pipeline.JobError("unable to download '%s': %v", shown, err)
	}
	var cert *tls.CertificateVerificationError
	if errors.As(err, &cert) {
		return pipeline.InfrastructureError("unable to download '%s': %v", shown, err)
	}
	return transient(pipeline.InfrastructureError("unable to download '%s': %v", shown, err))
}

// statusError classifies a response other than 200 OK. The transient
// ones are those LAVA's HTTP session retries (408, 429, 5xx and kin);
// the rest (404, 403, …) say the URL is wrong, the job's fault.
func statusError(resp *http.Response, shown string) error {
	code := resp.StatusCode
	switch {
	case code >= 500, code == 408, code == 420, code == 425, code == 429, code == 430:
		return transient(pipeline.InfrastructureError("unable to download '%s': %s", shown, resp.Status))
	default:
		return pipeline.JobError("unable to download '%s': %s", shown, resp.Status)
	}
}

// validHeader reports whether a job's header can be sent as it is: a
// token name and a value without line breaks, so no job can inject a
// header of its own making.
func validHeader(k, v string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", c) {
			return false
		}
	}
	return !strings.ContainsAny(v, "\r\n\x00")
}

// idleReader pushes the idle timer back on every read that gets bytes.
type idleReader struct {
	r    io.Reader
	t    *time.Timer
	idle time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.t.Reset(r.idle)
	}
	return n, err
}
