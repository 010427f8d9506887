package download_test

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // the job's md5sum, not security.
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/download"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

var update = flag.Bool("update", false, "rewrite testdata/payload.bz2 with the bzip2 tool")

// payloadSize is the size of the test payload; testdata/payload.bz2 is
// this payload compressed by the real bzip2 (Go has no bzip2 encoder).
const payloadSize = 300 << 10

// payload returns n deterministic bytes that compress, like an image.
func payload(n int) []byte {
	b := make([]byte, 0, n+32)
	x := uint32(1)
	for len(b) < n {
		x = x*1664525 + 1013904223
		b = fmt.Appendf(b, "line %d %06x\n", len(b), x>>8)
	}
	return b[:n]
}

func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func xzData(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := xz.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zstdData(t testing.TB, data []byte) []byte {
	t.Helper()
	e, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	return e.EncodeAll(data, nil)
}

func bz2Data(t testing.TB) []byte {
	t.Helper()
	p := filepath.Join("testdata", "payload.bz2")
	if *update {
		cmd := exec.Command("bzip2", "-9", "-c")
		cmd.Stdin = bytes.NewReader(payload(payloadSize))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bzip2: %v", err)
		}
		if err := os.WriteFile(p, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update with bzip2 installed)", err)
	}
	return b
}

// corrupt flips bytes in the middle of data, past any header.
func corrupt(data []byte) []byte {
	c := bytes.Clone(data)
	for i := len(c) / 2; i < len(c)/2+64 && i < len(c); i++ {
		c[i] ^= 0x55
	}
	return c
}

func sha256Hex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// files is an HTTP server of fixed files that counts requests and
// remembers the last request's headers.
type files struct {
	mu    sync.Mutex
	files map[string][]byte
	hits  map[string]int
	last  http.Header
}

func (f *files) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.hits[r.URL.Path]++
	f.last = r.Header.Clone()
	b, ok := f.files[r.URL.Path]
	f.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

func (f *files) count(p string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[p]
}

func serve(t *testing.T, m map[string][]byte, extra func(mux *http.ServeMux)) (*httptest.Server, *files) {
	t.Helper()
	f := &files{files: m, hits: map[string]int{}}
	mux := http.NewServeMux()
	mux.Handle("/", f)
	if extra != nil {
		extra(mux)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, f
}

// logger returns a job log whose human form the test can read.
func logger() (*joblog.Logger, func() string) {
	var b bytes.Buffer
	l := joblog.New(nil, joblog.Options{Human: &b})
	return l, func() string { _ = l.Flush(); return b.String() }
}

// mode is how a test decodes: with the host's tools where installed (what
// Fetch does), or with the Go decoders only.
type mode struct {
	name   string
	pureGo bool
}

var modes = []mode{{"host", false}, {"go", true}}

func (m mode) req(r download.Request) download.Request {
	if m.pureGo {
		return download.PureGo(r)
	}
	return r
}

func TestFetchCompressions(t *testing.T) {
	t.Parallel()
	plain := payload(payloadSize)
	cases := []struct {
		name, compression, path, wantName string
		body                              []byte
	}{
		{"none", "", "/img/rootfs.ext4", "rootfs.ext4", plain},
		{"gz", "gz", "/img/rootfs.ext4.gz", "rootfs.ext4", gz(t, plain)},
		{"gz in two members", "gz", "/img/rootfs.ext4.gz", "rootfs.ext4",
			append(gz(t, plain[:1000]), gz(t, plain[1000:])...)},
		{"gz with trailing zeros", "gz", "/img/rootfs.ext4.gz", "rootfs.ext4",
			append(gz(t, plain), make([]byte, 512)...)},
		{"bz2", "bz2", "/img/vmlinuz.bz2", "vmlinuz", bz2Data(t)},
		{"xz", "xz", "/img/disk.img.xz", "disk.img", xzData(t, plain)},
		{"zstd", "zstd", "/img/disk.img.zst", "disk.img", zstdData(t, plain)},
		{"zip is stored as it is", "zip", "/img/disk.zip", "disk.zip", plain},
		{"no extension", "gz", "/img/Image", "Image", gz(t, plain)},
	}
	for _, tc := range cases {
		for _, mode := range modes {
			t.Run(tc.name+" "+mode.name, func(t *testing.T) {
				t.Parallel()
				srv, _ := serve(t, map[string][]byte{tc.path: tc.body}, nil)
				dir := t.TempDir()
				log, text := logger()
				res, err := download.Fetch(context.Background(), mode.req(download.Request{
					URL: srv.URL + tc.path, Dir: dir, Compression: tc.compression, Log: log,
					SHA256: sha256Hex(tc.body),
				}))
				if err != nil {
					t.Fatalf("Fetch: %v\n%s", err, text())
				}
				if want := filepath.Join(dir, tc.wantName); res.File != want || res.Path != want {
					t.Errorf("File, Path = %q, %q, want %q", res.File, res.Path, want)
				}
				got, err := os.ReadFile(res.File)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, plain) {
					t.Errorf("content: %d bytes, want the %d-byte payload", len(got), len(plain))
				}
				if res.Size != int64(len(tc.body)) || res.Stored != int64(len(plain)) {
					t.Errorf("Size, Stored = %d, %d, want %d, %d", res.Size, res.Stored, len(tc.body), len(plain))
				}
				if res.SHA256 != sha256Hex(tc.body) {
					t.Errorf("SHA256 = %s, want the digest of the bytes as served", res.SHA256)
				}
				if res.MD5 != "" || res.SHA512 != "" {
					t.Errorf("MD5, SHA512 = %q, %q, want none when not asked", res.MD5, res.SHA512)
				}
				if out := text(); !strings.Contains(out, "downloaded in") {
					t.Errorf("no final rate line in the log:\n%s", out)
				}
			})
		}
	}
}

