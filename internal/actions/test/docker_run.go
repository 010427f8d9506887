package test

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/actions/deploy"
	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/docker"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/process"
	"github.com/basalt-lava/basalt/internal/shlex"
	"github.com/basalt-lava/basalt/internal/value"
)

// dockerTestPrompt is the prompt of the docker test shell (LAVA's PS1
// for it, and the prompt_str it waits for).
const (
	dockerTestPS1    = "docker-test-shell:$ "
	dockerTestPrompt = "docker-test-shell:"
)

// validateDockerBlock checks the test block's docker map beyond its
// image: the keys a job may give (LAVA's), each of the right kind.
// Options, volumes and privileges are never the job's: they come from
// the device (actions.test.methods.docker).
func validateDockerBlock(b *pipeline.Base, d *value.Map) {
	for _, k := range d.Keys() {
		switch k {
		case "image", "local", "container_name", "network_from", "devices", "login":
		default:
			b.Errorf("docker: unknown key %q (a job gives image, local, container_name, network_from, devices, login; docker options are the device's)", k)
		}
	}
	if v, ok := d.Get("local"); ok {
		if _, isBool := v.(bool); !isBool {
			b.Errorf("docker: local must be true or false, not %s", value.GoString(v))
		}
	}
	for _, k := range []string{"container_name", "network_from"} {
		if v, ok := d.Get(k); ok {
			s, isStr := v.(string)
			if !isStr {
				b.Errorf("docker: %s must be a string", k)
				continue
			}
			if err := docker.ValidContainerName(s); err != nil {
				b.Errorf("docker: %s: %v", k, err)
			}
		}
	}
	if v, ok := d.Get("devices"); ok {
		list, isList := v.([]any)
		if !isList {
			b.Errorf("docker: devices must be a list of device paths")
		}
		for _, it := range list {
			if s, isStr := it.(string); !isStr || !strings.HasPrefix(s, "/dev/") || filepath.Clean(s) != s {
				b.Errorf("docker: devices: %s is not a clean path under /dev", value.GoString(it))
			}
		}
	}
}

// CannotRun is empty: the environment is set (below).
func (*DockerTestSetEnvironment) CannotRun() string { return "" }

// Run adds to the job's environment what the container needs to reach
// the device, as LAVA does: ANDROID_SERIAL and LAVA_BOARD_ID, the
// connection commands, the character delays and the power commands. The
// overlay made next writes them to its environment file.
func (a *DockerTestSetEnvironment) Run(_ context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	env, _ := a.Job.Params.Value("environment").(*value.Map)
	if env == nil {
		env = value.NewMap()
	}
	dev := a.Device()
	id := BoardID(dev)
	if id == nil {
		id = "None" // LAVA's str(None)
	}
	env.Set("ANDROID_SERIAL", id)
	env.Set("LAVA_BOARD_ID", id)
	cmds := dev.Map("commands")
	conns := cmds.Map("connections")
	for _, name := range conns.Keys() {
		c := conns.Map(name)
		if connect := c.Value("connect"); pipeline.Truthy(connect) {
			env.Set("LAVA_CONNECTION_COMMAND_"+strings.ToUpper(name), connect)
			if tags, _ := c.Value("tags").([]any); containsString(tags, "primary") {
				env.Set("LAVA_CONNECTION_COMMAND", connect)
			}
		}
	}
	for _, k := range []string{"deploy", "boot", "test"} {
		if d := dev.Map("character_delays").Value(k); pipeline.Truthy(d) {
			env.Set("LAVA_"+strings.ToUpper(k)+"_CHARACTER_DELAYS", d)
		}
	}
	for _, c := range []string{"connect", "hard_reset", "power_on", "power_off"} {
		switch v := cmds.Value(c).(type) {
		case string:
			if v != "" {
				env.Set("LAVA_"+strings.ToUpper(c)+"_COMMAND", v)
			}
		case []any:
			var parts []string
			for _, p := range v {
				parts = append(parts, fmt.Sprint(p))
			}
			if len(parts) > 0 {
				env.Set("LAVA_"+strings.ToUpper(c)+"_COMMAND", strings.Join(parts, " && "))
			}
		}
	}
	a.Job.Params.Set("environment", env)
	return conn, nil
}

