package job

import (
	"github.com/basalt-lava/basalt/internal/value"
)

// checkProtocols checks the job-level protocols: lava-multinode (the
// submitted form with roles), lava-xnbd, and lava-lxc and lava-vland,
// which LAVA dropped in 2026 but Basalt keeps.
func (c *checker) checkProtocols(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	c.checkMultinodeProtocol(f.opt("lava-multinode"), f.sub("lava-multinode"))
	c.checkXnbd(f.opt("lava-xnbd"), f.sub("lava-xnbd"))
	c.checkLXCProtocol(f.opt("lava-lxc"), f.sub("lava-lxc"))
	c.checkVland(f.opt("lava-vland"), f.sub("lava-vland"))
	f.finish()
}

// checkMultinodeProtocol checks the form a user submits: roles, each
// either a device role (device_type, count) or a dynamic connection role
// (connection, count, expect_role, host_role). The scheduler later
// rewrites it per sub-job (target_group, role, …), which is why a split
// sub-job does not pass LAVA's strict check either.
func (c *checker) checkMultinodeProtocol(n *value.Node, path string) {
	if c.subJob {
		c.checkMultinodeSubJob(n, path)
		return
	}
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	c.checkTimeout(f.opt("timeout"), f.sub("timeout"))
	roles := c.mapAt(f.req("roles"), f.sub("roles"))
	f.finish()
	if roles == nil {
		return
	}
	ks, vs := roles.keys()
	for i, k := range ks {
		rp := keyPath(roles.path, k.KeyString())
		r := c.mapAt(vs[i], rp)
		if r == nil {
			continue
		}
		c.integer(r.req("count"), r.sub("count"), 0)
		c.checkContext(r.opt("context"), r.sub("context"))
		c.strList(r.opt("tags"), r.sub("tags"))
		c.boolean(r.opt("essential"), r.sub("essential"))
		c.checkTimeout(r.opt("timeout"), r.sub("timeout"))
		if r.has("connection") {
			c.str(r.req("connection"), r.sub("connection"))
			c.str(r.req("expect_role"), r.sub("expect_role"))
			c.str(r.req("host_role"), r.sub("host_role"))
			c.str(r.opt("request"), r.sub("request"))
		} else {
			c.str(r.req("device_type"), r.sub("device_type"))
			c.anyMap(r.opt("environment"), r.sub("environment"))
		}
		r.finish()
	}
}

// checkMultinodeSubJob checks the protocol block of a split sub-job: the
// group it belongs to, its role and the role's settings lifted into the
// block, and, once the group is scheduled, the roster of job ids.
func (c *checker) checkMultinodeSubJob(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	c.nonEmptyStr(f.req("target_group"), f.sub("target_group"))
	c.nonEmptyStr(f.req("role"), f.sub("role"))
	c.integer(f.req("group_size"), f.sub("group_size"), 1)
	c.integer(f.opt("sub_id"), f.sub("sub_id"), 0)
	if roles := c.mapAt(f.opt("roles"), f.sub("roles")); roles != nil {
		ks, vs := roles.rest()
		for i, k := range ks {
			c.nonEmptyStr(vs[i], keyPath(roles.path, k.KeyString()))
		}
	}
	c.boolean(f.opt("essential"), f.sub("essential"))
	c.checkTimeout(f.opt("timeout"), f.sub("timeout"))
	for _, k := range []string{"expect_role", "host_role", "request", "connection"} {
		c.str(f.opt(k), f.sub(k))
	}
	c.strList(f.opt("tags"), f.sub("tags"))
	c.anyMap(f.opt("environment"), f.sub("environment"))
	f.finish()
}

func (c *checker) checkXnbd(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	if p := f.req("port"); p != nil {
		_, isInt := p.Scalar.(int)
		if p.Kind != value.ScalarNode || !isInt && nodeString(p) != "auto" {
			c.errorf(p, f.sub("port"), "expected auto or a port number, got %s", describe(p))
		}
	}
	c.checkTimeout(f.opt("timeout"), f.sub("timeout"))
	f.finish()
}

// checkLXCProtocol accepts one container description or one per role.
func (c *checker) checkLXCProtocol(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	if !f.has("name") {
		if ks, vs := f.keys(); len(ks) > 0 && allMaps(vs) {
			for i, k := range ks {
				c.checkLXC(vs[i], keyPath(path, k.KeyString()))
			}
			return
		}
	}
	c.checkLXC(n, path)
}

func allMaps(ns []*value.Node) bool {
	for _, n := range ns {
		if n.Kind != value.MapNode {
			return false
		}
	}
	return true
}

func (c *checker) checkLXC(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	for _, k := range []string{"name", "distribution", "release"} {
		c.str(f.req(k), f.sub(k))
	}
	for _, k := range []string{"arch", "mirror", "security_mirror", "template"} {
		c.str(f.opt(k), f.sub(k))
	}
	c.boolean(f.opt("persist"), f.sub("persist"))
	c.boolean(f.opt("verbose"), f.sub("verbose"))
	c.checkTimeout(f.opt("timeout"), f.sub("timeout"))
	f.finish()
}

// checkVland accepts {vlan: {tags: [..]}} or {role: {vlan: {tags: [..]}}}.
func (c *checker) checkVland(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	ks, vs := f.keys()
	flat := true
	for _, v := range vs {
		if v.Kind == value.MapNode && v.KeyNode("tags") == nil {
			flat = false
		}
	}
	for i, k := range ks {
		p := keyPath(path, k.KeyString())
		if flat {
			c.checkVlan(vs[i], p)
			continue
		}
		rf := c.mapAt(vs[i], p)
		if rf == nil {
			continue
		}
		rks, rvs := rf.keys()
		for j, rk := range rks {
			c.checkVlan(rvs[j], keyPath(p, rk.KeyString()))
		}
	}
}

func (c *checker) checkVlan(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	c.strList(f.req("tags"), f.sub("tags"))
	f.finish()
}