func TestFetchChecksums(t *testing.T) {
	t.Parallel()
	body := gz(t, payload(10000))
	md := md5.Sum(body) //nolint:gosec // see the import.
	s5 := sha512.Sum512(body)
	goodMD5, goodSHA512 := hex.EncodeToString(md[:]), hex.EncodeToString(s5[:])
	bad := strings.Repeat("0", 64)
	cases := []struct {
		name            string
		md5, sha2, sha5 string
		wantAlg         string // "" means success
		wantMD5, wantS5 bool
	}{
		{"all match", goodMD5, sha256Hex(body), goodSHA512, "", true, true},
		{"upper case hex matches", strings.ToUpper(goodMD5), "", "", "", true, false},
		{"md5 differs", bad[:32], "", "", "md5", true, false},
		{"sha256 differs", "", bad, "", "sha256", false, false},
		{"sha512 differs", goodMD5, "", bad + bad, "sha512", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, hits := serve(t, map[string][]byte{"/f.gz": body}, nil)
			dir := t.TempDir()
			res, err := download.Fetch(context.Background(), download.Request{
				URL: srv.URL + "/f.gz", Dir: dir, Compression: "gz", MD5: tc.md5, SHA256: tc.sha2, SHA512: tc.sha5,
			})
			if got := res != nil && res.MD5 != ""; got != tc.wantMD5 {
				t.Errorf("MD5 computed = %v, want %v", got, tc.wantMD5)
			}
			if got := res != nil && res.SHA512 != ""; got != tc.wantS5 {
				t.Errorf("SHA512 computed = %v, want %v", got, tc.wantS5)
			}
			if tc.wantAlg == "" {
				if err != nil {
					t.Fatalf("Fetch: %v", err)
				}
				return
			}
			want := fmt.Sprintf("%s for '%s/f.gz' does not match.", tc.wantAlg, srv.URL)
			if err == nil || err.Error() != want || pipeline.ClassOf(err) != pipeline.ClassJob {
				t.Fatalf("err = %v (%s), want Job error %q", err, pipeline.ClassOf(err), want)
			}
			var ce *download.ChecksumError
			if !errors.As(err, &ce) || ce.Alg != tc.wantAlg || ce.Actual == "" {
				t.Errorf("ChecksumError = %+v", ce)
			}
			if _, err := os.Stat(filepath.Join(dir, "f")); !os.IsNotExist(err) {
				t.Errorf("the file that does not match is still there: %v", err)
			}
			if n := hits.count("/f.gz"); n != 1 {
				t.Errorf("%d requests, want 1: a checksum mismatch is not tried again", n)
			}
		})
	}
}

