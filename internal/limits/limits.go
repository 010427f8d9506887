// Package limits owns the bounds Basalt puts on input it does not trust:
// the size of each kind of file it is given a path to (a job, a device,
// a device-type template, a test definition, a configuration) and the
// number of nodes in a YAML document. It holds the defaults and why, the
// command-line flags that change them, the errors that name them, and the
// one way to read such a file: a regular file only, opened without
// blocking, never more than the limit. It imports nothing of Basalt's.
package limits

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
)

// Defaults, each generous for what LAVA's formats hold and small enough
// that reading and parsing the largest allowed file takes well under a
// second and tens of megabytes. The largest files of LAVA's own corpus
// are a 5 KB job, a 16 KB rendered device configuration, a 2 KB device
// dictionary and an 18 KB device-type template.
const (
	// DefaultJobSize bounds a job definition (and a --context-file): 200
	// times the largest sample job, room for long inline test scripts.
	DefaultJobSize = 1 << 20
	// DefaultDeviceSize bounds a device dictionary or a rendered device
	// configuration file.
	DefaultDeviceSize = 1 << 20
	// DefaultTemplateSize bounds each device-type template a dictionary
	// extends or includes.
	DefaultTemplateSize = 1 << 20
	// DefaultYAMLNodes bounds the nodes of one YAML document (every key,
	// value and list item, those an alias repeats counted again each
	// time, so "billion laughs" stops here). A 1 MiB document holds at
	// most about 500,000 nodes without aliases.
	DefaultYAMLNodes = 1 << 20
	// YAMLDepth bounds how deep a YAML document nests. It is fixed:
	// LAVA's documents nest about ten deep.
	YAMLDepth = 256
	// TestDefSize bounds a test definition read from a test repository.
	// It is fixed: a definition is a small YAML file.
	TestDefSize = 1 << 20
	// ConfigSize bounds a configuration file Basalt reads (the MultiNode
	// coordinator's). It is fixed.
	ConfigSize = 1 << 20
)

// The flags that change the limits, named in the errors.
const (
	JobSizeFlag      = "max-job-size"
	DeviceSizeFlag   = "max-device-size"
	TemplateSizeFlag = "max-template-size"
	YAMLNodesFlag    = "max-yaml-nodes"
)

// Limits are the limits a command works within. A zero field means its
// default, so the zero value is the defaults.
type Limits struct {
	// JobSize is the largest job definition read, in bytes.
	JobSize int64
	// DeviceSize is the largest device dictionary or rendered device
	// configuration read, in bytes.
	DeviceSize int64
	// TemplateSize is the largest device-type template read, in bytes.
	TemplateSize int64
	// YAMLNodes is the most nodes a YAML document may have.
	YAMLNodes int
}

// Defaults returns the default limits with every field set.
func Defaults() Limits {
	return Limits{JobSize: DefaultJobSize, DeviceSize: DefaultDeviceSize, TemplateSize: DefaultTemplateSize, YAMLNodes: DefaultYAMLNodes}
}

// OrDefaults returns l with each zero field set to its default.
func (l Limits) OrDefaults() Limits {
	d := Defaults()
	if l.JobSize <= 0 {
		l.JobSize = d.JobSize
	}
	if l.DeviceSize <= 0 {
		l.DeviceSize = d.DeviceSize
	}
	if l.TemplateSize <= 0 {
		l.TemplateSize = d.TemplateSize
	}
	if l.YAMLNodes <= 0 {
		l.YAMLNodes = d.YAMLNodes
	}
	return l
}

// Job is the job definition's file limit.
func (l Limits) Job() File {
	return File{What: "job definition", Max: l.OrDefaults().JobSize, Flag: JobSizeFlag}
}

// Device is the device dictionary's or configuration's file limit.
func (l Limits) Device() File {
	return File{What: "device file", Max: l.OrDefaults().DeviceSize, Flag: DeviceSizeFlag}
}

// Template is a device-type template's file limit.
func (l Limits) Template() File {
	return File{What: "device-type template", Max: l.OrDefaults().TemplateSize, Flag: TemplateSizeFlag}
}

// Nodes is the YAML node limit.
func (l Limits) Nodes() int { return l.OrDefaults().YAMLNodes }

// AddFlags registers the flags that change l on fs (--max-job-size,
// --max-device-size, --max-template-size, --max-yaml-nodes), with l's
// values (or the defaults) as theirs.
func (l *Limits) AddFlags(fs *flag.FlagSet) {
	*l = l.OrDefaults()
	fs.Var((*sizeFlag)(&l.JobSize), JobSizeFlag, "largest job definition (and --context-file) read, a `size` in bytes; K, M and G multiply by 1024")
	fs.Var((*sizeFlag)(&l.DeviceSize), DeviceSizeFlag, "largest device dictionary or device configuration file read, a `size` in bytes (K, M, G)")
	fs.Var((*sizeFlag)(&l.TemplateSize), TemplateSizeFlag, "largest device-type template read, a `size` in bytes (K, M, G)")
	fs.Var((*countFlag)(&l.YAMLNodes), YAMLNodesFlag, "most `nodes` (keys, values, list items; an alias counts the nodes it repeats) in the job's or the device's YAML document")
}

// FormatSize writes a byte count the way the flags take it: "1M",
// "512K", or bytes.
func FormatSize(n int64) string {
	for _, u := range []struct {
		s string
		n int64
	}{{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n >= u.n && n%u.n == 0 {
			return strconv.FormatInt(n/u.n, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}

// ParseSize reads a byte count: digits, optionally followed by K, M or
// G, which multiply by 1024 each ("KiB", "MB" and "MiB" are read the same
// way, and a final "B" alone means bytes).
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "B")
	mult := int64(1)
	if u := strings.TrimSuffix(t, "I"); u != "" {
		if n, ok := map[byte]int64{'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30}[u[len(u)-1]]; ok {
			t, mult = u[:len(u)-1], n
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive size (bytes, or a number followed by K, M or G)", s)
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * mult, nil
}

type sizeFlag int64

func (f *sizeFlag) String() string { return FormatSize(int64(*f)) }

func (f *sizeFlag) Set(s string) error {
	n, err := ParseSize(s)
	if err != nil {
		return err
	}
	*f = sizeFlag(n)
	return nil
}

type countFlag int

func (f *countFlag) String() string { return strconv.Itoa(int(*f)) }

func (f *countFlag) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n <= 0 {
		return fmt.Errorf("%q is not a positive whole number", s)
	}
	*f = countFlag(n)
	return nil
}
