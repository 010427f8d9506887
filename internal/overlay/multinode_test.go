package overlay

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/google/go-cmp/cmp"
)

// group3 is a three-job group; this device is job 1235, a client.
var group3 = []GroupMember{{"1234", "server"}, {"1235", "client"}, {"1236", "client"}}

// helperTools are the commands the MultiNode helpers may use besides the
// shell's builtins. The helpers run with only these on PATH (busybox's
// applets when busybox is installed, so no GNU-only flag can slip in),
// their own folder and the fakes a test adds.
var helperTools = []string{"awk", "cat", "date", "mkdir", "rm", "sleep", "tr"}

// mnDevice is one device's helpers, written as the overlay does, with
// the caches in a folder of the test.
type mnDevice struct {
	sh    shell
	bin   string
	dir   string // the helpers' working folder
	cache string
	net   string // the network cache
	path  string // PATH for the helpers
}

func newMNDevice(t *testing.T, sh shell, cfg MultinodeConfig, fakes ...string) *mnDevice {
	t.Helper()
	root := t.TempDir()
	d := &mnDevice{sh: sh, bin: mkdir(t, root, "bin"), dir: mkdir(t, root, "work"),
		cache: filepath.Join(root, "tmp", "cache.txt"), net: filepath.Join(root, "tmp", "net.txt")}
	if _, err := WriteScripts(d.bin, ScriptConfig{Shell: sh.path}); err != nil {
		t.Fatalf("WriteScripts: %v", err)
	}
	cfg.Shell, cfg.TestBin, cfg.Cache, cfg.NetworkCache = sh.path, d.bin, d.cache, d.net
	if cfg.Group == nil {
		cfg.Group, cfg.Role, cfg.Self = group3, "client", "1235"
	}
	if _, err := WriteMultinodeScripts(d.bin, cfg); err != nil {
		t.Fatalf("WriteMultinodeScripts: %v", err)
	}
	dirs := []string{d.bin}
	for _, f := range fakes {
		abs, err := filepath.Abs(filepath.Join("testdata", "multinode", f))
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, abs)
	}
	d.path = strings.Join(append(dirs, toolsDir(t)), ":")
	return d
}

// toolsDir is a folder of links to helperTools and nothing else.
func toolsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bb, bbErr := exec.LookPath("busybox")
	for _, name := range helperTools {
		target := bb
		if bbErr != nil {
			p, err := exec.LookPath(name)
			if err != nil {
				t.Skipf("%s is not installed", name)
			}
			target = p
		}
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// mnRun is what one helper did.
type mnRun struct {
	stdout, stderr string
	code           int
}

// run runs a helper with a real pipe as its stdin, played by a fake
// dispatcher: for every request line it sees on stdout except a send, it
// types the next of replies, as the dispatcher types the coordinator's
// answer on the console; then it closes the pipe, as a console that goes
// away would.
func (d *mnDevice) run(t *testing.T, env []string, replies []string, name string, args ...string) mnRun {
	t.Helper()
	// A guard only: a helper that waits for something never typed.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd, err := retryBusy(func() *exec.Cmd {
		cmd := exec.CommandContext(ctx, filepath.Join(d.bin, name), args...)
		cmd.Dir = d.dir
		cmd.Env = append([]string{"PATH=" + d.path, "HOME=" + d.dir}, env...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdinR, stdoutW, &stderr
		return cmd
	}, (*exec.Cmd).Start)
	if err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	stdinR.Close()
	stdoutW.Close()

	var out strings.Builder
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer stdinW.Close()
		pending := replies
		if len(pending) == 0 {
			stdinW.Close()
		}
		sc := bufio.NewScanner(stdoutR)
		for sc.Scan() {
			line := sc.Text()
			out.WriteString(line + "\n")
			if !strings.HasPrefix(line, "<LAVA_MULTI_NODE> <LAVA_") || strings.HasPrefix(line, "<LAVA_MULTI_NODE> <LAVA_SEND ") {
				continue
			}
			if len(pending) == 0 {
				continue
			}
			_, _ = io.WriteString(stdinW, pending[0])
			pending = pending[1:]
			if len(pending) == 0 {
				stdinW.Close()
			}
		}
	}()
	wg.Wait()
	err = cmd.Wait()
	stdoutR.Close()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s under %s never ended; stdout:\n%s\nstderr:\n%s", name, d.sh.name, out.String(), stderr.String())
	}
	return mnRun{stdout: out.String(), stderr: stderr.String(), code: code}
}

