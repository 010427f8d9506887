// Package device owns a device's configuration: rendering a LAVA device
// dictionary (a Jinja2 child template of a device-type template) into
// device YAML, parsing that YAML into a Config, and checking it against
// LAVA's device schema. It does not run anything on the device; actions
// read the Config. A job's context values are data: Render refuses one
// that changes the structure of the rendered YAML (context.go says how
// and why).
package device

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/basalt-lava/basalt/internal/jinja"
	"github.com/basalt-lava/basalt/internal/value"
)

// shipped holds the device-type templates Basalt carries in its binary;
// they are searched after every folder the user names.
//
//go:embed devicetypes
var shipped embed.FS

// ShippedTemplates returns the embedded device-type templates as a file
// system rooted at the templates folder (it may hold no templates).
func ShippedTemplates() fs.FS {
	sub, err := fs.Sub(shipped, "devicetypes")
	if err != nil {
		panic(err) // the folder is embedded at build time
	}
	return sub
}

// Loader returns the template loader used to render the dictionary at
// path: the dictionary's own folder first, then each of deviceTypeDirs in
// order, then the shipped templates. The first folder holding a name
// wins, and no name may reach outside these folders.
func Loader(path string, deviceTypeDirs []string) jinja.Loader {
	dirs := append([]string{filepath.Dir(path)}, deviceTypeDirs...)
	return jinja.ChainLoader{
		jinja.NewDirLoader(dirs...),
		&jinja.FSLoader{FS: ShippedTemplates(), Prefix: "(basalt)/"},
	}
}

// Render renders the device dictionary at path (or a device-type
// template used as a device) and returns the device YAML text.
//
// ctx holds the render variables: normally the job's top-level
// "context:" map; nil means none. Nothing is added to it (LAVA's server
// also passes scheduled_device_name and scheduled_device_type; a caller
// that wants them sets them in ctx). A {% set %} in the dictionary wins
// over a ctx value of the same name, as in LAVA.
//
// ctx's values are data: a value that, where the templates print it,
// changes the structure of the rendered YAML (adds, removes or renames a
// key, turns a scalar into a collection) is refused with a
// *ContextError naming the variable, whatever the template (context.go).
//
// Template errors name the template file and line (a *jinja.Error).
func Render(path string, ctx *value.Map, deviceTypeDirs []string) (string, error) {
	env := jinja.NewEnvironment(Loader(path, deviceTypeDirs))
	out, prints, err := env.RenderPrints(filepath.Base(path), ctx)
	if err != nil {
		return "", err
	}
	if err := checkContextPrints(path, out, prints, ctx); err != nil {
		return "", err
	}
	return out, nil
}

// IsDictionary reports whether path names a device dictionary (a
// ".jinja2" template) rather than rendered device YAML.
func IsDictionary(path string) bool { return strings.HasSuffix(path, ".jinja2") }

// LoadDevice returns the device configuration at path: rendered device
// YAML (any name not ending in ".jinja2") is parsed as it is; a ".jinja2"
// device dictionary is first rendered with ctx and deviceTypeDirs, as
// Render does. The result is not checked; call Config.Check.
func LoadDevice(path string, ctx *value.Map, deviceTypeDirs []string) (*Config, error) {
	if !IsDictionary(path) {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return parseNamed(path, data)
	}
	out, err := Render(path, ctx, deviceTypeDirs)
	if err != nil {
		return nil, err
	}
	c, err := parseNamed(path, []byte(out))
	if err != nil {
		return nil, fmt.Errorf("rendered device configuration: %w", err)
	}
	return c, nil
}
