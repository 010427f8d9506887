package boot

import (
	"github.com/basalt-lava/basalt/internal/docker"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "BootDocker",
		accepts: func(device, params *value.Map) (bool, string) {
			if ok, why := (pipeline.MethodCheck{Section: "boot", Method: "docker"}).Accepts(device, params); !ok {
				return false, why
			}
			if !params.Has("command") {
				return false, `"command" was not in boot parameters`
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewBootDocker() },
	})
}

// BootDocker is LAVA's BootDockerAction (boot-docker): runs the deployed
// image with the block's command and waits for its shell. A container
// prints no kernel messages, so there is no auto-login.
type BootDocker struct{ pipeline.Base }

var _ pipeline.Action = (*BootDocker)(nil)

// NewBootDocker returns boot-docker.
func NewBootDocker() *BootDocker {
	return &BootDocker{pipeline.NewBase("BootDockerAction", "boot-docker",
		"boot docker image", "boot docker image")}
}

// Populate adds docker-run, then the shell actions when a test needs them.
func (a *BootDocker) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(NewCallDocker(), nil)
	if params.Has("prompts") && a.TestHasShell(params) {
		p.Add(NewExpectShell(), nil)
		p.Add(NewExportDeviceEnv(), nil)
	}
}

// CallDocker is LAVA's CallDockerAction (docker-run).
type CallDocker struct {
	leaf
	// container and client are set once the container is created, for
	// Cleanup.
	container string
	client    docker.Client
}

// NewCallDocker returns docker-run.
func NewCallDocker() *CallDocker {
	return &CallDocker{leaf: leaf{pipeline.NewBase("CallDockerAction", "docker-run",
		"call docker run on the image", "call docker run")}}
}

// Validate warns when docker is missing and checks the command.
func (a *CallDocker) Validate() {
	a.leaf.Validate()
	warnMissingTool(&a.Base, "docker")
	if c, ok := a.Params.Value("command").(string); !ok || c == "" {
		a.Errorf("'command' must be a non-empty string")
	}
}
