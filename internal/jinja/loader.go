package jinja

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/basalt-lava/basalt/internal/limits"
)

// Loader finds template sources by name. Names are slash-separated and
// relative ("base.jinja2", "sub/x.jinja2"), as in {% extends %}.
//
// Load returns the source and the file name to use in error messages.
// A template that does not exist is reported as a *NotFoundError so that
// loaders can be chained; any other error stops the search.
type Loader interface {
	Load(name string) (source, file string, err error)
}

// cleanName splits a template name into its path elements, refusing
// anything that could leave the loader's folders: "..", absolute paths,
// backslashes and NUL bytes. "." and empty elements are dropped, as
// Jinja2's split_template_path does.
func cleanName(name string) (string, bool) {
	if name == "" || strings.ContainsAny(name, "\\\x00") || strings.HasPrefix(name, "/") {
		return "", false
	}
	var parts []string
	for _, p := range strings.Split(name, "/") {
		switch p {
		case "", ".":
			continue
		case "..":
			return "", false
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "", false
	}
	return path.Join(parts...), true
}

// DirLoader loads templates from folders searched in order; the first
// folder holding the name wins. It is the sandbox's file boundary: names
// with "..", absolute names, and symbolic links that point outside a
// folder are refused (os.Root enforces the last). A template must be a
// regular file of at most MaxSize bytes: a named pipe or a device is
// refused without blocking on it or reading it (limits.File.ReadIn).
type DirLoader struct {
	Dirs []string
	// MaxSize bounds each template; 0 is limits.DefaultTemplateSize.
	MaxSize int64
}

var _ Loader = (*DirLoader)(nil)

// NewDirLoader returns a loader over dirs, searched in order.
func NewDirLoader(dirs ...string) *DirLoader { return &DirLoader{Dirs: dirs} }

// Load implements Loader.
func (l *DirLoader) Load(name string) (string, string, error) {
	clean, ok := cleanName(name)
	if !ok {
		return "", "", &NotFoundError{Name: name}
	}
	for _, dir := range l.Dirs {
		src, err := readInRoot(dir, clean, limits.Limits{TemplateSize: l.MaxSize}.Template())
		if err == nil {
			return src, filepath.Join(dir, filepath.FromSlash(clean)), nil
		}
		if errors.Is(err, fs.ErrNotExist) || isEscape(err) {
			continue
		}
		return "", "", err
	}
	return "", "", &NotFoundError{Name: name}
}

func readInRoot(dir, name string, bound limits.File) (string, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fs.ErrNotExist
		}
		return "", err
	}
	defer root.Close()
	b, err := bound.ReadIn(root, name)
	var nr *limits.NotRegularError
	var le *limits.Error
	switch {
	case errors.As(err, &nr) && nr.Mode.IsDir():
		return "", fs.ErrNotExist
	case errors.As(err, &nr):
		nr.Path = filepath.Join(dir, name)
	case errors.As(err, &le):
		le.Path = filepath.Join(dir, name)
	}
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// isEscape reports whether err is os.Root refusing a path that leaves
// the folder (through a symbolic link); such a name is simply not found
// in that folder.
func isEscape(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "escapes")
}

// FSLoader loads templates from an fs.FS, such as an embedded folder.
// fs.FS paths cannot leave their file system, so no further sandboxing
// is needed.
type FSLoader struct {
	FS fs.FS
	// Prefix is shown before names in error messages ("embedded:").
	Prefix string
}

var _ Loader = (*FSLoader)(nil)

// Load implements Loader.
func (l *FSLoader) Load(name string) (string, string, error) {
	clean, ok := cleanName(name)
	if !ok || l.FS == nil {
		return "", "", &NotFoundError{Name: name}
	}
	b, err := fs.ReadFile(l.FS, clean)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
			return "", "", &NotFoundError{Name: name}
		}
		var pe *fs.PathError
		if errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "directory") {
			return "", "", &NotFoundError{Name: name}
		}
		return "", "", err
	}
	return string(b), l.Prefix + clean, nil
}

// ChainLoader tries each loader in turn; the first that has the name
// wins.
type ChainLoader []Loader

var _ Loader = ChainLoader(nil)

// Load implements Loader.
func (c ChainLoader) Load(name string) (string, string, error) {
	for _, l := range c {
		src, file, err := l.Load(name)
		var nf *NotFoundError
		if errors.As(err, &nf) {
			continue
		}
		return src, file, err
	}
	return "", "", &NotFoundError{Name: name}
}

// MapLoader serves templates from memory, keyed by name; handy for tests
// and for rendering a string.
type MapLoader map[string]string

var _ Loader = MapLoader(nil)

// Load implements Loader.
func (m MapLoader) Load(name string) (string, string, error) {
	src, ok := m[name]
	if !ok {
		return "", "", &NotFoundError{Name: name}
	}
	return src, name, nil
}
