// Package docker drives a docker daemon for the docker device type and
// the docker test actions, through the docker command-line client with
// an argument vector: never a shell, and never a job value where the
// client would read an option.
//
// Which daemon is used is the device's or the worker's configuration (the
// device dictionary's docker_remote, the worker's DOCKER_HOST), never the
// job's. What a job may name is an image (checked by ValidImage: it can
// not start with a dash, so it is never read as an option) and the
// command run in the container, which comes after the image and so is
// the container's argument vector, not the client's.
package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/basalt-lava/basalt/internal/janitor"
	"github.com/basalt-lava/basalt/internal/process"
)

// imagePattern is LAVA's docker_image_format_pattern: lower-case
// repository path, optional tag. It starts with a letter or digit, so an
// image name is never an option.
var imagePattern = regexp.MustCompile(`^[a-z0-9]+[a-z0-9._/:-]*[a-z0-9]+(:[a-zA-Z0-9_]+[a-zA-Z0-9._-]*)?$`)

// MaxImageName bounds an image reference, as docker's own reference
// parser does (255 for the name, 128 for the tag).
const MaxImageName = 384

// ValidImage reports whether name is an image reference Basalt passes
// to docker, and why not.
func ValidImage(name string) error {
	switch {
	case name == "":
		return errors.New("image name is empty")
	case len(name) > MaxImageName:
		return fmt.Errorf("image name is %d bytes long, more than the limit of %d", len(name), MaxImageName)
	case !imagePattern.MatchString(name):
		return fmt.Errorf("image name '%s' is invalid", name)
	}
	return nil
}

// namePattern is docker's own rule for container names.
var namePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)

// ValidContainerName reports whether name is a container name docker
// accepts (letters, digits, _ . -, not starting with a punctuation
// mark; at most 128 characters here).
func ValidContainerName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("container name %q is invalid: letters, digits, '_', '.' and '-', starting with a letter or digit, at most 128", name)
	}
	return nil
}

// Client runs the docker command-line client against one daemon.
type Client struct {
	// Bin is the client program; "docker" (looked up on PATH) if empty.
	Bin string
	// Host is the daemon's address (--host), from the device or the
	// worker; empty leaves it to the client (DOCKER_HOST, its default).
	Host string
	// Global are further global options from the device (LAVA's
	// global_options), before the subcommand.
	Global []string
}

// Argv returns the client's command line for the subcommand and its
// arguments.
func (c Client) Argv(args ...string) []string {
	bin := c.Bin
	if bin == "" {
		bin = "docker"
	}
	argv := []string{bin}
	if c.Host != "" {
		argv = append(argv, "--host", c.Host)
	}
	argv = append(argv, c.Global...)
	return append(argv, args...)
}

// CommandTimeout bounds one short client command (inspect, rm, version).
const CommandTimeout = 60 * time.Second

// output runs a short client command and returns its standard output;
// the error holds its standard error.
func (c Client) output(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, CommandTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	argv := c.Argv(args...)
	err := process.Run(ctx, process.Spec{Argv: argv, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + "…"
		}
		if _, exited := process.IsExit(err); exited && msg != "" {
			return stdout.String(), fmt.Errorf("docker %s: %s", args[0], msg)
		}
		return stdout.String(), fmt.Errorf("docker %s: %w", args[0], err)
	}
	return stdout.String(), nil
}

// ServerVersion returns the daemon's version: it also checks that the
// daemon answers.
func (c Client) ServerVersion(ctx context.Context) (string, error) {
	out, err := c.output(ctx, "version", "--format", "{{.Server.Version}}")
	return strings.TrimSpace(out), err
}

// ImageID returns the ID of a local image, or "" and no error when the
// daemon has no such image.
func (c Client) ImageID(ctx context.Context, image string) (string, error) {
	if err := ValidImage(image); err != nil {
		return "", err
	}
	out, err := c.output(ctx, "image", "inspect", "--format", "{{.Id}}", "--", image)
	if err != nil {
		if strings.Contains(err.Error(), "No such image") || strings.Contains(err.Error(), "No such object") {
			return "", nil
		}
		return "", err
	}
	return strings.TrimSpace(out), nil
}

// ImageArch returns the architecture of a local image.
func (c Client) ImageArch(ctx context.Context, image string) (string, error) {
	out, err := c.output(ctx, "image", "inspect", "--format", "{{.Architecture}}", "--", image)
	return strings.TrimSpace(out), err
}