// readCache returns a cache file, or "<absent>".
func readCache(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "<absent>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMultinodeMessages runs lava-send, lava-wait, lava-wait-all and
// lava-sync under every shell against a fake dispatcher and checks what
// they print, their status and the cache they leave.
func TestMultinodeMessages(t *testing.T) {
	const stale = "999:old=stale\n"
	tests := []struct {
		name     string
		script   string
		args     []string
		env      []string
		replies  []string
		stdout   string
		code     int
		cache    string // "<absent>" when there must be none
		stderr   string // a part of stderr, when not empty
		keepOld  bool   // the cache holds stale data before the run
		globFile bool   // the working folder has files a '*' would match
	}{
		{name: "send", script: "lava-send", args: []string{"hello"},
			stdout: "<LAVA_MULTI_NODE> <LAVA_SEND hello>\n", cache: "<absent>"},
		{name: "send with data", script: "lava-send", args: []string{"ready", "ip=10.0.0.1", "url=http://h:80/a/b-1.2.tar.gz", "path=/srv/x"},
			stdout: "<LAVA_MULTI_NODE> <LAVA_SEND ready ip=10.0.0.1 url=http://h:80/a/b-1.2.tar.gz path=/srv/x>\n", cache: "<absent>"},
		{name: "send leaves out an empty value", script: "lava-send", args: []string{"go", "host_ip=", "k=v"},
			stdout: "<LAVA_MULTI_NODE> <LAVA_SEND go k=v>\n", cache: "<absent>", stderr: "leaving out host_ip"},
		{name: "send after CHARACTER_DELAY", script: "lava-send", args: []string{"slow"}, env: []string{"CHARACTER_DELAY=0"},
			stdout: "<LAVA_MULTI_NODE> <LAVA_SEND slow>\n", cache: "<absent>"},
		{name: "send without message ID", script: "lava-send",
			code: 1, cache: "<absent>", stderr: "Usage: lava-send <message-id>"},
		{name: "send with empty message ID", script: "lava-send", args: []string{""},
			code: 1, cache: "<absent>", stderr: "Usage: lava-send"},
		{name: "send with data first", script: "lava-send", args: []string{"k=v"},
			code: 1, cache: "<absent>", stderr: "has a '='"},
		{name: "send with a word that is not data", script: "lava-send", args: []string{"id", "oops"},
			code: 1, cache: "<absent>", stderr: "'oops' is not key=value"},
		{name: "send value with '='", script: "lava-send", args: []string{"id", "q=a=b"},
			code: 1, cache: "<absent>", stderr: "value of q has a '='"},
		{name: "send value with a blank", script: "lava-send", args: []string{"id", "q=a b"},
			code: 1, cache: "<absent>", stderr: "the console line cannot carry it"},
		{name: "send message ID with '>'", script: "lava-send", args: []string{"a>b"},
			code: 1, cache: "<absent>", stderr: "the console line cannot carry it"},

		{name: "wait", script: "lava-wait", args: []string{"server-ready"},
			replies: []string{"<LAVA_MULTI_NODE> <LAVA_WAIT server-ready>\r\n\nsomething else\n<LAVA_WAIT_COMPLETE 1234:ip=192.168.1.2 1234:url=http://srv:8080/a/b>\n\n"},
			stdout:  "<LAVA_MULTI_NODE> <LAVA_WAIT server-ready>\n",
			cache:   "1234:ip=192.168.1.2\n1234:url=http://srv:8080/a/b\n", keepOld: true},
		{name: "wait passes over another helper's answer", script: "lava-wait", args: []string{"x"},
			replies: []string{"<LAVA_WAIT_ALL_COMPLETE 1:a=b>\n<LAVA_SYNC_COMPLETE>\n<LAVA_WAIT_COMPLETE_X 2:c=d>\n<LAVA_WAIT_COMPLETE 3:e=f>\n"},
			stdout:  "<LAVA_MULTI_NODE> <LAVA_WAIT x>\n", cache: "3:e=f\n"},
		{name: "wait answer after a prompt, CRLF", script: "lava-wait", args: []string{"x"},
			replies: []string{"root@node:~# <LAVA_WAIT_COMPLETE 3:e=f>\r\n"},
			stdout:  "<LAVA_MULTI_NODE> <LAVA_WAIT x>\n", cache: "3:e=f\n"},
		{name: "wait answer without its newline", script: "lava-wait", args: []string{"x"},
			replies: []string{"<LAVA_WAIT_COMPLETE 3:e=f>"},
			stdout:  "<LAVA_MULTI_NODE> <LAVA_WAIT x>\n", cache: "3:e=f\n"},
		{name: "wait with no data", script: "lava-wait", args: []string{"x"},
			replies: []string{"<LAVA_WAIT_COMPLETE>\n"},
			stdout:  "<LAVA_MULTI_NODE> <LAVA_WAIT x>\n", cache: "", keepOld: true},
		{name: "wait value with blanks and a star", script: "lava-wait", args: []string{"x"}, globFile: true,
			replies: []string{"<LAVA_WAIT_COMPLETE 12:msg=hello  world 12:star=* 13:k=v>\n"},
			stdout:  "<LAVA_MULTI_NODE> <LAVA_WAIT x>\n", cache: "12:msg=hello world\n12:star=*\n13:k=v\n"},
		{name: "wait nack", script: "lava-wait", args: []string{"x"},
			replies: []string{"<LAVA_MULTI_NODE> <LAVA_WAIT x>\n<LAVA_WAIT_COMPLETE nack>\n\n"},
			stdout:  "<LAVA_MULTI_NODE> <LAVA_WAIT x>\n", code: 1, cache: "<absent>", keepOld: true,
			stderr: "lava-wait: the coordinator refused <LAVA_WAIT x> (nack)"},
		{name: "wait console closed", script: "lava-wait", args: []string{"x"},
			replies: []string{"<LAVA_MULTI_NODE> <LAVA_WAIT x>\nnoise\n"},
			stdout:  "<LAVA_MULTI_NODE> <LAVA_WAIT x>\n", code: 1, cache: "<absent>",
			stderr: "the console closed before the answer to <LAVA_WAIT x> arrived"},
		{name: "wait without message ID", script: "lava-wait", code: 1, cache: "<absent>", stderr: "Usage: lava-wait <message-id>"},
		{name: "wait with two words", script: "lava-wait", args: []string{"a", "b"}, code: 1, cache: "<absent>", stderr: "Usage: lava-wait"},
		{name: "wait with data", script: "lava-wait", args: []string{"a=b"}, code: 1, cache: "<absent>", stderr: "has a '='"},
		{name: "debug lines on stderr", script: "lava-wait", args: []string{"x"},
			replies: []string{"<LAVA_WAIT_COMPLETE 3:e=f>\n"},
			stdout:  "<LAVA_MULTI_NODE> <LAVA_WAIT x>\n", cache: "3:e=f\n", stderr: "<LAVA_WAIT_DEBUG waiting for LAVA_WAIT_COMPLETE "},

		{name: "wait-all, several senders", script: "lava-wait-all", args: []string{"ready"},
			replies: []string{"<LAVA_MULTI_NODE> <LAVA_WAIT_ALL ready>\n<LAVA_WAIT_ALL_COMPLETE 1234:ip=10.0.0.1 1234:path=/srv/data 1236:ip=10.0.0.3 1236:url=tcp://10.0.0.3:5201>\n\n"},
			stdout:  "<LAVA_MULTI_NODE> <LAVA_WAIT_ALL ready>\n",
			cache:   "1234:ip=10.0.0.1\n1234:path=/srv/data\n1236:ip=10.0.0.3\n1236:url=tcp://10.0.0.3:5201\n"},
		{name: "wait-all for a role", script: "lava-wait-all", args: []string{"ready", "server"},
			replies: []string{"<LAVA_WAIT_ALL_COMPLETE 1234:ip=10.0.0.1>\n"},
			stdout:  "<LAVA_MULTI_NODE> <LAVA_WAIT_ALL ready server>\n", cache: "1234:ip=10.0.0.1\n"},
		{name: "wait-all nack", script: "lava-wait-all", args: []string{"ready", "server"},
			replies: []string{"<LAVA_WAIT_ALL_COMPLETE nack>\n"},
			stdout:  "<LAVA_MULTI_NODE> <LAVA_WAIT_ALL ready server>\n", code: 1, cache: "<absent>",
			stderr: "refused <LAVA_WAIT_ALL ready server> (nack)"},
		{name: "wait-all with a bad role", script: "lava-wait-all", args: []string{"ready", "a>b"},
			code: 1, cache: "<absent>", stderr: "the role 'a>b'"},
		{name: "wait-all with three words", script: "lava-wait-all", args: []string{"a", "b", "c"},
			code: 1, cache: "<absent>", stderr: "Usage: lava-wait-all <message-id> [<role>]"},

		{name: "sync", script: "lava-sync", args: []string{"done"},
			replies: []string{"<LAVA_MULTI_NODE> <LAVA_SYNC done>\n<LAVA_SYNC_COMPLETE>\n\n"},
			stdout:  "<LAVA_MULTI_NODE> <LAVA_SYNC done>\n", cache: "", keepOld: true},
		{name: "sync nack", script: "lava-sync", args: []string{"done"},
			replies: []string{"<LAVA_SYNC_COMPLETE nack>\n"},
			stdout:  "<LAVA_MULTI_NODE> <LAVA_SYNC done>\n", code: 1, cache: "<absent>", stderr: "refused <LAVA_SYNC done> (nack)"},
		{name: "sync without message ID", script: "lava-sync", code: 1, cache: "<absent>", stderr: "Usage: lava-sync <message-id>"},

		{name: "start-vms", script: "lava-start-vms", env: []string{"_LAVA_VM_GROUP_HOST_IP=10.9.8.7"},
			stdout: "<LAVA_MULTI_NODE> <LAVA_SEND lava_vm_start host_ip=10.9.8.7>\n", cache: "<absent>"},
		{name: "start-vms without the host's address", script: "lava-start-vms",
			stdout: "<LAVA_MULTI_NODE> <LAVA_SEND lava_vm_start>\n", cache: "<absent>"},
		{name: "wait-for-vms", script: "lava-wait-for-vms",
			replies: []string{"<LAVA_WAIT_ALL_COMPLETE>\n"},
			stdout:  "<LAVA_MULTI_NODE> <LAVA_SEND lava_vm_stop>\n<LAVA_MULTI_NODE> <LAVA_WAIT_ALL lava_vm_stop>\n", cache: ""},
	}
	for _, sh := range shells(t) {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					d := newMNDevice(t, sh, MultinodeConfig{Debug: true})
					if tc.keepOld {
						mkdir(t, filepath.Dir(d.cache))
						writeTestFile(t, d.cache, stale)
					}
					if tc.globFile {
						writeTestFile(t, filepath.Join(d.dir, "a-file"), "")
					}
					got := d.run(t, tc.env, tc.replies, tc.script, tc.args...)
					if got.stdout != tc.stdout || got.code != tc.code {
						t.Errorf("%s %q: status %d, stdout:\n%s\nwant status %d, stdout:\n%s\nstderr:\n%s",
							tc.script, tc.args, got.code, got.stdout, tc.code, tc.stdout, got.stderr)
					}
					if !strings.Contains(got.stderr, tc.stderr) {
						t.Errorf("%s %q: stderr\n%s\nwant it to contain %q", tc.script, tc.args, got.stderr, tc.stderr)
					}
					want := tc.cache
					if want == "<absent>" && tc.keepOld && tc.code == 0 {
						want = stale
					}
					if c := readCache(t, d.cache); c != want {
						t.Errorf("%s %q: cache %q, want %q", tc.script, tc.args, c, want)
					}
				})
			}
		})
	}
}

