package boot

import (
	"context"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/docker"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/process"
	"github.com/basalt-lava/basalt/internal/shlex"
)

// CannotRun is empty: docker-run runs (below), on a daemon of the
// worker's own host. The overlay is bind-mounted from the job's folder,
// which a daemon elsewhere (docker_remote tcp://, ssh://) cannot see;
// LAVA mounts it over NFS there, which Basalt does not.
func (a *CallDocker) CannotRun() string {
	c, err := docker.DeviceClient(a.Device(), "boot")
	if err == nil && c.Host != "" && !strings.HasPrefix(c.Host, "unix://") && a.TestNeedsOverlay(a.Params) {
		return "a docker daemon on another host (docker_remote " + c.Host + ": the overlay over NFS) not written yet"
	}
	return ""
}

// ContainerName is LAVA's name for the container of a docker boot:
// lava-<job id>-<level> (lava-<prefix>-<job id>-<level> with a
// dispatcher prefix).
func (a *CallDocker) ContainerName() string {
	id := "0"
	if a.Job != nil && a.Job.ID != "" {
		id = a.Job.ID
	}
	if a.Job != nil {
		if prefix, _ := a.Job.Params.Map("dispatcher").Value("prefix").(string); prefix != "" {
			return docker.SafeName("lava", prefix, id, a.Level)
		}
	}
	return docker.SafeName("lava", id, a.Level)
}

// startWait bounds how long docker-run waits for a created container to
// be running before it calls the boot failed.
const startWait = 60 * time.Second

// Run creates the container (the deployed image, the block's command,
// the overlay folder bind-mounted at the results folder, the device's
// options) and starts it attached: its terminal is the job's console.
// LAVA runs `docker run --rm --interactive --tty`; Basalt creates the
// container with a terminal and attaches to it over pipes (docker start
// --attach --interactive), which needs no terminal on Basalt's side.
// The job's command is split as a shell would and put after the image:
// it is the container's command, never the client's options.
func (a *CallDocker) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	if old, ok := a.Data(DataConnection).(pipeline.Connection); ok {
		old.Close()
	}
	image := a.DataString(pipeline.DataDockerImage)
	if image == "" {
		return conn, pipeline.JobError("Missing deploy action before boot")
	}
	client, err := docker.DeviceClient(a.Device(), "boot")
	if err != nil {
		return conn, pipeline.ConfigurationError("%v", err)
	}
	opts, err := docker.BootOptions(a.Device())
	if err != nil {
		return conn, pipeline.ConfigurationError("%v", err)
	}
	cmd, err := shlex.Split(a.Params.String("command"))
	if err != nil || len(cmd) == 0 {
		return conn, pipeline.JobError("boot command %q: cannot be split into a command (%v)", a.Params.String("command"), err)
	}
	ct := docker.Container{
		Name: a.ContainerName(), Image: image, Command: cmd,
		Hostname: "lava", Interactive: true, TTY: true, Remove: true,
		Options: opts,
	}
	if a.TestNeedsOverlay(a.Params) {
		location, results := a.DataString(pipeline.DataOverlayLocation), a.DataString(dataResultsDir)
		if location == "" || results == "" {
			return conn, pipeline.Bug("docker-run: no overlay in namespace %s", a.Namespace())
		}
		src, err := filepath.Abs(filepath.Join(location, path.Base(results)))
		if err != nil {
			return conn, pipeline.InfrastructureError("overlay folder: %v", err)
		}
		ct.Mounts = append(ct.Mounts, docker.Mount{Source: src, Target: results})
	}
	// A container of that name left by a killed Basalt would make
	// create fail: it is this device's, so it goes.
	if err := client.Remove(ctx, ct.Name); err != nil {
		return conn, pipeline.InfrastructureError("unable to reach the docker daemon: %v", err)
	}
	args, err := ct.CreateArgs()
	if err != nil {
		return conn, pipeline.JobError("%v", err)
	}
	a.Log().Debugf("Boot command: %s", shlex.Join(client.Argv(args...)))
	a.container, a.client = ct.Name, client
	if _, err := client.Create(ctx, ct); err != nil {
		return conn, pipeline.InfrastructureError("unable to create the docker container %s from image '%s': %v", ct.Name, image, err)
	}
	argv := client.AttachArgv(ct.Name)
	a.Log().Debugf("Attaching: %s", shlex.Join(argv))
	s, err := connection.Start(argv, connection.Options{Log: a.Log(), LineSeparator: a.DataString(dataLineSep), StopGrace: process.GraceFrom(ctx)})
	if err != nil {
		return conn, pipeline.InfrastructureError("unable to start %s: %v", argv[0], err)
	}
	s.Prompts = promptStrings(a.Params)
	a.SetData(DataConnection, s)
	if err := waitRunning(ctx, client, ct.Name, s); err != nil {
		return conn, err
	}
	a.Log().Infof("container %s (image '%s') started", ct.Name, image)
	return s, nil
}

// waitRunning waits until the container runs. A command the image lacks
// or a device option the daemon refuses ends `docker start` before the
// container ever runs: that is a failed boot, with docker's words.
func waitRunning(ctx context.Context, client docker.Client, name string, s *connection.Session) error {
	deadline := time.Now().Add(startWait)
	delay := 20 * time.Millisecond
	for {
		// A command that exits at once may end before the first look:
		// the attach ending is then the answer.
		select {
		case <-s.Done():
			_, perr := s.Exited()
			return pipeline.InfrastructureError("docker container %s never started or exited at once (%s): %s",
				name, exitStatus(perr), strings.Join(s.Tail(5), " | "))
		default:
		}
		state, err := client.State(ctx, name)
		if err != nil {
			return pipeline.InfrastructureError("docker container %s: %v", name, err)
		}
		if state == "running" {
			return nil
		}
		if time.Now().After(deadline) {
			return pipeline.InfrastructureError("docker container %s did not start within %s (state %q)", name, startWait, state)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.Done():
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}

// Cleanup closes the console and removes the container, on every path:
// a failed boot, a cancel, a timeout and the end of the job. LAVA runs
// `docker stop`, whose --rm then removes it; `docker rm --force` does
// both and cannot leave a stopped container behind.
func (a *CallDocker) Cleanup(ctx context.Context) error {
	if a.Job == nil || a.container == "" {
		return nil
	}
	if s, ok := a.Data(DataConnection).(*connection.Session); ok {
		s.Close()
	}
	a.Log().Debugf("Stopping container %s", a.container)
	if err := a.client.Remove(ctx, a.container); err != nil {
		a.Log().Warnf("unable to remove docker container %s: %v", a.container, err)
	}
	a.container = ""
	return a.leaf.Cleanup(ctx)
}