func containsString(list []any, s string) bool {
	for _, it := range list {
		if it == s {
			return true
		}
	}
	return false
}

// DockerTestShell is LAVA's DockerTestShell (lava-docker-test-shell):
// lava-test-runner in a container beside the device, the overlay
// bind-mounted at the results folder, `bash --norc -i` as its shell.
// The container's console is this action's alone (LAVA keeps it in a
// namespace of its own, docker-test-shell): the block's connection to
// the device is handed on untouched, and the container is removed
// before the action ends, whatever happened.
type DockerTestShell struct {
	TestShell
	container string
	client    docker.Client
}

// NewDockerTestShell returns lava-docker-test-shell.
func NewDockerTestShell() *DockerTestShell {
	a := &DockerTestShell{TestShell: TestShell{leaf: leaf{pipeline.NewBase("DockerTestShell", "lava-docker-test-shell",
		"Runs lava-test-shell in a docker container", "Runs lava-test-shell in a docker container")}}}
	a.TimeoutClass = pipeline.ClassTimeout
	return a
}

// CannotRun is empty, save for a registry login, which Basalt does not do.
func (a *DockerTestShell) CannotRun() string {
	if a.Params.Map("docker").Has("login") {
		return "docker registry login (docker: login:) not written yet"
	}
	return ""
}

// containerName is LAVA's lava-docker-test-shell-<job id>-<level>.
func (a *DockerTestShell) containerName() string {
	id := a.Job.ID
	if id == "" {
		id = "0"
	}
	if prefix, _ := a.Job.Params.Map("dispatcher").Value("prefix").(string); prefix != "" {
		return docker.SafeName("lava-docker-test-shell", prefix, id, a.Level)
	}
	return docker.SafeName("lava-docker-test-shell", id, a.Level)
}

// dockerStartWait bounds how long the action waits for the container to run.
const dockerStartWait = 60 * time.Second

// Run starts the container and runs the test shell in it.
func (a *DockerTestShell) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	d := a.Params.Map("docker")
	image := d.String("image")
	local, _ := d.Value("local").(bool)
	global, opts, err := docker.TestOptions(a.Device())
	if err != nil {
		return conn, pipeline.ConfigurationError("%v", err)
	}
	client := docker.Client{Global: global}
	if err := deploy.PrepareImage(ctx, &a.Base, client, image, local); err != nil {
		return conn, err
	}
	location, results := a.DataString(pipeline.DataOverlayLocation), a.DataString(pipeline.DataResultsDir)
	if location == "" || results == "" {
		return conn, pipeline.Bug("lava-docker-test-shell: no overlay in namespace %s", a.Namespace())
	}
	src, err := filepath.Abs(filepath.Join(location, path.Base(results)))
	if err != nil {
		return conn, pipeline.InfrastructureError("overlay folder: %v", err)
	}
	suffix := "-lava-" + docker.SafeName(a.Job.ID)
	ct := docker.Container{
		Name: a.containerName(), Image: image, Command: []string{"bash", "--norc", "-i"},
		Interactive: true, TTY: true, Init: true, Remove: true,
		Mounts:  []docker.Mount{{Source: src, Target: results}},
		Env:     []docker.Env{{Name: "PS1", Value: dockerTestPS1}},
		Options: opts,
	}
	if nf := d.String("network_from"); nf != "" {
		ct.NetworkFrom = nf + suffix
	}
	devices, _ := d.Value("devices").([]any)
	for _, it := range devices {
		s, _ := it.(string)
		if err := docker.JobDevice(s); err != nil {
			return conn, pipeline.JobError("docker: devices: %v", err)
		}
		ct.Options = append(ct.Options, "--device="+s)
	}
	if err := client.Remove(ctx, ct.Name); err != nil {
		return conn, pipeline.InfrastructureError("unable to reach the docker daemon: %v", err)
	}
	args, err := ct.CreateArgs()
	if err != nil {
		return conn, pipeline.JobError("%v", err)
	}
	a.Log().Debugf("Starting docker test shell container: %s", shlex.Join(client.Argv(args...)))
	a.container, a.client = ct.Name, client
	defer a.removeContainer(ctx)
	if _, err := client.Create(ctx, ct); err != nil {
		return conn, pipeline.InfrastructureError("unable to create the docker container %s from image '%s': %v", ct.Name, image, err)
	}
	sess, err := connection.Start(client.AttachArgv(ct.Name), connection.Options{Log: a.Log(), StopGrace: process.GraceFrom(ctx)})
	if err != nil {
		return conn, pipeline.InfrastructureError("unable to start docker: %v", err)
	}
	defer sess.Close()
	sess.Prompts = []string{dockerTestPrompt}
	if err := a.waitRunning(ctx, sess); err != nil {
		return conn, err
	}
	// The boot's pre-commands (mounting a QEMU overlay disk) are the
	// device's, not the container's: the overlay is bind-mounted. What
	// the device's console had done is put back for the next test.
	prev := a.Data(preCommandsDone)
	a.SetData(preCommandsDone, sess)
	defer a.SetData(preCommandsDone, prev)
	if _, err := a.TestShell.Run(ctx, sess); err != nil {
		return conn, err
	}
	return conn, nil
}

