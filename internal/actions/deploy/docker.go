package deploy

import (
	"github.com/basalt-lava/basalt/internal/docker"
	"regexp"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "Docker",
		accepts: func(device, params *value.Map) (bool, string) {
			check := pipeline.MethodCheck{Section: "deploy", Method: "docker",
				NotListed: "'docker' not in the device configuration deploy methods"}
			if ok, why := check.Accepts(device, params); !ok {
				return false, why
			}
			if !params.Has("image") {
				return false, `"image" is not in the deployment parameters`
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewDeployDocker() },
	})
}

// DockerImageName is LAVA's docker_image_format_pattern: an image name
// safe to put on a command line.
var DockerImageName = regexp.MustCompile(`^[a-z0-9]+[a-z0-9._/:-]*[a-z0-9]+(:[a-zA-Z0-9_]+[a-zA-Z0-9._-]*)?$`)

// DeployDocker is LAVA's DockerAction (deploy-docker): pulls the image
// (unless local) and prepares the overlay the container will mount.
type DeployDocker struct{ pipeline.Base }

var _ pipeline.Action = (*DeployDocker)(nil)

// NewDeployDocker returns deploy-docker.
func NewDeployDocker() *DeployDocker {
	return &DeployDocker{pipeline.NewBase("DockerAction", "deploy-docker",
		"deploy docker images", "deploy docker")}
}

// Populate puts the device environment before the overlay, LAVA's order
// for docker.
func (a *DeployDocker) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	if a.TestNeedsDeployment(params) {
		p.Add(NewDeployDeviceEnv(), nil)
	}
	if a.TestNeedsOverlay(params) {
		p.Add(NewOverlay(), nil)
	}
}

// Validate checks the image name (a string or {name, local}) and warns
// when docker is missing on the dispatcher.
func (a *DeployDocker) Validate() {
	a.Base.Validate()
	warnMissingTool(&a.Base, "docker")
	name, _ := dockerImage(a.Params)
	if err := docker.ValidImage(name); err != nil {
		a.Errorf("%v", err)
	}
	if img, ok := a.Params.Value("image").(*value.Map); ok {
		if v, has := img.Get("local"); has {
			if _, isBool := v.(bool); !isBool {
				a.Errorf("image local must be true or false, not %s", value.GoString(v))
			}
		}
	}
}
