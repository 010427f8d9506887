package job

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/basalt-lava/basalt/internal/value"
)

// ContextVariables are the keys LAVA allows in a job's context: (LAVA's
// CONTEXT_VARIABLES); a server may allow more (Options.ExtraContext).
var ContextVariables = []string{
	// qemu
	"arch", "boot_console", "boot_root", "cpu", "extra_options", "guestfs_driveid",
	"guestfs_interface", "guestfs_size", "machine", "memory", "model", "monitor",
	"netdevice", "no_kvm", "no_network", "serial", "vga",
	// u-boot
	"booti_dtb_addr", "booti_kernel_addr", "booti_ramdisk_addr", "bootm_dtb_addr",
	"bootm_kernel_addr", "bootm_ramdisk_addr", "bootz_dtb_addr", "bootz_kernel_addr",
	"bootz_ramdisk_addr",
	// others
	"deploy_character_delay", "boot_character_delay", "boot_retry", "bootloader_prompt",
	"console_device", "custom_kernel_args", "extra_kernel_args", "extra_nfsroot_args",
	"failure_retry", "kernel_loglevel", "kernel_start_message", "lava_test_results_dir",
	"menu_interrupt_prompt", "mustang_menu_list", "test_character_delay",
	"tftp_mac_address", "uboot_extra_error_message", "uboot_needs_interrupt",
	"uboot_altbank",
}

// ActionTypes are the kinds of entry in a job's actions list.
var ActionTypes = []string{"boot", "command", "deploy", "test"}

// checkJob checks the top level (LAVA's job()) and then LAVA's extra
// checks, which LAVA runs only on a schema-valid job; here they run on
// whatever parts are well-formed, so more problems show at once.
func (c *checker) checkJob(root *value.Node) {
	f := c.mapAt(root, "")
	c.strLen(f.req("job_name"), "job_name", 1, 200)
	for _, k := range []string{"device_type", "device", "worker"} {
		c.strLen(f.opt(k), k, 1, 200)
	}
	c.checkJobTimeouts(f.req("timeouts"), "timeouts")
	c.checkVisibility(f.req("visibility"), "visibility")
	c.checkContext(f.opt("context"), "context")
	c.strKeyMap(f.opt("metadata"), "metadata")
	c.checkPriority(f.opt("priority"), "priority")
	c.strList(f.opt("tags"), "tags")
	c.checkSecrets(f.opt("secrets"), "secrets")
	c.anyMap(f.opt("environment"), "environment")
	c.checkProtocols(f.opt("protocols"), "protocols")
	c.checkNotify(f.opt("notify"), "notify")
	c.boolean(f.opt("reboot_to_fastboot"), "reboot_to_fastboot")
	actions := c.checkActions(f.req("actions"), "actions")
	f.finish()

	c.checkTimeoutLimits(f, actions)
	c.checkMultinode(f, actions)
	c.checkNamespaces(actions)
}

// action is one well-formed entry of the actions list.
type action struct {
	kind string      // boot, command, deploy or test
	key  *value.Node // the kind's key node
	body *value.Node // its map
	path string      // actions[i].kind
}

func (c *checker) checkActions(n *value.Node, path string) []action {
	var out []action
	for i, it := range c.list(n, path) {
		ip := indexPath(path, i)
		f := c.mapAt(it, ip)
		if f == nil {
			continue
		}
		var found []int
		for j, k := range it.Keys {
			if slices.Contains(ActionTypes, k.KeyString()) {
				found = append(found, j)
			} else if !c.opts.Lax {
				c.errorf(k, keyPath(ip, k.KeyString()), "unknown action type %q (allowed: %s)", k.KeyString(), strings.Join(ActionTypes, ", "))
			}
		}
		switch {
		case len(found) == 0 && len(it.Keys) == 0:
			c.errorf(it, ip, "empty action: expected one of %s", strings.Join(ActionTypes, ", "))
			continue
		case len(found) == 0:
			if c.opts.Lax {
				c.errorf(it, ip, "no action: expected one of %s", strings.Join(ActionTypes, ", "))
			}
			continue
		case len(found) > 1:
			k := it.Keys[found[1]]
			c.errorf(k, keyPath(ip, k.KeyString()), "one action per list entry: %q follows %q; start a new entry with \"- %s:\"",
				k.KeyString(), it.Keys[found[0]].KeyString(), k.KeyString())
		}
		k, body := it.Keys[found[0]], it.Values[found[0]]
		a := action{kind: k.KeyString(), key: k, body: body, path: keyPath(ip, k.KeyString())}
		af := c.mapAt(body, a.path)
		if af == nil {
			continue
		}
		switch a.kind {
		case "deploy":
			c.checkDeploy(af)
		case "boot":
			c.checkBoot(af)
		case "test":
			c.checkTest(af)
		case "command":
			c.checkCommand(af)
		}
		out = append(out, a)
	}
	return out
}