// dropper sends half of what its Content-Length promises, then closes
// the connection.
func dropper(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}
}

// closedPort returns an address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestFetchFailures(t *testing.T) {
	t.Parallel()
	plain := payload(200000)
	var flaky atomic.Int32
	served := map[string][]byte{
		"/corrupt.gz":   corrupt(gz(t, plain)),
		"/corrupt.xz":   corrupt(xzData(t, plain)),
		"/corrupt.zst":  corrupt(zstdData(t, plain)),
		"/corrupt.bz2":  corrupt(bz2Data(t)),
		"/truncated.gz": gz(t, plain)[:5000],
		"/truncated.xz": xzData(t, plain)[:5000],
		"/notgz.gz":     plain,
		"/ok":           plain,
	}
	// Every file and handler is also under /go, for the pure Go mode, so
	// that each subtest counts its own requests.
	for p, b := range served {
		served["/go"+p] = b
	}
	srv, hits := serve(t, served, func(mux *http.ServeMux) {
		for _, pre := range []string{"", "/go"} {
			mux.Handle(pre+"/drop", dropper(plain))
			mux.Handle(pre+"/drop.gz", dropper(gz(t, plain)))
			mux.Handle(pre+"/drop.xz", dropper(xzData(t, plain)))
			mux.Handle(pre+"/drop.bz2", dropper(bz2Data(t)))
			mux.HandleFunc(pre+"/500", func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "boom", http.StatusInternalServerError)
			})
			mux.HandleFunc(pre+"/403", func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "no", http.StatusForbidden)
			})
			mux.HandleFunc(pre+"/stall", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", strconv.Itoa(len(plain)))
				_, _ = w.Write(plain[:100])
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			})
		}
		mux.HandleFunc("/flaky", func(w http.ResponseWriter, r *http.Request) {
			if flaky.Add(1) == 1 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write(plain)
		})
	})
	refused := "http://" + closedPort(t) + "/x"
	cases := []struct {
		name, url, compression string
		class                  pipeline.Class
		msg                    []string
		requests               int // served by files; 0: not checked
		headers                map[string]string
	}{
		{"404", srv.URL + "/missing.img", "", pipeline.ClassJob,
			[]string{"unable to download '" + srv.URL + "/missing.img'", "404 Not Found"}, 1, nil},
		{"403", srv.URL + "/403", "", pipeline.ClassJob, []string{"403 Forbidden"}, 0, nil},
		{"500 is tried again", srv.URL + "/500", "", pipeline.ClassInfrastructure, []string{"500 Internal Server Error"}, 0, nil},
		{"refused", refused, "", pipeline.ClassInfrastructure, []string{"unable to download '" + refused + "'", "connection refused"}, 0, nil},
		{"dropped mid-body", srv.URL + "/drop", "", pipeline.ClassInfrastructure, []string{"expected size", "check your networking"}, 0, nil},
		{"dropped mid-body while decompressing", srv.URL + "/drop.gz", "gz", pipeline.ClassInfrastructure, []string{"expected size"}, 0, nil},
		{"dropped mid-body while decompressing xz", srv.URL + "/drop.xz", "xz", pipeline.ClassInfrastructure, []string{"expected size"}, 0, nil},
		{"dropped mid-body while decompressing bz2", srv.URL + "/drop.bz2", "bz2", pipeline.ClassInfrastructure, []string{"expected size"}, 0, nil},
		{"truncated xz", srv.URL + "/truncated.xz", "xz", pipeline.ClassJob, []string{"as xz"}, 0, nil},
		{"stalled", srv.URL + "/stall", "", pipeline.ClassInfrastructure, []string{"no data received from", "after 100 bytes"}, 0, nil},
		{"corrupt gz", srv.URL + "/corrupt.gz", "gz", pipeline.ClassJob, []string{"unable to decompress '" + srv.URL + "/corrupt.gz' as gz"}, 1, nil},
		{"corrupt xz", srv.URL + "/corrupt.xz", "xz", pipeline.ClassJob, []string{"as xz"}, 1, nil},
		{"corrupt zstd", srv.URL + "/corrupt.zst", "zstd", pipeline.ClassJob, []string{"as zstd"}, 1, nil},
		{"corrupt bz2", srv.URL + "/corrupt.bz2", "bz2", pipeline.ClassJob, []string{"as bz2"}, 1, nil},
		{"truncated gz", srv.URL + "/truncated.gz", "gz", pipeline.ClassJob, []string{"as gz", "unexpected EOF"}, 1, nil},
		{"not gz at all", srv.URL + "/notgz.gz", "gz", pipeline.ClassJob, []string{"as gz", "'compression'"}, 1, nil},
		{"unknown compression", srv.URL + "/ok", "lzma", pipeline.ClassJob, []string{"unknown 'compression' format 'lzma'"}, 0, nil},
		{"directory url", srv.URL + "/dir/", "", pipeline.ClassJob, []string{"cannot download a directory"}, 0, nil},
		{"dot-dot name", srv.URL + "/a/..", "", pipeline.ClassJob, []string{"invalid file name"}, 0, nil},
		{"unsupported scheme", "ftp://example.com/x", "", pipeline.ClassJob, []string{"unsupported url protocol scheme: ftp"}, 0, nil},
		{"header injection", srv.URL + "/ok", "", pipeline.ClassJob, []string{"invalid HTTP header"}, 0,
			map[string]string{"X-A": "1\r\nX-B: 2"}},
	}
	for _, tc := range cases {
		for _, mode := range modes {
			if mode.pureGo && tc.compression != "xz" && tc.compression != "bz2" {
				continue
			}
			t.Run(tc.name+" "+mode.name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				log, text := logger()
				u := tc.url
				if mode.pureGo {
					u = strings.Replace(u, srv.URL, srv.URL+"/go", 1)
				}
				_, err := download.Fetch(context.Background(), mode.req(download.Request{
					URL: u, Dir: dir, Compression: tc.compression, Log: log, Headers: tc.headers,
					Attempts: 2, Backoff: -1, IdleTimeout: 200 * time.Millisecond,
				}))
				if err == nil {
					t.Fatalf("Fetch succeeded, want a %s error", tc.class)
				}
				t.Logf("%s: %v", pipeline.ClassOf(err), err)
				if c := pipeline.ClassOf(err); c != tc.class {
					t.Errorf("class %s, want %s: %v", c, tc.class, err)
				}
				for _, m := range tc.msg {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error %q does not say %q", err, m)
					}
				}
				if tc.requests > 0 {
					p := strings.TrimPrefix(u, srv.URL)
					if n := hits.count(p); n != tc.requests {
						t.Errorf("%d requests for %s, want %d", n, p, tc.requests)
					}
				}
				left, _ := os.ReadDir(dir)
				if len(left) != 0 {
					t.Errorf("a failed download left %v in its folder\n%s", left, text())
				}
			})
		}
	}
	t.Run("transient 503 then success", func(t *testing.T) {
		t.Parallel()
		log, text := logger()
		res, err := download.Fetch(context.Background(), download.Request{
			URL: srv.URL + "/flaky", Dir: t.TempDir(), Log: log, Attempts: 3, Backoff: -1,
		})
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		if res.Size != int64(len(plain)) || flaky.Load() != 2 {
			t.Errorf("size %d after %d requests, want %d after 2", res.Size, flaky.Load(), len(plain))
		}
		if !strings.Contains(text(), "503 Service Unavailable") {
			t.Errorf("the failed attempt is not in the log:\n%s", text())
		}
	})
}

