// Package sshdtest starts a real OpenSSH server for tests: Debian's
// /usr/sbin/sshd, run by the test itself (no systemd), listening on a
// loopback address of its own (127.0.0.2 by default, so the "device"
// has an address that is not the dispatcher's) at a free port, with a
// host key and a client key made for the test. Logins are root's and
// land in a chroot built for the server (busybox, bash and an /etc of
// its own), so what a job does on the device (LAVA unpacks its overlay
// in /lava-<job id>) never touches the machine running the test.
//
// Stop, registered as the test's cleanup, stops the server and every
// process of its sessions, and removes the chroot; Leftovers says what,
// if anything, survived, for the test to check.
package sshdtest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Sshd is the server's binary.
const Sshd = "/usr/sbin/sshd"

// privsepDir is the folder sshd's pre-authentication children chroot to;
// Debian's package makes it at boot (systemd tmpfiles), so a machine
// without systemd may not have it.
const privsepDir = "/run/sshd"

// Options say how to start the server.
type Options struct {
	// Listen is the loopback address to listen on; 127.0.0.2 if empty.
	Listen string
	// RefuseClientKey authorizes another key than Server.ClientKey, so
	// that every login with ClientKey is refused.
	RefuseClientKey bool
	// Prompt is the shell prompt of root's login shell; "root@sshdev:~# "
	// if empty.
	Prompt string
	// Netns, when set, runs sshd in that network namespace (made by the
	// test, with `ip netns add`) on port 22 of Listen, an address of
	// the namespace the test can reach: the device's logins then see
	// the namespace's interfaces, not the host's.
	Netns string
}

// Server is a running sshd.
type Server struct {
	// Addr and Port are where it listens.
	Addr string
	Port int
	// ClientKey is the private key of the client (its public half is
	// ClientKey+".pub"); authorized for root unless RefuseClientKey.
	ClientKey string
	// Root is the chroot of the logins: the device's file system.
	Root string
	// Prompt is root's shell prompt.
	Prompt string

	cmd     *exec.Cmd
	log     *bytes.Buffer
	logMu   sync.Mutex
	stopped bool
}

// Need skips the test when sshd or root is missing, unless BASALT_E2E=1,
// when that is a failure.
func Need(t testing.TB) {
	t.Helper()
	why := ""
	if _, err := os.Stat(Sshd); err != nil {
		why = "openssh-server is not installed (apt-get install openssh-server)"
	} else if os.Geteuid() != 0 {
		why = "starting sshd with a chroot needs root"
	} else {
		for _, tool := range []string{"ssh", "scp", "ssh-keygen", "busybox", "bash"} {
			if _, err := exec.LookPath(tool); err != nil {
				why = tool + " is not installed"
				break
			}
		}
	}
	if why == "" {
		return
	}
	if os.Getenv("BASALT_E2E") == "1" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// Start starts a server for the test and registers its Stop.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	Need(t)
	if o.Listen == "" {
		o.Listen = "127.0.0.2"
	}
	if o.Prompt == "" {
		o.Prompt = "root@sshdev:~# "
	}
	dir := t.TempDir()
	s := &Server{Addr: o.Listen, Prompt: o.Prompt, log: &bytes.Buffer{}}
	t.Cleanup(func() { s.Stop(t) })

	root, err := os.MkdirTemp("/run", "basalt-sshdev-")
	if err != nil {
		t.Fatal(err)
	}
	s.Root = root
	// sshd refuses a chroot that anyone but root may write to, up to /.
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := buildRoot(root, o.Prompt); err != nil {
		t.Fatalf("building the device's chroot: %v", err)
	}

	hostKey := filepath.Join(dir, "host_key")
	s.ClientKey = filepath.Join(dir, "client_key")
	other := filepath.Join(dir, "other_key")
	for _, k := range []string{hostKey, s.ClientKey, other} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "basalt-test", "-f", k).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
	}
	authorized := s.ClientKey + ".pub"
	if o.RefuseClientKey {
		authorized = other + ".pub"
	}
	auth := filepath.Join(dir, "authorized_keys")
	b, err := os.ReadFile(authorized)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(auth, b, 0o600); err != nil {
		t.Fatal(err)
	}

	if o.Netns != "" {
		// A namespace of its own: nothing else listens there.
		s.Port = 22
	} else {
		l, err := net.Listen("tcp", net.JoinHostPort(o.Listen, "0"))
		if err != nil {
			t.Fatalf("no free port on %s: %v", o.Listen, err)
		}
		s.Port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}

	config := filepath.Join(dir, "sshd_config")
	conf := fmt.Sprintf(`Port %d
ListenAddress %s
HostKey %s
PidFile none
AuthorizedKeysFile %s
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
PrintLastLog no
UseDNS no
ChrootDirectory %s
Subsystem sftp internal-sftp
AcceptEnv LANG LC_*
`, s.Port, o.Listen, hostKey, auth, root)
	if err := os.WriteFile(config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}

	// Made when missing and never removed: Debian's boot would have
	// made it, and another test process's sshd (tests of several
	// packages run at once) may be using it: removed under a running
	// sshd, its next login fails (exit status 255) as a refused key does.
	if err := os.Mkdir(privsepDir, 0o755); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}

	s.cmd = exec.Command(Sshd, "-D", "-e", "-f", config)
	if o.Netns != "" {
		// ip netns exec enters the namespace and execs sshd: the pid
		// and process group stay sshd's.
		s.cmd = exec.Command("ip", "netns", "exec", o.Netns, Sshd, "-D", "-e", "-f", config)
	}
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	w := &lockedWriter{s: s}
	s.cmd.Stdout, s.cmd.Stderr = w, w
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting sshd: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(o.Listen, strconv.Itoa(s.Port)), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd does not listen on %s:%d: %v\n%s", o.Listen, s.Port, err, s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