// checkCommand checks a command action (LAVA's command.py): the name of
// one of the device's user commands.
func (c *checker) checkCommand(f *fields) {
	c.checkActionCommon(f)
	c.str(f.req("name"), f.sub("name"))
	f.finish()
}

var timeoutUnitNames = []string{"days", "hours", "minutes", "seconds"}

// checkTimeout checks one timeout block: exactly one of days, hours,
// minutes or seconds (an integer ≥ 1) and optionally skip, in total at
// most MaxTimeoutSeconds. It returns the duration in seconds when the
// block is well-formed.
func (c *checker) checkTimeout(n *value.Node, path string) (int, bool) {
	f := c.mapAt(n, path)
	if f == nil {
		return 0, false
	}
	c.boolean(f.opt("skip"), f.sub("skip"))
	var units []string
	good := 0
	for _, u := range timeoutUnitNames {
		v := f.opt(u)
		if v == nil && !f.has(u) {
			continue
		}
		units = append(units, u)
		if _, ok := c.integer(v, f.sub(u), 1); ok {
			good++
		}
	}
	f.finish()
	switch {
	case len(units) == 0:
		c.errorf(n, path, "a timeout needs one of days, hours, minutes or seconds, e.g. {minutes: 5}")
		return 0, false
	case len(units) > 1 && !c.opts.Lax:
		k := n.KeyNode(units[1])
		c.errorf(k, f.sub(units[1]), "a timeout takes exactly one of days, hours, minutes or seconds; got %s", strings.Join(units, " and "))
		return 0, false
	case good == 0:
		return 0, false
	}
	s, ok, err := TimeoutSeconds(n.Value())
	if err != nil {
		c.errorf(n, path, "%v", err)
	}
	return s, ok
}

// checkJobTimeouts checks the top-level timeouts block.
func (c *checker) checkJobTimeouts(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	c.checkTimeout(f.req("job"), f.sub("job"))
	c.checkTimeout(f.opt("action"), f.sub("action"))
	c.checkTimeout(f.opt("connection"), f.sub("connection"))
	c.checkTimeout(f.opt("queue"), f.sub("queue"))
	c.checkNamedTimeouts(f.opt("actions"), f.sub("actions"))
	c.checkNamedTimeouts(f.opt("connections"), f.sub("connections"))
	f.finish()
}

// checkNamedTimeouts checks {action-name: timeout}.
func (c *checker) checkNamedTimeouts(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	ks, vs := f.keys()
	for i, k := range ks {
		c.checkTimeout(vs[i], keyPath(path, k.KeyString()))
	}
}