// waitRunning waits until the container runs, or says why it never did.
func (a *DockerTestShell) waitRunning(ctx context.Context, s *connection.Session) error {
	deadline := time.Now().Add(dockerStartWait)
	delay := 20 * time.Millisecond
	for {
		select {
		case <-s.Done():
			return pipeline.InfrastructureError("docker container %s never started or exited at once: %s",
				a.container, strings.Join(s.Tail(5), " | "))
		default:
		}
		state, err := a.client.State(ctx, a.container)
		if err != nil {
			return pipeline.InfrastructureError("docker container %s: %v", a.container, err)
		}
		if state == "running" {
			return nil
		}
		if time.Now().After(deadline) {
			return pipeline.InfrastructureError("docker container %s did not start within %s (state %q)", a.container, dockerStartWait, state)
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

func (a *DockerTestShell) removeContainer(ctx context.Context) {
	if a.container == "" {
		return
	}
	if err := a.client.Remove(ctx, a.container); err != nil {
		a.Log().Warnf("unable to remove docker container %s: %v", a.container, err)
	}
	a.container = ""
}

// Cleanup removes the container if Run was cut short before its own
// removal ran.
func (a *DockerTestShell) Cleanup(ctx context.Context) error {
	if a.Job != nil {
		a.removeContainer(ctx)
	}
	return a.TestShell.Cleanup(ctx)
}

// MultinodeDockerTestShell is LAVA's MultinodeDockerTestShell
// (lava-multinode-docker-test-shell): the docker test shell of a
// MultiNode role, its lava-send, lava-wait, lava-wait-all and lava-sync
// answered through the job's lava-multinode protocol.
type MultinodeDockerTestShell struct{ DockerTestShell }

// NewMultinodeDockerTestShell returns lava-multinode-docker-test-shell.
func NewMultinodeDockerTestShell() *MultinodeDockerTestShell {
	a := &MultinodeDockerTestShell{DockerTestShell{TestShell: TestShell{leaf: leaf{pipeline.NewBase("MultinodeDockerTestShell",
		"lava-multinode-docker-test-shell", "Runs multinode lava-test-shell in a docker container",
		"Runs multinode lava-test-shell in a docker container")}}}}
	a.TimeoutClass = pipeline.ClassTimeout
	return a
}

// Run runs the docker test shell with the MultiNode calls answered.
func (a *MultinodeDockerTestShell) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	sig, ok := a.Job.Protocol("lava-multinode").(multinodeSignals)
	if !ok {
		return conn, pipeline.JobError("Invalid job - missing protocol: %s needs the lava-multinode protocol, which this run has not set up", a.Name)
	}
	a.signals = sig
	return a.DockerTestShell.Run(ctx, conn)
}
