package multinode

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

const goldenGroup = "3f1c2a9e-5b7d-4e60-9a1b-0c2d4e6f8a10"

func mustParse(t testing.TB, src string) *value.Map {
	t.Helper()
	v, err := value.DecodeYAML([]byte(src))
	if err != nil {
		t.Fatalf("parsing test input: %v", err)
	}
	m, ok := v.(*value.Map)
	if !ok {
		t.Fatalf("test input is %T, not a map", v)
	}
	return m
}

func mustSplit(t testing.TB, src string) []SubJob {
	t.Helper()
	subs, err := Split(mustParse(t, src), Options{TargetGroup: goldenGroup})
	if err != nil {
		t.Fatalf("Split: %v", err)
	}
	return subs
}

// stream renders sub-jobs as the YAML stream basalt multinode split prints.
func stream(t testing.TB, subs []SubJob) string {
	t.Helper()
	var b bytes.Buffer
	for _, s := range subs {
		y, err := value.EncodeYAML(s.Definition)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "--- # sub_id %d, role %s\n%s", s.SubID, s.Role, y)
	}
	return b.String()
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// TestSplitGolden splits each submission under testdata and compares the
// sub-jobs with golden files. The goldens for two-roles, three-roles
// (less secrets), connection, vland-lxc and count-zero were checked key
// for key against LAVA's own split_multinode_yaml.
func TestSplitGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no test inputs: %v", err)
	}
	for _, in := range inputs {
		name := filepath.Base(in)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, name, stream(t, mustSplit(t, string(src))))
		})
	}
}

// TestSetRolesGolden adds the scheduler's roles map to a group with
// dynamic connections, which LAVA leaves out of the map.
func TestSetRolesGolden(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "connection.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	subs := mustSplit(t, string(src))
	SetRoles(subs, []string{"1200", "1201", "1202"})
	checkGolden(t, "connection-scheduled.yaml", stream(t, subs))
}

// ids returns role/sub_id/group_size of each sub-job, read from its
// definition, as "role sub_id/group_size".
func ids(subs []SubJob) []string {
	var out []string
	for _, s := range subs {
		mn := s.Definition.Map("protocols").Map("lava-multinode")
		out = append(out, fmt.Sprintf("%s %v/%v", mn.Value("role"), mn.Value("sub_id"), mn.Value("group_size")))
		if mn.Value("role") != s.Role || mn.Value("sub_id") != s.SubID {
			out = append(out, fmt.Sprintf("MISMATCH with SubJob{%s %d}", s.Role, s.SubID))
		}
	}
	return out
}

func actionsOf(s SubJob) []string {
	var out []string
	for _, a := range s.Definition.List("actions") {
		m := a.(*value.Map)
		kind := m.Keys()[0]
		block := m.Map(kind)
		out = append(out, fmt.Sprintf("%s %s role=%v", kind, block.String("name")+block.String("to")+block.String("method"), value.GoString(block.Value("role"))))
	}
	return out
}

func TestSplitCountsAndOrder(t *testing.T) {
	subs := mustSplit(t, `
job_name: counts
visibility: public
timeouts: {job: {minutes: 5}}
protocols:
  lava-multinode:
    roles:
      b-server: {device_type: qemu, count: 1}
      a-client: {device_type: qemu, count: 3}
      c-probe: {device_type: docker, count: 2}
actions:
- deploy: {role: [a-client, b-server, c-probe], to: tmpfs}
- boot: {role: [c-probe], method: docker}
- test: {role: [b-server, a-client], name: t}
`)
	// Roles keep the submission's order (not sorted), sub_ids run across
	// roles, and group_size is the sum of the counts.
	want := []string{"b-server 0/6", "a-client 1/6", "a-client 2/6", "a-client 3/6", "c-probe 4/6", "c-probe 5/6"}
	if diff := cmp.Diff(want, ids(subs)); diff != "" {
		t.Errorf("sub-jobs (-want +got):\n%s", diff)
	}
	wantActions := map[string][]string{
		"b-server": {`deploy tmpfs role="b-server"`, `test t role="b-server"`},
		"a-client": {`deploy tmpfs role="a-client"`, `test t role="a-client"`},
		"c-probe":  {`deploy tmpfs role="c-probe"`, `boot docker role="c-probe"`},
	}
	for _, s := range subs {
		if diff := cmp.Diff(wantActions[s.Role], actionsOf(s)); diff != "" {
			t.Errorf("actions of %s %d (-want +got):\n%s", s.Role, s.SubID, diff)
		}
	}
}

