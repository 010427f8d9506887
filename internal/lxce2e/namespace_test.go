package lxce2e

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/value"
)

// qemuDictionary is the QEMU guest of internal/e2e: x86_64 under TCG.
const qemuDictionary = `{% extends 'qemu.jinja2' %}
{% set arch = 'amd64' %}
{% set no_kvm = True %}
{% set memory = 512 %}
`

// lxcQemuDevice renders the QEMU dictionary and adds what LAVA's qemu
// device type listed until LAVA dropped LXC (deploy and boot methods
// lxc, connections lxc): a QEMU device whose jobs may hold an LXC
// container for their host-side tools.
func lxcQemuDevice(t *testing.T, dir string) string {
	t.Helper()
	dict := filepath.Join(dir, "qemu-01.jinja2")
	if err := os.WriteFile(dict, []byte(qemuDictionary), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(basalt, "device", "render", dict).Output()
	if err != nil {
		t.Fatalf("basalt device render: %v", err)
	}
	v, err := value.DecodeYAML(out)
	if err != nil {
		t.Fatal(err)
	}
	actions := v.(*value.Map).Map("actions")
	for _, section := range []string{"deploy", "boot"} {
		s := actions.Map(section)
		s.Map("methods").Set("lxc", nil)
		if !s.Has("connections") {
			s.Set("connections", value.MapOf())
		}
		s.Map("connections").Set("lxc", nil)
	}
	b, err := value.EncodeYAML(v)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "qemu-lxc-01.yaml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// needQEMU skips without the fixtures of `make fixtures` or QEMU, and
// fails for them with BASALT_E2E=1.
func needQEMU(t *testing.T) string {
	t.Helper()
	root, _ := filepath.Abs("../..")
	fixtures := filepath.Join(root, "build", "fixtures", "x86_64")
	for _, f := range []string{"vmlinuz", "rootfs.cpio.gz"} {
		if _, err := os.Stat(filepath.Join(fixtures, f)); err != nil {
			t.Fatalf("fixture missing (run `make fixtures`): %v", err)
		}
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Fatal("qemu-system-x86_64 is not installed")
	}
	return fixtures
}

const namespacedJob = `device_type: qemu
job_name: lxc tools beside a qemu device
timeouts:
  job: {minutes: 10}
  action: {minutes: 3}
  connection: {minutes: 2}
context: {arch: amd64, no_kvm: true}
priority: medium
visibility: public
protocols:
  lava-lxc:
    name: @NAME@
    template: busybox
    distribution: busybox
    release: "1"
actions:
- deploy:
    namespace: tlxc
    to: lxc
    os: oe
- boot:
    namespace: tlxc
    method: lxc
    prompts: ['/ #']
- deploy:
    namespace: device
    to: tmpfs
    os: oe
    images:
      kernel:
        url: @URL@/vmlinuz
        image_arg: -kernel {kernel} -append "console=ttyS0,115200"
      ramdisk:
        url: @URL@/rootfs.cpio.gz
        image_arg: -initrd {ramdisk}
- boot:
    namespace: device
    method: qemu
    media: tmpfs
    timeout: {minutes: 4}
    auto_login: {login_prompt: 'login:', username: root}
    prompts: ['root@basalt:~# ']
- test:
    namespace: device
    definitions:
    - from: inline
      name: on-device
      path: inline/on-device.yaml
      repository:
        metadata: {format: Lava-Test Test Definition 1.0, name: on-device}
        run:
          steps:
          - lava-test-case device-hostname --shell test "$(hostname)" = basalt
- test:
    namespace: tlxc
    definitions:
    - from: inline
      name: in-container
      path: inline/in-container.yaml
      repository:
        metadata: {format: Lava-Test Test Definition 1.0, name: in-container}
        run:
          steps:
          - lava-test-case container-hostname --shell test "$(hostname)" = @NAME@-17
          - lava-test-case busybox-tools --shell busybox true
`

// TestContainerBesideDevice is LAVA's pattern of a job whose LXC
// container holds host-side tools for its device, in namespaces: the
// container is created and booted (namespace tlxc), then the QEMU device
// (namespace device); the device's test runs on the device, and the
// container's test, after it, still runs in the container (each test
// takes its namespace's shell, as in LAVA). The container is gone after.
func TestContainerBesideDevice(t *testing.T) {
	needLXC(t)
	fixtures := needQEMU(t)
	srv := httptest.NewServer(http.FileServer(http.Dir(fixtures)))
	defer srv.Close()
	before := containers(t)
	name := unique("basalt-tools")
	dir := t.TempDir()
	dev := lxcQemuDevice(t, dir)
	text := strings.NewReplacer("@NAME@", name, "@URL@", srv.URL).Replace(namespacedJob)
	o := runWithDevice(t, text, dev, "17")
	if o.code != 0 {
		t.Fatalf("exit %d, job %s", o.code, value.GoString(o.job))
	}
	wantResult(t, o, "0_on-device", "device-hostname", "pass")
	wantResult(t, o, "0_in-container", "container-hostname", "pass")
	wantResult(t, o, "0_in-container", "busybox-tools", "pass")
	noneLeft(t, before, name)
}
