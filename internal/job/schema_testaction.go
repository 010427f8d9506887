package job

import (
	"regexp"

	"github.com/basalt-lava/basalt/internal/value"
)

// testNameRe is what LAVA allows in test, monitor and script names: they
// become result suite and case names.
var testNameRe = regexp.MustCompile(`^[-_a-zA-Z0-9.]+$`)

// checkTest checks a test action. LAVA picks the schema by the keys
// present: definitions (with docker: a docker test shell), interactive,
// monitors or services.
func (c *checker) checkTest(f *fields) {
	c.checkActionCommon(f)
	switch {
	case f.has("definitions"):
		c.checkDefinitions(f.req("definitions"), f.sub("definitions"))
		if f.has("docker") {
			c.checkDocker(f.req("docker"), f.sub("docker"), "image", nil)
			c.str(f.opt("downloads-namespace"), f.sub("downloads-namespace"))
			c.boolean(f.opt("disconnect_connection"), f.sub("disconnect_connection"))
		}
	case f.has("interactive"):
		c.checkInteractive(f.req("interactive"), f.sub("interactive"))
	case f.has("monitors"):
		c.checkMonitors(f.req("monitors"), f.sub("monitors"))
	case f.has("services"):
		c.checkServices(f.req("services"), f.sub("services"))
	default:
		c.errorf(f.n, f.path, "a test action needs definitions, interactive, monitors or services")
		return
	}
	f.finish()
}

func (c *checker) checkDefinitions(n *value.Node, path string) {
	for i, it := range c.list(n, path) {
		c.checkDefinition(it, indexPath(path, i))
	}
}

// checkDefinition checks one test definition reference: from git, from a
// url (a tarball), or inline (the definition itself in repository).
func (c *checker) checkDefinition(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	c.str(f.req("path"), f.sub("path"))
	c.matches(f.req("name"), f.sub("name"), testNameRe, "test definition name")
	for i, it := range c.list(f.opt("skip_install"), f.sub("skip_install")) {
		c.oneOf(it, indexPath(f.sub("skip_install"), i), "keys", "sources", "deps", "steps", "git-repos", "all")
	}
	c.oneOf(f.opt("lava-signal"), f.sub("lava-signal"), "kmsg", "stdout")
	c.strList(f.opt("expected"), f.sub("expected"))
	from := f.req("from")
	switch nodeString(from) {
	case "git":
		c.str(f.req("repository"), f.sub("repository"))
		c.str(f.opt("branch"), f.sub("branch"))
		c.boolean(f.opt("history"), f.sub("history"))
		c.str(f.opt("revision"), f.sub("revision"))
		c.boolean(f.opt("recursive"), f.sub("recursive"))
		c.anyMap(f.opt("parameters"), f.sub("parameters"))
		c.anyMap(f.opt("params"), f.sub("params"))
	case "url":
		c.str(f.req("repository"), f.sub("repository"))
		c.str(f.opt("compression"), f.sub("compression"))
		c.integer(f.opt("strip-components"), f.sub("strip-components"), 0)
		c.anyMap(f.opt("headers"), f.sub("headers"))
		c.anyMap(f.opt("parameters"), f.sub("parameters"))
		c.anyMap(f.opt("params"), f.sub("params"))
	case "inline":
		c.checkTestDef(f.req("repository"), f.sub("repository"))
	default:
		if from != nil {
			c.errorf(from, f.sub("from"), "expected git, url or inline, got %s", describe(from))
		}
		return // the other keys depend on from
	}
	f.finish()
}

func (c *checker) checkInteractive(n *value.Node, path string) {
	for i, it := range c.list(n, path) {
		ip := indexPath(path, i)
		f := c.mapAt(it, ip)
		if f == nil {
			continue
		}
		c.matches(f.req("name"), f.sub("name"), testNameRe, "test name")
		c.nonEmptyStrList(f.req("prompts"), f.sub("prompts"))
		c.oneOf(f.opt("echo"), f.sub("echo"), "discard")
		c.strList(f.opt("expected"), f.sub("expected"))
		for j, st := range c.list(f.req("script"), f.sub("script")) {
			c.checkScriptStep(st, indexPath(f.sub("script"), j))
		}
		f.finish()
	}
}

func (c *checker) checkScriptStep(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	if cmd := f.opt("command"); cmd != nil && cmd.Scalar != nil {
		c.str(cmd, f.sub("command")) // null sends nothing, only waits
	}
	c.integer(f.opt("delay"), f.sub("delay"), 0)
	for _, k := range []string{"lava-send", "lava-sync", "lava-wait", "lava-wait-all"} {
		c.str(f.opt(k), f.sub(k))
	}
	if nm := f.opt("name"); nm != nil {
		c.matches(nm, f.sub("name"), testNameRe, "test case name")
	}
	c.boolean(f.opt("wait_for_prompt"), f.sub("wait_for_prompt"))
	for i, s := range c.list(f.opt("successes"), f.sub("successes")) {
		sf := c.mapAt(s, indexPath(f.sub("successes"), i))
		if sf != nil {
			c.nonEmptyStr(sf.req("message"), sf.sub("message"))
			sf.finish()
		}
	}
	for i, s := range c.list(f.opt("failures"), f.sub("failures")) {
		sf := c.mapAt(s, indexPath(f.sub("failures"), i))
		if sf != nil {
			c.nonEmptyStr(sf.req("message"), sf.sub("message"))
			c.oneOf(sf.opt("exception"), sf.sub("exception"), "InfrastructureError", "JobError", "TestError")
			c.nonEmptyStr(sf.opt("error"), sf.sub("error"))
			sf.finish()
		}
	}
	f.finish()
}

var resultValues = []string{"pass", "fail", "skip", "unknown"}

func (c *checker) checkFixupDict(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	ks, vs := f.keys()
	for i, k := range ks {
		c.oneOf(vs[i], keyPath(path, k.KeyString()), resultValues...)
	}
}

func (c *checker) checkMonitors(n *value.Node, path string) {
	for i, it := range c.list(n, path) {
		f := c.mapAt(it, indexPath(path, i))
		if f == nil {
			continue
		}
		c.matches(f.req("name"), f.sub("name"), testNameRe, "test name")
		for _, k := range []string{"start", "end", "pattern"} {
			c.str(f.req(k), f.sub(k))
		}
		c.checkFixupDict(f.opt("fixupdict"), f.sub("fixupdict"))
		c.strList(f.opt("expected"), f.sub("expected"))
		f.finish()
	}
}

// checkServices checks docker-compose services started for a test.
func (c *checker) checkServices(n *value.Node, path string) {
	for i, it := range c.list(n, path) {
		f := c.mapAt(it, indexPath(path, i))
		if f == nil {
			continue
		}
		c.matches(f.req("name"), f.sub("name"), testNameRe, "service name")
		c.str(f.req("repository"), f.sub("repository"))
		c.str(f.req("path"), f.sub("path"))
		c.str(f.opt("service"), f.sub("service"))
		from := f.req("from")
		switch nodeString(from) {
		case "git":
			c.str(f.opt("branch"), f.sub("branch"))
			c.boolean(f.opt("history"), f.sub("history"))
			c.str(f.opt("revision"), f.sub("revision"))
			c.boolean(f.opt("recursive"), f.sub("recursive"))
		case "url":
			c.str(f.opt("compression"), f.sub("compression"))
			c.anyMap(f.opt("headers"), f.sub("headers"))
		default:
			if from != nil {
				c.errorf(from, f.sub("from"), "expected git or url, got %s", describe(from))
			}
			continue
		}
		f.finish()
	}
}
