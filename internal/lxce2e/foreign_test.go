package lxce2e

import (
	"bytes"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/binfmt"
	"github.com/basalt-lava/basalt/internal/value"
)

// The foreign-architecture contained environment of LAVA's "pre-boot
// deployment manipulation": a pre-built arm64 root file system,
// downloaded once from an image server by LXC's download template, run
// under qemu-user through binfmt_misc in a container on this x86_64
// host, with the job's tests inside it.
//
// The image server is real: Go's HTTPS server on 127.0.0.1 serving the
// tree `make lxc-images` builds (fixtures/build-lxc-images.sh: Debian's
// busybox-static for arm64 in LXC's meta/1.0/index-system layout), its
// self-signed certificate given to basalt with --lxc-image-ca.

// imagesDir is the fixture tree, relative to this package.
const imagesDir = "../../build/fixtures/lxc-images"

// imageServer is an HTTPS server of the fixture tree that counts the
// requests per path.
type imageServer struct {
	*httptest.Server
	ca string // the certificate, PEM, for --lxc-image-ca

	mu   sync.Mutex
	hits map[string]int
}

func newImageServer(t *testing.T) *imageServer {
	t.Helper()
	root, err := os.OpenRoot(imagesDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	s := &imageServer{hits: map[string]int{}}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The index names its images with a leading "/", which the
		// template joins to its own: "//images/…".
		p := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		s.mu.Lock()
		s.hits[p]++
		s.mu.Unlock()
		b, err := root.ReadFile(p)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(s.Close)
	s.ca = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(s.ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// count returns how often paths ending in suffix were asked for.
func (s *imageServer) count(suffix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for p, c := range s.hits {
		if strings.HasSuffix(p, suffix) {
			n += c
		}
	}
	return n
}

// flags are basalt run's options pointing at the server, the cache in
// cache.
func (s *imageServer) flags(cache string) []string {
	return []string{"--lxc-image-server", strings.TrimPrefix(s.URL, "https://"), "--lxc-image-ca", s.ca, "--lxc-image-cache", cache}
}

// needForeign is needLXC plus the fixture and the arm64 binfmt handler:
// with BASALT_E2E=1 it fails when the fixture is missing (make
// lxc-images) or qemu-user-static is not installed, and registers
// Debian's qemu-aarch64 handler when binfmt_misc has none (the test
// set-up's job, as an administrator's: basalt never does it); it skips
// when the kernel or the sandbox does not let binfmt_misc be used.
func needForeign(t *testing.T) {
	t.Helper()
	needLXC(t)
	if _, err := os.Stat(filepath.Join(imagesDir, "meta/1.0/index-system")); err != nil {
		t.Fatalf("BASALT_E2E=1: the arm64 image fixture is missing (make lxc-images): %v", err)
	}
	arm64, _ := binfmt.Lookup("arm64")
	if binfmt.Native(arm64) {
		t.Skip("arm64 is native here: these tests are about a foreign architecture")
	}
	if _, err := binfmt.For("", arm64); err == nil {
		return
	}
	conf, err := os.ReadFile("/usr/lib/binfmt.d/qemu-aarch64.conf")
	if err != nil {
		t.Fatalf("BASALT_E2E=1: qemu-user-static is not installed (apt-get install qemu-user-static): %v", err)
	}
	// A kernel without binfmt_misc, or a sandbox that may not mount or
	// register it, truly lacks the feature: skip, naming it.
	if _, err := os.Stat(binfmt.DefaultDir + "/register"); err != nil {
		if out, err := exec.Command("mount", "-t", "binfmt_misc", "binfmt_misc", binfmt.DefaultDir).CombinedOutput(); err != nil {
			t.Skipf("binfmt_misc cannot be mounted here (%v: %s): foreign executables cannot run", err, bytes.TrimSpace(out))
		}
	}
	if err := os.WriteFile(binfmt.DefaultDir+"/register", bytes.TrimSpace(conf), 0o200); err != nil {
		t.Skipf("registering qemu-aarch64 with binfmt_misc failed (%v): foreign executables cannot run", err)
	}
	if _, err := binfmt.For("", arm64); err != nil {
		t.Fatalf("after registering qemu-aarch64: %v", err)
	}
}

// foreignJob is an LXC job on an arm64 busybox image of the server.
func foreignJob(name, release, protocol string, steps ...string) string {
	return strings.Replace(job(name, protocol, steps...),
		"template: busybox\n    distribution: busybox\n    release: \"1\"",
		"template: download\n    distribution: busybox\n    release: \""+release+"\"\n    arch: arm64", 1)
}

func runForeign(t *testing.T, text, id string, extra []string) *outcome {
	t.Helper()
	devPath := filepath.Join(t.TempDir(), "lxc-01.jinja2")
	if err := os.WriteFile(devPath, []byte(device), 0o644); err != nil {
		t.Fatal(err)
	}
	return runWith(t, text, devPath, id, nil, nil, extra)
}

// TestForeignArch: two jobs of the arm64 image: the first downloads it
// (index, rootfs, meta), the second makes its container from the cache
// without downloading the image again; each runs its tests inside an
// arm64 userland (uname -m under qemu-user says aarch64, busybox is an
// aarch64 ELF) and leaves no container.
func TestForeignArch(t *testing.T) {
	needForeign(t)
	srv := newImageServer(t)
	cache := t.TempDir()
	before := containers(t)
	steps := []string{
		"lava-test-case arch --shell test \"$(uname -m)\" = aarch64",
		// e_machine 0xb7 (EM_AARCH64) at offset 18 of busybox itself.
		"lava-test-case elf-aarch64 --shell test \"$(od -An -tx1 -j18 -N1 /bin/busybox | tr -d ' ')\" = b7",
		"lava-test-case emulated --shell grep -q qemu /proc/1/cmdline",
		"lava-test-case expected-fail --shell false",
	}
	for _, id := range []string{"101", "102"} {
		name := unique("basalt-arm64")
		o := runForeign(t, foreignJob(name, "1.35", "", steps...), id, srv.flags(cache))
		if o.code != 0 {
			t.Fatalf("job %s: exit %d, job %s", id, o.code, value.GoString(o.job))
		}
		wantResult(t, o, "0_in-lxc", "arch", "pass")
		wantResult(t, o, "0_in-lxc", "elf-aarch64", "pass")
		wantResult(t, o, "0_in-lxc", "emulated", "pass")
		wantResult(t, o, "0_in-lxc", "expected-fail", "fail")
		// The container goes before its shell (the faster order).
		if !o.logHas("issue stop (before closing the container's shell)") {
			t.Errorf("job %s: the container was not stopped before its shell was closed", id)
		}
		if !o.logHas("binfmt_misc's qemu-aarch64") {
			t.Errorf("job %s: the log does not name the binfmt handler used", id)
		}
		t.Logf("job %s took %s", id, o.elapsed.Round(time.Millisecond))
		noneLeft(t, before, name)
	}
	// The template asks the server only when its cache lacks the image
	// (these images have no expiry).
	if n, m := srv.count("rootfs.tar.xz"), srv.count("index-system"); n != 1 || m != 1 {
		t.Errorf("for two jobs the index was fetched %d times and rootfs.tar.xz %d times, want each once", m, n)
	}
}

// TestForeignPersist: a persistent arm64 container made by a first job
// is reused by a second (no download, no lxc-create), with what the
// first wrote.
func TestForeignPersist(t *testing.T) {
	needForeign(t)
	srv := newImageServer(t)
	cache := t.TempDir()
	before := containers(t)
	name := unique("basalt-arm64-keep")
	t.Cleanup(func() {
		destroy(name)
		noneLeft(t, before, name)
	})
	first := runForeign(t, foreignJob(name, "1.35", "    persist: true\n",
		"uname -m > /root/made-on",
		"lava-test-case wrote --shell grep -q aarch64 /root/made-on"), "111", srv.flags(cache))
	if first.code != 0 {
		t.Fatalf("first job: exit %d, job %s", first.code, value.GoString(first.job))
	}
	wantResult(t, first, "0_in-lxc", "wrote", "pass")
	if !slices.Contains(containers(t), name) {
		t.Fatalf("persistent container %s not kept", name)
	}
	hits := srv.count("")
	second := runForeign(t, foreignJob(name, "1.35", "    persist: true\n",
		"lava-test-case kept --shell grep -q aarch64 /root/made-on"), "112", srv.flags(cache))
	if second.code != 0 {
		t.Fatalf("second job: exit %d, job %s", second.code, value.GoString(second.job))
	}
	wantResult(t, second, "0_in-lxc", "kept", "pass")
	if !second.logHas("Persistent container exists") {
		t.Errorf("the second job did not reuse the container")
	}
	if n := srv.count(""); n != hits {
		t.Errorf("the second job asked the image server %d times", n-hits)
	}
}

// TestForeignFailures: each ends with its class, names what is wrong,
// and leaves no container.
func TestForeignFailures(t *testing.T) {
	needForeign(t)
	srv := newImageServer(t)
	t.Run("image-missing", func(t *testing.T) {
		before := containers(t)
		name := unique("basalt-arm64-none")
		o := runForeign(t, foreignJob(name, "9.99", "", "lava-test-case never --shell true"), "121", srv.flags(t.TempDir()))
		if o.code == 0 {
			t.Fatal("exit 0 for an image the server does not have")
		}
		t.Logf("%s: %s", o.job.String("error_type"), o.job.String("error_msg"))
		if got := o.job.String("error_type"); got != "Infrastructure" {
			t.Errorf("error_type %q, want Infrastructure (%s)", got, o.job.String("error_msg"))
		}
		msg := o.job.String("error_msg")
		for _, want := range []string{"Unable to create lxc container", "template download", "busybox 9.99 arm64"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error_msg %q does not say %q", msg, want)
			}
		}
		if srv.count("rootfs.tar.xz") != 0 && srv.count("9.99/") != 0 {
			t.Errorf("something of release 9.99 was downloaded")
		}
		noneLeft(t, before, name)
	})
	t.Run("image-missing-verbose", func(t *testing.T) {
		// verbose: true lets lxc-create show the template's messages:
		// its own reason becomes the error's.
		before := containers(t)
		name := unique("basalt-arm64-nonev")
		o := runForeign(t, foreignJob(name, "9.99", "    verbose: true\n", "lava-test-case never --shell true"), "122", srv.flags(t.TempDir()))
		if got, msg := o.job.String("error_type"), o.job.String("error_msg"); got != "Infrastructure" || !strings.Contains(msg, "ERROR: Couldn't find a matching image") {
			t.Errorf("%s: %s; want Infrastructure naming the template's reason", got, msg)
		}
		noneLeft(t, before, name)
	})
	t.Run("binfmt-missing", func(t *testing.T) {
		// basalt in a private mount namespace where binfmt_misc's folder
		// is one with no handler: the host's own stays as it is.
		before := containers(t)
		name := unique("basalt-arm64-nobinfmt")
		fake := t.TempDir()
		os.WriteFile(filepath.Join(fake, "status"), []byte("enabled\n"), 0o644)
		os.WriteFile(filepath.Join(fake, "register"), nil, 0o200)
		hits := srv.count("")
		devPath := filepath.Join(t.TempDir(), "lxc-01.jinja2")
		os.WriteFile(devPath, []byte(device), 0o644)
		wrapper := []string{"unshare", "--mount", "--propagation", "private", "sh", "-c",
			`mount --bind "$0" ` + binfmt.DefaultDir + ` && exec "$@"`, fake}
		o := runWith(t, foreignJob(name, "1.35", "", "lava-test-case never --shell true"), devPath, "131", nil, wrapper, srv.flags(t.TempDir()))
		if o.code == 0 {
			t.Fatal("exit 0 without a binfmt handler for arm64")
		}
		t.Logf("%s: %s", o.job.String("error_type"), o.job.String("error_msg"))
		if got := o.job.String("error_type"); got != "Configuration" {
			t.Errorf("error_type %q, want Configuration (%s)", got, o.job.String("error_msg"))
		}
		if msg := o.job.String("error_msg"); !strings.Contains(msg, "no binfmt_misc handler for aarch64") || !strings.Contains(msg, "qemu-user-static") {
			t.Errorf("error_msg %q does not name the missing handler and its package", msg)
		}
		if n := srv.count(""); n != hits {
			t.Errorf("the image server was asked %d times: something was attempted", n-hits)
		}
		if o.logHas("Calling: 'lxc-create'") {
			t.Errorf("lxc-create ran")
		}
		noneLeft(t, before, name)
	})
	t.Run("never-starts", func(t *testing.T) {
		// The noinit image has no /sbin/init: the container is made and
		// never runs; the job fails and destroys it.
		before := containers(t)
		name := unique("basalt-arm64-noinit")
		o := runForeign(t, foreignJob(name, "noinit", "", "lava-test-case never --shell true"), "141", srv.flags(t.TempDir()))
		if o.code == 0 {
			t.Fatal("exit 0 for a container that cannot start")
		}
		t.Logf("%s: %s", o.job.String("error_type"), o.job.String("error_msg"))
		if got := o.job.String("error_type"); got != "Job" {
			t.Errorf("error_type %q, want Job (%s)", got, o.job.String("error_msg"))
		}
		if msg := o.job.String("error_msg"); !strings.Contains(msg, "Unable to start lxc container") || !strings.Contains(msg, "its init /sbin/init is not in its root file system") {
			t.Errorf("error_msg %q does not say the container's init is missing", msg)
		}
		if !o.logHas("issue destroy") {
			t.Errorf("the protocol did not destroy the container")
		}
		noneLeft(t, before, name)
	})
}