// TestMultinodeGroup checks what lava-group, lava-role, lava-self and
// lava-echo-config print for a three-job group.
func TestMultinodeGroup(t *testing.T) {
	tests := []struct {
		script string
		args   []string
		env    []string
		stdout string
		code   int
	}{
		{"lava-group", nil, nil, "\t1234\tserver\n\t1235\tclient\n\t1236\tclient\n", 0},
		{"lava-group", []string{"client"}, nil, "1235\n1236\n", 0},
		{"lava-group", []string{"server"}, nil, "1234\n", 0},
		{"lava-group", []string{"serv"}, nil, "", 1},
		{"lava-group", []string{"a", "b"}, nil, "", 1},
		{"lava-role", nil, nil, "client\n", 0},
		{"lava-role", []string{"list"}, nil, "server\nclient\n", 0},
		{"lava-role", []string{"other"}, nil, "", 1},
		{"lava-self", nil, nil, "1235\n", 0},
		{"lava-echo-config", nil, nil, "no shared config\n", 1},
		{"lava-echo-config", nil, []string{`LAVA_SHARED_CONFIG=panda01 10.0.0.1\npanda02 10.0.0.2`}, "panda01 10.0.0.1\npanda02 10.0.0.2\n", 0},
		{"lava-echo-config", []string{"panda02"}, []string{`LAVA_SHARED_CONFIG=panda01 10.0.0.1\npanda02 10.0.0.2`}, "10.0.0.2\n", 0},
		{"lava-echo-config", []string{"panda0"}, []string{`LAVA_SHARED_CONFIG=panda01 10.0.0.1`}, "no matching devices\n", 1},
	}
	for _, sh := range shells(t) {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			d := newMNDevice(t, sh, MultinodeConfig{})
			for _, tc := range tests {
				got := d.run(t, tc.env, nil, tc.script, tc.args...)
				if got.stdout != tc.stdout || got.code != tc.code {
					t.Errorf("%s %q: status %d, stdout %q; want %d, %q (stderr %q)",
						tc.script, tc.args, got.code, got.stdout, tc.code, tc.stdout, got.stderr)
				}
			}
		})
	}
}

