package job

import (
	"math"
	"regexp"

	"github.com/basalt-lava/basalt/internal/value"
)

// reservedNamespaces are used by LAVA itself.
var reservedNamespaces = []string{"common", "docker-test-shell"}

// checkActionCommon checks the keys every action block accepts (LAVA's
// action()).
func (c *checker) checkActionCommon(f *fields) {
	if ns := f.opt("namespace"); ns != nil {
		if s, ok := c.str(ns, f.sub("namespace")); ok {
			for _, r := range reservedNamespaces {
				if s == r {
					c.errorf(ns, f.sub("namespace"), "%q is a reserved namespace name ('common' and 'docker-test-shell' are LAVA's own)", s)
				}
			}
		}
	}
	c.str(f.opt("connection-namespace"), f.sub("connection-namespace"))
	f.allow("protocols") // action-level protocol calls: free-form
	if c.subJob {
		c.str(f.opt("role"), f.sub("role"))
	} else {
		c.strList(f.opt("role"), f.sub("role"))
	}
	c.checkTimeout(f.opt("timeout"), f.sub("timeout"))
	c.checkNamedTimeouts(f.opt("timeouts"), f.sub("timeouts"))
	for _, k := range []string{"repeat", "failure_retry", "failure_retry_interval"} {
		c.integer(f.opt(k), f.sub(k), 1)
	}
}

// dockerImageRe is LAVA's docker image name format.
var dockerImageRe = regexp.MustCompile(`^[a-z0-9]+[a-z0-9._/:-]*[a-z0-9]+(:[a-zA-Z0-9_]+[a-zA-Z0-9._-]*)?$`)

// checkDocker checks a docker block (LAVA's docker()); imageKey is
// "image", or "name" for FVP models. more checks method-specific keys.
func (c *checker) checkDocker(n *value.Node, path, imageKey string, more func(*fields)) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	c.matches(f.req(imageKey), f.sub(imageKey), dockerImageRe, "docker image name")
	c.boolean(f.opt("local"), f.sub("local"))
	c.str(f.opt("container_name"), f.sub("container_name"))
	c.str(f.opt("network_from"), f.sub("network_from"))
	if l := c.mapAt(f.opt("login"), f.sub("login")); l != nil {
		for _, k := range []string{"registry", "user", "password"} {
			c.str(l.opt(k), l.sub(k))
		}
		l.finish()
	}
	if more != nil {
		more(f)
	}
	f.finish()
}

// urlKeys checks the keys of a downloadable resource.
func (c *checker) urlKeys(f *fields) {
	c.str(f.req("url"), f.sub("url"))
	c.anyMap(f.opt("headers"), f.sub("headers"))
	if n := f.opt("compression"); n != nil && n.Scalar != nil {
		c.oneOf(n, f.sub("compression"), "bz2", "gz", "xz", "zip", "zstd")
	}
	c.oneOf(f.opt("archive"), f.sub("archive"), "tar")
	for _, k := range []string{"md5sum", "sha256sum", "sha512sum"} {
		c.str(f.opt(k), f.sub(k))
	}
	c.boolean(f.opt("use_cache"), f.sub("use_cache"))
}

// checkURL checks a downloadable resource (LAVA's deploy.url()): url and
// checksums, plus the keys extra adds for this deploy method. With
// overlays, the image is a filesystem that LAVA modifies: format is then
// required.
func (c *checker) checkURL(n *value.Node, path string, extra func(*fields)) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	c.urlKeys(f)
	if extra != nil {
		extra(f)
	}
	if f.has("overlays") {
		c.oneOf(f.req("format"), f.sub("format"), "cpio.newc", "ext4", "tar")
		c.integer(f.opt("partition"), f.sub("partition"), math.MinInt)
		c.boolean(f.opt("sparse"), f.sub("sparse"))
		c.oneOf(f.opt("overlay_backend"), f.sub("overlay_backend"), "auto", "e2fsprogs", "guestfs")
		if ov := c.mapAt(f.req("overlays"), f.sub("overlays")); ov != nil {
			c.boolean(ov.opt("lava"), ov.sub("lava"))
			ks, vs := ov.rest()
			for i, k := range ks {
				of := c.mapAt(vs[i], keyPath(ov.path, k.KeyString()))
				if of == nil {
					continue
				}
				c.urlKeys(of)
				c.oneOf(of.req("format"), of.sub("format"), "file", "tar")
				c.str(of.req("path"), of.sub("path"))
				of.finish()
			}
		}
	}
	f.finish()
}

// checkImages checks a map of named resources; LAVA requires at least one
// ("'images' is empty") unless mayBeEmpty.
func (c *checker) checkImages(n *value.Node, path string, mayBeEmpty bool, extra func(*fields)) *fields {
	f := c.mapAt(n, path)
	if f == nil {
		return nil
	}
	ks, vs := f.keys()
	if len(ks) == 0 && !mayBeEmpty {
		c.errorf(n, path, "no images: at least one is needed")
	}
	for i, k := range ks {
		c.checkURL(vs[i], keyPath(path, k.KeyString()), extra)
	}
	return f
}

// Boot helpers (LAVA's boot/__init__.py).

// checkPrompts: a non-empty string or a list of them.
func (c *checker) checkPrompts(n *value.Node, path string) {
	if n == nil {
		return
	}
	if n.Kind == value.ListNode {
		c.nonEmptyStrList(n, path)
		return
	}
	if _, ok := n.Scalar.(string); !ok || n.Kind != value.ScalarNode {
		c.errorf(n, path, "expected a prompt string or a list of prompts, got %s", describe(n))
		return
	}
	c.nonEmptyStr(n, path)
}

// checkAutoLogin: login_prompt and username, and password_prompt with
// password when the login needs a password.
func (c *checker) checkAutoLogin(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	c.nonEmptyStr(f.req("login_prompt"), f.sub("login_prompt"))
	c.str(f.req("username"), f.sub("username"))
	if f.has("password_prompt") || f.has("password") {
		c.str(f.req("password_prompt"), f.sub("password_prompt"))
		c.str(f.req("password"), f.sub("password"))
		c.strList(f.opt("login_commands"), f.sub("login_commands"))
		c.boolean(f.opt("ignore_kernel_messages"), f.sub("ignore_kernel_messages"))
	} else {
		c.nonEmptyStrList(f.opt("login_commands"), f.sub("login_commands"))
	}
	f.finish()
}

// checkTransferOverlay: a download and an unpack command, or zmodem.
func (c *checker) checkTransferOverlay(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	tm := f.opt("transfer_method")
	c.str(tm, f.sub("transfer_method"))
	if nodeString(tm) != "zmodem" || f.has("download_command") {
		c.str(f.req("download_command"), f.sub("download_command"))
	}
	c.str(f.req("unpack_command"), f.sub("unpack_command"))
	f.finish()
}
