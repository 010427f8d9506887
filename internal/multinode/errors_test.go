package multinode

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

// job builds a small submission around a roles map and actions, both in
// YAML flow style, plus any extra top-level or protocol-level lines.
func submission(roles, actions string, extra ...string) string {
	var top, proto []string
	for _, e := range extra {
		if strings.HasPrefix(e, "proto:") {
			proto = append(proto, "    "+strings.TrimPrefix(e, "proto:"))
		} else {
			top = append(top, e)
		}
	}
	return "job_name: t\nvisibility: public\ntimeouts: {job: {minutes: 5}}\n" + strings.Join(append(top, ""), "\n") +
		"protocols:\n  lava-multinode:\n    roles: " + roles + "\n" + strings.Join(append(proto, ""), "\n") +
		"actions: " + actions + "\n"
}

const (
	qemu1   = "{device_type: qemu, count: 1}"
	allRole = "[{deploy: {role: [a, b], to: tmpfs}}]"
)

// TestSplitErrors: every rule, with the exact problems reported. Each
// case lists all of them: Split reports every problem, not the first.
func TestSplitErrors(t *testing.T) {
	const rp = "protocols.lava-multinode.roles"
	tests := []struct {
		name string
		src  string
		want []string
	}{
		// LAVA server's _validate_multinode.
		{"host_role without expect_role",
			submission("{a: "+qemu1+", b: {connection: ssh, count: 1, host_role: a}}", allRole),
			[]string{rp + ".b.host_role: host_role needs expect_role: the role whose lava_start this role waits for"}},
		{"host_role and expect_role name unknown roles",
			submission("{a: "+qemu1+", b: {connection: ssh, count: 1, host_role: nope, expect_role: other}}", allRole),
			[]string{
				rp + `.b.host_role: names role "nope", which protocols.lava-multinode.roles does not define (roles: a, b)`,
				rp + `.b.expect_role: names role "other", which protocols.lava-multinode.roles does not define (roles: a, b)`,
			}},
		{"connection role with device and worker",
			submission("{a: "+qemu1+", b: {connection: ssh, count: 1, host_role: a, expect_role: a, device: d1, worker: w1}}", allRole),
			[]string{
				rp + ".b.device: a connection role runs on its host_role's worker and has no device, so it cannot set device",
				rp + ".b.worker: a connection role runs on its host_role's worker and has no device, so it cannot set worker",
			}},
		{"device needs count 1",
			submission("{a: {device_type: qemu, count: 2, device: qemu-01}, b: "+qemu1+"}", allRole),
			[]string{rp + ".a.device: a role pinned to one device needs count: 1, not 2"}},
		// LAVA's split.
		{"host_role role must have count 1",
			submission("{a: {device_type: qemu, count: 2}, b: {connection: ssh, count: 1, host_role: a, expect_role: a}}", allRole),
			[]string{rp + `.a.count: role "a" is the host_role of role "b", so its count must be 1, not 2`}},
		{"role without actions",
			submission("{a: "+qemu1+", b: "+qemu1+"}", "[{deploy: {role: [a], to: tmpfs}}]"),
			[]string{rp + `.b: role "b" has no actions: name it in the role list of the actions it runs`}},
		{"action without role list",
			submission("{a: "+qemu1+", b: "+qemu1+"}", "[{deploy: {role: [a, b], to: tmpfs}}, {boot: {method: qemu}}]"),
			[]string{"actions[1].boot: every action of a MultiNode job needs a role list: the roles whose jobs run it"}},
		// check_multinode_extras.
		{"top-level device_type, environment, context and tags",
			submission("{a: "+qemu1+", b: "+qemu1+"}", allRole, "device_type: qemu", "environment: {A: b}", "context: {arch: amd64}", "tags: [x]", "priority: low"),
			[]string{
				`device_type: "device_type" is not allowed at the top of a MultiNode job; set it per role in protocols.lava-multinode.roles`,
				`environment: "environment" is not allowed at the top of a MultiNode job; set it per role in protocols.lava-multinode.roles`,
				`context: "context" is not allowed at the top of a MultiNode job; set it per role in protocols.lava-multinode.roles`,
				`tags: "tags" is not allowed at the top of a MultiNode job; set it per role in protocols.lava-multinode.roles`,
			}},
		{"empty top-level extras are let through, as LAVA tests them for truth",
			submission("{a: "+qemu1+", b: "+qemu1+"}", allRole, "tags: []", "context: {}"),
			nil},
		// Action role lists.
		{"action names an unknown role",
			submission("{a: "+qemu1+", b: "+qemu1+"}", "[{deploy: {role: [a, b, c], to: tmpfs}}]"),
			[]string{`actions[0].deploy.role[2]: names role "c", which protocols.lava-multinode.roles does not define (roles: a, b)`}},
		{"action role is a string, not a list",
			submission("{a: "+qemu1+", b: "+qemu1+"}", "[{deploy: {role: [a, b], to: tmpfs}}, {boot: {role: a, method: qemu}}]"),
			[]string{`actions[1].boot.role: expected a list of role names, got a string ("a")`}},
		{"action role list empty or not strings",
			submission("{a: "+qemu1+", b: "+qemu1+"}", "[{deploy: {role: [a, b], to: tmpfs}}, {boot: {role: [], method: qemu}}, {test: {role: [3]}}]"),
			[]string{
				"actions[1].boot.role: the role list is empty: no job would run this action",
				"actions[2].test.role[0]: expected a role name, got an integer (3)",
			}},
		{"malformed actions",
			submission("{a: "+qemu1+", b: "+qemu1+"}", "[{deploy: {role: [a, b], to: tmpfs}}, boot, {deploy: {role: [a]}, boot: {role: [a]}}, {test: [x]}]"),
			[]string{
				`actions[1]: expected a map holding one action (deploy, boot, test or command), got a string ("boot")`,
				"actions[2]: an action is a map with exactly one key (deploy, boot, test or command); this one has 2: deploy, boot",
				"actions[3].test: expected a map, got a list",
			}},
		{"actions missing", strings.Replace(submission("{a: "+qemu1+"}", "x"), "actions: x\n", "", 1),
			[]string{`actions: missing required key "actions"`}},
		// lava-start (LAVA's documentation and dispatcher).
		{"expect_role is the role itself",
			submission("{a: "+qemu1+", b: {connection: ssh, count: 1, host_role: a, expect_role: b, request: lava-start}}", allRole),
			[]string{rp + `.b.expect_role: expect_role names role "b" itself: a role cannot wait for its own lava_start`}},
		{"lava-start on every role",
			submission("{a: {device_type: qemu, count: 1, host_role: b, expect_role: b, request: lava-start}, b: {device_type: qemu, count: 1, host_role: a, expect_role: a, request: lava-start}}", allRole),
			[]string{rp + ": lava-start is requested by every role (a, b): no job would start, so none would send lava_start"}},
		{"lava-start at protocol level reaches every role",
			submission("{a: "+qemu1+", b: {connection: ssh, count: 1, host_role: a, expect_role: a}}", allRole, "proto:request: lava-start"),
			[]string{
				"protocols.lava-multinode.request: request: lava-start needs expect_role (for role \"a\"): the role whose lava_start it waits for",
				"protocols.lava-multinode.request: lava-start is requested by every role (a, b): no job would start, so none would send lava_start",
			}},
		{"roles waiting for each other",
			submission("{a: {device_type: qemu, count: 1, host_role: b, expect_role: b, request: lava-start}, b: {device_type: qemu, count: 1, host_role: a, expect_role: a, request: lava-start}, c: "+qemu1+"}",
				"[{deploy: {role: [a, b, c], to: tmpfs}}]"),
			[]string{rp + ": roles a, b wait for each other's lava_start: none of them would start"}},
		{"a chain of waits ending at a role that starts is fine",
			submission("{a: {device_type: qemu, count: 1, host_role: b, expect_role: b, request: lava-start}, b: {device_type: qemu, count: 1, host_role: c, expect_role: c, request: lava-start}, c: "+qemu1+"}",
				"[{deploy: {role: [a, b, c], to: tmpfs}}]"),
			nil},
		{"lava-start without expect_role",
			submission("{a: "+qemu1+", b: {device_type: qemu, count: 1, request: lava-start}}", allRole),
			[]string{rp + `.b.request: request: lava-start needs expect_role (for role "b"): the role whose lava_start it waits for`}},
		{"waiting for a role with count 0",
			submission("{a: {device_type: qemu, count: 0}, b: {connection: ssh, count: 1, host_role: a, expect_role: a, request: lava-start}, c: "+qemu1+"}",
				"[{deploy: {role: [b, c], to: tmpfs}}]"),
			[]string{
				rp + `.a.count: role "a" is the host_role of role "b", so its count must be 1, not 0`,
				rp + `.b.expect_role: role "b" waits for lava_start from role "a", which has count 0: it would never start`,
			}},
		// Role shapes.
		{"count missing, negative, not a number",
			submission("{a: {device_type: qemu}, b: {device_type: qemu, count: -1}, c: {device_type: qemu, count: '2'}}", "[{deploy: {role: [a, b, c], to: tmpfs}}]"),
			[]string{
				rp + `.a.count: missing required key "count": how many jobs play this role`,
				rp + ".b.count: must not be negative, got -1",
				rp + `.c.count: expected a whole number of jobs, got a string ("2")`,
			}},
		{"device_type and connection, or neither",
			submission("{a: {device_type: qemu, connection: ssh, count: 1, host_role: b, expect_role: b}, b: {count: 1}}", allRole),
			[]string{
				rp + ".a.connection: a role has either device_type (jobs on devices) or connection (a dynamic connection), not both",
				rp + ".b: needs device_type (the type of device its jobs run on) or connection (a dynamic connection to the device of its host_role)",
			}},
		{"connection without host_role",
			submission("{a: "+qemu1+", b: {connection: ssh, count: 1}}", allRole),
			[]string{rp + ".b.connection: a connection role needs host_role: the role whose device it connects to"}},
		{"host_role naming a connection role",
			submission("{a: {connection: ssh, count: 1, host_role: b, expect_role: b}, b: {connection: ssh, count: 1, host_role: a, expect_role: a}}", allRole),
			[]string{
				rp + `.a.host_role: names role "b", a connection role: a host_role must be a role with a device`,
				rp + `.b.host_role: names role "a", a connection role: a host_role must be a role with a device`,
			}},
		{"wrong types",
			submission("{a: {device_type: [qemu], count: 1, context: arch, host_role: 3, expect_role: a}, b: "+qemu1+"}", allRole),
			[]string{
				rp + ".a.device_type: expected a string, got a list",
				rp + ".a.host_role: expected a string, got an integer (3)",
				rp + `.a.context: expected a map, got a string ("arch")`,
				rp + `.a.expect_role: expect_role names role "a" itself: a role cannot wait for its own lava_start`,
			}},
		{"keys the split writes",
			submission("{a: {device_type: qemu, count: 1, sub_id: 4, role: x}, b: "+qemu1+"}", allRole, "proto:target_group: mine", "proto:group_size: 9"),
			[]string{
				`protocols.lava-multinode.target_group: "target_group" is written by the split into each sub-job; remove it from the submission`,
				`protocols.lava-multinode.group_size: "group_size" is written by the split into each sub-job; remove it from the submission`,
				rp + `.a.sub_id: "sub_id" is written by the split into each sub-job; remove it from the role`,
				rp + `.a.role: "role" is written by the split into each sub-job; remove it from the role`,
			}},
		{"every count 0",
			submission("{a: {device_type: qemu, count: 0}, b: {device_type: qemu, count: 0}}", "[]"),
			[]string{rp + ": every role has count 0: the group would have no jobs"}},
		{"group too large",
			submission("{a: {device_type: qemu, count: 999}, b: {device_type: qemu, count: 9223372036854775807}}", allRole),
			[]string{rp + ": the counts add up to more than 1000 jobs, the most a group may have here"}},
		{"group at the bound",
			submission("{a: {device_type: qemu, count: 999}, b: {device_type: qemu, count: 1}}", allRole),
			nil},
		{"role names with odd characters are quoted in paths",
			submission(`{"my role": {device_type: qemu, count: 1}, "b.c": {device_type: qemu}}`, `[{deploy: {role: ["my role", "b.c"], to: tmpfs}}]`),
			[]string{`protocols.lava-multinode.roles["b.c"].count: missing required key "count": how many jobs play this role`}},
		// Per-role protocols.
		{"lava-vland needs one device per role and every role",
			submission("{a: {device_type: bbb, count: 2}, b: "+qemu1+"}", allRole, "proto:timeout: {minutes: 1}\n  lava-vland: {a: {v1: {tags: [x]}}}"),
			[]string{
				rp + `.a.count: the lava-vland protocol supports one device per role; role "a" has count 2`,
				`protocols.lava-vland: has no entry for role "b": in a MultiNode job lava-vland maps every role to its VLANs`,
			}},
		{"lava-vland: the first role creates every VLAN",
			submission("{a: "+qemu1+", b: "+qemu1+"}", allRole, "proto:timeout: {minutes: 1}\n  lava-vland: {a: {v1: {tags: [x]}}, b: {v1: {tags: [x]}, v2: {tags: [y]}}}"),
			[]string{`protocols.lava-vland.b.v2: VLAN "v2" is not named by role "a", the first role: its job (sub_id 0) creates every VLAN of the group, so role "b" would wait for this one until its timeout`}},
		// Not a submission.
		{"no protocols", "job_name: t\ndevice_type: qemu\nactions: []\n",
			[]string{"not a MultiNode job: it has no protocols.lava-multinode block with roles"}},
		{"no lava-multinode", "job_name: t\nprotocols: {lava-xnbd: {port: auto}}\n",
			[]string{"protocols: not a MultiNode job: protocols has no lava-multinode block"}},
		{"no roles", "protocols: {lava-multinode: {timeout: {minutes: 1}}}\n",
			[]string{`protocols.lava-multinode.roles: missing required key "roles": the roles of the group, each with its device_type or connection and count`}},
		{"roles not a map", "protocols: {lava-multinode: {roles: [a, b]}}\n",
			[]string{"protocols.lava-multinode.roles: expected a map of role names to role settings, got a list"}},
		{"role not a map", submission("{a: qemu, b: "+qemu1+"}", allRole),
			[]string{rp + `.a: expected a map of role settings (device_type or connection, count, …), got a string ("qemu")`}},
		{"already split, scheduled", "protocols: {lava-multinode: {target_group: g, role: a, sub_id: 0, group_size: 2, roles: {'1': a, '2': b}}}\n",
			[]string{"protocols.lava-multinode.roles: this is already a split sub-job (roles maps job ids to role names); split the submission it came from"}},
		{"already split, not scheduled", "protocols: {lava-multinode: {target_group: g, role: a, sub_id: 0, group_size: 2}}\n",
			[]string{"protocols.lava-multinode: this is already a split sub-job (it has a target_group and no roles to split); split the submission it came from"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			subs, err := Split(mustParse(t, tt.src), Options{TargetGroup: goldenGroup})
			var got []string
			var perr *Error
			switch {
			case errors.As(err, &perr):
				for _, p := range perr.Problems {
					got = append(got, p.String())
				}
				if subs != nil {
					t.Errorf("Split returned sub-jobs with an error")
				}
			case err != nil:
				t.Fatalf("Split: %v (not an *Error)", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s\ninput:\n%s", diff, tt.src)
			}
		})
	}
}

// TestSplitRefusesHugeCopies: a big job times a big group is refused
// before anything is copied.
func TestSplitRefusesHugeCopies(t *testing.T) {
	var steps strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&steps, "s%d, ", i)
	}
	big := submission("{a: {device_type: qemu, count: 900}, b: "+qemu1+"}", "[{test: {role: [a, b], steps: ["+steps.String()+"]}}]")
	_, err := Split(mustParse(t, big), Options{})
	if err == nil || err.Error() != "cannot split the MultiNode job: the job is too large to copy into 901 sub-jobs" {
		t.Errorf("error = %v", err)
	}
	small := submission("{a: {device_type: qemu, count: 1}, b: "+qemu1+"}", "[{test: {role: [a, b], steps: ["+steps.String()+"]}}]")
	if _, err := Split(mustParse(t, small), Options{}); err != nil {
		t.Errorf("a big job in a small group: %v", err)
	}
}