// TestMultinodeRoleNotRun writes a group whose names hold quotes,
// backquotes and $(…) and checks the helpers print them as they are and
// run none of them.
func TestMultinodeRoleNotRun(t *testing.T) {
	role := `it's"$(touch${IFS}PWNED1)` + "`touch${IFS}PWNED2`" + `$HOME\n`
	self := `7$(touch${IFS}PWNED3)`
	for _, sh := range shells(t) {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			d := newMNDevice(t, sh, MultinodeConfig{
				Group: []GroupMember{{"1", "server"}, {self, role}},
				Role:  role, Self: self,
			})
			checks := []struct {
				script string
				args   []string
				stdout string
			}{
				{"lava-role", nil, role + "\n"},
				{"lava-role", []string{"list"}, "server\n" + role + "\n"},
				{"lava-self", nil, self + "\n"},
				{"lava-group", nil, "\t1\tserver\n\t" + self + "\t" + role + "\n"},
				{"lava-group", []string{role}, self + "\n"},
			}
			for _, c := range checks {
				got := d.run(t, nil, nil, c.script, c.args...)
				if got.stdout != c.stdout || got.code != 0 {
					t.Errorf("%s: status %d, stdout %q; want %q (stderr %q)", c.script, got.code, got.stdout, c.stdout, got.stderr)
				}
			}
			// lava-wait-all sends the role on the console as it is.
			got := d.run(t, nil, []string{"<LAVA_WAIT_ALL_COMPLETE>\n"}, "lava-wait-all", "id", role)
			if want := "<LAVA_MULTI_NODE> <LAVA_WAIT_ALL id " + role + ">\n"; got.stdout != want || got.code != 0 {
				t.Errorf("lava-wait-all: status %d, stdout %q, want %q (stderr %q)", got.code, got.stdout, want, got.stderr)
			}
			for _, f := range []string{"PWNED1", "PWNED2", "PWNED3"} {
				for _, dir := range []string{d.dir, d.bin, "."} {
					if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
						t.Errorf("%s exists in %s: a name from the job ran as a command", f, dir)
					}
				}
			}
		})
	}
}

