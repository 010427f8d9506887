// Package download fetches one file for a deploy: over http(s) or from a
// local path (file:///abs/path), streamed to disk, hashed as it arrives,
// decompressed on the way when asked and unpacked when it is a tar
// archive. Nothing is held whole in memory.
//
// Errors carry LAVA's classes (internal/pipeline): what the job got wrong
// (a 404, a checksum that does not match, a corrupt archive, a path
// escaping an archive) is a Job error; what the network or the lab got
// wrong (a refused or dropped connection, a 5xx, a short body, a full
// disk) an Infrastructure error. Transient failures are tried again a few
// times inside Fetch, from the start, before it gives up; the
// download-retry action around it decides whether the whole download is
// tried again.
//
// The URL and the bytes behind it are the job's: Limits (limits.go) bound
// per image the bytes received, the bytes written once decompressed or
// unpacked, and the entries of a tar archive; passing one is a Job error
// that names the image, the bound and the basalt run flag.
package download

import (
	"context"
	"crypto/md5" //nolint:gosec // md5sum is a checksum the job may ask for, not a security measure.
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/basalt-lava/basalt/internal/hostfiles"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
)

// Request describes one download.
type Request struct {
	// URL is http://, https:// or file:///absolute/path.
	URL string
	// Dir is the folder the file lands in; it is created when missing.
	Dir string
	// Compression is gz, bz2, xz or zstd to decompress while
	// downloading (the file name loses its last extension), zip or empty
	// to store the bytes as they come.
	Compression string
	// Archive "tar" unpacks the downloaded file into ArchiveDir.
	Archive string
	// ArchiveDir is where a tar archive is unpacked; empty means the
	// file's path with ".d" appended.
	ArchiveDir string
	// MD5, SHA256 and SHA512 are the expected hex digests of the bytes as
	// downloaded (compressed), when the job gives them.
	MD5, SHA256, SHA512 string
	// Headers are extra HTTP request headers (the image's `headers`).
	Headers map[string]string
	// Log receives progress; nil logs nothing.
	Log *joblog.Logger
	// Attempts bounds the tries of one Fetch on transient failures; 0
	// means DefaultAttempts.
	Attempts int
	// Backoff is the pause before the second try, doubled for each later
	// one; 0 means DefaultBackoff, negative no pause.
	Backoff time.Duration
	// IdleTimeout ends an HTTP download that receives nothing for that
	// long; 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Name is the image's key in the job (kernel, rootfs), for the
	// errors of the limits.
	Name string
	// Limits bound the bytes received, decompressed and unpacked; a
	// field left at zero takes the context's (WithLimits), else the
	// default.
	Limits Limits
	// LocalFiles is the host-access policy for a file:// URL: nil reads
	// any local file, a policy only those in its folders (the file is
	// opened through the folder, so a link cannot lead out of it).
	LocalFiles *hostfiles.Policy

	// pureGo makes tests use the Go decoders even where a host tool is
	// installed.
	pureGo bool
}

// Defaults of a Request. LAVA waits 60 s for an HTTP server (its
// HTTP_DOWNLOAD_TIMEOUT) and lets requests retry connections; a few quick
// tries here absorb a server restart or a dropped connection without
// spending the whole retry budget of download-retry.
const (
	DefaultAttempts    = 3
	DefaultBackoff     = time.Second
	DefaultIdleTimeout = 60 * time.Second
)

// UserAgent is sent with every HTTP request, so that servers' logs tell
// Basalt's downloads apart.
const UserAgent = "basalt/0.1 (LAVA dispatcher)"

// bufSize is the size of the copy buffers: large enough that hashing,
// decompressing and writing work on big blocks, small enough to be cheap.
const bufSize = 1 << 20

// Result is what a download produced.
type Result struct {
	// File is the downloaded (and decompressed) file.
	File string
	// Path is File, or the folder a tar archive was unpacked into.
	Path string
	// Size is the number of bytes received (compressed).
	Size int64
	// Stored is the number of bytes written to File.
	Stored int64
	// SHA256 is always computed; MD5 and SHA512 only when expected.
	MD5, SHA256, SHA512 string
	// Elapsed is the time the transfer took.
	Elapsed time.Duration
}

// ChecksumError says that a digest of the download is not the one the job
// gave. Fetch returns it wrapped in a Job error.
type ChecksumError struct {
	Alg, URL, Expected, Actual string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s for '%s' does not match.", e.Alg, e.URL)
}

// Compressions lists what Request.Compression accepts. zip is accepted
// and stored as it is, as LAVA does.
var Compressions = []string{"gz", "bz2", "xz", "zip", "zstd"}

// Decompresses reports whether a compression is undone while
// downloading.
func Decompresses(compression string) bool {
	switch compression {
	case "gz", "bz2", "xz", "zstd":
		return true
	}
	return false
}

