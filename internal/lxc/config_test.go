package lxc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

func block(t *testing.T, yaml string) *value.Map {
	t.Helper()
	v, err := value.DecodeYAML([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return v.(*value.Map)
}

// The seed's example: every element, and the name gets the job id.
func TestParseSeedExample(t *testing.T) {
	c, err := Parse(block(t, `
name: pipeline-lxc-test
template: debian
distribution: debian
release: sid
arch: amd64
mirror: http://ftp.us.debian.org/debian/
security_mirror: http://mirror.csclub.uwaterloo.ca/debian-security/
verbose: true
persist: false
`), "51")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Name: "pipeline-lxc-test-51", Template: "debian", Distribution: "debian", Release: "sid", Arch: "amd64",
		Mirror: "http://ftp.us.debian.org/debian/", SecurityMirror: "http://mirror.csclub.uwaterloo.ca/debian-security/", Verbose: true}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	// LAVA's order: no -q when verbose, then the template's options.
	wantArgs := []string{"-t", "debian", "-n", "pipeline-lxc-test-51", "-f", "/x/lxc.conf", "--",
		"--release", "sid", "--mirror", "http://ftp.us.debian.org/debian/",
		"--security-mirror", "http://mirror.csclub.uwaterloo.ca/debian-security/",
		"--packages", "systemd,systemd-sysv", "--arch", "amd64"}
	if diff := cmp.Diff(wantArgs, c.CreateArgs("/x/lxc.conf")); diff != "" {
		t.Errorf("lxc-create arguments (-want +got)\n%s", diff)
	}
}

func TestCreateArgs(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"download default", "name: c\ndistribution: debian\nrelease: bookworm\narch: arm64",
			[]string{"-q", "-t", "download", "-n", "c-7", "--", "--dist", "debian", "--release", "bookworm", "--arch", "arm64"}},
		{"download no arch", "name: c\ndistribution: ubuntu\nrelease: '22.04'\ntemplate: download",
			[]string{"-q", "-t", "download", "-n", "c-7", "--", "--dist", "ubuntu", "--release", "22.04"}},
		{"busybox takes nothing", "name: c\ndistribution: busybox\nrelease: '1'\ntemplate: busybox\nmirror: http://ignored/",
			[]string{"-q", "-t", "busybox", "-n", "c-7"}},
		{"persist keeps the name", "name: keep\ndistribution: debian\nrelease: sid\ntemplate: debian\npersist: true",
			[]string{"-q", "-t", "debian", "-n", "keep", "--", "--release", "sid", "--packages", "systemd,systemd-sysv"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse(block(t, c.yaml), "7")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, cfg.CreateArgs("")); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// Hostile values: each refused with an error naming the field and, for
// lengths, the limit.
func TestParseRefuses(t *testing.T) {
	long := strings.Repeat("a", 61) // 64 with "-12"
	cases := []struct{ name, yaml, want string }{
		{"no name", "distribution: d\nrelease: r", "name is required"},
		{"no distribution", "name: n\nrelease: r", "distribution is required"},
		{"no release", "name: n\ndistribution: d", "release is required"},
		{"number release", "name: n\ndistribution: d\nrelease: 10", "release: expected a string (quote a number)"},
		{"option name", "name: -P/tmp\ndistribution: d\nrelease: r", "not a valid container name"},
		{"path name", "name: ../../etc\ndistribution: d\nrelease: r", "not a valid container name"},
		{"slash name", "name: a/b\ndistribution: d\nrelease: r", "not a valid container name"},
		{"space name", "name: a b\ndistribution: d\nrelease: r", "not a valid container name"},
		{"too long with id", "name: " + long + "\ndistribution: d\nrelease: r", "limit of 63"},
		{"template path", "name: n\ndistribution: d\nrelease: r\ntemplate: /tmp/evil.sh", "not one of the supported templates"},
		{"template unknown", "name: n\ndistribution: d\nrelease: r\ntemplate: sshd", "not one of the supported templates (download, debian, ubuntu, busybox)"},
		{"option release", "name: n\ndistribution: d\nrelease: --rootfs=/", "release: \"--rootfs=/\" is not valid"},
		{"option dist", "name: n\ndistribution: -x\nrelease: r", "distribution: \"-x\" is not valid"},
		{"arch space", "name: n\ndistribution: d\nrelease: r\narch: 'amd64 --flush-cache'", "arch: \"amd64 --flush-cache\" is not valid"},
		{"long release", "name: n\ndistribution: d\nrelease: " + strings.Repeat("r", 65), "limit of 64"},
		{"mirror scheme", "name: n\ndistribution: d\nrelease: r\nmirror: file:///etc", "scheme must be http, https or ftp"},
		{"mirror newline", "name: n\ndistribution: d\nrelease: r\nmirror: \"http://x/\\ndeb http://evil/\"", "not allowed in a mirror URL"},
		{"mirror quote", "name: n\ndistribution: d\nrelease: r\nmirror: \"http://x/'\"", "not allowed in a mirror URL"},
		{"mirror option", "name: n\ndistribution: d\nrelease: r\nsecurity_mirror: --keyring=/x", "security_mirror"},
		{"mirror user", "name: n\ndistribution: d\nrelease: r\nmirror: http://u:p@x/", "credentials"},
		{"mirror long", "name: n\ndistribution: d\nrelease: r\nmirror: http://x/" + strings.Repeat("a", 1100), "limit of 1024"},
		{"persist string", "name: n\ndistribution: d\nrelease: r\npersist: 'yes'", "persist: expected true or false"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(block(t, c.yaml), "12")
			if err == nil {
				t.Fatalf("accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q lacks %q", err, c.want)
			}
			if !strings.Contains(err.Error(), "protocols.lava-lxc") {
				t.Errorf("error %q does not say where", err)
			}
		})
	}
}

func TestParseBadJobID(t *testing.T) {
	if _, err := Parse(block(t, "name: n\ndistribution: d\nrelease: r"), "../1"); err == nil {
		t.Error("a job id with a slash became part of a container name")
	}
	// With persist the job id is not used.
	if _, err := Parse(block(t, "name: n\ndistribution: d\nrelease: r\npersist: true"), "../1"); err != nil {
		t.Error(err)
	}
}

func TestRootShell(t *testing.T) {
	cases := []struct{ passwd, files, want string }{
		{"root:x:0:0:root:/root:/bin/bash\n", "bin/bash", "/bin/bash"},
		{"root:x:0:0:root:/root:/bin/bash\n", "", "/bin/sh"},                 // absent
		{"root:x:0:0:root:/root:/bin/sh -c evil\n", "bin/sh", "/bin/sh"},     // odd
		{"root:x:0:0:root:/root:/../../usr/bin/x\n", "usr/bin/x", "/bin/sh"}, // ..
		{"daemon:x:1:1::/:/bin/zsh\nroot:x:0:0::/root:/bin/zsh\n", "bin/zsh", "/bin/zsh"},
		{"", "", "/bin/sh"},
	}
	for i, c := range cases {
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, "etc"), 0o755)
		os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte(c.passwd), 0o644)
		if c.files != "" {
			os.MkdirAll(filepath.Join(root, filepath.Dir(c.files)), 0o755)
			os.WriteFile(filepath.Join(root, c.files), nil, 0o755)
		}
		if got := RootShell(root); got != c.want {
			t.Errorf("case %d: %q, want %q", i, got, c.want)
		}
	}
}