// TestMultinodeNetwork runs lava-network against fake ip, ifconfig,
// route and hostname commands: broadcast from each of them, collect, and
// what query, hosts and alias-hosts make of the collected answer.
func TestMultinodeNetwork(t *testing.T) {
	resolv, err := filepath.Abs(filepath.Join("testdata", "multinode", "resolv.conf"))
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"LAVA_RESOLV_CONF=" + resolv}
	broadcasts := []struct {
		name  string
		fakes []string
		iface string
		want  string
	}{
		{"ip", []string{"ip", "common"}, "eth0", "<LAVA_MULTI_NODE> <LAVA_SEND network_info ipv4=192.168.10.5 netmask=255.255.254.0 " +
			"broadcast=192.168.11.255 ipv6=fd00:10::5 mac=52:54:00:12:34:56 hostname=node-a hostname-full=node-a.lab.example " +
			"default-gateway=192.168.10.1 dns_1=10.0.0.53 dns_2=10.0.0.54>\n"},
		{"ip loopback", []string{"ip", "common"}, "lo", "<LAVA_MULTI_NODE> <LAVA_SEND network_info ipv4=127.0.0.1 netmask=255.0.0.0 " +
			"mac=00:00:00:00:00:00 hostname=node-a hostname-full=node-a.lab.example default-gateway=192.168.10.1 dns_1=10.0.0.53 dns_2=10.0.0.54>\n"},
		{"busybox ifconfig", []string{"ifconfig-busybox", "common"}, "eth0", "<LAVA_MULTI_NODE> <LAVA_SEND network_info ipv4=10.0.2.15 netmask=255.255.255.0 " +
			"broadcast=10.0.2.255 ipv6=fe80::5054:ff:feab:cdef mac=52:54:00:AB:CD:EF hostname=node-a hostname-full=node-a.lab.example " +
			"default-gateway=10.0.2.2 dns_1=10.0.0.53 dns_2=10.0.0.54>\n"},
		{"net-tools ifconfig", []string{"ifconfig-nettools", "common"}, "enp0s3", "<LAVA_MULTI_NODE> <LAVA_SEND network_info ipv4=172.16.3.7 netmask=255.255.0.0 " +
			"broadcast=172.16.255.255 ipv6=fe80::a00:27ff:fe4e:66a1 mac=08:00:27:4e:66:a1 hostname=node-a hostname-full=node-a.lab.example " +
			"default-gateway=10.0.2.2 dns_1=10.0.0.53 dns_2=10.0.0.54>\n"},
	}
	// The answer to collect: the server broadcast with a hostname, one
	// client without, and 12345, whose name starts like 1234's.
	const collected = "<LAVA_WAIT_ALL_COMPLETE 1234:ipv4=10.0.0.1 1234:hostname=srv 1234:hostname-full=srv.lab 1234:mac=52:54:00:00:00:01 " +
		"1236:ipv4=10.0.0.3 1236:dns_1=10.0.0.53 12345:ipv4=10.0.0.99>\n"
	for _, sh := range shells(t) {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			for _, b := range broadcasts {
				if !fakesWork(t, sh) {
					t.Logf("%s runs its own applets before PATH: the fake %s cannot stand in", sh.name, b.name)
					continue
				}
				d := newMNDevice(t, sh, MultinodeConfig{}, b.fakes...)
				got := d.run(t, env, nil, "lava-network", "broadcast", b.iface)
				if got.stdout != b.want || got.code != 0 {
					t.Errorf("broadcast with %s: status %d, stdout:\n%s\nwant:\n%s\nstderr:\n%s", b.name, got.code, got.stdout, b.want, got.stderr)
				}
				got = d.run(t, env, nil, "lava-network", "broadcast", "eth9")
				if got.code != 1 || got.stdout != "" || !strings.Contains(got.stderr, "no interface eth9") {
					t.Errorf("broadcast on a missing interface with %s: status %d, stdout %q, stderr %q", b.name, got.code, got.stdout, got.stderr)
				}
			}

			d := newMNDevice(t, sh, MultinodeConfig{}, "ip", "common")
			got := d.run(t, env, nil, "lava-network", "query", "1234", "ipv4")
			if got.code != 1 || !strings.Contains(got.stderr, "run lava-network collect first") {
				t.Errorf("query before collect: status %d, stderr %q", got.code, got.stderr)
			}
			got = d.run(t, env, []string{"<LAVA_WAIT_COMPLETE 1:a=b>\n" + collected}, "lava-network", "collect", "eth0", "server")
			if want := "<LAVA_MULTI_NODE> <LAVA_WAIT_ALL network_info server>\n"; got.stdout != want || got.code != 0 {
				t.Fatalf("collect: status %d, stdout %q, want %q (stderr %q)", got.code, got.stdout, want, got.stderr)
			}
			wantCache := "1234:ipv4=10.0.0.1\n1234:hostname=srv\n1234:hostname-full=srv.lab\n1234:mac=52:54:00:00:00:01\n" +
				"1236:ipv4=10.0.0.3\n1236:dns_1=10.0.0.53\n12345:ipv4=10.0.0.99\n"
			if c := readCache(t, d.net); c != wantCache {
				t.Errorf("network cache %q, want %q", c, wantCache)
			}
			if c := readCache(t, d.cache); c != "<absent>" {
				t.Errorf("collect wrote the message cache: %q", c)
			}
			queries := []struct {
				name, field, want string
			}{
				{"1234", "ipv4", "10.0.0.1\n"},
				{"1234", "mac", "52:54:00:00:00:01\n"},
				{"srv", "ipv4", "10.0.0.1\n"},
				{"srv.lab", "hostname", "srv\n"},
				{"1236", "dns_1", "10.0.0.53\n"},
				{"12345", "ipv4", "10.0.0.99\n"},
				{"1236", "ipv6", ""},
				{"9999", "ipv4", ""},
			}
			for _, q := range queries {
				got := d.run(t, env, nil, "lava-network", "query", q.name, q.field)
				if got.stdout != q.want || got.code != 0 {
					t.Errorf("query %s %s: status %d, stdout %q, want %q (stderr %q)", q.name, q.field, got.code, got.stdout, q.want, got.stderr)
				}
			}
			hosts := filepath.Join(d.dir, "hosts")
			writeTestFile(t, hosts, "127.0.0.1\tlocalhost\n")
			if got := d.run(t, env, nil, "lava-network", "hosts", hosts); got.code != 0 {
				t.Errorf("hosts: status %d, stderr %q", got.code, got.stderr)
			}
			want := "127.0.0.1\tlocalhost\n10.0.0.1\tsrv\n10.0.0.3\t1236\n10.0.0.99\t12345\n"
			if got := readTestFile(t, hosts); got != want {
				t.Errorf("hosts file:\n%s\nwant:\n%s", got, want)
			}
			aliases := filepath.Join(d.dir, "aliases")
			if got := d.run(t, env, nil, "lava-network", "alias-hosts", aliases); got.code != 0 {
				t.Errorf("alias-hosts: status %d, stderr %q", got.code, got.stderr)
			}
			// 1235 sent nothing: no line, but it still counts as client01.
			want = "10.0.0.1\tsrv\tserver01\n10.0.0.3\t1236\tclient02\n"
			if got := readTestFile(t, aliases); got != want {
				t.Errorf("alias-hosts file:\n%s\nwant:\n%s", got, want)
			}
			for _, args := range [][]string{nil, {"broadcast"}, {"query", "1234"}, {"hosts"}, {"nonsense", "x"}} {
				got := d.run(t, env, nil, "lava-network", args...)
				if got.code != 1 || !strings.Contains(got.stderr, "Usage: lava-network") {
					t.Errorf("lava-network %q: status %d, stderr %q, want usage", args, got.code, got.stderr)
				}
			}
		})
	}
}

