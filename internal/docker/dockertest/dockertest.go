// Package dockertest runs a private docker daemon for a test: Debian's
// dockerd started by hand (no systemd), with its own data root, exec
// root, pid file and unix socket in a temporary folder, no iptables
// rules and no bridge (containers get no network), and images made with
// `docker import` from a small root file system built here (busybox and
// bash from the host: no registry is reachable). When the test ends the
// daemon is stopped and reaped, and the test fails if a container, a
// mount or a process of the daemon is left.
package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/proctest"
)

// Daemon is a running private dockerd.
type Daemon struct {
	// Dir holds everything the daemon writes.
	Dir string
	// Host is the daemon's address for docker --host / DOCKER_HOST.
	Host string
	cmd  *exec.Cmd
	done chan struct{}
}

// Require skips the test when a private daemon cannot run here (not
// root, no dockerd or docker client), or fails it when BASALT_E2E=1
// says the machine was set up for it (make deps installs docker.io).
func Require(t testing.TB) {
	t.Helper()
	miss := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("BASALT_E2E") == "1" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	if os.Geteuid() != 0 {
		miss("a private dockerd needs root")
	}
	if _, err := exec.LookPath("dockerd"); err != nil {
		if _, err := os.Stat("/usr/sbin/dockerd"); err != nil {
			miss("dockerd is not installed (apt-get install docker.io)")
		}
	}
	if _, err := exec.LookPath("docker"); err != nil {
		miss("the docker client is not installed (apt-get install docker.io)")
	}
}

func dockerdPath() string {
	if p, err := exec.LookPath("dockerd"); err == nil {
		return p
	}
	return "/usr/sbin/dockerd"
}