// checkTimeoutLimits is LAVA's check_job_timeouts: no default or action
// block timeout may exceed the job timeout, since it could never fire.
func (c *checker) checkTimeoutLimits(top *fields, actions []action) {
	if top == nil {
		return
	}
	tf := top.n.Get("timeouts")
	if tf == nil || tf.Kind != value.MapNode {
		return
	}
	job, ok := c.quietTimeout(tf.Get("job"))
	if !ok {
		return
	}
	limit := func(n *value.Node, path, what string) {
		if s, ok := c.quietTimeout(n); ok && s > job {
			c.errorf(n, path, "%s timeout (%s) is longer than the job timeout (%s)", what, FormatDuration(s), FormatDuration(job))
		}
	}
	limit(tf.Get("action"), "timeouts.action", "the default action")
	limit(tf.Get("connection"), "timeouts.connection", "the default connection")
	for _, group := range []string{"actions", "connections"} {
		g := tf.Get(group)
		if g == nil || g.Kind != value.MapNode {
			continue
		}
		for i, k := range g.Keys {
			limit(g.Values[i], keyPath("timeouts."+group, k.KeyString()), fmt.Sprintf("the %q", k.KeyString()))
		}
	}
	for _, a := range actions {
		limit(a.body.Get("timeout"), a.path+".timeout", "this "+a.kind+" action's")
	}
}

// quietTimeout parses a timeout that checkTimeout has already judged,
// without reporting again.
func (c *checker) quietTimeout(n *value.Node) (int, bool) {
	if n == nil || n.Kind != value.MapNode {
		return 0, false
	}
	q := &checker{file: c.file, opts: c.opts}
	return q.checkTimeout(n, "")
}

func (c *checker) checkVisibility(n *value.Node, path string) {
	if n == nil {
		return
	}
	if n.Kind == value.MapNode {
		f := c.mapAt(n, path)
		c.strList(f.opt("group"), f.sub("group"))
		f.finish()
		return
	}
	if s := nodeString(n); s == "public" || s == "personal" {
		return
	}
	c.errorf(n, path, "expected public, personal or {group: [names]}, got %s", describe(n))
}

// checkContext checks context variables. LAVA checks them strictly even
// for the dispatcher: an unknown variable would be silently ignored by
// the device template.
func (c *checker) checkContext(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	ks, vs := f.keys()
	allowed := "" // built once: a context can hold thousands of unknown names
	for i, k := range ks {
		name := k.KeyString()
		kp := keyPath(path, name)
		if !slices.Contains(ContextVariables, name) && !slices.Contains(c.opts.ExtraContext, name) {
			if allowed == "" {
				allowed = strings.Join(c.contextNames(), ", ")
			}
			c.errorf(k, kp, "unknown context variable %q (allowed: %s)", name, allowed)
			continue
		}
		v := vs[i]
		if v.Kind == value.ListNode {
			for j, it := range v.Items {
				if !contextScalar(it) {
					c.errorf(it, indexPath(kp, j), "expected a string or an integer, got %s", describe(it))
				} else {
					c.checkContextLine(it, indexPath(kp, j), name)
				}
			}
		} else if !contextScalar(v) {
			c.errorf(v, kp, "expected a string, an integer or a list of them, got %s", describe(v))
		} else {
			c.checkContextLine(v, kp, name)
		}
	}
}

// checkContextLine refuses a context string holding a line break or
// another control character (a tab is allowed, and the line breaks that
// end a YAML block scalar such as "extra_kernel_args: >"). LAVA's schema accepts
// any string, but device-type templates print context values into YAML
// unquoted, where a line break starts a new key (a "commands:" entry a
// command block would run on the worker): no context value has a use
// for one, and refusing it here covers every template, even one that
// transforms the value before printing it. internal/device checks the
// rendered structure as well (device.ContextError).
func (c *checker) checkContextLine(n *value.Node, path, name string) {
	s, ok := n.Scalar.(string)
	if !ok {
		return
	}
	s = strings.TrimRight(s, "\n")
	for i, r := range s {
		if r == '\t' || !(unicode.IsControl(r) || r == '\u2028' || r == '\u2029') {
			continue
		}
		what := fmt.Sprintf("control character %U", r)
		if r == '\n' || r == '\r' || r == '\u0085' || r == '\u2028' || r == '\u2029' {
			what = fmt.Sprintf("line break %U", r)
		}
		c.errorf(n, path, "context variable %q holds a %s at byte %d: context values are printed into the device configuration and must be one line of text", name, what, i)
		return
	}
}

func (c *checker) contextNames() []string {
	l := append(slices.Clone(ContextVariables), c.opts.ExtraContext...)
	slices.Sort(l)
	return slices.Compact(l)
}

