package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/docker/dockertest"
	"github.com/basalt-lava/basalt/internal/value"
)

// The docker tests run `basalt run` against a private dockerd (package
// dockertest: started by the test, its own folder and socket, no
// network, stopped and reaped at the end) with an image imported from a
// busybox and bash root file system. The daemon is the device's
// (docker_remote in the dictionary) or the worker's (DOCKER_HOST in
// basalt's environment), never the job's.

const dockerImage = "basalt-e2e/rootfs:1"

// dockerDevice writes a docker device dictionary for the daemon; extra
// lines are added before the end.
func dockerDevice(t *testing.T, d *dockertest.Daemon, extra ...string) string {
	t.Helper()
	text := "{% extends 'docker.jinja2' %}\n{% set docker_remote = '" + d.Host + "' %}\n{% set docker_memory = '256m' %}\n" +
		strings.Join(extra, "\n") + "\n"
	path := filepath.Join(t.TempDir(), "docker-01.jinja2")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// dockerJob writes a job; blocks are the YAML of its actions.
func dockerJob(t *testing.T, deviceType, timeout string, blocks ...string) string {
	t.Helper()
	text := "device_type: " + deviceType + "\njob_name: docker e2e\npriority: medium\nvisibility: public\n" +
		"timeouts:\n  job: {minutes: 5}\n  action: {" + timeout + "}\n  connection: {minutes: 2}\n" +
		"actions:\n" + strings.Join(blocks, "")
	path := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const (
	dockerDeploy = `- deploy:
    to: docker
    os: debian
    image: {name: "` + dockerImage + `", local: true}
`
	dockerBoot = `- boot:
    method: docker
    command: bash
    prompts: ['root@lava:']
`
)

// inlineTest is a test block with one inline definition running steps.
func inlineTest(name string, docker string, steps ...string) string {
	var b strings.Builder
	b.WriteString("- test:\n")
	if docker != "" {
		b.WriteString("    docker:\n" + docker)
	}
	b.WriteString("    definitions:\n    - from: inline\n      name: " + name + "\n      path: inline/" + name + ".yaml\n" +
		"      repository:\n        metadata: {format: Lava-Test Test Definition 1.0, name: " + name + "}\n        run:\n          steps:\n")
	for _, s := range steps {
		b.WriteString("          - " + s + "\n")
	}
	return b.String()
}

// runDockerJob runs basalt on job with device; env is added to basalt's
// environment; during, when set, runs while the job does.
func runDockerJob(t *testing.T, job, device string, env []string, during func(p *os.Process, dir string)) *outcome {
	t.Helper()
	o := basaltRun(t, runSpec{job: job, devices: []string{device}, id: "4243", limit: 5 * time.Minute,
		env: env, during: during, tail: 80})
	o.readLog(t)
	return o
}

func needDocker(t *testing.T) *dockertest.Daemon {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a docker daemon: skipped under -short")
	}
	d := dockertest.Start(t)
	d.ImportRootfs(t, dockerImage)
	return d
}

// A docker device runs a lava-test-shell definition in its container and
// the results come back as for QEMU; a docker test action runs another
// definition in a second container beside it (the device's daemon given
// by the worker's DOCKER_HOST, as a QEMU device's would be), with the
// device's connection handed back untouched for the test after it.
func TestDockerDevice(t *testing.T) {
	d := needDocker(t)
	dev := dockerDevice(t, d)
	job := dockerJob(t, "docker", "minutes: 2", dockerDeploy, dockerBoot,
		inlineTest("in-device", "",
			`lava-test-case hostname --shell test "$(hostname)" = lava`,
			"lava-test-case memory-limit --shell test \"$(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes)\" = 268435456",
			"lava-test-case fails --shell false",
			"lava-test-case measured --result pass --measurement 7.5 --units s"),
		inlineTest("beside", `      image: `+dockerImage+`
      local: true
`,
			`lava-test-case in-test-container --shell test "$(hostname)" != lava`,
			`lava-test-case board-id --shell test "$ANDROID_SERIAL" = None`),
		inlineTest("after", "", `lava-test-case device-again --shell test "$(hostname)" = lava`),
	)
	o := runDockerJob(t, job, dev, []string{"DOCKER_HOST=" + d.Host}, nil)
	if o.code != 0 {
		t.Fatalf("exit %d, job %v", o.code, value.GoString(o.job))
	}
	for _, c := range []struct{ def, name, want string }{
		{"0_in-device", "hostname", "pass"},
		{"0_in-device", "memory-limit", "pass"},
		{"0_in-device", "fails", "fail"},
		{"0_in-device", "measured", "pass"},
		{"1_beside", "in-test-container", "pass"},
		{"1_beside", "board-id", "pass"},
		{"2_after", "device-again", "pass"},
		{"lava", "deploy-docker", "pass"},
		{"lava", "docker-run", "pass"},
		{"lava", "lava-docker-test-shell", "pass"},
		{"lava", "0_in-device", "pass"},
	} {
		if r := o.result(c.def, c.name); r == nil || r.String("result") != c.want {
			t.Errorf("%s/%s: got %v, want %s", c.def, c.name, value.GoString(r), c.want)
		}
	}
	if m := o.result("0_in-device", "measured"); m != nil && fmt.Sprint(m.Value("measurement")) != "7.5" {
		t.Errorf("measurement %v", m.Value("measurement"))
	}
	if !o.logHas("", "lava-4243-2.1") || !o.logHas("", "lava-docker-test-shell-4243-4.3") {
		t.Errorf("the log does not name the containers lava-4243-2.1 and lava-docker-test-shell-4243-4.3")
	}
	d.AssertNoContainers(t)
}

// Each failure ends the job incomplete with its class and message, and
// leaves no container.
func TestDockerFailures(t *testing.T) {
	d := needDocker(t)
	dev := dockerDevice(t, d)
	cases := []struct {
		name      string
		job       string
		errorType string
		message   string
		during    func(p *os.Process, dir string)
	}{
		{
			name: "local-image-missing",
			job: dockerJob(t, "docker", "minutes: 1", strings.Replace(dockerDeploy, dockerImage, "basalt-e2e/absent:1", 1),
				dockerBoot, inlineTest("x", "", "echo ok")),
			errorType: "Infrastructure",
			message:   "docker image 'basalt-e2e/absent:1' is not on the docker daemon",
		},
		{
			name: "test-image-missing",
			job: dockerJob(t, "docker", "minutes: 1", dockerDeploy, dockerBoot,
				inlineTest("x", "      image: basalt-e2e/absent:2\n      local: true\n", "echo ok")),
			errorType: "Infrastructure",
			message:   "docker image 'basalt-e2e/absent:2' is not on the docker daemon",
		},
		{
			name: "never-starts",
			job: dockerJob(t, "docker", "minutes: 1", dockerDeploy,
				strings.Replace(dockerBoot, "command: bash", "command: /no/such/shell", 1), inlineTest("x", "", "echo ok")),
			errorType: "Infrastructure",
			message:   "docker container lava-4243-2.1 never started",
		},
		{
			name: "no-prompt",
			job: dockerJob(t, "docker", "seconds: 15", dockerDeploy,
				strings.Replace(dockerBoot, "command: bash", "command: sleep 600", 1), inlineTest("x", "", "echo ok")),
			errorType: "Job", // an action's timeout, as LAVA's
			message:   "boot-docker timed out",
		},
		{
			name: "test-timeout",
			job: dockerJob(t, "docker", "seconds: 20", dockerDeploy, dockerBoot,
				inlineTest("slow", "      image: "+dockerImage+"\n      local: true\n", "sleep 600")),
			errorType: "Test",
			message:   "lava-docker-test-shell timed out",
		},
		{
			name:      "cancel",
			job:       dockerJob(t, "docker", "minutes: 2", dockerDeploy, dockerBoot, inlineTest("slow", "", "lava-test-case started --result pass", "sleep 600")),
			errorType: "Canceled",
			during: func(p *os.Process, dir string) {
				deadline := time.Now().Add(2 * time.Minute)
				for time.Now().Before(deadline) {
					b, _ := os.ReadFile(filepath.Join(dir, "logs.yaml"))
					if bytes.Contains(b, []byte(`case: started`)) || bytes.Contains(b, []byte(`"case": "started"`)) {
						break
					}
					time.Sleep(200 * time.Millisecond)
				}
				p.Signal(syscall.SIGTERM)
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := runDockerJob(t, c.job, dev, []string{"DOCKER_HOST=" + d.Host}, c.during)
			if o.code == 0 {
				t.Errorf("exit 0, want a failure")
			}
			if got := o.errorType(); got != c.errorType {
				t.Errorf("error_type %q, want %q (job %v)", got, c.errorType, value.GoString(o.job))
			}
			if msg := o.job.String("error_msg"); !strings.Contains(msg, c.message) {
				t.Errorf("error_msg %q does not say %q", msg, c.message)
			}
			d.AssertNoContainers(t)
		})
	}
}

// TestDockerSIGKILL: a Basalt killed outright in the middle of a test
// leaves no container: its janitor (internal/janitor), which outlives
// it, removes the container it had listed, and says so on Basalt's
// standard error. The log written so far is kept.
func TestDockerSIGKILL(t *testing.T) {
	d := needDocker(t)
	dev := dockerDevice(t, d)
	job := dockerJob(t, "docker", "minutes: 2", dockerDeploy, dockerBoot, inlineTest("slow", "", "lava-test-case started --result pass", "sleep 600"))
	o := basaltRun(t, runSpec{job: job, devices: []string{dev}, id: "4243", limit: 5 * time.Minute,
		env: []string{"DOCKER_HOST=" + d.Host}, tail: 80, during: func(p *os.Process, dir string) {
			deadline := time.Now().Add(2 * time.Minute)
			for time.Now().Before(deadline) {
				b, _ := os.ReadFile(filepath.Join(dir, "logs.yaml"))
				if bytes.Contains(b, []byte(`case: started`)) || bytes.Contains(b, []byte(`"case": "started"`)) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if left := d.Containers(t); len(left) != 1 {
				t.Errorf("containers while the test runs: %v, want the job's one", left)
			}
			p.Kill()
		}})
	if o.code != -1 {
		t.Errorf("exit code %d, want -1 (killed)", o.code)
	}
	if !strings.Contains(o.stdout, "basalt-janitor: Basalt ended without undoing docker container lava-") {
		t.Errorf("the janitor did not say what it removed:\n%s", lastLines(o.stdout, 20))
	}
	if b, err := os.ReadFile(filepath.Join(o.dir, "logs.yaml")); err != nil || !bytes.Contains(b, []byte("started")) {
		t.Errorf("the log written before the kill is not kept (%v)", err)
	}
	d.AssertNoContainers(t)
}

// Job data never reaches the docker client as an option: an image name
// that would be one, docker options or mounts in the job (also through
// the device-type template's variables in the job's context), and a host
// file as a test container's device are refused by `basalt validate`
// before anything runs.
func TestDockerHostileJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the basalt binary: skipped under -short")
	}
	dir := t.TempDir()
	dev := filepath.Join(dir, "docker-01.jinja2")
	if err := os.WriteFile(dev, []byte("{% extends 'docker.jinja2' %}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, deploy, test, context, want string }{
		{"option-image", `image: {name: "--privileged", local: true}`, "", "", `"--privileged" is not a valid docker image name`},
		{"volume-image", `image: "-v=/:/host"`, "", "", `"-v=/:/host" is not a valid docker image name`},
		{"test-option-image", "", "      image: --volume=/:/host\n", "", `"--volume=/:/host" is not a valid docker image name`},
		{"test-options", "", "      image: " + dockerImage + "\n      options: [--privileged]\n", "", `unknown key "options"`},
		{"test-volumes", "", "      image: " + dockerImage + "\n      volumes: ['/:/host']\n", "", `unknown key "volumes"`},
		{"test-host-path-device", "", "      image: " + dockerImage + "\n      devices: ['/dev/../etc/shadow']\n", "", "is not a clean path under /dev"},
		{"context-privileged", "", "", "context: {docker_privileged: true, docker_volumes: ['/:/host']}\n", `unknown context variable "docker_privileged"`},
		{"test-container-name", "", "      image: " + dockerImage + "\n      container_name: --rm\n", "", "container_name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			deploy := dockerDeploy
			if c.deploy != "" {
				deploy = "- deploy:\n    to: docker\n    os: debian\n    " + c.deploy + "\n"
			}
			test := inlineTest("x", "", "echo ok")
			if c.test != "" {
				test = inlineTest("x", c.test, "echo ok")
			}
			job := dockerJob(t, "docker", "minutes: 1", deploy, dockerBoot, test)
			if c.context != "" {
				b, err := os.ReadFile(job)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(job, append([]byte(c.context), b...), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out, err := exec.Command(basalt, "validate", job, "--device", dev).CombinedOutput()
			if err == nil {
				t.Fatalf("validate accepted the job:\n%s", out)
			}
			if !strings.Contains(string(out), c.want) {
				t.Errorf("validate does not say %q:\n%s", c.want, out)
			}
		})
	}
}

// A docker test action on a QEMU device: the guest boots and runs its
// test shell, then a definition runs in a container beside it (the
// daemon named by the device dictionary's docker_shell_global_arguments,
// the overlay bind-mounted, not the QEMU overlay disk's mount commands),
// then the guest's shell is used again: the docker test handed the
// guest's console back untouched.
func TestDockerTestOnQemu(t *testing.T) {
	needFixtures(t)
	d := needDocker(t)
	url := server(t, nil)
	dict, err := os.ReadFile("testdata/device.jinja2")
	if err != nil {
		t.Fatal(err)
	}
	dev := filepath.Join(t.TempDir(), "qemu-docker.jinja2")
	dict = append(dict, []byte("{% set docker_shell_global_arguments = ['--host', '"+d.Host+"'] %}\n")...)
	if err := os.WriteFile(dev, dict, 0o644); err != nil {
		t.Fatal(err)
	}
	job := jobSpec{definitions: "- test:\n    docker:\n      image: " + dockerImage + "\n      local: true\n" +
		strings.TrimPrefix(inlineTest("beside", "", `lava-test-case in-container --shell test -f /.dockerenv`,
			`lava-test-case overlay-mounted --shell test -x /lava-4243/bin/lava-test-runner`), "- test:\n") +
		inlineTest("guest-again", "", `lava-test-case guest-shell --shell test ! -f /.dockerenv`)}.render(t, "docker-test", url)
	// @DEFINITIONS@ ends the template at column 0: the blocks above are
	// further actions.
	o := runDockerJob(t, job, dev, nil, nil)
	if o.code != 0 {
		t.Fatalf("exit %d, job %v", o.code, value.GoString(o.job))
	}
	for _, c := range []struct{ def, name, want string }{
		{"0_e2e-smoke", "always-pass", "pass"},
		{"1_beside", "in-container", "pass"},
		{"1_beside", "overlay-mounted", "pass"},
		{"2_guest-again", "guest-shell", "pass"},
		{"lava", "lava-docker-test-shell", "pass"},
	} {
		if r := o.result(c.def, c.name); r == nil || r.String("result") != c.want {
			t.Errorf("%s/%s: got %v, want %s", c.def, c.name, value.GoString(r), c.want)
		}
	}
	d.AssertNoContainers(t)
}

// A MultiNode group whose roles' tests run in docker test containers
// (lava-multinode-docker-test-shell): the server's container sends a
// message, the client's waits for it, both meet at a sync.
func TestDockerTestMultinode(t *testing.T) {
	d := needDocker(t)
	dev := dockerDevice(t, d)
	dockerBlock := "      image: " + dockerImage + "\n      local: true\n"
	role := func(r string, steps ...string) string {
		return strings.Replace(inlineTest(r, dockerBlock, steps...), "- test:\n", "- test:\n    role: ["+r+"]\n", 1)
	}
	text := "job_name: docker multinode\npriority: medium\nvisibility: public\n" +
		"timeouts:\n  job: {minutes: 5}\n  action: {minutes: 2}\n  connection: {minutes: 2}\n" +
		"protocols:\n  lava-multinode:\n    roles:\n" +
		"      server: {count: 1, device_type: docker, timeout: {minutes: 2}}\n" +
		"      client: {count: 1, device_type: docker, timeout: {minutes: 2}}\n" +
		"actions:\n" +
		role("server", "lava-send ready greeting=hello", "lava-sync done", "lava-test-case sent --result pass") +
		role("client", "lava-wait ready", "lava-test-case got-hello --shell grep -q greeting=hello /tmp/lava_multi_node_cache.txt", "lava-sync done")
	job := filepath.Join(t.TempDir(), "mn.yaml")
	if err := os.WriteFile(job, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, basalt, "run", job, "--device", "server="+dev, "--device", "client="+dev,
		"--output-dir", out, "--tmp-dir", filepath.Join(dir, "tmp"), "--job-id", "300")
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.Host)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	err := cmd.Run()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("basalt output:\n%s", lastLines(stdout.String(), 120))
		}
	})
	if err != nil {
		t.Fatalf("basalt run: %v", err)
	}
	for _, c := range []struct{ sub, def, name string }{
		{"server-0", "0_server", "sent"},
		{"client-0", "0_client", "got-hello"},
		{"server-0", "lava", "lava-multinode-docker-test-shell"},
	} {
		o := readOutcome(t, filepath.Join(out, c.sub))
		if r := o.result(c.def, c.name); r == nil || r.String("result") != "pass" {
			t.Errorf("%s %s/%s: got %v, want pass", c.sub, c.def, c.name, value.GoString(r))
		}
	}
	d.AssertNoContainers(t)
}
