package deploy_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/basalt-lava/basalt/internal/actions/deploy"
	"github.com/basalt-lava/basalt/internal/download"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func hexSHA256(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// imageServer serves files by path; a path in failFirst answers 404 to
// its first request, as a server still being filled would.
type imageServer struct {
	files     map[string][]byte
	failFirst map[string]bool
	hits      atomic.Int32
}

func (s *imageServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.hits.Add(1)
	b, ok := s.files[r.URL.Path]
	if !ok || (s.failFirst[r.URL.Path] && n == 1) {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// downloadJob is a job whose only actions are download-retry actions,
// one per label, with a scratch folder and a readable log.
type downloadJob struct {
	job     *pipeline.Job
	results []*value.Map
	log     *bytes.Buffer
	logger  *joblog.Logger
}

func newDownloadJob(t *testing.T, block string, images ...any) *downloadJob {
	t.Helper()
	dj := &downloadJob{log: &bytes.Buffer{}}
	dj.logger = joblog.New(nil, joblog.Options{Human: dj.log, OnResult: func(m *value.Map) { dj.results = append(dj.results, m) }})
	j := &pipeline.Job{ID: "42", Params: value.NewMap(), Device: value.NewMap(), Timeout: pipeline.Timeout{Seconds: 60}}
	j.Runtime.TmpDir = t.TempDir()
	j.Runtime.Log = dj.logger
	top := pipeline.NewTopPipeline(j)
	params := decode(t, block)
	for i := 0; i < len(images); i += 2 {
		d := deploy.NewDownloader(images[i].(string), images[i+1].(*value.Map))
		top.Add(d, params)
		d.RetryInterval = -1 // no pause between attempts in tests
	}
	j.Pipeline = top
	top.Validate()
	if errs := top.Errors(); len(errs) > 0 {
		t.Fatalf("validation: %v", errs)
	}
	dj.job = j
	return dj
}

func (dj *downloadJob) run() error {
	_, err := dj.job.Pipeline.Run(context.Background(), nil)
	_ = dj.logger.Flush()
	return err
}

// result returns the extra of the named action's result.
func (dj *downloadJob) result(name string) *value.Map {
	for _, r := range dj.results {
		if r.String("case") == name {
			return r.Map("extra")
		}
	}
	return nil
}

func TestDownloadHandlerRecordsData(t *testing.T) {
	t.Parallel()
	rootfs := bytes.Repeat([]byte("ext4 image "), 10000)
	body := gzipped(t, rootfs)
	srv := httptest.NewServer(&imageServer{files: map[string][]byte{"/images/rootfs.ext4.gz": body, "/images/initrd.gz": body}})
	t.Cleanup(srv.Close)
	img := decode(t, `{url: "`+srv.URL+`/images/rootfs.ext4.gz", compression: gz, image_arg: "-drive format=raw,file={rootfs}", sha256sum: "`+hexSHA256(body)+`"}`)
	initrd := decode(t, `{url: "`+srv.URL+`/images/initrd.gz", compression: gz}`)
	dj := newDownloadJob(t, `{namespace: target}`, "rootfs", img, "ramdisk", initrd)
	if err := dj.run(); err != nil {
		t.Fatalf("run: %v\n%s", err, dj.log)
	}
	rt := &dj.job.Runtime
	want := filepath.Join(rt.TmpDir, "rootfs", "rootfs.ext4")
	// The keys as LAVA writes them: the constructors must produce these.
	for key, v := range map[pipeline.DataKey]any{
		"download-action/rootfs/file":          want,
		"download-action/file/rootfs":          want,
		"download-action/rootfs/image_arg":     "-drive format=raw,file={rootfs}",
		"download-action/rootfs/sha256sum":     hexSHA256(body),
		"download-action/rootfs/decompressed":  true,
		"download-action/ramdisk/file":         filepath.Join(rt.TmpDir, "ramdisk", "initrd.gz"),
		"download-action/ramdisk/decompressed": false,
	} {
		if got := rt.Data("target", key); got != v {
			t.Errorf("%s = %v, want %v", key, got, v)
		}
	}
	if got, _ := os.ReadFile(want); !bytes.Equal(got, rootfs) {
		t.Errorf("rootfs: %d bytes, want the decompressed %d", len(got), len(rootfs))
	}
	if got, _ := os.ReadFile(filepath.Join(rt.TmpDir, "ramdisk", "initrd.gz")); !bytes.Equal(got, body) {
		t.Errorf("the ramdisk was not kept compressed")
	}
	extra := dj.result("http-download")
	if extra.String("label") != "rootfs" || extra.Value("size") != len(body) || extra.String("sha256sum") != hexSHA256(body) {
		t.Errorf("http-download result extra = %v", extra)
	}
	for _, line := range []string{"progress   0% (0MB)", "downloaded in", "not decompressing ramdisk"} {
		if !strings.Contains(dj.log.String(), line) {
			t.Errorf("log has no %q:\n%s", line, dj.log)
		}
	}
}

func TestDownloadRetryStartsOver(t *testing.T) {
	t.Parallel()
	kernel := []byte("kernel image")
	srv := httptest.NewServer(&imageServer{files: map[string][]byte{"/vmlinuz": kernel}, failFirst: map[string]bool{"/vmlinuz": true}})
	t.Cleanup(srv.Close)
	dj := newDownloadJob(t, `{failure_retry: 2}`, "kernel", decode(t, `{url: "`+srv.URL+`/vmlinuz"}`))
	if err := dj.run(); err != nil {
		t.Fatalf("run: %v\n%s", err, dj.log)
	}
	out := dj.log.String()
	for _, line := range []string{"404 Not Found", "download-retry failed: 1 of 2 attempts", "cleaning up download directory", "retrying: 1 download-retry"} {
		if !strings.Contains(out, line) {
			t.Errorf("log has no %q:\n%s", line, out)
		}
	}
	f := dj.job.Runtime.DataString("common", "download-action/kernel/file")
	if got, _ := os.ReadFile(f); !bytes.Equal(got, kernel) {
		t.Errorf("%s = %q after the retry", f, got)
	}
}

func TestDownloadFailuresAndCleanup(t *testing.T) {
	t.Parallel()
	body := []byte("not what was promised")
	srv := httptest.NewServer(&imageServer{files: map[string][]byte{"/disk.img": body}})
	t.Cleanup(srv.Close)
	bad := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name, image string
		class       pipeline.Class
		msg         string
		extra       *value.Map
	}{
		{"checksum", `{url: "` + srv.URL + `/disk.img", sha256sum: "` + bad + `"}`, pipeline.ClassJob,
			"sha256 for '" + srv.URL + "/disk.img' does not match.",
			value.MapOf("fail", value.MapOf("sha256", bad, "download", hexSHA256(body)))},
		{"404", `{url: "` + srv.URL + `/missing.img"}`, pipeline.ClassJob, "404 Not Found", nil},
		{"corrupt", `{url: "` + srv.URL + `/disk.img", compression: xz}`, pipeline.ClassJob, "unable to decompress", nil},
		{"scp", `{url: "scp://host/disk.img"}`, pipeline.ClassBug, "scp:// urls is not implemented yet", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dj := newDownloadJob(t, `{failure_retry: 2}`, "disk", decode(t, tc.image))
			err := dj.run()
			if err == nil || pipeline.ClassOf(err) != tc.class || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v (%s), want %s saying %q", err, pipeline.ClassOf(err), tc.class, tc.msg)
			}
			if tc.extra != nil {
				if got := dj.result("http-download"); !value.Equal(got, tc.extra) {
					t.Errorf("result extra = %v, want %v", got, tc.extra)
				}
			}
			if err := dj.job.Pipeline.Cleanup(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dj.job.Runtime.TmpDir, "disk")); !os.IsNotExist(err) {
				t.Errorf("the download folder outlived the cleanup: %v", err)
			}
		})
	}
}

