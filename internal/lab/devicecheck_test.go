package lab

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
)

// TestDeviceChecksRemembered: a device's configuration check is kept in
// the store, so a new Lab (a restarted server) renders only the devices
// whose dictionary, store template or template folders changed, and still
// sets Bad a device remembered invalid.
func TestDeviceChecksRemembered(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		f := newFixture(t, open(t), 3)
		dict := readFile(t, "device.jinja2")
		must(t, f.st.SetDictionary(ctx, "qemu-03", dict+"{# qemu-03 #}\n"))
		must(t, f.st.PingWorker(ctx, "w1", time.Now()))
		// pass runs a pass of a new Lab (nothing queued: every device that
		// could take work is checked) and returns how many it rendered.
		folder := t.TempDir()
		pass := func(dirs ...string) int64 {
			t.Helper()
			l, err := New(Config{Store: f.st, Logs: f.logs, DeviceTypeDirs: dirs})
			must(t, err)
			must(t, l.Pass(ctx))
			return l.rendered.Load()
		}
		expect := func(what string, got, want int64) {
			t.Helper()
			if got != want {
				t.Errorf("%s: %d configurations rendered, want %d", what, got, want)
			}
		}
		expect("first start", pass(), 3)
		cs, err := f.st.DeviceChecks(ctx)
		must(t, err)
		// qemu-01 and -02 share a dictionary, but their names are
		// rendered (scheduled_device_name): keys of their own.
		if len(cs) != 3 || cs["qemu-01"].Key == cs["qemu-02"].Key || cs["qemu-03"].Problem != "" {
			t.Errorf("remembered checks = %+v, want 3 valid, each with its key", cs)
		}
		expect("restart", pass(), 0)

		must(t, f.st.SetDictionary(ctx, "qemu-03", dict+"{# qemu-03 changed #}\n"))
		expect("qemu-03's dictionary changed", pass(), 1)
		expect("restart", pass(), 0)

		l, err := New(Config{Store: f.st, Logs: f.logs})
		must(t, err)
		tmpl, err := l.Template(ctx, "qemu")
		must(t, err)
		must(t, f.st.PutDeviceType(ctx, store.DeviceType{Name: "qemu", Template: tmpl + "{# set over the API #}\n"}))
		expect("the template set in the store", pass(), 3)
		expect("restart", pass(), 0)

		must(t, os.WriteFile(filepath.Join(folder, "other.jinja2"), []byte("{# one #}\n"), 0o644))
		expect("a template folder", pass(folder), 3)
		expect("restart with the folder", pass(folder), 0)
		must(t, os.WriteFile(filepath.Join(folder, "other.jinja2"), []byte("{# one, changed #}\n"), 0o644))
		expect("a file of the folder changed", pass(folder), 3)

		must(t, f.st.SetDictionary(ctx, "qemu-03", "{% extends 'no-such-type.jinja2' %}"))
		expect("qemu-03 broken", pass(folder), 1)
		reason := func() string {
			t.Helper()
			d, err := f.st.Device(ctx, "qemu-03")
			must(t, err)
			if d.Health != store.HealthBad {
				t.Errorf("qemu-03 health %s, want Bad", d.Health)
			}
			es, err := f.st.DeviceLog(ctx, "qemu-03", 1)
			must(t, err)
			if len(es) != 1 || !strings.HasPrefix(es[0].Reason, "Invalid device configuration: ") {
				t.Fatalf("qemu-03's device log = %+v, want Bad for its configuration", es)
			}
			return es[0].Reason
		}
		first := reason()
		must(t, f.st.SetDeviceHealth(ctx, "qemu-03", store.HealthGood))
		expect("restart with qemu-03 remembered invalid", pass(folder), 0)
		if again := reason(); again != first {
			t.Errorf("remembered reason %q, want %q", again, first)
		}
	})
}