func TestRootfsAndNetwork(t *testing.T) {
	lxcPath := t.TempDir()
	dir := filepath.Join(lxcPath, "c1")
	os.MkdirAll(filepath.Join(dir, "rootfs"), 0o755)
	if got, err := Rootfs(lxcPath, "c1"); err != nil || got != filepath.Join(dir, "rootfs") {
		t.Errorf("Rootfs = %q, %v", got, err)
	}
	if HasNetwork(lxcPath, "c1") {
		t.Error("no config, yet a network")
	}
	other := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config"), []byte("lxc.rootfs.path = dir:"+other+"\nlxc.net.0.type = empty\n"), 0o644)
	if got, err := Rootfs(lxcPath, "c1"); err != nil || got != other {
		t.Errorf("Rootfs from config = %q, %v", got, err)
	}
	if HasNetwork(lxcPath, "c1") {
		t.Error("lxc.net.0.type = empty is no network")
	}
	os.WriteFile(filepath.Join(dir, "config"), []byte("lxc.net.0.type = veth\nlxc.net.0.link = lxcbr0\n"), 0o644)
	if !HasNetwork(lxcPath, "c1") {
		t.Error("a veth is a network")
	}
	if _, err := Rootfs(lxcPath, "missing"); err == nil {
		t.Error("a missing container has a root file system")
	}
}