func TestSplitShapes(t *testing.T) {
	tests := []struct {
		name string
		src  string
		// sub-job index → key path → want (GoString of the value, or
		// "<absent>")
		want map[int]map[string]string
		// sub-job index → want top-level key order, and that of
		// protocols.lava-multinode
		keys, mnKeys map[int][]string
	}{
		{
			name: "protocol timeout replaces the role timeout in its place",
			src: `
job_name: t
visibility: public
timeouts: {job: {minutes: 5}}
protocols:
  lava-multinode:
    timeout: {seconds: 90}
    roles:
      server: {timeout: {minutes: 3}, device_type: qemu, count: 1, tags: [x], essential: false}
      client: {device_type: qemu, count: 1}
actions:
- deploy: {role: [server, client], to: tmpfs}
`,
			want: map[int]map[string]string{
				0: {"protocols.lava-multinode.timeout": `{"seconds": 90}`, "protocols.lava-multinode.essential": "false"},
				1: {"protocols.lava-multinode.timeout": `{"seconds": 90}`, "protocols.lava-multinode.essential": "<absent>"},
			},
			mnKeys: map[int][]string{
				// essential first after sub_id (LAVA sets it early), the
				// role's timeout keeps its place with the protocol value.
				0: {"target_group", "role", "group_size", "sub_id", "essential", "timeout", "tags"},
				1: {"target_group", "role", "group_size", "sub_id", "timeout"},
			},
		},
		{
			name: "connection role: scheduling keys lifted, the rest in the protocol block",
			src: `
job_name: t
visibility: public
timeouts: {job: {minutes: 5}}
protocols:
  lava-multinode:
    roles:
      host: {device_type: qemu, count: 1, context: {arch: arm64}}
      guest: {connection: ssh, count: 1, host_role: host, expect_role: host, request: lava-start, context: {arch: arm64}}
actions:
- deploy: {role: [host, guest], to: tmpfs}
`,
			want: map[int]map[string]string{
				0: {"device_type": `"qemu"`, "connection": "<absent>", "context": `{"arch": "arm64"}`},
				1: {"device_type": "<absent>", "connection": `"ssh"`, "host_role": `"host"`, "context": `{"arch": "arm64"}`,
					"protocols.lava-multinode.expect_role": `"host"`, "protocols.lava-multinode.request": `"lava-start"`,
					"protocols.lava-multinode.host_role": "<absent>", "protocols.lava-multinode.count": "<absent>"},
			},
			keys: map[int][]string{
				0: {"actions", "job_name", "timeouts", "visibility", "device_type", "context", "protocols"},
				1: {"actions", "job_name", "timeouts", "visibility", "connection", "host_role", "context", "protocols"},
			},
		},
		{
			name: "top-level copies in LAVA's order, whatever the submission's",
			src: `
secrets: {K: v}
reboot_to_fastboot: true
metadata: {m: 1}
notify: {criteria: {status: complete}}
visibility: personal
priority: high
timeouts: {job: {minutes: 5}}
job_name: t
protocols:
  lava-multinode:
    roles:
      only: {device_type: qemu, count: 1}
  lava-xnbd: {port: auto}
actions:
- deploy: {role: [only], to: tmpfs}
`,
			want: map[int]map[string]string{0: {"protocols.lava-xnbd": "<absent>", "secrets": `{"K": "v"}`}},
			keys: map[int][]string{
				0: {"actions", "job_name", "timeouts", "priority", "visibility", "notify", "metadata", "reboot_to_fastboot", "secrets", "device_type", "protocols"},
			},
		},
		{
			name: "role rewritten in place in each action",
			src: `
job_name: t
visibility: public
timeouts: {job: {minutes: 5}}
protocols:
  lava-multinode:
    roles:
      a: {device_type: qemu, count: 1}
      b: {device_type: qemu, count: 1}
actions:
- test: {timeout: {minutes: 1}, role: [b, a, b], definitions: []}
`,
			want: map[int]map[string]string{
				0: {"actions[0].test.role": `"a"`},
				1: {"actions[0].test.role": `"b"`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			subs := mustSplit(t, tt.src)
			for i, want := range tt.want {
				for path, w := range want {
					got := "<absent>"
					if v, ok := lookup(subs[i].Definition, path); ok {
						got = value.GoString(v)
					}
					if got != w {
						t.Errorf("sub-job %d %s = %s, want %s", i, path, got, w)
					}
				}
			}
			for i, want := range tt.keys {
				if diff := cmp.Diff(want, subs[i].Definition.Keys()); diff != "" {
					t.Errorf("sub-job %d keys (-want +got):\n%s", i, diff)
				}
			}
			for i, want := range tt.mnKeys {
				got := subs[i].Definition.Map("protocols").Map("lava-multinode").Keys()
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("sub-job %d protocols.lava-multinode keys (-want +got):\n%s", i, diff)
				}
			}
			if t.Failed() {
				t.Logf("output:\n%s", stream(t, subs))
			}
		})
	}
}