// fakesWork reports whether the shell runs a command found on PATH
// rather than one of its own: Debian's busybox prefers its applets (ip,
// ifconfig, hostname, …) even when PATH has another.
func fakesWork(t *testing.T, sh shell) bool {
	t.Helper()
	fake, err := filepath.Abs(filepath.Join("testdata", "multinode", "common", "hostname"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sh.path, "-c", "command -v hostname")
	cmd.Env = []string{"PATH=" + filepath.Dir(fake)}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s -c 'command -v hostname': %v", sh.name, err)
	}
	return strings.TrimSpace(string(out)) == fake
}

func readTestFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMultinodeRealIP broadcasts the loopback interface as the real ip(8)
// shows it (busybox's applet under busybox), whose addresses are the same
// everywhere.
func TestMultinodeRealIP(t *testing.T) {
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		if ipPath, err = exec.LookPath("busybox"); err != nil {
			t.Skip("no ip(8) on this machine")
		}
	}
	for _, sh := range shells(t) {
		d := newMNDevice(t, sh, MultinodeConfig{})
		link := filepath.Join(t.TempDir(), "ip")
		if err := os.Symlink(ipPath, link); err != nil {
			t.Fatal(err)
		}
		d.path = filepath.Dir(link) + ":" + d.path
		got := d.run(t, []string{"LAVA_RESOLV_CONF=/dev/null"}, nil, "lava-network", "broadcast", "lo")
		// ::1 only where IPv6 is on.
		const want = "<LAVA_MULTI_NODE> <LAVA_SEND network_info ipv4=127.0.0.1 netmask=255.0.0.0 "
		if got.code != 0 || !strings.HasPrefix(got.stdout, want) || !strings.Contains(got.stdout, " mac=00:00:00:00:00:00 hostname=") {
			t.Errorf("%s: status %d, stdout %q, want it to start with %q and have the loopback's mac and a hostname (stderr %q)",
				sh.name, got.code, got.stdout, want, got.stderr)
		}
	}
}

