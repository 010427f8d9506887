package sshdtest

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func sshArgs(s *Server, cmd string) []string {
	return []string{"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-i", s.ClientKey, "-p", strconv.Itoa(s.Port), "root@" + s.Addr, cmd}
}

// The server takes its client key, runs commands inside its chroot, and
// leaves nothing once stopped.
func TestServer(t *testing.T) {
	s := Start(t, Options{})
	out, err := exec.Command("ssh", sshArgs(s, "cat /etc/basalt-ssh-device; echo $0")...).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh: %v: %s\n%s", err, out, s.Log())
	}
	if !strings.Contains(string(out), "sshdev") {
		t.Errorf("the login is not in the device's chroot: %q", out)
	}
	s.Stop(t)
	if left := s.Leftovers(); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// A server that does not authorize the key refuses it.
func TestServerRefusesKey(t *testing.T) {
	s := Start(t, Options{RefuseClientKey: true})
	out, err := exec.Command("ssh", sshArgs(s, "true")...).CombinedOutput()
	if err == nil {
		t.Fatalf("ssh logged in with a key the server does not authorize: %s", out)
	}
	if !strings.Contains(string(out), "Permission denied") {
		t.Errorf("ssh said %q, want Permission denied", out)
	}
	s.Stop(t)
	if left := s.Leftovers(); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}
