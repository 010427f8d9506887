package nfsserver

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needServer skips when the host cannot run ganesha (not installed, not
// root): `make deps` installs it.
func needServer(t *testing.T) {
	t.Helper()
	if why := Available(); why != "" {
		t.Skipf("nfs-ganesha cannot run here: %s", why)
	}
}

// exports asks the MOUNT service at addr for its export list
// (MOUNTPROC3_EXPORT), over TCP with record marking.
func exports(t *testing.T, addr string) []string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial MOUNT at %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	var call bytes.Buffer
	for _, v := range []uint32{0x4a11, 0, 2, 100005, 3, 5, 0, 0, 0, 0} {
		_ = binary.Write(&call, binary.BigEndian, v)
	}
	var rec bytes.Buffer
	_ = binary.Write(&rec, binary.BigEndian, uint32(0x80000000)|uint32(call.Len()))
	rec.Write(call.Bytes())
	if _, err := c.Write(rec.Bytes()); err != nil {
		t.Fatalf("send EXPORT: %v", err)
	}
	var reply []byte
	for {
		var mark uint32
		if err := binary.Read(c, binary.BigEndian, &mark); err != nil {
			t.Fatalf("read EXPORT reply: %v", err)
		}
		frag := make([]byte, mark&0x7fffffff)
		if _, err := io.ReadFull(c, frag); err != nil {
			t.Fatalf("read EXPORT reply: %v", err)
		}
		reply = append(reply, frag...)
		if mark&0x80000000 != 0 {
			break
		}
	}
	r := bytes.NewReader(reply)
	u32 := func() uint32 {
		var v uint32
		if err := binary.Read(r, binary.BigEndian, &v); err != nil {
			t.Fatalf("short EXPORT reply % x", reply)
		}
		return v
	}
	str := func() string {
		n := u32()
		b := make([]byte, (n+3)&^3)
		if _, err := io.ReadFull(r, b); err != nil {
			t.Fatalf("short EXPORT reply % x", reply)
		}
		return string(b[:n])
	}
	if xid, typ, stat := u32(), u32(), u32(); xid != 0x4a11 || typ != 1 || stat != 0 {
		t.Fatalf("EXPORT reply: xid %#x type %d reply_stat %d", xid, typ, stat)
	}
	u32() // verifier flavour
	str() // verifier body
	if accept := u32(); accept != 0 {
		t.Fatalf("EXPORT not accepted: accept_stat %d", accept)
	}
	var out []string
	for u32() == 1 {
		out = append(out, str())
		for u32() == 1 {
			str() // groups
		}
	}
	return out
}

// TestServeOneFolder starts a real ganesha on one folder of a job and
// checks what it exports (that folder, nothing else), where it listens,
// and that Stop leaves neither a process nor a listening port.
func TestServeOneFolder(t *testing.T) {
	needServer(t)
	job := t.TempDir()
	root := filepath.Join(job, "nfsroot")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Start(context.Background(), Config{Dir: root, StateDir: filepath.Join(job, "nfs-server"), Bind: "127.0.0.1"})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer s.Stop()
	if err := s.Alive(); err != nil {
		t.Fatalf("Alive: %v", err)
	}
	// ganesha registered its programs with the stub, not the host's
	// rpcbind, whose other registrations it would replace.
	if n := s.stub.sets.Load(); n == 0 {
		t.Error("ganesha registered nothing with the rpcbind stub")
	}
	got := exports(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(s.MountPort())))
	if len(got) != 1 || got[0] != root {
		t.Errorf("exports = %q, want only %q", got, root)
	}
	want := fmt.Sprintf("vers=3,port=%d,mountport=%d,mountproto=tcp", s.NFSPort(), s.MountPort())
	if o := s.ClientOptions(); o != want {
		t.Errorf("ClientOptions = %q, want %q", o, want)
	}
	conf, _ := os.ReadFile(filepath.Join(job, "nfs-server", "ganesha.conf"))
	if !strings.Contains(string(conf), "Bind_addr = 127.0.0.1;") || strings.Count(string(conf), "EXPORT {") != 1 {
		t.Errorf("configuration:\n%s", conf)
	}
	pid := s.proc.Pid()
	if err := s.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		t.Errorf("ganesha (pid %d) still there after Stop", pid)
	}
	if listening("127.0.0.1", s.NFSPort()) || listening("127.0.0.1", s.MountPort()) {
		t.Errorf("ports %d/%d still listening after Stop", s.NFSPort(), s.MountPort())
	}
	if s.Alive() == nil {
		t.Error("Alive says the stopped server runs")
	}
	for _, f := range []string{"rpcbind.sock"} {
		if _, err := os.Lstat(filepath.Join(job, "nfs-server", f)); !os.IsNotExist(err) {
			t.Errorf("%s left after Stop: %v", f, err)
		}
	}
}

// TestStartRefuses checks the refusals that come before any process:
// a folder that is not there, a path ganesha's configuration could not
// hold.
func TestStartRefuses(t *testing.T) {
	needServer(t)
	job := t.TempDir()
	for _, tc := range []struct{ dir, want string }{
		{filepath.Join(job, "missing"), "not a folder"},
		{job + "/a\"b", "unusable path"},
		{"relative", "unusable path"},
	} {
		_, err := Start(context.Background(), Config{Dir: tc.dir, StateDir: filepath.Join(job, "state"), Bind: "127.0.0.1"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Start(%q) = %v, want an error with %q", tc.dir, err, tc.want)
		}
	}
}

func TestBindFor(t *testing.T) {
	if got := BindFor("10.0.2.2"); got != "127.0.0.1" {
		t.Errorf("BindFor(10.0.2.2) = %q, want the loopback (QEMU's user network)", got)
	}
	if got := BindFor("127.0.0.1"); got != "127.0.0.1" {
		t.Errorf("BindFor(127.0.0.1) = %q", got)
	}
	if got := BindFor("not an address"); got != "127.0.0.1" {
		t.Errorf("BindFor(junk) = %q", got)
	}
}

// TestTwoJobsAtOnce: two jobs' servers on one host, each exporting its
// own folder on its own ports; stopping one leaves the other serving.
func TestTwoJobsAtOnce(t *testing.T) {
	needServer(t)
	var servers []*Server
	var roots []string
	for i := range 2 {
		job := t.TempDir()
		root := filepath.Join(job, fmt.Sprintf("nfsroot%d", i))
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		s, err := Start(context.Background(), Config{Dir: root, StateDir: filepath.Join(job, "nfs-server"), Bind: "127.0.0.1"})
		if err != nil {
			t.Fatalf("Start %d: %v", i, err)
		}
		defer s.Stop()
		servers, roots = append(servers, s), append(roots, root)
	}
	if servers[0].NFSPort() == servers[1].NFSPort() || servers[0].MountPort() == servers[1].MountPort() {
		t.Fatalf("the two servers share a port: %d/%d and %d/%d", servers[0].NFSPort(), servers[0].MountPort(), servers[1].NFSPort(), servers[1].MountPort())
	}
	if err := servers[0].Stop(); err != nil {
		t.Fatal(err)
	}
	got := exports(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(servers[1].MountPort())))
	if len(got) != 1 || got[0] != roots[1] {
		t.Errorf("second server exports %q after the first stopped, want %q", got, roots[1])
	}
	if err := servers[1].Alive(); err != nil {
		t.Errorf("second server: %v", err)
	}
}
