package job

import (
	"github.com/basalt-lava/basalt/internal/value"
)

// checkNotify checks the notify block (used by the server only).
func (c *checker) checkNotify(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	c.checkCriteria(f.req("criteria"), f.sub("criteria"))
	c.oneOf(f.opt("verbosity"), f.sub("verbosity"), "verbose", "quiet", "status-only")
	for i, r := range c.list(f.opt("recipients"), f.sub("recipients")) {
		rp := indexPath(f.sub("recipients"), i)
		rf := c.mapAt(r, rp)
		if rf == nil {
			continue
		}
		if to := c.mapAt(rf.req("to"), rf.sub("to")); to != nil {
			c.oneOf(to.req("method"), to.sub("method"), "email", "irc")
			for _, k := range []string{"user", "email", "handle", "server"} {
				c.str(to.opt(k), to.sub(k))
			}
			to.finish()
		}
		rf.finish()
	}
	cb, cbs := f.opt("callback"), f.opt("callbacks")
	if cb != nil && cbs != nil {
		c.errorf(f.n.KeyNode("callbacks"), f.sub("callbacks"), "callback and callbacks are exclusive; use callbacks only")
	}
	c.checkCallback(cb, f.sub("callback"))
	for i, it := range c.list(cbs, f.sub("callbacks")) {
		c.checkCallback(it, indexPath(f.sub("callbacks"), i))
	}
	if cmp := c.mapAt(f.opt("compare"), f.sub("compare")); cmp != nil {
		c.strList(cmp.opt("blacklist"), cmp.sub("blacklist"))
		if q := c.mapAt(cmp.opt("query"), cmp.sub("query")); q != nil {
			if q.has("entity") {
				c.str(q.req("entity"), q.sub("entity"))
				if cond := c.mapAt(q.opt("conditions"), q.sub("conditions")); cond != nil {
					ks, vs := cond.keys()
					for i, k := range ks {
						c.str(vs[i], keyPath(cond.path, k.KeyString()))
					}
				}
			} else {
				c.str(q.req("username"), q.sub("username"))
				c.str(q.req("name"), q.sub("name"))
			}
			q.finish()
		}
		cmp.finish()
	}
	f.finish()
}

// checkCriteria: status all; or a final/running status with an optional
// dependency_query; or complete/incomplete with an optional regression or
// progression type.
func (c *checker) checkCriteria(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	st := f.req("status")
	c.oneOf(st, f.sub("status"), "all", "finished", "running", "complete", "canceled", "incomplete")
	status := nodeString(st)
	dq, typ := f.n.Get("dependency_query"), f.n.Get("type")
	if status != "all" && status != "" {
		f.allow("dependency_query")
		c.str(dq, f.sub("dependency_query"))
	}
	if status == "complete" || status == "incomplete" {
		f.allow("type")
		c.oneOf(typ, f.sub("type"), "regression", "progression")
	}
	if dq != nil && typ != nil && !c.opts.Lax {
		c.errorf(f.n.KeyNode("type"), f.sub("type"), "criteria take either type or dependency_query, not both")
	}
	f.finish()
}

func (c *checker) checkCallback(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	c.str(f.req("url"), f.sub("url"))
	c.oneOf(f.opt("method"), f.sub("method"), "GET", "POST")
	c.str(f.opt("token"), f.sub("token"))
	c.str(f.opt("header"), f.sub("header"))
	c.oneOf(f.opt("dataset"), f.sub("dataset"), "minimal", "logs", "results", "all")
	c.oneOf(f.opt("content-type"), f.sub("content-type"), "json", "urlencoded")
	f.finish()
}
