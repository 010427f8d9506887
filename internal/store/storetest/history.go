package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/basalt-lava/basalt/internal/store"
)

// testCaseHistory: TestCase finds a result by id; CaseHistory keeps the
// jobs with the case, on devices of the type or with the description,
// newest first, the first result of each job, within the limit.
func testCaseHistory(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	lab(t, s, 2)
	must(t, s.PutDeviceType(ctx, store.DeviceType{Name: "bbb"}))
	must(t, s.CreateDevice(ctx, store.Device{Name: "b1", DeviceType: "bbb", Worker: "w1"}))
	// Five jobs: ids[0..2] on d1/d2 (qemu) named "boot", ids[3] on b1
	// (bbb) named "boot", ids[4] on d1 named "other" without the case.
	var ids []int64
	for i, c := range []struct{ device, name string }{{"d1", "boot"}, {"d2", "boot"}, {"d1", "boot"}, {"b1", "boot"}, {"d1", "other"}} {
		nj := store.NewJob{Submitter: "alice", DeviceType: "qemu", Description: c.name, Definition: "job_name: " + c.name}
		if i == 2 {
			nj.Visibility = store.VisibilityPersonal // hidden from others
		}
		got, err := s.Submit(ctx, []store.NewJob{nj})
		must(t, err)
		must(t, s.Schedule(ctx, []store.Assignment{{Job: got[0], Device: c.device}}))
		_, ok, err := s.ClaimJob(ctx, "w1", now)
		must(t, err)
		if !ok {
			t.Fatalf("job %d: nothing to claim", i)
		}
		ids = append(ids, got[0])
		m := float64(10 * (i + 1))
		rs := []store.Result{{Suite: "lava", Case: "job", Result: "pass", Metadata: "{}"}}
		if c.name == "boot" {
			again := m + 1
			rs = append(rs,
				store.Result{Suite: "0_perf", Case: "speed", Result: "pass", Measurement: &m, Units: "MB/s", Metadata: "{}"},
				store.Result{Suite: "0_perf", Case: "speed", Result: "fail", Measurement: &again, Units: "MB/s", Metadata: "{}"})
		}
		must(t, s.AddResults(ctx, got[0], rs))
		must(t, s.FinishJob(ctx, got[0], store.Finish{Health: store.JobComplete}, now))
	}

	all, err := s.Results(ctx, ids[1])
	must(t, err)
	job, r, err := s.TestCase(ctx, all[1].ID)
	must(t, err)
	if diff := cmp.Diff(r, all[1]); job != ids[1] || diff != "" {
		t.Errorf("TestCase(%d) = job %d, want %d; (-got +want):\n%s", all[1].ID, job, ids[1], diff)
	}
	if _, _, err := s.TestCase(ctx, 999999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TestCase(999999) = %v, want ErrNotFound", err)
	}

	for _, c := range []struct {
		name string
		q    store.CaseHistoryQuery
		want []int64 // jobs, newest first
		// measure is the first point's measurement.
		measure float64
	}{
		{"every job", store.CaseHistoryQuery{Suite: "0_perf", Case: "speed"}, []int64{ids[3], ids[2], ids[1], ids[0]}, 40},
		{"device type", store.CaseHistoryQuery{Suite: "0_perf", Case: "speed", DeviceType: "qemu"}, []int64{ids[2], ids[1], ids[0]}, 30},
		{"limit", store.CaseHistoryQuery{Suite: "0_perf", Case: "speed", DeviceType: "qemu", Limit: 2}, []int64{ids[2], ids[1]}, 30},
		{"description", store.CaseHistoryQuery{Suite: "lava", Case: "job", Description: "other"}, []int64{ids[4]}, 0},
		{"anonymous viewer", store.CaseHistoryQuery{Suite: "0_perf", Case: "speed", Viewer: &store.Viewer{}}, []int64{ids[3], ids[1], ids[0]}, 40},
		{"submitter viewer", store.CaseHistoryQuery{Suite: "0_perf", Case: "speed", Viewer: &store.Viewer{Name: "alice"}}, []int64{ids[3], ids[2], ids[1], ids[0]}, 40},
		{"unknown case", store.CaseHistoryQuery{Suite: "0_perf", Case: "nope"}, nil, 0},
	} {
		ps, err := s.CaseHistory(ctx, c.q)
		must(t, err)
		var got []int64
		for _, p := range ps {
			got = append(got, p.Job.ID)
			if p.Result.Suite != c.q.Suite || p.Result.Case != c.q.Case {
				t.Errorf("%s: point of job %d is %s/%s", c.name, p.Job.ID, p.Result.Suite, p.Result.Case)
			}
			if p.Job.Definition != "" {
				t.Errorf("%s: point of job %d carries its definition", c.name, p.Job.ID)
			}
		}
		if diff := cmp.Diff(got, c.want); diff != "" {
			t.Errorf("%s: CaseHistory(%+v) jobs (-got +want):\n%s", c.name, c.q, diff)
			continue
		}
		if c.measure != 0 {
			if m := ps[0].Result.Measurement; m == nil || *m != c.measure || ps[0].Result.Result != "pass" {
				t.Errorf("%s: first point = %+v, want the job's first result (pass, %v)", c.name, ps[0].Result, c.measure)
			}
			if ps[0].Job.Device == "" || ps[0].Job.Description != "boot" {
				t.Errorf("%s: first point's job = %+v, want its device and description", c.name, ps[0].Job)
			}
		}
	}
}