// Pull fetches an image from its registry; timeout bounds it.
func (c Client) Pull(ctx context.Context, image string, timeout time.Duration) error {
	if err := ValidImage(image); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var stderr bytes.Buffer
	err := process.Run(ctx, process.Spec{Argv: c.Argv("pull", "--", image), Stderr: &stderr})
	if err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// State returns a container's state ("created", "running", "exited"…),
// or "" when there is no such container.
func (c Client) State(ctx context.Context, name string) (string, error) {
	out, err := c.output(ctx, "container", "inspect", "--format", "{{.State.Status}}", "--", name)
	if err != nil {
		if strings.Contains(err.Error(), "No such") {
			return "", nil
		}
		return "", err
	}
	return strings.TrimSpace(out), nil
}

// Remove stops and removes a container (docker rm --force); a container
// that is already gone is no error. It runs even when ctx is done: it
// is what cleans up after a cancel.
func (c Client) Remove(ctx context.Context, name string) error {
	ctx = context.WithoutCancel(ctx)
	_, err := c.output(ctx, "rm", "--force", "--volumes", "--", name)
	if err != nil && strings.Contains(err.Error(), "No such container") {
		err = nil
	}
	if err == nil {
		c.withdrawUndo(name)
	}
	return err
}

// Containers lists the names of every container of the daemon, running
// or not (docker ps --all).
func (c Client) Containers(ctx context.Context) ([]string, error) {
	out, err := c.output(ctx, "ps", "--all", "--format", "{{.Names}}")
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

// Mount is a bind mount of a host folder Basalt made into the container.
type Mount struct {
	Source, Target string
	ReadOnly       bool
}

// Env is one environment variable of the container.
type Env struct{ Name, Value string }

// Container describes a container to create.
type Container struct {
	// Name is the container's name (ValidContainerName).
	Name string
	// Image is the image to run (ValidImage).
	Image string
	// Command is the command run in the container: its argument vector,
	// after the image, so nothing in it reaches the client's options.
	Command []string
	// Hostname, Workdir and NetworkFrom (another container whose network
	// this one shares) are optional.
	Hostname, Workdir, NetworkFrom string
	// Interactive keeps standard input open; TTY gives the container a
	// terminal (LAVA's --interactive --tty).
	Interactive, TTY bool
	// Init runs docker's init as process 1 (reaps zombies).
	Init bool
	// Remove has the daemon remove the container when it stops (--rm).
	Remove bool
	// Mounts are Basalt's bind mounts: the overlay, the downloads.
	Mounts []Mount
	// Env are the container's environment variables.
	Env []Env
	// Options are the device's further options for docker create or
	// run (cpus, memory, devices, volumes, privileged…): the device's
	// configuration, never the job's.
	Options []string
}

// CreateArgs returns the arguments of `docker create` (after the global
// options) for the container, checking what the job may have given.
func (c Container) CreateArgs() ([]string, error) {
	if err := ValidContainerName(c.Name); err != nil {
		return nil, err
	}
	if err := ValidImage(c.Image); err != nil {
		return nil, err
	}
	args := []string{"create"}
	if c.Interactive {
		args = append(args, "--interactive")
	}
	if c.TTY {
		args = append(args, "--tty")
	}
	if c.Remove {
		args = append(args, "--rm")
	}
	if c.Init {
		args = append(args, "--init")
	}
	args = append(args, "--name="+c.Name)
	if c.NetworkFrom != "" {
		if err := ValidContainerName(c.NetworkFrom); err != nil {
			return nil, fmt.Errorf("network_from: %w", err)
		}
		args = append(args, "--network=container:"+c.NetworkFrom)
	}
	if c.Hostname != "" {
		args = append(args, "--hostname="+c.Hostname)
	}
	if c.Workdir != "" {
		args = append(args, "--workdir="+c.Workdir)
	}
	for _, m := range c.Mounts {
		// The mount is one --mount value of comma-separated fields: a
		// comma or quote in a path would add fields of its choosing.
		for _, p := range []string{m.Source, m.Target} {
			if p == "" || !strings.HasPrefix(p, "/") || strings.ContainsAny(p, ",\"\n") {
				return nil, fmt.Errorf("bind mount path %q is not an absolute path without commas or quotes", p)
			}
		}
		opt := "--mount=type=bind,source=" + m.Source + ",destination=" + m.Target
		if m.ReadOnly {
			opt += ",readonly=true"
		}
		args = append(args, opt)
	}
	for _, e := range c.Env {
		if e.Name == "" || strings.ContainsAny(e.Name, "=\x00") {
			return nil, fmt.Errorf("environment variable name %q is invalid", e.Name)
		}
		args = append(args, "--env="+e.Name+"="+e.Value)
	}
	args = append(args, c.Options...)
	args = append(args, "--", c.Image)
	return append(args, c.Command...), nil
}

// Create creates the container and returns its ID.
//
// The container's removal is listed with the janitor before it exists,
// so that a Basalt killed at any point after does not leave it running;
// Remove withdraws it.
func (c Client) Create(ctx context.Context, ct Container) (string, error) {
	args, err := ct.CreateArgs()
	if err != nil {
		return "", err
	}
	c.listUndo(ct.Name)
	out, err := c.output(ctx, args...)
	return strings.TrimSpace(out), err
}

// undo holds the janitor's entry of each container Create made, by
// daemon and name, until Remove removes it.
var undo = struct {
	sync.Mutex
	m map[string]*janitor.Entry
}{m: map[string]*janitor.Entry{}}

func (c Client) undoKey(name string) string { return strings.Join(c.Argv(name), "\x00") }

func (c Client) listUndo(name string) {
	e := janitor.Add("docker container "+name, c.Argv("rm", "--force", "--volumes", "--", name)...)
	undo.Lock()
	defer undo.Unlock()
	undo.m[c.undoKey(name)].Done()
	undo.m[c.undoKey(name)] = e
}

func (c Client) withdrawUndo(name string) {
	undo.Lock()
	defer undo.Unlock()
	k := c.undoKey(name)
	undo.m[k].Done()
	delete(undo.m, k)
}

// AttachArgv is the command line that starts a created container with
// its standard input, output and error attached to the client's: the
// console of a container with a terminal, over plain pipes (docker run
// --tty would need a terminal on Basalt's side).
func (c Client) AttachArgv(name string) []string {
	return c.Argv("start", "--attach", "--interactive", "--", name)
}
