package lxc

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/basalt-lava/basalt/internal/binfmt"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/process"
)

// ImageSource is where LXC's download template fetches the pre-built
// root file systems it makes containers from (LAVA's "downloading a
// pre-built chroot"): the worker's or the user's configuration (basalt
// run and basalt worker's --lxc-image-server, --lxc-image-ca,
// --lxc-image-cache), never the job's, since the server decides what
// code runs as root in the container. The zero value is LXC's own
// defaults: images.linuxcontainers.org over HTTPS with the system's
// certificate authorities, the cache in /var/cache/lxc.
type ImageSource struct {
	// Server is the image server as the template takes it: host, port
	// and optional path prefix ("images.example.org",
	// "127.0.0.1:8443/lxc"), which the template reaches over HTTPS
	// (LXC 5's template has no other scheme and no signature check: the
	// certificate is the check).
	Server string
	// CAFile is a PEM file of the certificate authorities wget trusts
	// for the server, instead of the system's ("" keeps the system's).
	CAFile string
	// CacheDir is where the template keeps downloaded images between
	// jobs (LXC_CACHE_PATH): the image is downloaded once and each
	// later container of it made from the cache, until the image's
	// expiry. "" is LXC's /var/cache/lxc.
	CacheDir string
}

// serverRe is a host[:port][/path] the template puts after https://.
var serverRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$`)

// ParseImageServer reads --lxc-image-server: host[:port][/path], or the
// same as an https:// URL. Other schemes are refused (the template
// speaks only HTTPS), as are credentials, queries and anything a shell
// or wget could misread.
func ParseImageServer(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", fmt.Errorf("--lxc-image-server %q: %v", s, err)
		}
		if u.Scheme != "https" {
			return "", fmt.Errorf("--lxc-image-server %q: LXC's download template fetches over https only", s)
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return "", fmt.Errorf("--lxc-image-server %q: give host[:port][/path] only (no credentials, query or fragment)", s)
		}
		s = u.Host + u.Path
	}
	s = strings.TrimRight(s, "/")
	if len(s) > MaxURLLen || !serverRe.MatchString(s) {
		return "", fmt.Errorf("--lxc-image-server %q: expected host[:port][/path] (letters, digits, '.', '-', '_', '~', '/')", s)
	}
	return s, nil
}

// Check verifies the source's files: the CA file is readable, the
// cache folder is absolute. Paths holding a newline are refused: they
// go into a wgetrc line.
func (s ImageSource) Check() error {
	if s.CAFile != "" {
		if strings.ContainsAny(s.CAFile, "\n\r") {
			return fmt.Errorf("--lxc-image-ca %q: a newline in a path", s.CAFile)
		}
		if _, err := os.ReadFile(s.CAFile); err != nil {
			return fmt.Errorf("--lxc-image-ca: %v", err)
		}
	}
	if s.CacheDir != "" && (!filepath.IsAbs(s.CacheDir) || strings.ContainsAny(s.CacheDir, "\n\r")) {
		return fmt.Errorf("--lxc-image-cache %q: give an absolute path", s.CacheDir)
	}
	return nil
}

// Configure gives the job's lava-lxc protocol, when the job has one,
// the image source: it is what a front end passes as the dispatcher's
// RunConfig.Configure. A job whose lava-lxc block is wrong was refused
// at validation; here it is left for the deploy to report.
func (s ImageSource) Configure(j *pipeline.Job) {
	if !Requested(j.Params) {
		return
	}
	if p, err := Of(j); err == nil {
		p.Images = s
	}
}

// templateArgs are the download template's options naming the server.
func (s ImageSource) templateArgs() []string {
	if s.Server == "" {
		return nil
	}
	return []string{"--server", s.Server}
}

// env is the environment lxc-create passes to the download template:
// WGETRC naming a file in dir that trusts CAFile, LXC_CACHE_PATH.
func (s ImageSource) env(dir string) ([]string, error) {
	var env []string
	if s.CAFile != "" {
		abs, err := filepath.Abs(s.CAFile)
		if err != nil {
			return nil, err
		}
		rc := filepath.Join(dir, "wgetrc")
		if err := os.WriteFile(rc, []byte("ca_certificate = "+abs+"\n"), 0o644); err != nil {
			return nil, err
		}
		env = append(env, "WGETRC="+rc)
	}
	if s.CacheDir != "" {
		env = append(env, "LXC_CACHE_PATH="+s.CacheDir)
	}
	return env, nil
}

// Create runs lxc-create for the container c with the LXC
// configuration configFile, dir being the job's scratch folder for the
// template's settings. For the download template the source names the
// server, the certificate authorities and the cache.
func (s ImageSource) Create(ctx context.Context, log *joblog.Logger, c Config, configFile, dir string) (string, error) {
	args := c.CreateArgs(configFile)
	var env []string
	if c.Template == "download" {
		args = append(args, s.templateArgs()...)
		var err error
		if env, err = s.env(dir); err != nil {
			return "", fmt.Errorf("preparing the download template's settings: %v", err)
		}
	}
	return commandWithEnv(ctx, log, env, "lxc-create", args...)
}

// Describe says where the download template fetches from, for the log.
func (s ImageSource) Describe() string {
	server := s.Server
	if server == "" {
		server = "images.linuxcontainers.org"
	}
	cache := s.CacheDir
	if cache == "" {
		cache = "/var/cache/lxc"
	}
	return fmt.Sprintf("https://%s (image cache %s)", server, cache)
}

// CheckArch checks, before anything is created, that this host can run
// the programs of the container's architecture: natively, or through a
// binfmt_misc handler (qemu-user) with the F flag, which makes the
// interpreter work inside the container without being in its root file
// system. It returns what to log about it; the error names what is
// missing. dir is binfmt_misc's folder ("" for the default).
func CheckArch(c Config, dir string) (string, error) {
	// The busybox template copies the host's busybox: no arch to check.
	if c.Arch == "" || c.Template == "busybox" {
		return "", nil
	}
	a, ok := binfmt.Lookup(c.Arch)
	if !ok {
		return fmt.Sprintf("architecture %s is not one Basalt knows: whether this host can run it is not checked", c.Arch), nil
	}
	if binfmt.Native(a) {
		return "", nil
	}
	h, err := binfmt.For(dir, a)
	if err != nil {
		return "", fmt.Errorf("arch %s is foreign to this %s host and cannot run here: %v", c.Arch, binfmt.Host().Name, err)
	}
	if !h.FixBinary() {
		return "", fmt.Errorf("arch %s: the binfmt_misc handler %s has no F flag, so its interpreter %s would be looked for inside the container: register it with the F flag (Debian's qemu-user-static does)",
			c.Arch, h.Name, h.Interpreter)
	}
	return fmt.Sprintf("arch %s is foreign to this %s host: its programs run through binfmt_misc's %s (%s)", c.Arch, binfmt.Host().Name, h.Name, h.Interpreter), nil
}

// commandWithEnv is Command with extra environment variables.
func commandWithEnv(ctx context.Context, log *joblog.Logger, extra []string, tool string, args ...string) (string, error) {
	if log == nil {
		log = joblog.Discard()
	}
	argv := append([]string{tool}, args...)
	log.Debugf("Calling: %s", strings.Join(quoteAll(argv), " "))
	var tail tailBuffer
	out := process.NewLineWriter(func(line string) {
		log.Debugf(">> %s", line)
		tail.add(line)
	})
	err := process.Run(ctx, process.Spec{Argv: argv, Stdout: out, Stderr: out, Env: append(commandEnv(), extra...)})
	out.Flush()
	return tail.String(), err
}
