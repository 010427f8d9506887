package docker

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/basalt-lava/basalt/internal/shlex"
	"github.com/basalt-lava/basalt/internal/value"
)

// This file reads the device configuration's docker settings: LAVA's
// docker device type (actions.{deploy,boot}.methods.docker.options,
// rendered from docker_remote, docker_cpus, docker_memory,
// docker_privileged, docker_capabilities, docker_devices,
// docker_networks, docker_volumes, docker_extra_arguments) and the
// docker test shell's actions.test.methods.docker (global_options,
// options). All of it is the lab's configuration; none of it is read
// from the job.

// methodOptions returns actions.<section>.methods.docker.options.
func methodOptions(device *value.Map, section string) *value.Map {
	return device.Map("actions").Map(section).Map("methods").Map("docker").Map("options")
}

// DeviceClient returns the client for the daemon the device's docker
// method names (options.remote: LAVA's --host), or the worker's default
// daemon (DOCKER_HOST) when it names none.
func DeviceClient(device *value.Map, section string) (Client, error) {
	var c Client
	switch r := methodOptions(device, section).Value("remote").(type) {
	case nil:
	case string:
		if strings.HasPrefix(r, "-") || strings.ContainsAny(r, " \n") {
			return c, fmt.Errorf("device docker remote %q is not a daemon address", r)
		}
		c.Host = r
	default:
		return c, fmt.Errorf("device docker remote must be a string, not %T", r)
	}
	return c, nil
}

// BootOptions returns the `docker create` options of the device's boot
// method, in LAVA's order: --cpus, --memory, --privileged, --cap-add,
// --device (its real path), --network, --volume, then the extra
// arguments, each split as a shell would.
func BootOptions(device *value.Map) ([]string, error) {
	o := methodOptions(device, "boot")
	var out []string
	if v := o.Value("cpus"); truthy(v) {
		out = append(out, "--cpus="+fmt.Sprint(v))
	}
	if v := o.Value("memory"); truthy(v) {
		out = append(out, "--memory="+fmt.Sprint(v))
	}
	if v, _ := o.Value("privileged").(bool); v {
		out = append(out, "--privileged")
	}
	for _, f := range []struct{ key, opt string }{
		{"capabilities", "--cap-add="}, {"devices", "--device="}, {"networks", "--network="}, {"volumes", "--volume="},
	} {
		items, err := stringList(o.Value(f.key), f.key)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if f.key == "devices" {
				if real, err := filepath.EvalSymlinks(it); err == nil {
					it = real
				}
			}
			out = append(out, f.opt+it)
		}
	}
	extra, err := stringList(o.Value("extra_arguments"), "extra_arguments")
	if err != nil {
		return nil, err
	}
	for _, e := range extra {
		args, err := shlex.Split(e)
		if err != nil {
			return nil, fmt.Errorf("device docker extra_arguments: %v", err)
		}
		out = append(out, args...)
	}
	return out, nil
}

// TestOptions returns the global and `docker create` options the device
// gives docker test shells (actions.test.methods.docker global_options
// and options: lists whose null entries are dropped and whose sublists
// are flattened, as LAVA does, each entry one argument).
func TestOptions(device *value.Map) (global, create []string, err error) {
	conf := device.Map("actions").Map("test").Map("methods").Map("docker")
	flatten := func(key string) ([]string, error) {
		var out []string
		var walk func(v any) error
		walk = func(v any) error {
			switch t := v.(type) {
			case nil:
			case string:
				out = append(out, t)
			case []any:
				for _, it := range t {
					if err := walk(it); err != nil {
						return err
					}
				}
			default:
				return fmt.Errorf("device docker test %s: %v is not a string", key, value.GoString(v))
			}
			return nil
		}
		return out, walk(conf.Value(key))
	}
	if global, err = flatten("global_options"); err != nil {
		return nil, nil, err
	}
	create, err = flatten("options")
	return global, create, err
}

// stringList reads a device list of strings; absent is empty.
func stringList(v any, key string) ([]string, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case []any:
		out := make([]string, 0, len(t))
		for _, it := range t {
			switch s := it.(type) {
			case nil:
			case string:
				out = append(out, s)
			default:
				return nil, fmt.Errorf("device docker %s: %v is not a string", key, value.GoString(it))
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("device docker %s must be a list, not %T", key, v)
}

func truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case int:
		return t != 0
	case int64:
		return t != 0
	case float64:
		return t != 0
	case string:
		return t != "" && t != "0"
	}
	return true
}

// SafeName turns a job ID and a level into the part of a container name
// they make: characters docker refuses become '-'.
func SafeName(parts ...string) string {
	s := strings.Join(parts, "-")
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
		if !ok {
			b[i] = '-'
		}
	}
	return string(b)
}

// JobDevice checks a device node a job asks to share with a docker test
// container (docker: devices:): only character devices under /dev (a
// serial port, a USB device, /dev/kvm), never a block device (a disk of
// the worker) or another host path.
func JobDevice(path string) error {
	clean := filepath.Clean(path)
	if clean != path || !strings.HasPrefix(clean, "/dev/") {
		return fmt.Errorf("device %q is not a clean path under /dev", path)
	}
	real, err := filepath.EvalSymlinks(clean)
	if err != nil {
		return fmt.Errorf("device %q: %v", path, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return fmt.Errorf("device %q: %v", path, err)
	}
	if fi.Mode()&os.ModeCharDevice == 0 || !strings.HasPrefix(real, "/dev/") {
		return fmt.Errorf("device %q is not a character device under /dev: a job may share a serial or USB device, not a disk or a host file", path)
	}
	return nil
}
