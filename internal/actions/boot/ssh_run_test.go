package boot

import (
	"slices"
	"testing"
)

// Addresses and logins that reach ssh's command line must be what they
// say: never an option, never a second login or a command.
func TestValidHostAndLogin(t *testing.T) {
	for _, tt := range []struct {
		in         string
		host, user bool
	}{
		{"127.0.0.2", true, true},
		{"device-01.lab.example", true, true},
		{"fe80::1%eth0", true, false},
		{"root", true, true},
		{"", false, false},
		{"-oProxyCommand=touch /tmp/x", false, false},
		{"-p1", false, false},
		{"evil@host", false, false},
		{"host name", false, false},
		{"host;reboot", false, false},
		{"$(reboot)", false, false},
		{"a\nb", false, false},
	} {
		if got := validHost(tt.in); got != tt.host {
			t.Errorf("validHost(%q) = %v, want %v", tt.in, got, tt.host)
		}
		if got := validLogin(tt.in); got != tt.user {
			t.Errorf("validLogin(%q) = %v, want %v", tt.in, got, tt.user)
		}
	}
}

// The command lines: the device's options first, Basalt's fixed ones
// after them, the key and port, then "--" so that nothing after it is
// read as an option; scp brackets an IPv6 address.
func TestSshArgv(t *testing.T) {
	tg := &sshTarget{host: "127.0.0.2", user: "root", port: "2222", identity: "/srv/keys/lab",
		options: []string{"-o", "Compression=yes"}}
	want := []string{"ssh", "-o", "Compression=yes", "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
		"-o", "BatchMode=yes", "-i", "/srv/keys/lab", "-p", "2222", "-tt", "--", "root@127.0.0.2"}
	if got := tg.sshArgv(); !slices.Equal(got, want) {
		t.Errorf("sshArgv = %q\nwant %q", got, want)
	}
	want = []string{"scp", "-o", "Compression=yes", "-P", "2222", "-i", "/srv/keys/lab", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=no", "-o", "BatchMode=yes", "--", "/tmp/o.tar.gz", "root@127.0.0.2:/lava-1/o.tar.gz"}
	if got := tg.scpArgv("/tmp/o.tar.gz", "/lava-1/o.tar.gz"); !slices.Equal(got, want) {
		t.Errorf("scpArgv = %q\nwant %q", got, want)
	}
	tg.host = "fd00::2"
	if got := tg.scpArgv("a", "/b"); got[len(got)-1] != "root@[fd00::2]:/b" {
		t.Errorf("scp destination %q, want root@[fd00::2]:/b", got[len(got)-1])
	}
}
