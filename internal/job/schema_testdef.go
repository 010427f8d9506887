package job

import (
	"regexp"

	"github.com/basalt-lava/basalt/internal/value"
)

// TestDefFormat is the only test definition format LAVA knows.
const TestDefFormat = "Lava-Test Test Definition 1.0"

var depsDistroRe = regexp.MustCompile(`^deps-.+`)

// checkTestDef checks a test definition (LAVA's test/testdef.py), here
// an inline one inside a job; it follows the job's strictness, as LAVA
// checks it as part of the job.
func (c *checker) checkTestDef(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	if m := c.mapAt(f.req("metadata"), f.sub("metadata")); m != nil {
		c.oneOf(m.req("format"), m.sub("format"), TestDefFormat)
		c.str(m.req("name"), m.sub("name"))
		c.str(m.opt("description"), m.sub("description"))
		for _, k := range []string{"environment", "devices", "maintainer", "scope", "os"} {
			c.strList(m.opt(k), m.sub(k))
		}
		m.finish()
	}
	if in := c.mapAt(f.opt("install"), f.sub("install")); in != nil {
		for _, k := range []string{"deps", "keys", "steps", "sources"} {
			c.strList(in.opt(k), in.sub(k))
		}
		c.checkGitRepos(in.opt("git-repos"), in.sub("git-repos"))
		ks, vs := in.rest()
		for i, k := range ks {
			if depsDistroRe.MatchString(k.KeyString()) {
				in.allow(k.KeyString())
				c.strList(vs[i], in.sub(k.KeyString()))
			}
		}
		in.finish()
	}
	c.anyMap(f.opt("parameters"), f.sub("parameters"))
	c.anyMap(f.opt("params"), f.sub("params"))
	if p := c.mapAt(f.opt("parse"), f.sub("parse")); p != nil {
		c.checkFixupDict(p.opt("fixupdict"), p.sub("fixupdict"))
		c.str(p.opt("pattern"), p.sub("pattern"))
		p.finish()
	}
	if r := c.mapAt(f.opt("run"), f.sub("run")); r != nil {
		c.strList(r.req("steps"), r.sub("steps"))
		r.finish()
	}
	c.strList(f.opt("expected"), f.sub("expected"))
	f.finish()
}

// checkGitRepos: a URL, or {url, branch, destination}.
func (c *checker) checkGitRepos(n *value.Node, path string) {
	for i, it := range c.list(n, path) {
		ip := indexPath(path, i)
		if it.Kind == value.MapNode {
			f := c.mapAt(it, ip)
			c.str(f.req("url"), f.sub("url"))
			c.str(f.opt("branch"), f.sub("branch"))
			c.str(f.opt("destination"), f.sub("destination"))
			f.finish()
			continue
		}
		c.str(it, ip)
	}
}