// TestMultinodeNoIPTools: without ip and ifconfig, broadcast says so.
func TestMultinodeNoIPTools(t *testing.T) {
	for _, sh := range shells(t) {
		if !fakesWork(t, sh) {
			t.Logf("%s has ip and ifconfig built in", sh.name)
			continue
		}
		d := newMNDevice(t, sh, MultinodeConfig{}, "common")
		got := d.run(t, nil, nil, "lava-network", "broadcast", "eth0")
		if got.code != 1 || got.stdout != "" || !strings.Contains(got.stderr, "neither ip nor ifconfig") {
			t.Errorf("%s: status %d, stdout %q, stderr %q", sh.name, got.code, got.stdout, got.stderr)
		}
	}
}

// mnRunnerDef uses the MultiNode helpers from a test definition: the
// answers must reach the steps through lava-test-runner, lava-test-shell
// and run.sh, and a step after a wait must still read the console.
const mnRunnerDef = `
metadata:
  format: Lava-Test Test Definition 1.0
  name: mn
run:
  steps:
  - lava-send hello ip=10.0.0.2
  - lava-wait server-ready
  - lava-test-case got-data --shell grep -qx 1234:url=http://srv:80/x CACHE
  - lava-sync done
  - IFS= read -r next && test "$next" = "typed after" && lava-test-case stdin-kept --result pass
  - lava-test-case role --shell test "$(lava-role)" = client
`

// TestMultinodeThroughRunner runs a definition that uses the helpers
// through lava-test-runner with the console as its stdin.
func TestMultinodeThroughRunner(t *testing.T) {
	for _, sh := range shells(t) {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "lava-1235")
			cache := filepath.Join(t.TempDir(), "cache.txt")
			stage := writeStage(t, dir, sh.path, []stageTest{{name: "0_mn", testdef: strings.ReplaceAll(mnRunnerDef, "CACHE", cache)}})
			if _, err := WriteMultinodeScripts(filepath.Join(dir, "bin"), MultinodeConfig{
				Shell: sh.path, Group: group3, Role: "client", Self: "1235",
				TestBin: filepath.Join(dir, "bin"), Cache: cache, NetworkCache: cache + ".net",
			}); err != nil {
				t.Fatal(err)
			}
			d := &mnDevice{sh: sh, bin: filepath.Join(dir, "bin"), dir: dir, path: os.Getenv("PATH")}
			got := d.run(t, []string{"SHELL=" + sh.path}, []string{
				"<LAVA_WAIT_COMPLETE 1234:url=http://srv:80/x>\n\n",
				"<LAVA_SYNC_COMPLETE>\ntyped after\n",
			}, "lava-test-runner", stage)
			want := []string{
				"<LAVA_SIGNAL_STARTRUN 0_mn 7_1.1.1>",
				"<LAVA_MULTI_NODE> <LAVA_SEND hello ip=10.0.0.2>",
				"<LAVA_MULTI_NODE> <LAVA_WAIT server-ready>",
				"<LAVA_SIGNAL_STARTTC got-data>",
				"<LAVA_SIGNAL_ENDTC got-data>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=got-data RESULT=pass>",
				"<LAVA_MULTI_NODE> <LAVA_SYNC done>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=stdin-kept RESULT=pass>",
				"<LAVA_SIGNAL_STARTTC role>",
				"<LAVA_SIGNAL_ENDTC role>",
				"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=role RESULT=pass>",
				"<LAVA_SIGNAL_ENDRUN 0_mn 7_1.1.1>",
				"<LAVA_TEST_RUNNER EXIT>",
			}
			if diff := cmp.Diff(want, signalLines(got.stdout)); diff != "" {
				t.Errorf("signals (-want +got):\n%s\nstderr:\n%s", diff, got.stderr)
			}
		})
	}
}

