package e2e

import (
	"testing"

	"github.com/basalt-lava/basalt/internal/value"
)

// The corpus's docker-interactive job's blocks, on a real docker daemon:
// a lava-test-shell definition, then a lava-test-interactive block
// playing its script on the same shell of the container (a command that
// must show a prompt, one whose output must match a success and gives a
// value to the next through a named group, one whose output matches a
// failure). The test shell comes first here: the docker boot leaves a
// second shell prompt unread (LAVA's too: it forces one after the shell
// printed its own), which the test shell absorbs and an interactive
// script, as in LAVA, would take as the answer to its first command.
func TestDockerInteractive(t *testing.T) {
	d := needDocker(t)
	dev := dockerDevice(t, d)
	interactive := `- test:
    timeout: {minutes: 2}
    interactive:
    - name: listing
      prompts: ['root@lava:']
      script:
      - command: ls /
      - name: hostname
        command: hostname
        successes:
        - message: '^(?P<host>lava)$'
      - name: substituted
        command: echo seen-{host}-in-{JOB_ID}
        successes:
        - message: seen-lava-in-4243
      - name: refused
        command: 'ls /no-such-dir'
        failures:
        - message: 'No such file'
`
	job := dockerJob(t, "docker", "minutes: 2", dockerDeploy, dockerBoot,
		inlineTest("before", "", `lava-test-case same-container --shell test "$(hostname)" = lava`), interactive)
	o := runDockerJob(t, job, dev, []string{"DOCKER_HOST=" + d.Host}, nil)
	if o.code != 0 {
		t.Fatalf("exit %d, job %v", o.code, value.GoString(o.job))
	}
	for _, c := range []struct{ def, name, want string }{
		{"1_listing", "hostname", "pass"},
		{"1_listing", "substituted", "pass"},
		{"1_listing", "refused", "fail"},
		{"lava", "1_listing", "pass"},
		{"lava", "lava-test-interactive", "pass"},
		{"0_before", "same-container", "pass"},
	} {
		if r := o.result(c.def, c.name); r == nil || r.String("result") != c.want {
			t.Errorf("%s/%s: got %v, want %s", c.def, c.name, value.GoString(r), c.want)
		}
	}
	d.AssertNoContainers(t)
}
