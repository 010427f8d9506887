// Package lxc is the lava-lxc protocol as LAVA defined it (LAVA dropped
// it in 2026; Basalt keeps it): the job's `protocols: lava-lxc:` block
// describing one container that the job's `deploy to: lxc` creates, its
// `boot method: lxc` starts and its test shell runs in (lxc-attach), and
// that is stopped and destroyed when the job ends whatever happened,
// unless the job asked for it to persist.
//
// Every field of the block comes from the job and is hostile: each is
// checked against a pattern and a length limit here, before anything runs,
// and the commands are built as argument lists (never through a shell)
// with every job value placed where an option cannot be (after -n, or
// after the `--` that ends lxc-create's own options, and never starting
// with "-").
//
// Where the download template fetches its images is the host's setting
// (ImageSource: basalt run's and basalt worker's --lxc-image-server,
// --lxc-image-ca, --lxc-image-cache), never the job's; a container of a
// foreign architecture is checked against binfmt_misc before it is
// created (CheckArch, internal/binfmt).
package lxc

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/basalt-lava/basalt/internal/value"
)

// ProtocolName is the protocol's key in a job's protocols.
const ProtocolName = "lava-lxc"

// Limits on the job's values, named in the errors.
const (
	// MaxNameLen bounds the container's full name (the job's name with
	// the job id appended): LXC uses it as the container's host name,
	// which Linux limits to 64 bytes with its terminating NUL.
	MaxNameLen = 63
	// MaxWordLen bounds distribution, release and arch.
	MaxWordLen = 64
	// MaxURLLen bounds mirror and security_mirror.
	MaxURLLen = 1024
)

// Templates are the LXC templates a job may name. LAVA documented
// download and debian (and passed mirrors to debian and ubuntu); busybox
// is Basalt's addition, the one that needs no network (it copies the
// host's busybox). A template is a name, never a path: lxc-create runs
// a template given as a path as a script.
var Templates = []string{"download", "debian", "ubuntu", "busybox"}

// templatesWithMirror take --release and the mirrors (LAVA's
// LXC_TEMPLATE_WITH_MIRROR); download takes --dist, --release, --arch;
// busybox takes nothing from the job.
var templatesWithMirror = []string{"debian", "ubuntu"}

// DefaultPackages are what LAVA had the debian and ubuntu templates
// install in every container (LXC_DEFAULT_PACKAGES).
const DefaultPackages = "systemd,systemd-sysv"

