package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/nfsserver"
	"github.com/basalt-lava/basalt/internal/proctest"
	"github.com/basalt-lava/basalt/internal/value"
)

// needNFS skips when nfs-ganesha cannot run here (`make deps` installs
// it; it needs root), unless BASALT_E2E=1, when that is a failure.
func needNFS(t *testing.T) {
	t.Helper()
	needFixtures(t)
	if _, err := os.Stat(filepath.Join(fixtures, "nfsrootfs.tar.gz")); err != nil {
		t.Fatalf("fixture missing (run `make fixtures`): %v", err)
	}
	if why := nfsserver.Available(); why != "" {
		if os.Getenv("BASALT_E2E") == "1" {
			t.Fatalf("the NFS server cannot run: %s", why)
		}
		t.Skipf("the NFS server cannot run: %s", why)
	}
}

// nfsJob fills testdata/nfs-job.yaml: nfsrootfs is the archive's URL,
// extra more keys of the nfsrootfs image (prefix).
func nfsJob(t *testing.T, name, url, nfsrootfs, extra string, bootTimeout int) string {
	t.Helper()
	tmpl, err := os.ReadFile("testdata/nfs-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if nfsrootfs == "" {
		nfsrootfs = url + "/nfsrootfs.tar.gz"
	}
	r := strings.NewReplacer("@CASE@", name, "@URL@", url, "@NFSROOTFS@", nfsrootfs,
		"@NFS_EXTRA@", extra, "@BOOT_TIMEOUT@", itoa(bootTimeout))
	path := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(path, []byte(r.Replace(string(tmpl))), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func itoa(n int) string { return strconv.Itoa(n) }

// ganeshaOf returns the pids of the NFS servers whose command line
// names the job's scratch folder.
func ganeshaOf(tmp string) []int {
	var out []int
	for _, pid := range proctest.Mentioning(tmp) {
		comm, _ := os.ReadFile(filepath.Join("/proc", itoa(pid), "comm"))
		if strings.TrimSpace(string(comm)) == "ganesha.nfsd" {
			out = append(out, pid)
		}
	}
	return out
}

// TestNFSRootJob runs a qemu-nfs job through the basalt binary: the root
// is the fixtures' nfsrootfs exported by the job's own nfs-ganesha, the
// overlay is in it, the test shell's results come back; the server is
// gone afterwards (runJob checks no process names the job's folder).
func TestNFSRootJob(t *testing.T) {
	needNFS(t)
	url := server(t, nil)
	o := runJob(t, nfsJob(t, "complete", url, "", "", 180), nil)
	if o.code != 0 {
		t.Fatalf("exit %d, job %v", o.code, value.GoString(o.job))
	}
	for _, name := range []string{"root-is-nfs", "root-writable", "overlay-on-root", "from-the-archive"} {
		if r := o.result("0_nfs-root", name); r == nil || r.String("result") != "pass" {
			t.Errorf("%s: %v", name, value.GoString(r))
		}
	}
	for _, a := range []string{"qemu-nfs-deploy", "apply-overlay-tftp", "execute-qemu", "lava-test-shell"} {
		if r := o.result("lava", a); r == nil || r.String("result") != "pass" {
			t.Errorf("lava/%s: %v", a, value.GoString(r))
		}
	}
	for _, msg := range []string{"NFS server: ganesha.nfsd exporting ", "NFS server stopped: export of "} {
		if !o.logHas("info", msg) {
			t.Errorf("the log lacks %q", msg)
		}
	}
}

// TestNFSServerDown kills the job's NFS server as QEMU starts: the guest
// cannot mount its root, the job ends incomplete with an Infrastructure
// error, the log says the server died, and nothing is left.
func TestNFSServerDown(t *testing.T) {
	needNFS(t)
	url := server(t, nil)
	killed := 0
	o := runJob(t, nfsJob(t, "server-down", url, "", "", 120), func(p *os.Process, out string) {
		tmp := filepath.Join(filepath.Dir(out), "tmp")
		deadline := time.Now().Add(3 * time.Minute)
		for time.Now().Before(deadline) {
			b, _ := os.ReadFile(filepath.Join(out, "logs.yaml"))
			if bytes.Contains(b, []byte("Boot command:")) {
				for _, pid := range ganeshaOf(tmp) {
					if syscall.Kill(pid, syscall.SIGKILL) == nil {
						killed++
					}
				}
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	if killed == 0 {
		t.Fatal("no NFS server of the job was found to kill")
	}
	if o.code == 0 || o.errorType() != "Infrastructure" {
		t.Fatalf("exit %d, job %v: want an Infrastructure error", o.code, value.GoString(o.job))
	}
	t.Logf("the job ended: %s", o.job.String("error_msg"))
	if !o.logHas("error", "exited while the job ran") {
		t.Error("the log does not say the NFS server died")
	}
	if !o.logHas("", "cannot mount the NFS root") {
		t.Error("the guest's own complaint is not in the log")
	}
}

// TestNFSJobCanceled sends SIGTERM to basalt while the guest boots from
// the NFS root: the job ends Canceled, and cleanup stops the server and
// removes its export (runJob checks no process is left).
func TestNFSJobCanceled(t *testing.T) {
	needNFS(t)
	url := server(t, nil)
	o := runJob(t, nfsJob(t, "canceled", url, "", "", 180), func(p *os.Process, out string) {
		tmp := filepath.Join(filepath.Dir(out), "tmp")
		for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			b, _ := os.ReadFile(filepath.Join(out, "logs.yaml"))
			if bytes.Contains(b, []byte("Boot command:")) && len(ganeshaOf(tmp)) > 0 {
				break
			}
		}
		p.Signal(syscall.SIGTERM)
	})
	if o.code == 0 || o.errorType() != "Canceled" {
		t.Fatalf("exit %d, job %v: want Canceled", o.code, value.GoString(o.job))
	}
	if !o.logHas("info", "NFS server stopped: export of ") {
		t.Error("the log does not say the export was removed")
	}
}

// hostileRoot is a gzipped tar of the given entries.
func hostileRoot(t *testing.T, entries ...tar.Header) []byte {
	t.Helper()
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	w := tar.NewWriter(z)
	for _, h := range entries {
		body := []byte(nil)
		if h.Typeflag == tar.TypeReg {
			body = []byte("evil\n")
			h.Size = int64(len(body))
		}
		if h.Mode == 0 {
			h.Mode = 0o755
		}
		if err := w.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		w.Write(body)
	}
	w.Close()
	z.Close()
	return b.Bytes()
}

// TestNFSHostileRoots: an nfsrootfs archive is the job's, and nothing in
// it may write outside the job's folder or export anything else; each
// ends as a Job error before any server starts.
func TestNFSHostileRoots(t *testing.T) {
	needNFS(t)
	outside := t.TempDir()
	cases := []struct {
		name, prefix, message string
		entries               []tar.Header
	}{
		{"dot-dot", "", "path traversal", []tar.Header{{Name: "../../../../../" + outside[1:] + "/evil", Typeflag: tar.TypeReg}}},
		{"through-a-link", "", "below the link", []tar.Header{
			{Name: "escape", Typeflag: tar.TypeSymlink, Linkname: outside}, {Name: "escape/evil", Typeflag: tar.TypeReg}}},
		{"prefix-is-a-link", "boot/", "is not a folder of the archive", []tar.Header{
			{Name: "boot", Typeflag: tar.TypeSymlink, Linkname: "/"}}},
		{"prefix-missing", "rootfs/", "is not a folder of the archive", []tar.Header{
			{Name: "etc/", Typeflag: tar.TypeDir}}},
	}
	extra := map[string][]byte{}
	for _, c := range cases {
		extra[c.name+".tar.gz"] = hostileRoot(t, c.entries...)
	}
	url := server(t, extra)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			more := ""
			if c.prefix != "" {
				more = "        prefix: " + c.prefix
			}
			o := runJob(t, nfsJob(t, c.name, url, url+"/extra/"+c.name+".tar.gz", more, 60), nil)
			if o.code == 0 || o.errorType() != "Job" || !strings.Contains(o.job.String("error_msg"), c.message) {
				t.Fatalf("exit %d, job %v: want a Job error saying %q", o.code, value.GoString(o.job), c.message)
			}
			if o.logHas("", "NFS server: ganesha.nfsd exporting") {
				t.Error("a server started for a refused root")
			}
			if _, err := os.Lstat(filepath.Join(outside, "evil")); !os.IsNotExist(err) {
				t.Errorf("%s/evil was written", outside)
			}
		})
	}
}

// TestNFSServerDiesWithBasalt sends SIGKILL to basalt itself while the
// guest boots from the NFS root: the kernel's parent-death signal ends
// ganesha (and QEMU) with it (basaltRun checks nothing is left).
func TestNFSServerDiesWithBasalt(t *testing.T) {
	needNFS(t)
	url := server(t, nil)
	found := false
	o := basaltRun(t, runSpec{job: nfsJob(t, "sigkill", url, "", "", 180), devices: []string{"testdata/device.jinja2"}, id: "4242",
		limit: 5 * time.Minute, tail: 40, during: func(p *os.Process, out string) {
			tmp := filepath.Join(filepath.Dir(out), "tmp")
			for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline) && !found; time.Sleep(50 * time.Millisecond) {
				b, _ := os.ReadFile(filepath.Join(out, "logs.yaml"))
				found = bytes.Contains(b, []byte("Boot command:")) && len(ganeshaOf(tmp)) > 0
			}
			p.Kill()
		}})
	if !found {
		t.Fatal("the job never reached its boot with a server running")
	}
	if o.code != -1 {
		t.Errorf("basalt exit code %d, want -1 (killed)", o.code)
	}
}

// TestNFSRootUBoot boots the arm64 board (QEMU virt with Debian's U-Boot,
// powered by basalt board, console over telnet) with LAVA's u-boot "nfs"
// commands: kernel, device tree and ramdisk over TFTP, the root over NFS
// from the job's own server, which the board reaches at 10.0.2.2 (its
// dispatcher_ip). The board's processes and the server are gone after.
func TestNFSRootUBoot(t *testing.T) {
	needNFS(t)
	arm := filepath.Join(filepath.Dir(fixtures), "arm64")
	for _, f := range []string{"Image", "virt.dtb", "rootfs.cpio.gz", "nfsrootfs.tar.gz"} {
		if _, err := os.Stat(filepath.Join(arm, f)); err != nil {
			t.Skipf("arm64 fixture missing (fixtures/build-arm64.sh): %v", err)
		}
	}
	for _, p := range []string{"qemu-system-aarch64", "telnet"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is not installed", p)
		}
	}
	if _, err := os.Stat("/usr/lib/u-boot/qemu_arm64/u-boot.bin"); err != nil {
		t.Skipf("u-boot-qemu is not installed: %v", err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(arm)))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	state, tftp := filepath.Join(dir, "board"), filepath.Join(dir, "tftp")
	if err := os.Mkdir(tftp, 0o755); err != nil {
		t.Fatal(err)
	}
	device := filepath.Join(dir, "device.jinja2")
	dict := "{% extends 'qemu-uboot-arm64.jinja2' %}\n" +
		"{% set board_state_dir = '" + state + "' %}\n" +
		"{% set board_serial_port = " + strconv.Itoa(port) + " %}\n" +
		"{% set tftp_root = '" + tftp + "' %}\n" +
		"{% set basalt_command = '" + basalt + "' %}\n"
	disp := filepath.Join(dir, "dispatcher.yaml")
	for f, body := range map[string]string{device: dict, disp: "dispatcher_ip: 10.0.2.2\ntftp_root: " + tftp + "\n"} {
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmpl, err := os.ReadFile("testdata/nfs-uboot-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	job := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(job, []byte(strings.ReplaceAll(string(tmpl), "@URL@", srv.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	o := basaltRun(t, runSpec{job: job, devices: []string{device}, id: "4242", args: []string{"--dispatcher-config", disp},
		limit: 8 * time.Minute, tail: 60})
	o.readLog(t)
	if o.code != 0 {
		t.Fatalf("exit %d, job %v", o.code, value.GoString(o.job))
	}
	for _, name := range []string{"arch-is-arm64", "root-is-nfs", "nfsroot-on-cmdline", "overlay-on-root", "from-the-archive"} {
		if r := o.result("0_nfs-uboot", name); r == nil || r.String("result") != "pass" {
			t.Errorf("%s: %v", name, value.GoString(r))
		}
	}
	if !o.logHas("info", "NFS server stopped: export of ") {
		t.Error("the log does not say the export was removed")
	}
	if left := proctest.Linger(dir, 10*time.Second); len(left) > 0 {
		proctest.Kill(left)
		t.Errorf("processes of the board left behind: %v", left)
	}
	if entries, _ := os.ReadDir(tftp); len(entries) > 0 {
		t.Errorf("the job's TFTP folder is left: %v", entries)
	}
}
