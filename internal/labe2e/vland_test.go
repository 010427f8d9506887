package labe2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/labtest"
	"github.com/basalt-lava/basalt/internal/vlandtest"
)

// VLANd MultiNode groups through the lab: the e2e tests' VLANd group
// (internal/e2e/testdata/vland-group.yaml: alpha on vlan_one [1G] and
// vlan_two [1G], beta on vlan_one [1G], gamma on vlan_two [RJ45])
// submitted to `basalt server`, run by a `basalt worker --vland` on ssh
// devices in network namespaces (internal/vlandtest) cabled to the
// switch of a `basalt vland`.
//
// The server chooses the devices by their interfaces, as LAVA's
// scheduler does: vla, first by name, has one 100M interface, which
// carries none of the group's VLANs; vld alone has the two interfaces
// alpha's two VLANs need; vlb and vlc have one 1G RJ45 interface each.
// Without the match, alpha would get vla.
var vlandDevices = []vlandtest.Device{
	{Name: "vla", Ifaces: []string{"test0"}, Tags: []string{"100M"}},
	{Name: "vlb", Ifaces: []string{"test0"}, Tags: []string{"1G", "RJ45"}},
	{Name: "vlc", Ifaces: []string{"test0"}, Tags: []string{"1G", "RJ45"}},
	{Name: "vld", Ifaces: []string{"test0", "test1"}, Tags: []string{"1G", "RJ45"}},
}

// vlandGroup is the e2e group after edit.
func vlandGroup(t *testing.T, edit func(string) string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(labtest.Root, "internal", "e2e", "testdata", "vland-group.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), "@ESSENTIAL@\n", "", 1)
	if edit != nil {
		text = edit(text)
	}
	return labtest.File(t, "vland-group.yaml", text)
}

func TestVlandGroup(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a lab with sshd in network namespaces: skipped under -short")
	}
	vl := vlandtest.New(t, vlandDevices)
	d := vl.StartVland(t, labtest.Basalt, "{min: 100, max: 199}")
	var devices []labtest.Device
	for _, dev := range vlandDevices {
		devices = append(devices, labtest.Device{Name: dev.Name, Worker: "w1", DeviceType: "ssh",
			Dictionary: labtest.File(t, dev.Name+".jinja2", vl.Dicts[dev.Name])})
	}
	l := newLab(t, labtest.Config{Coordinator: true, Workers: []string{"w1"}, Devices: devices,
		WorkerArgs: []string{"--vland", d.Addr}})
	c := anyLavacli(t)

	// A role whose tags no device's interfaces carry: refused, naming
	// the role and its VLANs.
	r := l.lavacli(t, c, "admin", "jobs", "submit", vlandGroup(t, func(s string) string {
		return strings.Replace(s, "tags: [RJ45]", "tags: [10G]", 1)
	}))
	for _, w := range []string{"Unable to submit", "role gamma", "vlan_two [10G]"} {
		if !strings.Contains(r.stdout+r.stderr, w) {
			t.Errorf("the refusal of a group no device carries lacks %q: %s", w, clip(r.String(), 20))
		}
	}
	if subJobLine.MatchString(r.stdout) {
		t.Errorf("a job id was printed: %s", r)
	}

	vlandtest.CheckDefaultVLAN(t, vl.Netns["vlb"], vl.Netns["vlc"])
	out := ok(t, l.lavacli(t, c, "admin", "jobs", "submit", vlandGroup(t, nil))).stdout
	ids := subJobLine.FindAllStringSubmatch(out, -1)
	if len(ids) != 3 {
		t.Fatalf("jobs submit of a group of 3: want three sub-job ids: %s", out)
	}
	roles := map[string]string{"alpha": ids[0][1], "beta": ids[1][1], "gamma": ids[2][1]}
	for _, id := range roles {
		ok(t, l.lavacli(t, c, "admin", "jobs", "wait", id, "--polling", "1"))
	}
	want := map[string]struct {
		device string
		cases  []string
	}{
		"alpha": {"vld", []string{"vlan-names", "addressed", "reach-beta", "reach-gamma"}},
		"beta":  {"vlb", []string{"vlan-names", "addressed", "reach-alpha", "isolated-from-gamma"}},
		"gamma": {"vlc", []string{"vlan-names", "addressed", "reach-alpha", "isolated-from-beta"}},
	}
	for role, w := range want {
		id := roles[role]
		wantFields(t, l.lavacli(t, c, "admin", "jobs", "show", id), map[string]string{
			"id": id, "state": "Finished", "Health": "Complete", "device-type": "ssh", "device": w.device})
		res := ok(t, l.lavacli(t, c, "admin", "results", id)).stdout
		for _, tc := range w.cases {
			if line := "* 0_vland-" + role + "." + tc + " [pass]"; !strings.Contains(res, line) {
				t.Errorf("%s (%s): results lack %q:\n%s", role, id, line, clip(res, 40))
			}
		}
		log := ok(t, l.lavacli(t, c, "admin", "jobs", "logs", id, "--raw", "--no-follow")).stdout
		for _, s := range []string{"Setting switch sw1 port", "Finalizing port"} {
			if !strings.Contains(log, s) {
				t.Errorf("%s (%s): the log lacks %q", role, id, s)
			}
		}
		if t.Failed() {
			t.Logf("log of %s (%s):\n%s", role, id, clip(log, 300))
		}
	}
	// Nothing left: VLANs deleted and ports back on the default VLAN;
	// no job process of the worker, ssh client or session on a device;
	// every device Idle. The namespaces, links and bridges are checked
	// as the lab and the daemon stop (vlandtest).
	d.CheckClean(t)
	labtest.WaitFor(t, 30*time.Second, "the group's processes gone", func() bool {
		if len(labtest.ProcessesMentioning(l.JobsDir("w1"))) > 0 {
			return false
		}
		for _, srv := range vl.Servers {
			if len(labtest.ProcessesMentioning(srv.ClientKey)) > 0 {
				return false
			}
		}
		return true
	})
	labtest.WaitFor(t, 10*time.Second, "no session left on the devices", func() bool {
		for _, srv := range vl.Servers {
			for _, s := range srv.Leftovers() {
				if strings.HasPrefix(s, "process") {
					return false
				}
			}
		}
		return true
	})
	for _, dev := range vlandDevices {
		if f := fields(ok(t, l.lavacli(t, c, "admin", "devices", "show", dev.Name)).stdout); f["state"] != "Idle" {
			t.Errorf("device %s is %q after the group, want Idle", dev.Name, f["state"])
		}
	}
}