type lockedWriter struct{ s *Server }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.s.logMu.Lock()
	defer w.s.logMu.Unlock()
	if w.s.log.Len() < 1<<20 {
		w.s.log.Write(p)
	}
	return len(p), nil
}

// Log is what sshd printed (-e: its log on stderr).
func (s *Server) Log() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

// Dictionary returns a device dictionary for the server: LAVA's ssh
// device type with its host (empty with secondary: the address comes
// from the MultiNode group), port, user and key.
func (s *Server) Dictionary(secondary bool) string {
	host := s.Addr
	if secondary {
		host = ""
	}
	return fmt.Sprintf("{%% extends 'ssh.jinja2' %%}\n{%% set ssh_host = '%s' %%}\n{%% set ssh_port = %d %%}\n{%% set ssh_user = 'root' %%}\n{%% set ssh_identity_file = '%s' %%}\n",
		host, s.Port, s.ClientKey)
}

// Stop stops the server and every process of its sessions, then
// removes the chroot. It is safe to call more than once.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if s.stopped {
		return
	}
	s.stopped = true
	if s.cmd != nil && s.cmd.Process != nil {
		pid := s.cmd.Process.Pid
		// The sessions' processes are sshd's children and theirs, in
		// sessions of their own: found by ancestry, and by the chroot
		// they run in.
		victims := append(descendants(pid), inRoot(s.Root)...)
		syscall.Kill(-pid, syscall.SIGKILL)
		for _, v := range victims {
			syscall.Kill(v, syscall.SIGKILL)
		}
		s.cmd.Wait()
		waitGone(victims, 5*time.Second)
	}
	if s.Root != "" {
		if left := inRoot(s.Root); len(left) > 0 {
			t.Errorf("processes still running in the device's chroot %s: %v", s.Root, left)
			return
		}
		if err := os.RemoveAll(s.Root); err != nil {
			t.Errorf("removing the device's chroot: %v", err)
		}
	}
}

// Leftovers lists what survived Stop: processes of the server or in its
// chroot, the chroot itself.
func (s *Server) Leftovers() []string {
	var out []string
	if s.cmd != nil && s.cmd.ProcessState == nil {
		out = append(out, fmt.Sprintf("sshd %d not reaped", s.cmd.Process.Pid))
	}
	for _, p := range inRoot(s.Root) {
		out = append(out, fmt.Sprintf("process %d in %s", p, s.Root))
	}
	if _, err := os.Stat(s.Root); err == nil {
		out = append(out, "chroot "+s.Root)
	}
	return out
}

