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
	"path/filepath"
	"strings"
	"sync"

	"github.com/basalt-lava/basalt/internal/jinja"
	"github.com/basalt-lava/basalt/internal/limits"
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
	return limitedLoader(path, deviceTypeDirs, limits.Limits{})
}

// limitedLoader is Loader with each template bounded by lim.
func limitedLoader(path string, deviceTypeDirs []string, lim limits.Limits) jinja.Loader {
	dirs := append([]string{filepath.Dir(path)}, deviceTypeDirs...)
	return jinja.ChainLoader{
		&jinja.DirLoader{Dirs: dirs, MaxSize: lim.Template().Max},
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
	return RenderLimited(path, ctx, deviceTypeDirs, limits.Limits{})
}

// RenderLimited is Render within lim: the dictionary is a regular file
// of at most lim.DeviceSize bytes, each template it extends or includes
// one of at most lim.TemplateSize (errors name the limit and its flag).
func RenderLimited(path string, ctx *value.Map, deviceTypeDirs []string, lim limits.Limits) (string, error) {
	src, err := lim.Device().Read(path)
	if err != nil {
		return "", err
	}
	name := filepath.Base(path)
	loader := jinja.ChainLoader{
		// The dictionary as read above, under the device size limit.
		dictionary{name: name, file: filepath.Join(filepath.Dir(path), name), src: string(src)},
		limitedLoader(path, deviceTypeDirs, lim),
	}
	out, prints, err := jinja.NewEnvironment(loader).RenderPrints(name, ctx)
	if err != nil {
		return "", err
	}
	if err := checkContextPrints(path, out, prints, ctx); err != nil {
		return "", err
	}
	return out, nil
}

// RenderText renders a device dictionary held as text (a lab server keeps
// dictionaries in its database) under name, with templates loading every
// template it extends or includes. It checks ctx's values as Render does
// and bounds the dictionary by lim.DeviceSize; templates must bound what
// they load themselves.
func RenderText(name, src string, ctx *value.Map, templates jinja.Loader, lim limits.Limits) (string, error) {
	if max := lim.Device().Max; int64(len(src)) > max {
		return "", &limits.Error{What: "device dictionary " + name, Limit: limits.FormatSize(max) + " bytes"}
	}
	loader := jinja.ChainLoader{dictionary{name: name, file: name, src: src}, templates}
	out, prints, err := jinja.NewEnvironment(loader).RenderPrints(name, ctx)
	if err != nil {
		return "", err
	}
	if err := checkContextPrints(name, out, prints, ctx); err != nil {
		return "", err
	}
	return out, nil
}

// Renderer renders many dictionaries held as text with one set of
// templates, parsing each template once (a parse is most of a render's
// cost). It is safe for concurrent use. A dictionary's name must keep its
// text for the Renderer's life: make one per batch of renders (a
// scheduling pass, a submission).
type Renderer struct {
	env *jinja.Environment
	lim limits.Limits

	mu    sync.Mutex
	dicts map[string]string
}

// NewRenderer returns a Renderer loading templates with templates and
// bounding dictionaries by lim.DeviceSize.
func NewRenderer(templates jinja.Loader, lim limits.Limits) *Renderer {
	r := &Renderer{lim: lim, dicts: map[string]string{}}
	r.env = jinja.NewEnvironment(jinja.ChainLoader{rendererDicts{r}, templates})
	return r
}

// rendererDicts serves the dictionaries a Renderer was given.
type rendererDicts struct{ r *Renderer }

func (d rendererDicts) Load(name string) (string, string, error) {
	r := d.r
	r.mu.Lock()
	src, ok := r.dicts[name]
	r.mu.Unlock()
	if !ok {
		return "", "", &jinja.NotFoundError{Name: name}
	}
	return src, name, nil
}

// Render is RenderText with the Renderer's templates. A name already
// rendered with another text is refused.
func (r *Renderer) Render(name, src string, ctx *value.Map) (string, error) {
	return r.RenderWith(name, src, ctx, nil)
}

// RenderWith is Render with, besides the job's context ctx, variables the
// server sets itself (LAVA's scheduled_device_name and
// scheduled_device_type), which win over ctx's of the same names and are
// not checked as ctx's values are: they are not the job's.
func (r *Renderer) RenderWith(name, src string, ctx, server *value.Map) (string, error) {
	checked := ctx
	if server != nil && server.Len() > 0 {
		all := value.NewMap()
		checked = value.NewMap()
		if ctx != nil {
			for _, k := range ctx.Keys() {
				all.Set(k, ctx.Value(k))
				if _, own := server.Get(k); !own {
					checked.Set(k, ctx.Value(k))
				}
			}
		}
		for _, k := range server.Keys() {
			all.Set(k, server.Value(k))
		}
		ctx = all
	}
	if max := r.lim.Device().Max; int64(len(src)) > max {
		return "", &limits.Error{What: "device dictionary " + name, Limit: limits.FormatSize(max) + " bytes"}
	}
	r.mu.Lock()
	if old, ok := r.dicts[name]; ok && old != src {
		r.mu.Unlock()
		return "", fmt.Errorf("device dictionary %s: rendered twice with different texts by one renderer", name)
	}
	r.dicts[name] = src
	r.mu.Unlock()
	out, prints, err := r.env.RenderPrints(name, ctx)
	if err != nil {
		return "", err
	}
	if err := checkContextPrints(name, out, prints, checked); err != nil {
		return "", err
	}
	return out, nil
}

// TemplateLoader returns the loader of device-type templates from the
// folders deviceTypeDirs, in order, then the shipped templates, each
// bounded by lim.TemplateSize.
func TemplateLoader(deviceTypeDirs []string, lim limits.Limits) jinja.Loader {
	return jinja.ChainLoader{
		&jinja.DirLoader{Dirs: deviceTypeDirs, MaxSize: lim.Template().Max},
		&jinja.FSLoader{FS: ShippedTemplates(), Prefix: "(basalt)/"},
	}
}

// dictionary serves a device dictionary already read, under its name.
type dictionary struct{ name, file, src string }

func (d dictionary) Load(name string) (string, string, error) {
	if name != d.name {
		return "", "", &jinja.NotFoundError{Name: name}
	}
	return d.src, d.file, nil
}

// IsDictionary reports whether path names a device dictionary (a
// ".jinja2" template) rather than rendered device YAML.
func IsDictionary(path string) bool { return strings.HasSuffix(path, ".jinja2") }

// LoadDevice returns the device configuration at path: rendered device
// YAML (any name not ending in ".jinja2") is parsed as it is; a ".jinja2"
// device dictionary is first rendered with ctx and deviceTypeDirs, as
// Render does. The result is not checked; call Config.Check.
func LoadDevice(path string, ctx *value.Map, deviceTypeDirs []string) (*Config, error) {
	return LoadDeviceLimited(path, ctx, deviceTypeDirs, limits.Limits{})
}

// LoadDeviceLimited is LoadDevice within lim: the file is a regular file
// of at most lim.DeviceSize bytes, each template one of at most
// lim.TemplateSize, and the YAML has at most lim.YAMLNodes nodes.
func LoadDeviceLimited(path string, ctx *value.Map, deviceTypeDirs []string, lim limits.Limits) (*Config, error) {
	if !IsDictionary(path) {
		data, err := lim.Device().Read(path)
		if err != nil {
			return nil, err
		}
		return parseLimited(path, data, lim.Nodes())
	}
	out, err := RenderLimited(path, ctx, deviceTypeDirs, lim)
	if err != nil {
		return nil, err
	}
	c, err := parseLimited(path, []byte(out), lim.Nodes())
	if err != nil {
		return nil, fmt.Errorf("rendered device configuration: %w", err)
	}
	return c, nil
}
