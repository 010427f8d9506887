package lab

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/value"
	"github.com/basalt-lava/basalt/internal/workerapi"
)

// sshFixture adds type ssh and its device ssh-01 to w1, and worker w2
// with a qemu device, and returns w2's token.
func sshFixture(t *testing.T, f *fixture) string {
	t.Helper()
	ctx := context.Background()
	must(t, f.st.PutDeviceType(ctx, store.DeviceType{Name: "ssh"}))
	dict := "{% extends 'ssh.jinja2' %}\n{% set ssh_host = '192.0.2.7' %}\n{% set ssh_port = 2222 %}\n" +
		"{% set ssh_user = 'root' %}\n{% set ssh_identity_file = '/var/lib/basalt/ssh/id_ed25519' %}\n" +
		"{% set power_off_command = 'ssh-power off' %}\n{% set connection_command = 'telnet 192.0.2.7 7000' %}\n"
	must(t, f.st.CreateDevice(ctx, store.Device{Name: "ssh-01", DeviceType: "ssh", Worker: "w1", Dictionary: dict}))
	must(t, f.st.SetDeviceHealth(ctx, "ssh-01", store.HealthGood))
	tok2, err := f.st.CreateWorker(ctx, "w2", "")
	must(t, err)
	must(t, f.st.CreateDevice(ctx, store.Device{Name: "qemu-09", DeviceType: "qemu", Worker: "w2", Dictionary: readFile(t, "device.jinja2")}))
	must(t, f.st.SetDeviceHealth(ctx, "qemu-09", store.HealthGood))
	return tok2
}

// TestDynamicConnection: a MultiNode role with connection: ssh and
// host_role gets no device: it is scheduled with its group, started by
// the worker of its host role's device with that device's minimised
// configuration, left out of the roles map, and ends with the group.
func TestDynamicConnection(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		f := newFixture(t, open(t), 0)
		tok2 := sshFixture(t, f)
		r := f.start(t, nil)
		p1, p2 := r.peer(t, "w1", f.token), r.peer(t, "w2", tok2)
		for _, p := range []*workerapi.Peer{p1, p2} {
			_, err := p.Poll(ctx, nil, 0)
			must(t, err)
		}
		jobs, err := r.lab.Submit(ctx, f.alice, readFile(t, "dynamic.yaml"))
		must(t, err)
		if len(jobs) != 2 {
			t.Fatalf("submitted %d jobs, want 2", len(jobs))
		}
		host, guest := jobs[0], jobs[1]
		if host.DeviceType != "ssh" || guest.DeviceType != "" || guest.HostJob != host.ID || host.HostJob != 0 {
			t.Fatalf("host %d type %q host_job %d; guest %d type %q host_job %d", host.ID, host.DeviceType, host.HostJob, guest.ID, guest.DeviceType, guest.HostJob)
		}
		var started []workerapi.StartJob
		for len(started) < 2 {
			resp := pollFor(t, p1, nil, hasStart)
			started = append(started, resp.Start...)
		}
		slices.SortFunc(started, func(a, b workerapi.StartJob) int { return int(a.Job - b.Job) })
		if started[0].Job != workerapi.JobID(host.ID) || started[1].Job != workerapi.JobID(guest.ID) {
			t.Fatalf("w1 started %d and %d, want %d and %d", started[0].Job, started[1].Job, host.ID, guest.ID)
		}
		if resp, err := p2.Poll(ctx, nil, 0); err != nil || len(resp.Start) != 0 {
			t.Errorf("w2 was given %v (%v)", resp.Start, err)
		}
		// The roles map names the jobs with a device only, in both.
		roles := fmt.Sprintf("roles:\n      '%d': host\n", host.ID)
		for _, s := range started {
			if !strings.Contains(s.Definition, roles) || strings.Contains(s.Definition, fmt.Sprintf("'%d': guest", guest.ID)) {
				t.Errorf("job %d: definition without %q or naming the guest:\n%s", s.Job, roles, s.Definition)
			}
			if s.Coordinator == "" {
				t.Errorf("job %d: no coordinator", s.Job)
			}
		}
		// The guest gets the host's device, minimised: its ssh method,
		// not its power commands.
		hostDev, guestDev := started[0].Device, started[1].Device
		for _, want := range []string{"192.0.2.7", "/var/lib/basalt/ssh/id_ed25519"} {
			if !strings.Contains(hostDev, want) {
				t.Errorf("host device configuration lacks %q:\n%s", want, hostDev)
			}
		}
		for _, want := range []string{"hostname: ssh-01", "devicetype: ssh", "/var/lib/basalt/ssh/id_ed25519", "kernel-start-message: ''"} {
			if !strings.Contains(guestDev, want) {
				t.Errorf("guest device configuration lacks %q:\n%s", want, guestDev)
			}
		}
		if keys := topKeys(t, guestDev); !slices.Equal(keys, []string{"hostname", "devicetype", "constants", "timeouts", "actions"}) {
			t.Errorf("guest device configuration's keys: %v", keys)
		}
		if len(topKeys(t, hostDev)) <= 5 {
			t.Errorf("host device configuration's keys: %v, want more than the minimised ones", topKeys(t, hostDev))
		}
		// Both run on w1: its log and finish are the guest's worker's.
		running := []workerapi.RunningJob{{Job: started[0].Job}, {Job: started[1].Job}}
		if _, err := p2.Log(ctx, started[1].Job, 0, []string{`- {"dt": "x", "lvl": "info", "msg": "m"}`}); err == nil {
			t.Errorf("w2 logged to the guest job")
		}
		// The essential host fails: the guest is canceled.
		must(t, p1.Finish(ctx, workerapi.FinishRequest{Job: started[0].Job, Health: workerapi.Incomplete, ErrorType: "Job", ErrorMessage: "boom"}))
		resp := pollFor(t, p1, running[1:], func(r workerapi.PollResponse) bool { return len(r.Cancel) > 0 })
		if !slices.Equal(resp.Cancel, []workerapi.JobID{started[1].Job}) {
			t.Errorf("cancel %v, want [%d]", resp.Cancel, started[1].Job)
		}
		must(t, p1.Finish(ctx, workerapi.FinishRequest{Job: started[1].Job, Health: workerapi.Incomplete, ErrorType: "Canceled"}))
		g, err := f.st.Job(ctx, guest.ID)
		must(t, err)
		if g.State != store.JobFinished || g.Health != store.JobCanceled {
			t.Errorf("guest %s/%s, want Finished/Canceled", g.State, g.Health)
		}
		if d, _ := f.st.Device(ctx, "ssh-01"); d.State != store.DeviceIdle {
			t.Errorf("ssh-01 is %s, want Idle", d.State)
		}
	})
}