var (
	// nameRe is what a container name may hold: LXC itself refuses only
	// "/" and an empty name, but the name becomes a folder, a host name
	// and an argument, so Basalt keeps to host-name characters plus "_"
	// and ".", starting with a letter or digit (never "-", an option).
	nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	// wordRe is a distribution, release or architecture: "debian",
	// "bookworm", "22.04", "amd64", "armhf".
	wordRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+~-]*$`)
	// jobIDRe is the part appended to the name.
	jobIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// Config is one checked lava-lxc block.
type Config struct {
	// Name is the container's name: the job's name with "-<job id>"
	// appended, or the job's name alone for a persistent container (so
	// the next job finds it, as in LAVA).
	Name string
	// Template is one of Templates; "download" when the job names none.
	Template       string
	Distribution   string
	Release        string
	Arch           string // "" when the job names none
	Mirror         string // "" when the job names none
	SecurityMirror string // "" when the job names none
	Verbose        bool
	Persist        bool
}

// Requested reports whether the job has a lava-lxc block.
func Requested(job *value.Map) bool {
	return job.Map("protocols").Has(ProtocolName)
}

// FromJob reads and checks the job's lava-lxc block for the job with id
// jobID. The error names the field, what is wrong and the limit.
func FromJob(job *value.Map, jobID string) (Config, error) {
	block, ok := job.Map("protocols").Value(ProtocolName).(*value.Map)
	if !ok {
		return Config{}, fmt.Errorf("protocols.%s: expected a map describing the container", ProtocolName)
	}
	return Parse(block, jobID)
}

// Parse checks one lava-lxc block (name, template, distribution,
// release, arch, mirror, security_mirror, verbose, persist).
func Parse(block *value.Map, jobID string) (Config, error) {
	var c Config
	var err error
	field := func(key string, required bool) string {
		if err != nil {
			return ""
		}
		v, ok := block.Get(key)
		if !ok {
			if required {
				err = fmt.Errorf("protocols.%s.%s is required", ProtocolName, key)
			}
			return ""
		}
		s, isStr := v.(string)
		if !isStr {
			err = fmt.Errorf("protocols.%s.%s: expected a string (quote a number), got %s", ProtocolName, key, value.GoString(v))
			return ""
		}
		return s
	}
	flag := func(key string) bool {
		if err != nil {
			return false
		}
		v, ok := block.Get(key)
		if !ok {
			return false
		}
		b, isBool := v.(bool)
		if !isBool {
			err = fmt.Errorf("protocols.%s.%s: expected true or false, got %s", ProtocolName, key, value.GoString(v))
		}
		return b
	}
	name := field("name", true)
	c.Template = field("template", false)
	c.Distribution = field("distribution", true)
	c.Release = field("release", true)
	c.Arch = field("arch", false)
	c.Mirror = field("mirror", false)
	c.SecurityMirror = field("security_mirror", false)
	c.Verbose = flag("verbose")
	c.Persist = flag("persist")
	if err != nil {
		return Config{}, err
	}
	if c.Template == "" {
		c.Template = "download"
	}
	if !slices.Contains(Templates, c.Template) {
		return Config{}, fmt.Errorf("protocols.%s.template: %q is not one of the supported templates (%s)",
			ProtocolName, c.Template, strings.Join(Templates, ", "))
	}
	c.Name = name
	if !c.Persist {
		if !jobIDRe.MatchString(jobID) {
			return Config{}, fmt.Errorf("protocols.%s.name: the job id %q cannot be part of a container name", ProtocolName, jobID)
		}
		c.Name = name + "-" + jobID
	}
	if !nameRe.MatchString(name) {
		return Config{}, fmt.Errorf("protocols.%s.name: %q is not a valid container name (letters, digits, '_', '.', '-', starting with a letter or digit)",
			ProtocolName, name)
	}
	if len(c.Name) > MaxNameLen {
		return Config{}, fmt.Errorf("protocols.%s.name: the container name %q is %d characters long, more than the limit of %d (the job id is appended unless persist is set)",
			ProtocolName, c.Name, len(c.Name), MaxNameLen)
	}
	for _, w := range []struct{ key, v string }{
		{"distribution", c.Distribution}, {"release", c.Release}, {"arch", c.Arch},
	} {
		if w.v == "" && w.key == "arch" {
			continue
		}
		if len(w.v) > MaxWordLen {
			return Config{}, fmt.Errorf("protocols.%s.%s: %d characters, more than the limit of %d", ProtocolName, w.key, len(w.v), MaxWordLen)
		}
		if !wordRe.MatchString(w.v) {
			return Config{}, fmt.Errorf("protocols.%s.%s: %q is not valid (letters, digits, '.', '_', '+', '~', '-', starting with a letter or digit)",
				ProtocolName, w.key, w.v)
		}
	}
	for _, m := range []struct{ key, v string }{{"mirror", c.Mirror}, {"security_mirror", c.SecurityMirror}} {
		if m.v == "" {
			continue
		}
		if err := checkMirror(m.v); err != nil {
			return Config{}, fmt.Errorf("protocols.%s.%s: %v", ProtocolName, m.key, err)
		}
	}
	return c, nil
}

// checkMirror accepts an http, https or ftp URL with a host and nothing
// a command line or an apt sources line could misread: no spaces or
// control characters, no quotes, no option-like start.
func checkMirror(s string) error {
	if len(s) > MaxURLLen {
		return fmt.Errorf("%d characters, more than the limit of %d", len(s), MaxURLLen)
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r > 0x7e || strings.ContainsRune(`"'\`+"`", r) {
			return fmt.Errorf("%q holds a character not allowed in a mirror URL (%q)", s, r)
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", s, err)
	}
	switch u.Scheme {
	case "http", "https", "ftp":
	default:
		return fmt.Errorf("%q: the scheme must be http, https or ftp", s)
	}
	if u.Host == "" || strings.HasPrefix(u.Host, "-") {
		return fmt.Errorf("%q has no valid host", s)
	}
	if u.User != nil {
		return fmt.Errorf("%q: credentials in a mirror URL are not allowed (they would be logged)", s)
	}
	return nil
}

// CreateArgs are lxc-create's arguments (without the program) for the
// container, in LAVA's order: quiet unless verbose, the template, the
// name, then after "--" the template's own options. configFile, when
// not empty, is the LXC configuration the container starts from (-f).
func (c Config) CreateArgs(configFile string) []string {
	args := []string{}
	if !c.Verbose {
		args = append(args, "-q")
	}
	args = append(args, "-t", c.Template, "-n", c.Name)
	if configFile != "" {
		args = append(args, "-f", configFile)
	}
	switch {
	case slices.Contains(templatesWithMirror, c.Template):
		args = append(args, "--", "--release", c.Release)
		if c.Mirror != "" {
			args = append(args, "--mirror", c.Mirror)
		}
		if c.SecurityMirror != "" {
			args = append(args, "--security-mirror", c.SecurityMirror)
		}
		args = append(args, "--packages", DefaultPackages)
		if c.Arch != "" {
			args = append(args, "--arch", c.Arch)
		}
	case c.Template == "download":
		args = append(args, "--", "--dist", c.Distribution, "--release", c.Release)
		if c.Arch != "" {
			args = append(args, "--arch", c.Arch)
		}
	}
	return args
}

// NeedsNetwork reports whether creating the container downloads
// anything: the download template fetches images from
// images.linuxcontainers.org, debian and ubuntu run debootstrap against
// the mirror; busybox copies the host's busybox.
func (c Config) NeedsNetwork() bool { return c.Template != "busybox" }