// Fetch downloads req.URL into req.Dir. On failure no partial file is
// left behind.
func Fetch(ctx context.Context, req Request) (*Result, error) {
	u, err := url.Parse(req.URL)
	if err != nil {
		return nil, pipeline.JobError("invalid url '%s': %v", req.URL, err)
	}
	shown := u.Redacted()
	switch u.Scheme {
	case "http", "https", "file":
	default:
		return nil, pipeline.JobError("unsupported url protocol scheme: %s", u.Scheme)
	}
	if req.Compression != "" && !Decompresses(req.Compression) && req.Compression != "zip" {
		return nil, pipeline.JobError("unknown 'compression' format '%s'", req.Compression)
	}
	if req.Archive != "" && req.Archive != "tar" {
		return nil, pipeline.JobError("unknown 'archive' format '%s'", req.Archive)
	}
	name, err := FileName(u, req.Compression)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(req.Dir, 0o755); err != nil {
		return nil, pipeline.InfrastructureError("unable to create %s: %v", req.Dir, err)
	}
	dest := filepath.Join(req.Dir, name)
	if st, err := os.Lstat(dest); err == nil && st.IsDir() {
		return nil, pipeline.JobError("download '%s' is a directory, not a file", dest)
	}
	log := req.Log
	if log == nil {
		log = joblog.Discard()
	}
	log.Infof("downloading %s", shown)
	log.Debugf("saving as %s", dest)
	switch {
	case Decompresses(req.Compression):
		log.Infof("decompressing %s while downloading with %s", req.Compression, decoder(req.Compression, req.pureGo))
	case req.Compression != "":
		log.Infof("compression %s specified but not decompressing during download", req.Compression)
	default:
		log.Debugf("no compression specified")
	}

	attempts := req.Attempts
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	backoff := req.Backoff
	if backoff == 0 {
		backoff = DefaultBackoff
	}
	lim := req.Limits.Or(LimitsFrom(ctx))
	image := shown
	if req.Name != "" {
		image = fmt.Sprintf("image %s (%s)", req.Name, shown)
	}
	var res *Result
	for try := 1; ; try++ {
		res, err = fetchOnce(ctx, req, u, dest, log, lim, image)
		if err == nil {
			break
		}
		_ = os.Remove(dest)
		if ctx.Err() != nil {
			// The action's timeout or a cancellation: the run loop
			// classifies the context's error.
			return nil, ctx.Err()
		}
		var t *transientError
		transient := errors.As(err, &t)
		if transient {
			err = t.err
		}
		if !transient || try >= attempts {
			return nil, err
		}
		log.Warnf("download of %s failed (attempt %d of %d): %v", shown, try, attempts, err)
		if backoff > 0 {
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
			backoff *= 2
		}
	}

	mb := float64(res.Size) / (1 << 20)
	secs := res.Elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = mb / secs
	}
	log.Infof("%dMB downloaded in %0.2fs (%0.2fMB/s)", res.Size>>20, secs, rate)

	for _, c := range []struct{ alg, want, got string }{
		{"md5", req.MD5, res.MD5}, {"sha256", req.SHA256, res.SHA256}, {"sha512", req.SHA512, res.SHA512},
	} {
		if c.want == "" {
			continue
		}
		if !strings.EqualFold(strings.TrimSpace(c.want), c.got) {
			log.Errorf("%s sum for '%s' does not match", c.alg, shown)
			log.Infof("actual  : %s", c.got)
			log.Infof("expected: %s", c.want)
			// A file that is not what the job asked for must not be
			// used by a later action.
			_ = os.Remove(dest)
			return res, &pipeline.Error{Class: pipeline.ClassJob, Err: &ChecksumError{Alg: c.alg, URL: shown, Expected: c.want, Actual: c.got}}
		}
		log.Debugf("%s sum matches: %s", c.alg, c.got)
	}

	if req.Archive == "tar" {
		dir := req.ArchiveDir
		if dir == "" {
			dir = dest + ".d"
		}
		log.Debugf("extracting tar archive in %s", dir)
		if err := untar(dest, dir, log, lim, image); err != nil {
			return res, err
		}
		res.Path = dir
	}
	return res, nil
}