func TestSplitNilAndErrorText(t *testing.T) {
	_, err := Split(nil, Options{})
	if err == nil || err.Error() != "cannot split the MultiNode job: the job definition is empty" {
		t.Errorf("Split(nil) error = %v", err)
	}
	_, err = Split(mustParse(t, submission("{a: {count: 1}, b: {count: 1}}", allRole)), Options{})
	want := "cannot split the MultiNode job (2 problems):\n" +
		"  protocols.lava-multinode.roles.a: needs device_type (the type of device its jobs run on) or connection (a dynamic connection to the device of its host_role)\n" +
		"  protocols.lava-multinode.roles.b: needs device_type (the type of device its jobs run on) or connection (a dynamic connection to the device of its host_role)"
	if err == nil || err.Error() != want {
		t.Errorf("error text:\n%v\nwant:\n%s", err, want)
	}
}

// TestLocate maps problem paths to source positions.
func TestLocate(t *testing.T) {
	src := `job_name: t
protocols:
  lava-multinode:
    roles:
      server: {device_type: qemu, count: 1}
      "my role":
        count: x
actions:
- deploy:
    role: [server, nope]
`
	doc, err := value.ParseYAML([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path []any
		want value.Pos
	}{
		{nil, value.Pos{Line: 1, Col: 1}},
		{[]any{"job_name"}, value.Pos{Line: 1, Col: 1}},
		{[]any{"protocols", "lava-multinode", "roles", "server", "count"}, value.Pos{Line: 5, Col: 35}},
		{[]any{"protocols", "lava-multinode", "roles", "my role", "count"}, value.Pos{Line: 7, Col: 9}},
		// A missing key points at the map it belongs in.
		{[]any{"protocols", "lava-multinode", "roles", "server", "host_role"}, value.Pos{Line: 5, Col: 15}},
		{[]any{"protocols", "lava-multinode", "timeout"}, value.Pos{Line: 4, Col: 5}},
		{[]any{"actions", 0, "deploy"}, value.Pos{Line: 9, Col: 3}},
		{[]any{"actions", 0, "deploy", "role", 1}, value.Pos{Line: 10, Col: 20}},
		// Out of range or through a scalar: the deepest node there is.
		{[]any{"actions", 5, "deploy"}, value.Pos{Line: 9, Col: 1}},
		{[]any{"job_name", "x"}, value.Pos{Line: 1, Col: 11}},
	}
	for _, tt := range tests {
		if got := Locate(doc.Root, tt.path); got != tt.want {
			t.Errorf("Locate(%s) = %v, want %v", formatPath(tt.path), got, tt.want)
		}
	}
	if got := Locate(nil, []any{"a"}); got != (value.Pos{Line: 1, Col: 1}) {
		t.Errorf("Locate(nil) = %v", got)
	}
}