// TestWriteMultinodeScripts checks the files and their header, and the
// values refused.
func TestWriteMultinodeScripts(t *testing.T) {
	bin := t.TempDir()
	names, err := WriteMultinodeScripts(bin, MultinodeConfig{
		Shell: "/bin/sh", Group: group3, Role: "client", Self: "1235", TestBin: "/lava-1235/bin", Debug: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"lava-echo-config", "lava-group", "lava-multi-node.lib", "lava-network", "lava-role", "lava-self",
		"lava-send", "lava-start-vms", "lava-sync", "lava-wait", "lava-wait-all", "lava-wait-for-vms"}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	const header = "#!/bin/sh\n\n" +
		"LAVA_GROUP='1234 server\n1235 client\n1236 client\n'\n" +
		"TARGET_ROLE='client'\n" +
		"LAVA_HOSTNAME='1235'\n" +
		"LAVA_TEST_BIN='/lava-1235/bin'\n" +
		"LAVA_MULTI_NODE_CACHE='/tmp/lava_multi_node_cache.txt'\n" +
		"LAVA_MULTI_NODE_NETWORK_CACHE='/tmp/lava_multi_node_network_cache.txt'\n" +
		"LAVA_MULTI_NODE_DEBUG='yes'\n"
	for _, n := range names {
		p := filepath.Join(bin, n)
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o755 {
			t.Errorf("%s: mode %v, want 0755", n, st.Mode().Perm())
		}
		if got := readTestFile(t, p); !strings.HasPrefix(got, header) {
			t.Errorf("%s starts:\n%s\nwant:\n%s", n, got[:min(len(got), len(header))], header)
		}
	}

	bad := []struct {
		name  string
		cfg   MultinodeConfig
		class pipeline.Class
		want  string
	}{
		{"relative shell", MultinodeConfig{Shell: "sh", Group: group3, Role: "client", Self: "1235", TestBin: "/b"}, pipeline.ClassConfiguration, "lava_test_sh_cmd"},
		{"no group", MultinodeConfig{Shell: "/bin/sh", Role: "client", Self: "1235", TestBin: "/b"}, pipeline.ClassJob, "without members"},
		{"role with a blank", MultinodeConfig{Shell: "/bin/sh", Group: group3, Role: "a b", Self: "1235", TestBin: "/b"}, pipeline.ClassJob, `role "a b"`},
		{"member role with a newline", MultinodeConfig{Shell: "/bin/sh", Group: []GroupMember{{"1", "a\nb"}}, Role: "x", Self: "1", TestBin: "/b"}, pipeline.ClassJob, `role of job 1`},
		{"member role with '>'", MultinodeConfig{Shell: "/bin/sh", Group: []GroupMember{{"1", "a>b"}}, Role: "x", Self: "1", TestBin: "/b"}, pipeline.ClassJob, `'>'`},
		{"empty job id", MultinodeConfig{Shell: "/bin/sh", Group: []GroupMember{{"", "a"}}, Role: "a", Self: "1", TestBin: "/b"}, pipeline.ClassJob, "job id is empty"},
		{"no role", MultinodeConfig{Shell: "/bin/sh", Group: group3, Self: "1235", TestBin: "/b"}, pipeline.ClassJob, "role is empty"},
		{"relative bin", MultinodeConfig{Shell: "/bin/sh", Group: group3, Role: "client", Self: "1235", TestBin: "b"}, pipeline.ClassBug, "not an absolute path"},
	}
	for _, b := range bad {
		_, err := WriteMultinodeScripts(t.TempDir(), b.cfg)
		if pipeline.ClassOf(err) != b.class || err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: %v (class %v), want a %v error containing %q", b.name, err, pipeline.ClassOf(err), b.class, b.want)
		}
	}
}