// fetchOnce makes one attempt. Its error is a *transientError when
// trying again from the start may help.
func fetchOnce(ctx context.Context, req Request, u *url.URL, dest string, log *joblog.Logger, lim Limits, image string) (*Result, error) {
	shown := u.Redacted()
	var s *source
	var err error
	if u.Scheme == "file" {
		s, err = openFile(u, req.LocalFiles)
	} else {
		s, err = openHTTP(ctx, req, u)
	}
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if s.size >= 0 {
		log.Debugf("total size: %d (%dMB)", s.size, s.size>>20)
	} else {
		log.Debugf("total size: unknown")
	}
	if lim.MaxDownload >= 0 && s.size > lim.MaxDownload {
		return nil, limitError(image, "downloaded", lim.MaxDownload, FlagMaxDownload)
	}

	// O_NOFOLLOW: the name is ours, but a link left in the folder must
	// not redirect the write elsewhere.
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, pipeline.InfrastructureError("unable to open %s: %v", dest, err)
	}
	defer f.Close()

	sha := sha256.New()
	hashes := []hash.Hash{sha}
	var md, sha5 hash.Hash
	if req.MD5 != "" {
		md = md5.New() //nolint:gosec // see the import.
		hashes = append(hashes, md)
	}
	if req.SHA512 != "" {
		sha5 = sha512.New()
		hashes = append(hashes, sha5)
	}
	in := &reader{r: s.r, hashes: hashes, progress: newProgress(log, s.size), max: lim.MaxDownload}
	out := &writer{w: f, max: -1}
	if Decompresses(req.Compression) {
		out.max, out.flag = lim.imageLimit(s.size)
	}
	if in.max >= 0 {
		in.over = limitError(image, "downloaded", in.max, FlagMaxDownload)
	}
	if out.max >= 0 {
		out.over = limitError(image, "decompressed", out.max, out.flag)
	}

	// The 0% line says the transfer started, as LAVA's first one does.
	in.progress.update(0)
	start := time.Now()
	err = copyData(ctx, in, out, req.Compression, req.pureGo, log)
	elapsed := time.Since(start)
	if err == nil {
		if cerr := f.Close(); cerr != nil {
			out.err, err = cerr, cerr
		}
	}
	if err != nil {
		return nil, classify(ctx, err, in, out, s, shown, req.Compression, dest)
	}
	if s.size >= 0 && in.n != s.size {
		return nil, transient(pipeline.InfrastructureError(
			"download of '%s' finished (%d bytes) but was not the expected size (%d bytes), check your networking", shown, in.n, s.size))
	}
	res := &Result{File: dest, Path: dest, Size: in.n, Stored: out.n, Elapsed: elapsed,
		SHA256: hex.EncodeToString(sha.Sum(nil))}
	if md != nil {
		res.MD5 = hex.EncodeToString(md.Sum(nil))
	}
	if sha5 != nil {
		res.SHA512 = hex.EncodeToString(sha5.Sum(nil))
	}
	return res, nil
}

// classify turns what ended a copy into a classified error: the source's
// own error when it had one (network, short body, stall), a write error,
// or else the decompressor's complaint about the data.
func classify(ctx context.Context, err error, in *reader, out *writer, s *source, shown, compression, dest string) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case in.passed:
		return in.over
	case out.passed:
		return out.over
	case in.err != nil:
		return s.readError(in.err, in.n)
	case out.err != nil:
		return pipeline.InfrastructureError("unable to write %s: %v", dest, out.err)
	}
	if pe := (*pipeline.Error)(nil); errors.As(err, &pe) {
		return pe
	}
	return pipeline.JobError("unable to decompress '%s' as %s: %s. Make sure the 'compression' corresponds to the image file type",
		shown, compression, strings.TrimRight(err.Error(), "."))
}

// transientError marks an error worth trying again from the start; Fetch
// returns the classified error inside it.
type transientError struct{ err *pipeline.Error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

func transient(err *pipeline.Error) error { return &transientError{err} }

// reader counts, hashes and reports the progress of the bytes it reads,
// and keeps the source's own error apart from the decompressor's.
type reader struct {
	r        io.Reader
	hashes   []hash.Hash
	progress *progress
	n        int64
	err      error
	// max bounds n (negative: no bound); passing it ends the copy with
	// over, and passed says so.
	max    int64
	over   error
	passed bool
}

func (r *reader) Read(p []byte) (int, error) {
	if r.max >= 0 && r.n >= r.max {
		// One byte more tells a body of exactly max bytes from a longer
		// one.
		p = p[:min(len(p), 1)]
	}
	n, err := r.r.Read(p)
	if r.max >= 0 && r.n+int64(n) > r.max {
		r.passed = true
		return 0, r.over
	}
	if n > 0 {
		for _, h := range r.hashes {
			h.Write(p[:n])
		}
		r.n += int64(n)
		r.progress.update(r.n)
	}
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// writer counts what reaches the file and keeps write errors apart. It
// hides the file's ReadFrom so that copies use our large buffer.
type writer struct {
	w   io.Writer
	n   int64
	err error
	// max bounds n (negative: no bound) as reader's does; flag is the
	// option that sets it.
	max    int64
	flag   string
	over   error
	passed bool
}

func (w *writer) Write(p []byte) (int, error) {
	if w.max >= 0 && w.n+int64(len(p)) > w.max {
		w.passed = true
		return 0, w.over
	}
	n, err := w.w.Write(p)
	w.n += int64(n)
	if err != nil {
		w.err = err
	}
	return n, err
}
