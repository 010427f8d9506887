package dispatcher

import (
	"errors"
	"fmt"

	"github.com/basalt-lava/basalt/internal/device"
	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/value"
)

// The names PrepareBytes gives the texts in diagnostics: the files
// LAVA's worker writes them to before it starts lava-run.
const (
	DefaultJobName    = "job.yaml"
	DefaultDeviceName = "device.yaml"
)

// Source is a job definition or a device configuration: a file, or text
// a front end received (a worker gets both from the server).
type Source struct {
	// Path is the file to read when Text is nil. A device file is
	// rendered device YAML, or a device dictionary when it ends in
	// ".jinja2" (rendered with the job's context).
	Path string
	// Text is the content itself. Device text is rendered device YAML:
	// a dictionary needs its templates, which only a path can find.
	Text []byte
	// Name labels Text in diagnostics and the log ("job.yaml" or
	// "device.yaml" when empty); a Path is its own label.
	Name string
}

// IsZero reports whether s names nothing: for a device, check the job
// alone.
func (s Source) IsZero() bool { return s.Path == "" && s.Text == nil }

// Label is the name diagnostics give the source.
func (s Source) Label(fallback string) string {
	switch {
	case s.Text == nil && s.Path != "":
		return s.Path
	case s.Name != "":
		return s.Name
	}
	return fallback
}

// PrepareBytes is Prepare for a job definition and a rendered device
// configuration given as text (deviceText nil: the job alone).
// Diagnostics name them job.yaml and device.yaml.
func PrepareBytes(jobText, deviceText []byte, opts Options) (*Prepared, error) {
	return PrepareSources(Source{Text: jobText}, Source{Text: deviceText}, opts)
}

// PrepareSources is Prepare for a job and a device each given as a file
// or as text (a zero device Source: the job alone). The error is only for
// a file that cannot be read.
func PrepareSources(jobSrc, deviceSrc Source, opts Options) (*Prepared, error) {
	return prepare(sources{jobSrc, deviceSrc}, opts)
}

// sources is what prepare reads: Prepare and PrepareBytes differ only
// in where the job and the device come from.
type sources struct {
	job, device Source
}

func files(jobPath, devicePath string) sources {
	return sources{Source{Path: jobPath}, Source{Path: devicePath}}
}

// deviceName is the device's label, "" when there is no device.
func (s sources) deviceName() string {
	if s.device.IsZero() {
		return ""
	}
	return s.device.Label(DefaultDeviceName)
}

// loadJob reads and checks the job; the error is only for a file that
// cannot be read, as job.Load's.
func (s sources) loadJob(opts job.Options) (*job.Job, []job.Diagnostic, error) {
	if s.job.Text == nil {
		if s.job.Path == "" {
			return nil, nil, errors.New("no job definition given")
		}
		return job.Load(s.job.Path, opts)
	}
	j, diags := job.Parse(s.job.Label(DefaultJobName), s.job.Text, opts)
	return j, diags, nil
}

// loadDevice returns the device configuration, rendering a dictionary
// with ctx (the job's context).
func (s sources) loadDevice(ctx *value.Map, deviceTypeDirs []string, lim limits.Limits) (*device.Config, error) {
	if s.device.Text == nil {
		return device.LoadDeviceLimited(s.device.Path, ctx, deviceTypeDirs, lim)
	}
	return parseDevice(s.deviceName(), s.device.Text, lim.Nodes())
}

// parseDevice parses rendered device YAML given as text; errors name the
// label, and the line and column of a syntax error, as device.LoadDevice
// does for a file.
func parseDevice(label string, text []byte, maxNodes int) (*device.Config, error) {
	doc, err := value.ParseYAMLLimit(text, maxNodes)
	if err != nil {
		var se *value.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%s:%d:%d: %s", label, se.Pos.Line, se.Pos.Col, se.Msg)
		}
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	if doc.Root == nil {
		return nil, fmt.Errorf("%s: empty device configuration", label)
	}
	m, ok := doc.Root.Value().(*value.Map)
	if !ok {
		return nil, fmt.Errorf("%s:%d:%d: a device configuration must be a mapping", label, doc.Root.Pos.Line, doc.Root.Pos.Col)
	}
	return &device.Config{Data: m}, nil
}