// TestDynamicConnectionLease: the worker running a group's host role and
// its dynamic connection loses its lease: both end Incomplete with an
// infrastructure error.
func TestDynamicConnectionLease(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		f := newFixture(t, open(t), 0)
		sshFixture(t, f)
		r := f.start(t, func(c *Config) { c.Lease = 300 * time.Millisecond })
		p1 := r.peer(t, "w1", f.token)
		_, err := p1.Poll(ctx, nil, 0)
		must(t, err)
		jobs, err := r.lab.Submit(ctx, f.alice, readFile(t, "dynamic.yaml"))
		must(t, err)
		n := 0
		for n < 2 {
			n += len(pollFor(t, p1, nil, hasStart).Start)
		}
		// w1 stops polling.
		for _, j := range jobs {
			waitFor(t, fmt.Sprintf("job %d ended by the lost lease", j.ID), func() (bool, error) {
				j, err := f.st.Job(ctx, j.ID)
				return j.State == store.JobFinished && j.Health == store.JobIncomplete && j.ErrorClass == "Infrastructure", err
			})
		}
	})
}

func topKeys(t *testing.T, yaml string) []string {
	t.Helper()
	v, err := value.DecodeYAML([]byte(yaml))
	must(t, err)
	m, _ := v.(*value.Map)
	return m.Keys()
}

// TestDynamicConnectionRefused: a dynamic connection is checked on the
// devices its host role may get (minimised): a guest that needs the ssh
// method refuses a host role on QEMU devices, the problem placed at the
// guest's action in the submission; and it needs no device type of its
// own.
func TestDynamicConnectionRefused(t *testing.T) {
	ctx := context.Background()
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		f := newFixture(t, open(t), 1)
		l, err := New(Config{Store: f.st, Logs: f.logs})
		must(t, err)
		// The host role runs a plain QEMU job; the guest still asks for ssh.
		def := readFile(t, "dynamic.yaml")
		def = strings.Replace(def, "device_type: ssh", "device_type: qemu", 1)
		_, err = l.Submit(ctx, f.alice, def)
		se, ok := err.(*SubmitError)
		if !ok {
			t.Fatalf("Submit = %v, want a *SubmitError", err)
		}
		found := false
		for _, p := range se.Problems {
			if strings.Contains(p, "actions[3]") && strings.Contains(p, "ssh") {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem at the guest's deploy (actions[3]) about ssh: %q", se.Problems)
		}
		if js, _ := f.st.Jobs(ctx, store.JobFilter{}); len(js) != 0 {
			t.Errorf("a refused submission stored %d jobs", len(js))
		}
	})
}