// contextScalar: Python's int includes bool, so no_kvm: true is fine.
func contextScalar(n *value.Node) bool {
	if n.Kind != value.ScalarNode {
		return false
	}
	switch n.Scalar.(type) {
	case string, int, bool:
		return true
	}
	return false
}

func (c *checker) checkPriority(n *value.Node, path string) {
	if n == nil {
		return
	}
	if n.Kind == value.ScalarNode {
		switch v := n.Scalar.(type) {
		case string:
			if v == "high" || v == "medium" || v == "low" {
				return
			}
		case int:
			if v >= 0 && v <= 100 {
				return
			}
		}
	}
	c.errorf(n, path, "expected one of high, medium, low or an integer 0..100, got %s", describe(n))
}

// checkSecrets: LAVA's schema takes any map; the values become
// environment variables, so anything but a string, number or boolean
// would be a mistake; those are reported too.
func (c *checker) checkSecrets(n *value.Node, path string) {
	f := c.mapAt(n, path)
	if f == nil {
		return
	}
	ks, vs := f.keys()
	for i, k := range ks {
		if vs[i].Kind != value.ScalarNode || vs[i].Scalar == nil {
			c.errorf(vs[i], keyPath(path, k.KeyString()), "a secret must be a string, got %s", describe(vs[i]))
		}
	}
}

// truthy follows Python's truth rules for the values LAVA tests with
// "if data.get(...)".
func truthy(n *value.Node) bool {
	if n == nil {
		return false
	}
	switch n.Kind {
	case value.MapNode:
		return len(n.Keys) > 0
	case value.ListNode:
		return len(n.Items) > 0
	}
	switch v := n.Scalar.(type) {
	case nil:
		return false
	case bool:
		return v
	case int:
		return v != 0
	case float64:
		return v != 0
	case string:
		return v != ""
	}
	return true
}

// checkMultinode is LAVA's check_multinode_roles and
// check_multinode_extras: a MultiNode job names its device types per role
// and every action says which roles run it; a single-node job needs a
// device_type.
func (c *checker) checkMultinode(top *fields, actions []action) {
	if top == nil {
		return
	}
	multinode := truthy(top.n.Get("protocols").Get("lava-multinode"))
	if !multinode {
		if !truthy(top.n.Get("device_type")) {
			n := top.n
			if k := top.n.KeyNode("device_type"); k != nil {
				n = top.n.Get("device_type")
			}
			c.errorf(n, "device_type", "a job needs a device_type (or a lava-multinode protocol with roles)")
		}
		return
	}
	if c.subJob {
		if !truthy(top.n.Get("device_type")) && !truthy(top.n.Get("connection")) {
			c.errorf(top.n, "device_type", "a MultiNode sub-job needs the device_type (or the connection) of its role")
		}
		for _, a := range actions {
			if a.body.KeyNode("role") == nil {
				c.errorf(a.key, a.path, "every action of a MultiNode sub-job needs its role")
			}
		}
		return
	}
	for _, k := range []string{"device_type", "environment", "context", "tags"} {
		if v := top.n.Get(k); truthy(v) {
			c.errorf(top.n.KeyNode(k), k, "%q is not allowed at the top of a MultiNode job; set it per role in protocols.lava-multinode.roles", k)
		}
	}
	for _, a := range actions {
		if a.body.KeyNode("role") == nil {
			c.errorf(a.key, a.path, "every action of a MultiNode job needs a role list")
		}
	}
}

// checkNamespaces is LAVA's check_namespace: namespaces are all or none.
func (c *checker) checkNamespaces(actions []action) {
	var with *action
	for i := range actions {
		if actions[i].body.Get("namespace") != nil {
			with = &actions[i]
			break
		}
	}
	if with == nil {
		return
	}
	for _, a := range actions {
		if a.body.Get("namespace") == nil {
			c.errorf(a.key, a.path, "missing namespace: when one action has a namespace (%s), every action needs one", with.path)
		}
	}
}
