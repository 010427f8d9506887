package lab

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/store"
)

// vlandDict is an ssh device dictionary whose test interfaces eth1,
// eth2, ... have these tags, cabled to ports of switch sw1.
func vlandDict(n int, tags ...[]string) string {
	dict := fmt.Sprintf("{%% extends 'ssh.jinja2' %%}\n{%% set ssh_host = '192.0.2.%d' %%}\n{%% set ssh_user = 'root' %%}\n{%% set ssh_identity_file = '/var/lib/basalt/ssh/id_ed25519' %%}\n", n)
	if len(tags) == 0 {
		return dict
	}
	var ifaces, sysfs, macs, maps, tagl []string
	for i, ts := range tags {
		name := fmt.Sprintf("eth%d", i+1)
		ifaces = append(ifaces, "'"+name+"'")
		sysfs = append(sysfs, fmt.Sprintf("'%s': '/sys/devices/virtual/net/%s'", name, name))
		macs = append(macs, fmt.Sprintf("'%s': '02:00:00:00:%02x:%02x'", name, n, i+1))
		maps = append(maps, fmt.Sprintf("'%s': {'sw1': %d}", name, 10*n+i))
		tagl = append(tagl, fmt.Sprintf("'%s': ['%s']", name, strings.Join(ts, "', '")))
	}
	return dict + fmt.Sprintf("{%% set interfaces = [%s] %%}\n{%% set sysfs = {%s} %%}\n{%% set mac_addr = {%s} %%}\n{%% set map = {%s} %%}\n{%% set tags = {%s} %%}\n",
		strings.Join(ifaces, ", "), strings.Join(sysfs, ", "), strings.Join(macs, ", "), strings.Join(maps, ", "), strings.Join(tagl, ", "))
}

// vlandDevices puts ssh devices with these dictionaries on w1, Good.
func vlandDevices(t *testing.T, st store.Store, dicts map[string]string) {
	t.Helper()
	ctx := context.Background()
	must(t, st.PutDeviceType(ctx, store.DeviceType{Name: "ssh"}))
	for name, dict := range dicts {
		must(t, st.CreateDevice(ctx, store.Device{Name: name, DeviceType: "ssh", Worker: "w1", Dictionary: dict}))
		must(t, st.SetDeviceHealth(ctx, name, store.HealthGood))
	}
}

// TestVlandScheduling: each role of a lava-vland group goes to a device
// whose interfaces carry its VLANs' tags, as LAVA's scheduler
// (match_vlan_interface): alpha's two 1G VLANs need ssh-02's two 1G
// interfaces, gamma's 10G VLAN ssh-04; beta takes the 1G device left;
// ssh-03, without VLAN interfaces, gets nothing, and is no reason to
// refuse the group at submission.
func TestVlandScheduling(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		f := newFixture(t, open(t), 0)
		vlandDevices(t, f.st, map[string]string{
			"ssh-01": vlandDict(1, []string{"1G"}),
			"ssh-02": vlandDict(2, []string{"1G", "RJ45"}, []string{"1G"}),
			"ssh-03": vlandDict(3),
			"ssh-04": vlandDict(4, []string{"10G"}),
		})
		r := f.start(t, nil)
		p := r.peer(t, "w1", f.token)
		_, err := p.Poll(ctx, nil, 0)
		must(t, err)
		jobs, err := r.lab.Submit(ctx, f.alice, readFile(t, "vland.yaml"))
		must(t, err)
		if len(jobs) != 3 {
			t.Fatalf("submitted %d jobs, want 3", len(jobs))
		}
		n := 0
		for n < 3 {
			n += len(pollFor(t, p, nil, hasStart).Start)
		}
		want := map[string]string{"alpha": "ssh-02", "beta": "ssh-01", "gamma": "ssh-04"}
		for i, role := range []string{"alpha", "beta", "gamma"} {
			j, err := f.st.Job(ctx, jobs[i].ID)
			must(t, err)
			if j.Device != want[role] {
				t.Errorf("%s (job %d) on %q, want %s", role, j.ID, j.Device, want[role])
			}
		}
	})
}

// TestVlandRefused: a group no set of devices can carry is refused at
// submission, naming the role and its tags (LAVA leaves it queued).
func TestVlandRefused(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		f := newFixture(t, open(t), 0)
		vlandDevices(t, f.st, map[string]string{
			"ssh-01": vlandDict(1, []string{"1G"}),
			"ssh-02": vlandDict(2, []string{"1G", "RJ45"}, []string{"1G"}),
			"ssh-03": vlandDict(3),
			"ssh-04": vlandDict(4, []string{"10G"}),
		})
		l, err := New(Config{Store: f.st, Logs: f.logs})
		must(t, err)
		def := readFile(t, "vland.yaml")
		for _, tt := range []struct {
			name, from, to string
			want           []string
		}{
			{
				name: "tags no interface has",
				from: "tags: [10G]", to: "tags: [40G]",
				want: []string{`no device of type "ssh" that is not Retired has interfaces for the VLANs of role gamma: vlan_two [40G]`},
			},
			{
				name: "tags on two interfaces, not one",
				from: "tags: [10G]", to: "tags: [10G, RJ45]",
				want: []string{`role gamma: vlan_two [10G, RJ45]`},
			},
			{
				// Each role alone finds a device, not all three at once:
				// alpha and gamma both need ssh-02's two 1G interfaces.
				name: "two roles for one device",
				from: "      vlan_two:\n        tags: [10G]", to: "      vlan_one:\n        tags: [1G]\n      vlan_two:\n        tags: [1G]",
				want: []string{"no set of distinct devices", "role alpha needs vlan_one [1G], vlan_two [1G]", "role gamma needs vlan_one [1G], vlan_two [1G]"},
			},
		} {
			t.Run(tt.name, func(t *testing.T) {
				text := strings.Replace(def, tt.from, tt.to, 1)
				if text == def {
					t.Fatalf("%q not in the job", tt.from)
				}
				_, err := l.Submit(ctx, f.alice, text)
				var se *SubmitError
				if !errors.As(err, &se) {
					t.Fatalf("Submit: %v, want a SubmitError", err)
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
			})
		}
	})
}