// TestFetchRetryCounts checks who is tried again inside Fetch: transient
// failures up to Attempts, the job's mistakes never.
func TestFetchRetryCounts(t *testing.T) {
	t.Parallel()
	var drops, errs atomic.Int32
	body := payload(50000)
	mux := http.NewServeMux()
	mux.HandleFunc("/drop", func(w http.ResponseWriter, r *http.Request) { drops.Add(1); dropper(body)(w, r) })
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) {
		errs.Add(1)
		http.Error(w, "boom", http.StatusBadGateway)
	})
	mux.HandleFunc("/404", func(w http.ResponseWriter, r *http.Request) { errs.Add(100); http.NotFound(w, r) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, tc := range []struct {
		path    string
		counter *atomic.Int32
		want    int32
	}{
		{"/drop", &drops, 3},
		{"/500", &errs, 3},
		{"/404", &errs, 103},
	} {
		_, err := download.Fetch(context.Background(), download.Request{
			URL: srv.URL + tc.path, Dir: t.TempDir(), Attempts: 3, Backoff: -1,
		})
		if err == nil {
			t.Fatalf("%s: Fetch succeeded", tc.path)
		}
		if got := tc.counter.Load(); got != tc.want {
			t.Errorf("%s: counter %d, want %d", tc.path, got, tc.want)
		}
	}
}

func TestFetchHeadersAndUserAgent(t *testing.T) {
	t.Parallel()
	srv, f := serve(t, map[string][]byte{"/k": []byte("kernel")}, nil)
	_, err := download.Fetch(context.Background(), download.Request{
		URL: srv.URL + "/k", Dir: t.TempDir(), Headers: map[string]string{"Authorization": "Bearer t0ken"},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if got := f.last.Get("User-Agent"); got != download.UserAgent {
		t.Errorf("User-Agent %q, want %q", got, download.UserAgent)
	}
	if got := f.last.Get("Authorization"); got != "Bearer t0ken" {
		t.Errorf("Authorization %q", got)
	}
	if got := f.last.Get("Accept-Encoding"); got != "" {
		t.Errorf("Accept-Encoding %q: the server must send the bytes as they are", got)
	}
}

func TestFetchProgress(t *testing.T) {
	t.Parallel()
	body := payload(3 << 20)
	mux := http.NewServeMux()
	// Known size, sent in small pieces so the reads see the percentages.
	mux.HandleFunc("/known", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		for p := body; len(p) > 0; {
			n := min(len(p), 64<<10)
			_, _ = w.Write(p[:n])
			w.(http.Flusher).Flush()
			p = p[n:]
		}
	})
	// Unknown size: chunked, no Content-Length.
	mux.HandleFunc("/unknown", func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		_, _ = w.Write(body)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, tc := range []struct {
		path string
		want []string
		max  int
	}{
		{"/known", []string{"total size: 3145728 (3MB)", "progress   0% (0MB)", "progress 100% (3MB)"}, 21},
		{"/unknown", []string{"total size: unknown", "progress 0MB"}, 2},
	} {
		log, text := logger()
		if _, err := download.Fetch(context.Background(), download.Request{URL: srv.URL + tc.path, Dir: t.TempDir(), Log: log}); err != nil {
			t.Fatal(err)
		}
		out := text()
		for _, w := range tc.want {
			if !strings.Contains(out, "debug: "+w+"\n") {
				t.Errorf("%s: no %q line in\n%s", tc.path, w, out)
			}
		}
		if n := strings.Count(out, "progress"); n < 1 || n > tc.max {
			t.Errorf("%s: %d progress lines, want 1 to %d:\n%s", tc.path, n, tc.max, out)
		}
		if !strings.Contains(out, "info: 3MB downloaded in ") {
			t.Errorf("%s: no final line:\n%s", tc.path, out)
		}
	}
}

func TestFetchFileURL(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	plain := payload(100000)
	img := filepath.Join(src, "rootfs.img.xz")
	if err := os.WriteFile(img, xzData(t, plain), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res, err := download.Fetch(context.Background(), download.Request{URL: "file://" + img, Dir: dir, Compression: "xz"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(res.File); !bytes.Equal(got, plain) || res.File != filepath.Join(dir, "rootfs.img") {
		t.Errorf("%s: %d bytes", res.File, len(got))
	}
	for _, tc := range []struct{ url, msg string }{
		{"file://" + filepath.Join(src, "missing.img"), "does not exist or is not readable"},
		{"file://" + src + "/", "cannot download a directory"},
		{"file://" + src + "/.", "invalid file name"},
		{"file:///dev/zero", "is not a regular file"},
		{"file://otherhost/etc/passwd", "only local files"},
	} {
		_, err := download.Fetch(context.Background(), download.Request{URL: tc.url, Dir: t.TempDir()})
		if err == nil || pipeline.ClassOf(err) != pipeline.ClassJob || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v, want a Job error saying %q", tc.url, err, tc.msg)
		}
	}
}

func TestFetchContextDeadline(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		_, _ = w.Write([]byte("x"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	dir := t.TempDir()
	_, err := download.Fetch(ctx, download.Request{URL: srv.URL + "/slow", Dir: dir})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline for the run loop to classify", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left %v", left)
	}
}

func TestFileName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, compression, want string }{
		{"http://e/a/rootfs.ext4.gz", "gz", "rootfs.ext4"},
		{"http://e/a/rootfs.ext4.zip", "zip", "rootfs.ext4.zip"},
		{"http://e/a/Image", "xz", "Image"},
		{"http://e/a/Image?x=1/2", "", "Image"},
		{"http://e/a%2F..%2F..%2Fetc%2Fpasswd", "", "passwd"},
		{"http://e/a/..", "", ""},
		{"http://e/a/.gz", "gz", ""},
		{"http://e/a/..gz", "gz", ""},
		{"http://e/", "", ""},
		{"http://e", "", ""},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		got, err := download.FileName(u, tc.compression)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("FileName(%s, %s) = %q, %v; want %q", tc.url, tc.compression, got, err, tc.want)
		}
	}
}

// BenchmarkFetchGz downloads a 64 MB image (compressed with gzip) from a
// local HTTP server through the whole path: hash, gunzip, write.
// The MB/s shown is of the decompressed image.
func BenchmarkFetchGz(b *testing.B) {
	plain := payload(64 << 20)
	body := gz(b, plain)
	mux := http.NewServeMux()
	mux.HandleFunc("/disk.img.gz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = io.Copy(w, bytes.NewReader(body))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	dir := b.TempDir()
	want := sha256Hex(body)
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		res, err := download.Fetch(context.Background(), download.Request{
			URL: srv.URL + "/disk.img.gz", Dir: dir, Compression: "gz", SHA256: want,
		})
		if err != nil {
			b.Fatal(err)
		}
		if res.Stored != int64(len(plain)) {
			b.Fatalf("stored %d", res.Stored)
		}
	}
	b.ReportMetric(float64(len(body))/float64(len(plain)), "compressed/plain")
}

// The host's xz is looked for at each download, not once per process: a
// worker that has run downloads without it uses it once installed.
func TestHostDecompressorInstalledLater(t *testing.T) {
	xz, err := exec.LookPath("xz")
	if err != nil {
		t.Skip("xz is not installed")
	}
	bin := t.TempDir()
	t.Setenv("PATH", bin)
	src := t.TempDir()
	plain := payload(100000)
	img := filepath.Join(src, "rootfs.img.xz")
	if err := os.WriteFile(img, xzData(t, plain), 0o644); err != nil {
		t.Fatal(err)
	}
	fetch := func() string {
		t.Helper()
		log, text := logger()
		res, err := download.Fetch(context.Background(), download.Request{URL: "file://" + img, Dir: t.TempDir(), Compression: "xz", Log: log})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(res.File); !bytes.Equal(got, plain) {
			t.Fatalf("%s: %d bytes, want the %d bytes compressed", res.File, len(got), len(plain))
		}
		return text()
	}
	if out := fetch(); !strings.Contains(out, "with the Go xz decoder") {
		t.Fatalf("without xz on PATH, the log does not say the Go decoder was used:\n%s", out)
	}
	if err := os.Symlink(xz, filepath.Join(bin, "xz")); err != nil {
		t.Fatal(err)
	}
	if out := fetch(); !strings.Contains(out, "with "+filepath.Join(bin, "xz")) {
		t.Fatalf("with xz installed since, the log does not say it was used:\n%s", out)
	}
}
