package boot_test

import (
	"testing"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

// docker-run runs on a daemon of the worker's host; one elsewhere would
// need the overlay over NFS, which validate reports as not written.
func TestDockerRunRemote(t *testing.T) {
	t.Parallel()
	const job = `
actions:
- deploy: {to: docker, image: {name: debian, local: true}}
- boot: {method: docker, command: bash, prompts: ['#']}
- test: {definitions: [{from: inline, name: a, path: a.yaml, repository: {}}]}
`
	for _, tc := range []struct{ remote, want string }{
		{"''", ""},
		{"unix:///run/lab/docker.sock", ""},
		{"tcp://192.0.2.1:2375", "a docker daemon on another host (docker_remote tcp://192.0.2.1:2375: the overlay over NFS) not written yet"},
	} {
		device := `
actions:
  deploy: {methods: {docker: {options: {remote: ` + tc.remote + `}}}}
  boot: {methods: {docker: {options: {remote: ` + tc.remote + `}}}}
constants:
  posix: {lava_test_results_dir: /lava-%s, lava_test_shell_file: ~/.bashrc}
`
		j, err := pipeline.Build(decode(t, job), decode(t, device))
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		got := ""
		for _, a := range j.Pipeline.Unrunnable() {
			if a.ActionBase().Name == "docker-run" {
				got = pipeline.CannotRun(a)
			}
		}
		if got != tc.want {
			t.Errorf("remote %s: docker-run CannotRun = %q, want %q", tc.remote, got, tc.want)
		}
	}
}
