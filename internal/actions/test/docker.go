package test

import (
	"github.com/basalt-lava/basalt/internal/actions/deploy"
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// dockerTest is LAVA's DockerTest strategy: the test definitions run in a
// container on the worker that reaches the device (adb, fastboot,
// serial). It outranks the plain test shell.
var dockerTest = &strategy{
	name:     "DockerTest",
	priority: 10,
	accepts: func(_, params *value.Map) (bool, string) {
		if (params.Has("definition") || params.Has("definitions")) && params.Has("docker") {
			return true, "accepted"
		}
		return false, "docker or definition(s) not in parameters"
	},
	action: func(*value.Map) pipeline.Action { return NewDockerTest() },
	// The shell is in the container, not on the device: boot actions
	// must not wait for one.
	overlay: yes,
}

func init() { pipeline.Register(dockerTest) }

// DockerTest is LAVA's DockerTestAction (lava-docker-test).
type DockerTest struct{ pipeline.Base }

var _ pipeline.Action = (*DockerTest)(nil)

// NewDockerTest returns lava-docker-test.
func NewDockerTest() *DockerTest {
	return &DockerTest{pipeline.NewBase("DockerTestAction", "lava-docker-test",
		"Runs tests in a docker container", "Runs tests in a docker container")}
}

// Populate sets the environment, creates the overlay unconditionally
// (the container mounts it, so it is not compressed), runs the test
// shell in the container (the MultiNode one for a role) and reads the
// other namespaces.
func (a *DockerTest) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(NewDockerTestSetEnvironment(), nil)
	p.Add(deploy.NewCreateOverlay(), nil)
	if params.Has("role") {
		p.Add(NewMultinodeDockerTestShell(), nil)
	} else {
		p.Add(NewDockerTestShell(), nil)
	}
	p.Add(power.NewReadFeedback(), nil)
}

// Validate checks the docker block's image name and warns when docker is
// missing on the dispatcher.
func (a *DockerTest) Validate() {
	a.Base.Validate()
	warnMissingTool(&a.Base, "docker")
	d, ok := a.Params.Value("docker").(*value.Map)
	if !ok {
		a.Errorf("'docker' must be a map with an image")
		return
	}
	if img := d.String("image"); !deploy.DockerImageName.MatchString(img) {
		a.Errorf("image name '%s' is invalid", img)
	}
	validateDockerBlock(&a.Base, d)
	validateDefinitions(&a.Base, a.Params)
}