func TestDownloadSameLabelTwice(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	one, two := filepath.Join(src, "one", "smoke.yaml"), filepath.Join(src, "two", "smoke.yaml")
	for _, p := range []string{one, two} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dj := newDownloadJob(t, `{}`, "url_repo", decode(t, `{url: "file://`+one+`"}`), "url_repo", decode(t, `{url: "file://`+two+`"}`))
	if err := dj.run(); err != nil {
		t.Fatalf("run: %v\n%s", err, dj.log)
	}
	tmp := dj.job.Runtime.TmpDir
	for p, want := range map[string]string{
		filepath.Join(tmp, "url_repo", "smoke.yaml"):     one,
		filepath.Join(tmp, "url_repo-2.1", "smoke.yaml"): two,
	} {
		if got, err := os.ReadFile(p); err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", p, got, err, want)
		}
	}
	if got := dj.job.Runtime.DataString("common", "download-action/url_repo/file"); got != filepath.Join(tmp, "url_repo-2.1", "smoke.yaml") {
		t.Errorf("file = %s, want the last download's", got)
	}
}

func TestDownloadTarArchive(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	for _, e := range []struct{ name, body string }{{"tests/smoke.yaml", "metadata: {}\n"}, {"../escape", "x"}} {
		if err := w.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(e.body))
		if e.name == "tests/smoke.yaml" {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	_ = w.Close()
	good, evil := filepath.Join(t.TempDir(), "tests.tar.gz"), filepath.Join(t.TempDir(), "evil.tar.gz")
	// The good archive is the first entry alone: cut before the second header.
	first := b.Bytes()[:512+512]
	if err := os.WriteFile(good, gzipped(t, append(bytes.Clone(first), make([]byte, 1024)...)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(evil, gzipped(t, b.Bytes()), 0o644); err != nil {
		t.Fatal(err)
	}
	dj := newDownloadJob(t, `{}`, "tests", decode(t, `{url: "file://`+good+`", compression: gz, archive: tar}`))
	if err := dj.run(); err != nil {
		t.Fatalf("run: %v\n%s", err, dj.log)
	}
	into := filepath.Join(dj.job.Runtime.TmpDir, "tests", "tests")
	if got := dj.job.Runtime.DataString("common", "download-action/tests/file"); got != into {
		t.Errorf("file = %q, want the folder %q", got, into)
	}
	if got, err := os.ReadFile(filepath.Join(into, "tests", "smoke.yaml")); err != nil || string(got) != "metadata: {}\n" {
		t.Errorf("smoke.yaml = %q, %v", got, err)
	}
	dj = newDownloadJob(t, `{}`, "tests", decode(t, `{url: "file://`+evil+`", compression: gz, archive: tar}`))
	err := dj.run()
	if err == nil || pipeline.ClassOf(err) != pipeline.ClassJob || !strings.Contains(err.Error(), "path traversal") {
		t.Errorf("err = %v, want a Job error for the escaping entry", err)
	}
	if _, err := os.Stat(filepath.Join(dj.job.Runtime.TmpDir, "tests", "escape")); !os.IsNotExist(err) {
		t.Errorf("the escaping entry was written: %v", err)
	}
}

func TestDownloadHandlerTimeoutIsInfrastructure(t *testing.T) {
	t.Parallel()
	d := deploy.NewDownloader("kernel", decode(t, `{url: "http://example.com/vmlinuz"}`))
	(&pipeline.Pipeline{}).Add(d, value.NewMap())
	if c := d.Pipeline.Actions[0].ActionBase().TimeoutClass; c != pipeline.ClassInfrastructure {
		t.Errorf("http-download times out as %q, want Infrastructure as LAVA", c)
	}
}

// TestDownloadHandlerLimits: a gz image of 16 MiB of zeros (16 KB sent)
// under a 1 MiB --max-image-size ends the job with a Job error naming
// the image and the flag, tried once (download-retry does not try the
// job's own error again).
func TestDownloadHandlerLimits(t *testing.T) {
	t.Parallel()
	body := gzipped(t, make([]byte, 16<<20))
	srv := &imageServer{files: map[string][]byte{"/rootfs.img.gz": body}}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	dj := newDownloadJob(t, `{namespace: target}`, "rootfs", decode(t, `{url: "`+hs.URL+`/rootfs.img.gz", compression: gz}`))
	ctx := download.WithLimits(context.Background(), download.Limits{MaxImage: 1 << 20})
	_, err := dj.job.Pipeline.Run(ctx, nil)
	_ = dj.logger.Flush()
	if err == nil || pipeline.ClassOf(err) != pipeline.ClassJob || !strings.Contains(err.Error(), "image rootfs") || !strings.Contains(err.Error(), download.FlagMaxImage) {
		t.Fatalf("run = %v (class %s), want a Job error naming rootfs and %s\n%s", err, pipeline.ClassOf(err), download.FlagMaxImage, dj.log)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("the image was requested %d times, want once", n)
	}
}
