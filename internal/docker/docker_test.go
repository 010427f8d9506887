package docker

import (
	"os"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

func TestValidImage(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"debian", true},
		{"debian:bookworm", true},
		{"registry.example/lava/tools:2026.01", true},
		{"basalt-e2e/rootfs:1", true},
		{"", false},
		{"-v", false},
		{"--privileged", false},
		{"-v=/:/host", false},
		{"Debian", false},
		{"debian bookworm", false},
		{"debian;reboot", false},
		{"debian\n--rm", false},
		{strings.Repeat("a", MaxImageName+1), false},
	} {
		if err := ValidImage(tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidImage(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestValidContainerName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"lava-12-2.1", true},
		{"lava-docker-test-shell-12-4.3", true},
		{"tools_1", true},
		{"", false},
		{"--rm", false},
		{"-x", false},
		{".hidden", false},
		{"a/b", false},
		{"a b", false},
		{strings.Repeat("a", 129), false},
	} {
		if err := ValidContainerName(tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidContainerName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// The job's values land after the options: the image after "--", the
// command after the image, where the client reads no option.
func TestCreateArgs(t *testing.T) {
	c := Container{
		Name: "lava-7-2.1", Image: "debian", Command: []string{"--privileged", "-c", "x"},
		Hostname: "lava", Interactive: true, TTY: true, Remove: true, Init: true,
		Mounts:  []Mount{{Source: "/tmp/job/lava-7", Target: "/lava-7"}, {Source: "/srv/dl", Target: "/lava-downloads", ReadOnly: true}},
		Env:     []Env{{"PS1", "docker-test-shell:$ "}},
		Options: []string{"--memory=256m"},
	}
	got, err := c.CreateArgs()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"create", "--interactive", "--tty", "--rm", "--init", "--name=lava-7-2.1", "--hostname=lava",
		"--mount=type=bind,source=/tmp/job/lava-7,destination=/lava-7",
		"--mount=type=bind,source=/srv/dl,destination=/lava-downloads,readonly=true",
		"--env=PS1=docker-test-shell:$ ", "--memory=256m", "--", "debian", "--privileged", "-c", "x"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CreateArgs (-want +got):\n%s", diff)
	}
}

func TestCreateArgsRefuses(t *testing.T) {
	base := Container{Name: "lava-1-2.1", Image: "debian"}
	for name, mod := range map[string]func(c *Container){
		"option image":       func(c *Container) { c.Image = "--privileged" },
		"option name":        func(c *Container) { c.Name = "--rm" },
		"comma in mount":     func(c *Container) { c.Mounts = []Mount{{Source: "/tmp/a,readonly=false,source=/", Target: "/lava-1"}} },
		"relative mount":     func(c *Container) { c.Mounts = []Mount{{Source: "etc", Target: "/lava-1"}} },
		"bad network_from":   func(c *Container) { c.NetworkFrom = "host --privileged" },
		"bad env name":       func(c *Container) { c.Env = []Env{{"A=B", "c"}} },
		"empty mount target": func(c *Container) { c.Mounts = []Mount{{Source: "/tmp", Target: ""}} },
	} {
		c := base
		mod(&c)
		if args, err := c.CreateArgs(); err == nil {
			t.Errorf("%s: accepted: %q", name, args)
		}
	}
}

func TestClientArgv(t *testing.T) {
	c := Client{Host: "unix:///run/d.sock", Global: []string{"--log-level", "error"}}
	got := c.AttachArgv("lava-1-2.1")
	want := []string{"docker", "--host", "unix:///run/d.sock", "--log-level", "error", "start", "--attach", "--interactive", "--", "lava-1-2.1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AttachArgv (-want +got):\n%s", diff)
	}
}

func deviceYAML(t *testing.T, text string) *value.Map {
	t.Helper()
	v, err := value.DecodeYAML([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return v.(*value.Map)
}

// The boot options are the device's, in LAVA's order.
func TestBootOptions(t *testing.T) {
	dev := deviceYAML(t, `
actions:
  boot:
    methods:
      docker:
        options:
          remote: unix:///run/lab.sock
          cpus: 1.5
          memory: 512m
          privileged: true
          capabilities: [NET_ADMIN]
          devices: [/dev/null]
          networks: [lab]
          volumes: ['/srv/tools:/tools:ro']
          extra_arguments: ['--pids-limit 100', '--label "a b"']
`)
	got, err := BootOptions(dev)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--cpus=1.5", "--memory=512m", "--privileged", "--cap-add=NET_ADMIN", "--device=/dev/null",
		"--network=lab", "--volume=/srv/tools:/tools:ro", "--pids-limit", "100", "--label", "a b"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("BootOptions (-want +got):\n%s", diff)
	}
	c, err := DeviceClient(dev, "boot")
	if err != nil || c.Host != "unix:///run/lab.sock" {
		t.Errorf("DeviceClient = %+v, %v", c, err)
	}
	// LAVA's defaults give no option at all.
	none := deviceYAML(t, "actions: {boot: {methods: {docker: {options: {remote: null, cpus: 0.0, memory: 0, privileged: false, capabilities: [], devices: [], networks: [], volumes: [], extra_arguments: []}}}}}")
	if got, err := BootOptions(none); err != nil || len(got) != 0 {
		t.Errorf("defaults: %q, %v", got, err)
	}
	if _, err := DeviceClient(deviceYAML(t, "actions: {boot: {methods: {docker: {options: {remote: '--tlsverify=false'}}}}}"), "boot"); err == nil {
		t.Errorf("an option as remote was accepted")
	}
}

func TestTestOptions(t *testing.T) {
	dev := deviceYAML(t, `
actions:
  test:
    methods:
      docker:
        global_options:
        - null
        - ['--host', 'unix:///run/lab.sock']
        options:
        - --cpus=1
        -
`)
	g, o, err := TestOptions(dev)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"--host", "unix:///run/lab.sock"}, g); diff != "" {
		t.Errorf("global (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"--cpus=1"}, o); diff != "" {
		t.Errorf("options (-want +got):\n%s", diff)
	}
}

// A job may share a character device, never a disk or a host file.
func TestJobDevice(t *testing.T) {
	if err := JobDevice("/dev/null"); err != nil {
		t.Errorf("/dev/null: %v", err)
	}
	for _, p := range []string{"/etc/shadow", "/dev/../etc/shadow", "dev/null", "/dev/", "/dev/no-such-device"} {
		if err := JobDevice(p); err == nil {
			t.Errorf("%s accepted", p)
		}
	}
	if fi, err := os.Stat("/dev/loop0"); err == nil && fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0 {
		if err := JobDevice("/dev/loop0"); err == nil {
			t.Errorf("block device /dev/loop0 accepted")
		}
	}
}

func TestSafeName(t *testing.T) {
	if got := SafeName("lava", "12.3", "2.1"); got != "lava-12.3-2.1" {
		t.Errorf("got %q", got)
	}
	if got := SafeName("lava", "a/b c", "1"); got != "lava-a-b-c-1" {
		t.Errorf("got %q", got)
	}
}