// Start starts a daemon for the test and stops it when the test ends.
// The folder is short (/tmp/bdk…): unix socket paths are limited to 107
// bytes and containerd puts its own sockets below the exec root.
func Start(t testing.TB) *Daemon {
	t.Helper()
	Require(t)
	dir, err := os.MkdirTemp("", "bdk")
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{Dir: dir, Host: "unix://" + filepath.Join(dir, "docker.sock"), done: make(chan struct{})}
	conf := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(conf, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	ns := filepath.Base(dir)
	d.cmd = exec.Command(dockerdPath(),
		"--config-file", conf,
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "x"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"--host", d.Host,
		"--containerd-namespace", ns,
		"--containerd-plugins-namespace", ns+"-plugins",
		"--iptables=false", "--ip6tables=false", "--ip-masq=false", "--bridge=none",
		"--storage-driver=vfs", "--log-level=warn",
	)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		t.Fatalf("starting dockerd: %v", err)
	}
	logf.Close()
	go func() { d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() { d.stop(t) })
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := d.Docker(context.Background(), nil, "version", "--format", "{{.Server.Version}}"); err == nil {
			break
		}
		select {
		case <-d.done:
			t.Fatalf("dockerd exited at start: %s", d.logTail())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dockerd did not answer within 60s: %s", d.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return d
}

func (d *Daemon) logTail() string {
	b, _ := os.ReadFile(filepath.Join(d.Dir, "dockerd.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Docker runs the docker client against the daemon with argv (no
// shell) and returns its standard output.
func (d *Daemon) Docker(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", append([]string{"--host", d.Host}, args...)...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// Containers lists every container, running or not (docker ps --all).
func (d *Daemon) Containers(t testing.TB) []string {
	t.Helper()
	out, err := d.Docker(context.Background(), nil, "ps", "--all", "--format", "{{.Names}}")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(out)
}

// AssertNoContainers fails the test when the daemon has any container.
func (d *Daemon) AssertNoContainers(t testing.TB) {
	t.Helper()
	if left := d.Containers(t); len(left) > 0 {
		t.Errorf("containers left behind (docker ps --all): %v", left)
		d.Docker(context.Background(), nil, append([]string{"rm", "--force"}, left...)...)
	}
}

// stop removes what is left (failing the test for it), stops dockerd
// (SIGTERM: it stops its containerd), reaps it, checks that no mount and
// no process mentions the folder, and removes the folder.
func (d *Daemon) stop(t testing.TB) {
	select {
	case <-d.done:
		t.Errorf("dockerd exited during the test: %s", d.logTail())
	default:
		d.AssertNoContainers(t)
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(30 * time.Second):
			syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
			<-d.done
			t.Errorf("dockerd did not stop within 30s of SIGTERM")
		}
	}
	if pids := proctest.Linger(d.Dir, 10*time.Second); len(pids) > 0 {
		proctest.Kill(pids)
		t.Errorf("processes of the docker daemon left behind: %v", pids)
	}
	if m := mountsUnder(d.Dir); len(m) > 0 {
		t.Errorf("mounts left behind: %v", m)
		for i := len(m) - 1; i >= 0; i-- {
			syscall.Unmount(m[i], syscall.MNT_DETACH)
		}
	}
	if err := os.RemoveAll(d.Dir); err != nil {
		t.Errorf("removing %s: %v", d.Dir, err)
	}
}

// mountsUnder lists the mount points below dir (/proc/self/mountinfo).
func mountsUnder(dir string) []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	return out
}

// ImportRootfs imports a small root file system as image (repository
// and tag): busybox (its applets as links in /bin) and bash with the
// libraries it loads, /etc/passwd, and a /root/.bashrc giving bash the
// prompt "root@<hostname>:<dir># ". PATH is set with --change: an
// imported image has no environment.
func (d *Daemon) ImportRootfs(t testing.TB, image string) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteRootfs(&buf); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Docker(context.Background(), &buf, "import",
		"--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"-", image); err != nil {
		t.Fatal(err)
	}
}

// busyboxPaths are where Debian's busybox and busybox-static put it.
var busyboxPaths = []string{"/bin/busybox", "/usr/bin/busybox"}

var lddLib = regexp.MustCompile(`(?m)(?:=>\s*)?(/\S+)\s+\(0x`)

// WriteRootfs writes the root file system ImportRootfs imports, as a tar
// archive.
func WriteRootfs(w io.Writer) error {
	busybox := ""
	for _, p := range busyboxPaths {
		if _, err := os.Stat(p); err == nil {
			busybox = p
			break
		}
	}
	if busybox == "" {
		return fmt.Errorf("busybox is not installed (apt-get install busybox-static)")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		return err
	}
	applets, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("%s --list: %v", busybox, err)
	}
	ldd, err := exec.Command("ldd", bash).Output()
	if err != nil {
		return fmt.Errorf("ldd %s: %v", bash, err)
	}
	tw := tar.NewWriter(w)
	dirs := map[string]bool{}
	mkdir := func(p string) error {
		var parts []string
		for q := filepath.Dir(p); q != "/" && q != "."; q = filepath.Dir(q) {
			parts = append([]string{q}, parts...)
		}
		for _, q := range parts {
			if dirs[q] {
				continue
			}
			dirs[q] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(q, "/") + "/", Mode: 0o755}); err != nil {
				return err
			}
		}
		return nil
	}
	file := func(name string, data []byte, mode int64) error {
		if err := mkdir(name); err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(name, "/"), Mode: mode, Size: int64(len(data))}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	hostFile := func(src, dst string) error {
		b, err := os.ReadFile(src) // follows links: libraries are often links
		if err != nil {
			return err
		}
		return file(dst, b, 0o755)
	}
	if err := hostFile(busybox, "/bin/busybox"); err != nil {
		return err
	}
	for _, a := range strings.Fields(string(applets)) {
		if a == "busybox" || a == "bash" || strings.Contains(a, "/") {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777}); err != nil {
			return err
		}
	}
	if err := hostFile(bash, "/bin/bash"); err != nil {
		return err
	}
	for _, m := range lddLib.FindAllStringSubmatch(string(ldd), -1) {
		if err := hostFile(m[1], m[1]); err != nil {
			return err
		}
	}
	for _, d := range []string{"/tmp/", "/root/", "/proc/", "/sys/", "/dev/", "/etc/"} {
		if err := mkdir(d + "x"); err != nil {
			return err
		}
	}
	if err := file("/etc/passwd", []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o644); err != nil {
		return err
	}
	if err := file("/etc/group", []byte("root:x:0:\n"), 0o644); err != nil {
		return err
	}
	if err := file("/root/.bashrc", []byte("PS1='root@\\h:\\w# '\n"), 0o644); err != nil {
		return err
	}
	return tw.Close()
}