// descendants lists the processes below pid.
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp := ppid(p); pp > 0 {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

func ppid(pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PPid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// inRoot lists the live processes whose root is dir.
func inRoot(dir string) []int {
	if dir == "" {
		return nil
	}
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		r, err := os.Readlink(filepath.Join("/proc", e.Name(), "root"))
		if err != nil || r != dir {
			continue
		}
		if zombie(p) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func zombie(pid int) bool {
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && len(stat) > i+2 && stat[i+2] == 'Z'
}

func waitGone(pids []int, d time.Duration) {
	deadline := time.Now().Add(d)
	for _, p := range pids {
		for time.Now().Before(deadline) {
			if syscall.Kill(p, 0) != nil || zombie(p) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// buildRoot makes the device's file system: busybox for every command
// (lava-test-runner and its helpers are POSIX shell), bash with its
// libraries as root's login shell (the shell /etc/passwd names on the
// host, which sshd runs inside the chroot), GNU tar, device nodes, /etc.
func buildRoot(root, prompt string) error {
	for _, d := range []string{"bin", "dev", "etc", "root", "tmp", "lib", "lib64", "var/tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		return err
	}
	for _, l := range [][2]string{{"usr", "."}, {"sbin", "bin"}} {
		if err := os.Symlink(l[1], filepath.Join(root, l[0])); err != nil {
			return err
		}
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return err
	}
	if err := copyFile(bb, filepath.Join(root, "bin", "busybox"), 0o755); err != nil {
		return err
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %v", err)
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil && !os.IsExist(err) {
			return err
		}
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		return err
	}
	if err := copyWithLibs(root, bash, "/bin/bash"); err != nil {
		return err
	}
	// GNU tar, as on a Debian device: LAVA unpacks the overlay with
	// "--warning no-timestamp", which busybox's tar does not know.
	gnuTar, err := exec.LookPath("tar")
	if err != nil {
		return err
	}
	os.Remove(filepath.Join(root, "bin", "tar"))
	if err := copyWithLibs(root, gnuTar, "/bin/tar"); err != nil {
		return err
	}
	for _, n := range []struct {
		name         string
		major, minor uint32
	}{{"null", 1, 3}, {"zero", 1, 5}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}} {
		dev := int(n.major<<8 | n.minor)
		if err := syscall.Mknod(filepath.Join(root, "dev", n.name), syscall.S_IFCHR|0o666, dev); err != nil {
			return fmt.Errorf("mknod %s: %v", n.name, err)
		}
		os.Chmod(filepath.Join(root, "dev", n.name), 0o666)
	}
	files := map[string]string{
		"etc/passwd":   "root:x:0:0:root:/root:/bin/bash\n",
		"etc/group":    "root:x:0:\n",
		"etc/profile":  "export PATH=/bin\nexport HOME=/root\nPS1='" + prompt + "'\n",
		"etc/hostname": "sshdev\n",
		// The marker a test checks to know it ran on the device.
		"etc/basalt-ssh-device": "sshdev\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// copyWithLibs copies the program and the shared libraries ldd names
// into root, at the same paths.
func copyWithLibs(root, prog, as string) error {
	if err := copyFile(prog, filepath.Join(root, as), 0o755); err != nil {
		return err
	}
	out, err := exec.Command("ldd", prog).Output()
	if err != nil {
		return fmt.Errorf("ldd %s: %v", prog, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		for _, f := range strings.Fields(line) {
			if !strings.HasPrefix(f, "/") {
				continue
			}
			real, err := filepath.EvalSymlinks(f)
			if err != nil {
				return err
			}
			dst := filepath.Join(root, f)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			if _, err := os.Stat(dst); err == nil {
				continue
			}
			if err := copyFile(real, dst, 0o755); err != nil {
				return err
			}
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}