var segRe = regexp.MustCompile(`([^.\[]+)|\[(\d+)\]`)

// lookup follows a path like actions[0].test.role.
func lookup(m *value.Map, path string) (any, bool) {
	var cur any = m
	for _, seg := range segRe.FindAllStringSubmatch(path, -1) {
		switch c := cur.(type) {
		case *value.Map:
			if seg[1] == "" {
				return nil, false
			}
			v, ok := c.Get(seg[1])
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			var i int
			if _, err := fmt.Sscan(seg[2], &i); err != nil || seg[2] == "" || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// TestSplitLeavesInputAndCopiesAlone: the submission is not modified, and
// the sub-jobs share nothing, so the group runner may change one freely.
func TestSplitLeavesInputAndCopiesAlone(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "three-roles.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	def := mustParse(t, string(src))
	before := value.GoString(def)
	subs, err := Split(def, Options{TargetGroup: goldenGroup})
	if err != nil {
		t.Fatal(err)
	}
	if after := value.GoString(def); after != before {
		t.Errorf("Split modified its input:\nbefore %s\nafter  %s", before, after)
	}
	// client 0 and client 1 come from one role; change everything of one.
	c0, c1 := subs[1].Definition, subs[2].Definition
	want := value.GoString(c1)
	c0.Map("metadata").Set("source", "changed")
	c0.Map("timeouts").Map("job").Set("minutes", 1)
	c0.Map("protocols").Map("lava-multinode").Map("environment").Set("FOO", "changed")
	c0.List("actions")[0].(*value.Map).Map("deploy").Map("images").Set("rootfs", "changed")
	if got := value.GoString(c1); got != want {
		t.Errorf("changing one sub-job changed another:\nwant %s\ngot  %s", want, got)
	}
	if got := value.GoString(def); got != before {
		t.Errorf("changing a sub-job changed the submission")
	}
}

var uuid4Re = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestSplitPicksRandomTargetGroup(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "two-roles.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string]bool{}
	for range 2 {
		subs, err := Split(mustParse(t, string(src)), Options{})
		if err != nil {
			t.Fatal(err)
		}
		tg := subs[0].Definition.Map("protocols").Map("lava-multinode").String("target_group")
		if !uuid4Re.MatchString(tg) {
			t.Errorf("target_group %q is not a UUID4", tg)
		}
		for _, s := range subs {
			if got := s.Definition.Map("protocols").Map("lava-multinode").String("target_group"); got != tg {
				t.Errorf("sub-job %d has target_group %q, sub-job 0 %q", s.SubID, got, tg)
			}
		}
		groups[tg] = true
	}
	if len(groups) != 2 {
		t.Errorf("two splits got the same target_group: %v", groups)
	}
}

func TestIsSubmission(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want bool
	}{
		{"roles of role maps", `{protocols: {lava-multinode: {roles: {a: {device_type: qemu, count: 1}}}}}`, true},
		{"split sub-job before scheduling", `{protocols: {lava-multinode: {target_group: g, role: a, group_size: 1, sub_id: 0}}}`, false},
		{"split sub-job after scheduling", `{protocols: {lava-multinode: {target_group: g, role: a, roles: {'12': a}}}}`, false},
		{"single-node job", `{device_type: qemu, actions: []}`, false},
		{"empty roles", `{protocols: {lava-multinode: {roles: {}}}}`, false},
		{"roles not a map", `{protocols: {lava-multinode: {roles: [a, b]}}}`, false},
		{"protocols not a map", `{protocols: lava-multinode}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsSubmission(mustParse(t, tt.src)); got != tt.want {
				t.Errorf("IsSubmission = %v, want %v", got, tt.want)
			}
		})
	}
	if IsSubmission(nil) {
		t.Error("IsSubmission(nil) = true")
	}
}

func TestSetRoles(t *testing.T) {
	subs := mustSplit(t, `
job_name: t
visibility: public
timeouts: {job: {minutes: 5}}
protocols:
  lava-multinode:
    roles:
      host: {device_type: qemu, count: 1}
      guest: {connection: ssh, count: 2, host_role: host, expect_role: host}
      client: {device_type: qemu, count: 2}
actions:
- deploy: {role: [host, guest, client], to: tmpfs}
`)
	SetRoles(subs, []string{"41", "42", "43", "44", "45"})
	// The guests (sub_ids 1, 2: dynamic connections) are not in the map,
	// but get it like everyone else.
	want := `{"41": "host", "44": "client", "45": "client"}`
	for _, s := range subs {
		roles := s.Definition.Map("protocols").Map("lava-multinode").Map("roles")
		if got := value.GoString(roles); got != want {
			t.Errorf("sub-job %d roles = %s, want %s", s.SubID, got, want)
		}
	}
	// Each sub-job has its own map.
	subs[0].Definition.Map("protocols").Map("lava-multinode").Map("roles").Set("99", "x")
	if got := value.GoString(subs[3].Definition.Map("protocols").Map("lava-multinode").Map("roles")); got != want {
		t.Errorf("sub-jobs share their roles map: %s", got)
	}

	// Sub-jobs out of sub_id order still give a map in sub_id order.
	subs = mustSplit(t, `
job_name: t
visibility: public
timeouts: {job: {minutes: 5}}
protocols: {lava-multinode: {roles: {a: {device_type: qemu, count: 1}, b: {device_type: qemu, count: 1}}}}
actions: [{deploy: {role: [a, b], to: tmpfs}}]
`)
	subs[0], subs[1] = subs[1], subs[0]
	SetRoles(subs, []string{"8", "7"})
	if got := value.GoString(subs[0].Definition.Map("protocols").Map("lava-multinode").Map("roles")); got != `{"7": "a", "8": "b"}` {
		t.Errorf("roles = %s, want sub_id order", got)
	}

	defer func() {
		if recover() == nil {
			t.Error("SetRoles with fewer ids than sub-jobs did not panic")
		}
	}()
	SetRoles(subs, []string{"1"})
}
