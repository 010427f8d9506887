package lab

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
)

const monitors = `- test:
    timeout:
      minutes: 1
    monitors:
    - name: boot-test
      start: Booting
      end: 'login:'
      pattern: '(?P<test_case_id>\w+): (?P<result>pass|fail)'
`

func TestSubmit(t *testing.T) {
	backends(t, testSubmit)
}

func testSubmit(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	st := open(t)
	f := newFixture(t, st, 2)
	must(t, st.PutDeviceType(ctx, store.DeviceType{Name: "retired-type"}))
	must(t, st.CreateDevice(ctx, store.Device{Name: "old-01", DeviceType: "retired-type", Worker: "w1", Dictionary: readFile(t, "device.jinja2")}))
	must(t, st.SetDeviceHealth(ctx, "old-01", store.HealthRetired))
	l, err := New(Config{Store: st, Logs: f.logs})
	must(t, err)
	job := readFile(t, "job.yaml")
	mn := readFile(t, "multinode.yaml")

	refusals := []struct {
		name       string
		definition string
		code       int
		want       []string // substrings of the problems, in order
	}{
		{"invalid YAML", "device_type: qemu\nactions: [\n", 400, []string{"job.yaml:2:1: invalid YAML"}},
		{"not a job", "just text\n", 400, []string{"job.yaml:1:1:"}},
		{"missing job_name", strings.Replace(job, "job_name: lab-test\n", "", 1), 400, []string{"job_name"}},
		{"unknown device type", strings.Replace(job, "device_type: qemu", "device_type: beaglebone-black", 1), 404,
			[]string{`Specified device or device type not found: device type "beaglebone-black"`}},
		{"every device retired", strings.Replace(job, "device_type: qemu", "device_type: retired-type", 1), 400,
			[]string{`Device unavailable: no device of device type "retired-type" that is not Retired`}},
		{"tags no device has", strings.Replace(job, "visibility: public", "visibility: public\ntags: [usb-hub]", 1), 400,
			[]string{`Device unavailable: no device of device type "qemu" with tags usb-hub that is not Retired`}},
		{"refused by the dispatcher's check on the device", strings.Replace(job, "media: tmpfs", "media: nfs", 1), 400,
			[]string{`job.yaml:29:12: actions[1].boot.media: expected "tmpfs"`}},
		{"an action Basalt cannot run", job + monitors, 400,
			[]string{"job.yaml:34:3: actions[2].test: 3 lava-test-monitor-retry: test monitors cannot run in Basalt yet"}},
		{"too large", job + "# " + strings.Repeat("x", 1<<20) + "\n", 400, []string{"the job definition is over the limit of 1M bytes"}},
		{"MultiNode role on an unknown type", strings.Replace(mn, "client:\n        device_type: qemu", "client:\n        device_type: nope", 1), 404,
			[]string{`device type "nope"`}},
		{"MultiNode problem placed in the submission", mn + strings.Replace(monitors, "- test:\n", "- test:\n    role: [client]\n", 1), 400,
			[]string{"job.yaml:104:3: actions[4].test: 4 lava-test-monitor-retry: test monitors cannot run in Basalt yet"}},
		{"MultiNode needs more devices than the lab has", strings.Replace(mn, "client:\n        device_type: qemu\n        count: 1", "client:\n        device_type: qemu\n        count: 2", 1), 400,
			[]string{`Device unavailable: the job needs 3 devices of device type "qemu" that are not Retired, the lab has 2`}},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			before, err := st.Jobs(ctx, store.JobFilter{})
			must(t, err)
			jobs, err := l.Submit(ctx, f.alice, c.definition)
			var se *SubmitError
			if !errors.As(err, &se) {
				t.Fatalf("Submit = %v, %v; want a *SubmitError", jobs, err)
			}
			if se.Code != c.code {
				t.Errorf("code %d, want %d (%v)", se.Code, c.code, se)
			}
			if errors.Is(err, store.ErrNotFound) != (c.code == 404) {
				t.Errorf("errors.Is(err, store.ErrNotFound) = %v with code %d", !(c.code == 404), c.code)
			}
			text := strings.Join(se.Problems, "\n")
			at := 0
			for _, w := range c.want {
				i := strings.Index(text[at:], w)
				if i < 0 {
					t.Errorf("problems do not hold %q (after byte %d):\n%s", w, at, text)
					break
				}
				at += i
			}
			after, err := st.Jobs(ctx, store.JobFilter{})
			must(t, err)
			if len(after) != len(before) {
				t.Errorf("a refused submission stored %d jobs", len(after)-len(before))
			}
		})
	}

	t.Run("valid single job", func(t *testing.T) {
		jobs, err := l.Submit(ctx, f.alice, job)
		must(t, err)
		if len(jobs) != 1 {
			t.Fatalf("Submit stored %d jobs, want 1", len(jobs))
		}
		j := jobs[0]
		if j.State != store.JobSubmitted || j.Priority != 100 || j.Description != "lab-test" || j.DeviceType != "qemu" ||
			j.Submitter != "alice" || j.Definition != job || j.QueueTimeout != time.Hour || j.Visibility != store.VisibilityPublic {
			t.Errorf("stored job = %+v", j)
		}
		if id, ok := DisplayID(j).(int64); !ok || id != j.ID {
			t.Errorf("DisplayID = %#v, want the int64 id %d", DisplayID(j), j.ID)
		}
		got, err := l.FindJob(ctx, fmt.Sprint(j.ID))
		if err != nil || got.ID != j.ID {
			t.Errorf("FindJob(%d) = %d, %v", j.ID, got.ID, err)
		}
	})

	t.Run("priority and visibility", func(t *testing.T) {
		def := strings.Replace(strings.Replace(job, "priority: high", "priority: 7", 1), "visibility: public", "visibility: personal", 1)
		jobs, err := l.Submit(ctx, f.alice, def)
		must(t, err)
		if j := jobs[0]; j.Priority != 7 || j.Visibility != store.VisibilityPersonal {
			t.Errorf("priority %d visibility %s, want 7 personal", j.Priority, j.Visibility)
		}
		def = strings.Replace(strings.Replace(job, "priority: high", "priority: low", 1), "visibility: public", "visibility:\n  group: [lab]", 1)
		jobs, err = l.Submit(ctx, f.alice, def)
		must(t, err)
		if j := jobs[0]; j.Priority != 0 || j.Visibility != store.VisibilityGroup || len(j.VisibleGroups) != 1 || j.VisibleGroups[0] != "lab" {
			t.Errorf("priority %d visibility %s %v, want 0 group [lab]", j.Priority, j.Visibility, j.VisibleGroups)
		}
	})

	t.Run("MultiNode", func(t *testing.T) {
		jobs, err := l.Submit(ctx, f.alice, mn)
		must(t, err)
		if len(jobs) != 2 {
			t.Fatalf("Submit stored %d jobs, want 2", len(jobs))
		}
		first := jobs[0].ID
		for i, j := range jobs {
			want := fmt.Sprintf("%d.%d", first, i)
			if DisplayID(j) != want || j.Group == "" || j.Group != jobs[0].Group || j.SubID != i || j.MultinodeDefinition != mn {
				t.Errorf("sub-job %d: display id %v group %q sub_id %d", i, DisplayID(j), j.Group, j.SubID)
			}
			if !strings.Contains(j.Definition, "target_group: "+j.Group) {
				t.Errorf("sub-job %d definition has no target_group:\n%s", i, j.Definition)
			}
			got, err := l.FindJob(ctx, want)
			if err != nil || got.ID != j.ID {
				t.Errorf("FindJob(%s) = %d, %v; want %d", want, got.ID, err, j.ID)
			}
		}
		if _, err := l.FindJob(ctx, fmt.Sprintf("%d.5", first)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("FindJob(%d.5) = %v, want ErrNotFound", first, err)
		}
	})

	t.Run("Validate", func(t *testing.T) {
		if ps := l.Validate(ctx, job, false); len(ps) != 0 {
			t.Errorf("Validate(valid job) = %v", ps)
		}
		ps := l.Validate(ctx, strings.Replace(job, "to: tmpfs", "to: 12", 1), false)
		if len(ps) == 0 || !strings.Contains(ps[0].Msg, "job.yaml:") || ps[0].Path == "" {
			t.Errorf("Validate(bad deploy) = %+v, want a problem with its path", ps)
		}
	})
}
