package deploy

import (
	"context"
	"runtime"
	"time"

	"github.com/basalt-lava/basalt/internal/docker"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// dockerImage returns the block's image: a string (pulled) or
// {name, local} (local: true means the daemon has it already).
func dockerImage(params *value.Map) (name string, local bool) {
	switch img := params.Value("image").(type) {
	case string:
		return img, false
	case *value.Map:
		l, _ := img.Value("local").(bool)
		return img.String("name"), l
	}
	return "", false
}

// PullTimeout bounds a docker pull when the action's own timeout is
// longer: a registry that does not answer must not hold the device.
const PullTimeout = 30 * time.Minute

// PrepareImage makes sure the daemon has image: with local, it must be
// there already (Basalt never pulls an image the job called local; LAVA
// warns and tries a pull); otherwise it is pulled. Errors name the image.
func PrepareImage(ctx context.Context, b *pipeline.Base, client docker.Client, image string, local bool) error {
	if err := docker.ValidImage(image); err != nil {
		return pipeline.JobError("%v", err)
	}
	if ver, err := client.ServerVersion(ctx); err != nil {
		return pipeline.InfrastructureError("unable to reach the docker daemon: %v", err)
	} else {
		b.Log().Debugf("docker server, installed at version: %s", ver)
	}
	id, err := client.ImageID(ctx, image)
	if err != nil {
		return pipeline.InfrastructureError("unable to inspect docker image '%s': %v", image, err)
	}
	if local {
		if id == "" {
			return pipeline.InfrastructureError("docker image '%s' is not on the docker daemon, and the job says local: true (no pull)", image)
		}
		b.Log().Infof("Image %s exists locally", image)
		b.Log().Infof("Image Id: %s", id)
		checkImageArch(ctx, b, client, image)
		return nil
	}
	b.Log().Infof("Pulling docker image '%s'", image)
	if err := client.Pull(ctx, image, PullTimeout); err != nil {
		return pipeline.InfrastructureError("Unable to pull docker image '%s': %v", image, err)
	}
	checkImageArch(ctx, b, client, image)
	return nil
}

// checkImageArch warns, as LAVA does, when the image is for another
// architecture than the worker's: it may run under emulation, slowly.
func checkImageArch(ctx context.Context, b *pipeline.Base, client docker.Client, image string) {
	arch, err := client.ImageArch(ctx, image)
	if err != nil || arch == "" {
		return
	}
	if arch != runtime.GOARCH {
		b.Log().Warnf("Architecture mismatch: host is %s, container is %s. This *might* work, but if it does, will probably be a lot slower than if the container image architecture matches the host.", runtime.GOARCH, arch)
	}
}

// Run checks (local) or pulls the image, records it for the boot, then
// prepares the overlay the container will mount.
func (a *DeployDocker) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	client, err := docker.DeviceClient(a.Device(), "deploy")
	if err != nil {
		return conn, pipeline.ConfigurationError("%v", err)
	}
	name, local := dockerImage(a.Params)
	if err := PrepareImage(ctx, &a.Base, client, name, local); err != nil {
		return conn, err
	}
	a.SetData(pipeline.DataDockerImage, name)
	return a.Base.Run(ctx, conn)
}
