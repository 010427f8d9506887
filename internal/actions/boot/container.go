package boot

import (
	"regexp"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// Actions that run fastboot or adb (LAVA's OptionalContainerAction) run
// them on the dispatcher, in the job's LXC container (the lava-lxc
// protocol), or in a docker container when the block has a docker map.
// Which one decides both which host tools the job needs and, for some
// boot methods, which children there are.

// dockerImageName is LAVA's docker_image_format_pattern, the same as
// deploy.DockerImageName (boot cannot import deploy: deploy imports boot).
var dockerImageName = regexp.MustCompile(`^[a-z0-9]+[a-z0-9._/:-]*[a-z0-9]+(:[a-zA-Z0-9_]+[a-zA-Z0-9._-]*)?$`)

// LXCRequested reports whether the job runs its device tools in an LXC
// container (the lava-lxc protocol).
func LXCRequested(b *pipeline.Base) bool {
	return b.Job != nil && b.Job.Params.Map("protocols").Has("lava-lxc")
}

// InContainer reports whether the tools of an action with params run in a
// container rather than on the dispatcher (LAVA's is_container()).
func InContainer(b *pipeline.Base, params *value.Map) bool {
	return LXCRequested(b) || params.Has("docker")
}

// ValidateContainer checks how the tools will be run and warns about the
// host tools that running needs: docker for a docker map (whose image
// must be a safe name), otherwise the tools themselves on the dispatcher.
// Inside LXC the tools are the container's, not ours to check.
func ValidateContainer(b *pipeline.Base, params *value.Map, tools ...string) {
	switch {
	case LXCRequested(b):
	case params.Has("docker"):
		d, ok := params.Value("docker").(*value.Map)
		if !ok {
			b.Errorf("'docker' must be a map with an image")
			return
		}
		if img := d.String("image"); !dockerImageName.MatchString(img) {
			b.Errorf("image name '%s' is invalid", img)
		}
		warnMissingTool(b, "docker")
	default:
		for _, t := range tools {
			warnMissingTool(b, t)
		}
	}
}
