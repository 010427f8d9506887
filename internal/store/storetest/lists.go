package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/basalt-lava/basalt/internal/store"
)

// testLists: the web lists' filters, per-job result counts, counts by
// device type and each device's last health check.
func testLists(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	lab(t, s, 2)
	must(t, s.PutDeviceType(ctx, store.DeviceType{Name: "bbb"}))
	ids, err := s.Submit(ctx, []store.NewJob{
		{Submitter: "alice", DeviceType: "qemu", Description: "Boot 100% Debian", Definition: "job_name: Boot 100% Debian\n"},
		{Submitter: "alice", DeviceType: "bbb", Description: "boot_debian"},
		{Submitter: "alice", DeviceType: "qemu", Description: "smoke tests"},
	})
	must(t, err)
	// ids[0] finishes Incomplete with an infrastructure error, ids[1] is
	// canceled, ids[2] stays queued; hc is a health check on d2.
	must(t, s.Schedule(ctx, []store.Assignment{{Job: ids[0], Device: "d1"}}))
	must(t, s.FinishJob(ctx, ids[0], store.Finish{Health: store.JobIncomplete, ErrorClass: "Infrastructure", ErrorMsg: "no power"}, now))
	_, err = s.CancelJob(ctx, ids[1], now)
	must(t, err)
	hc, err := s.ScheduleHealthCheck(ctx, store.NewJob{Submitter: "alice", DeviceType: "qemu", Description: "health"}, "d2")
	must(t, err)

	yes, no := true, false
	for _, c := range []struct {
		name string
		f    store.JobFilter
		want []int64
	}{
		{"health checks", store.JobFilter{HealthCheck: &yes}, []int64{hc}},
		{"no health checks", store.JobFilter{HealthCheck: &no}, ids},
		{"error classes", store.JobFilter{ErrorClasses: []string{"Bug", "Infrastructure"}}, []int64{ids[0]}},
		{"description ignoring case", store.JobFilter{DescriptionContains: "BOOT"}, []int64{ids[0], ids[1]}},
		{"percent is not a wildcard", store.JobFilter{DescriptionContains: "100%"}, []int64{ids[0]}},
		{"underscore is not a wildcard", store.JobFilter{DescriptionContains: "t_d"}, []int64{ids[1]}},
		{"a number is also the id", store.JobFilter{DescriptionContains: itoa(ids[2])}, []int64{ids[2]}},
		{"with the other fields", store.JobFilter{DescriptionContains: "boot", DeviceTypes: []string{"bbb"}}, []int64{ids[1]}},
	} {
		js, err := s.Jobs(ctx, c.f)
		must(t, err)
		var got []int64
		for _, j := range js {
			got = append(got, j.ID)
		}
		if diff := cmp.Diff(got, c.want); diff != "" {
			t.Errorf("%s: Jobs(%+v) (-got +want):\n%s", c.name, c.f, diff)
		}
		n, err := s.CountJobs(ctx, c.f)
		must(t, err)
		if n != len(c.want) {
			t.Errorf("%s: CountJobs = %d, want %d", c.name, n, len(c.want))
		}
	}

	if js, err := s.Jobs(ctx, store.JobFilter{WithoutDefinitions: true}); err != nil || len(js) != 4 {
		t.Errorf("Jobs(WithoutDefinitions) = %d jobs, %v; want 4", len(js), err)
	}
	full, err := s.Jobs(ctx, store.JobFilter{Limit: 1})
	must(t, err)
	bare, err := s.Jobs(ctx, store.JobFilter{Limit: 1, WithoutDefinitions: true})
	must(t, err)
	full[0].Definition, full[0].MultinodeDefinition = "", ""
	if full[0].ID != ids[0] || !reflect.DeepEqual(bare, full) {
		t.Errorf("Jobs(WithoutDefinitions) = %+v, want %+v without its definitions", bare, full)
	}

	must(t, s.AddResults(ctx, ids[0], []store.Result{
		{Suite: "lava", Case: "job", Result: "fail"},
		{Suite: "smoke", Case: "a", Result: "pass"},
		{Suite: "smoke", Case: "b", Result: "pass"},
		{Suite: "smoke", Case: "c", Result: "fail"},
		{Suite: "other", Case: "d", Result: "skip"},
		{Suite: "other", Case: "e", Result: "unknown"},
	}))
	must(t, s.AddResults(ctx, ids[1], []store.Result{{Suite: "lava", Case: "job", Result: "pass"}}))
	counts, err := s.ResultCounts(ctx, []int64{ids[0], ids[1], ids[2], 999})
	must(t, err)
	if diff := cmp.Diff(counts, map[int64]store.ResultCount{ids[0]: {Pass: 2, Fail: 1, Skip: 1, Unknown: 1}}); diff != "" {
		t.Errorf("ResultCounts (-got +want):\n%s", diff)
	}
	if counts, err := s.ResultCounts(ctx, nil); err != nil || len(counts) != 0 {
		t.Errorf("ResultCounts(nil) = %v, %v; want empty", counts, err)
	}

	byType, err := s.JobCountsByType(ctx, store.JobFilter{States: []store.JobState{store.JobFinished}, Limit: 1})
	must(t, err)
	if diff := cmp.Diff(byType, map[string]int{"qemu": 1, "bbb": 1}); diff != "" {
		t.Errorf("JobCountsByType(Finished) (-got +want):\n%s", diff)
	}

	// d2's health check is not finished yet: no last one.
	last, err := s.LastHealthChecks(ctx, []string{"d1", "d2", "nope"})
	must(t, err)
	if len(last) != 0 {
		t.Errorf("LastHealthChecks before any finished = %v, want none", last)
	}
	must(t, s.FinishJob(ctx, hc, store.Finish{Health: store.JobComplete}, now))
	hc2, err := s.ScheduleHealthCheck(ctx, store.NewJob{Submitter: "alice", DeviceType: "qemu", Description: "health"}, "d2")
	must(t, err)
	last, err = s.LastHealthChecks(ctx, []string{"d1", "d2", "nope"})
	must(t, err)
	if len(last) != 1 || last["d2"].ID != hc || last["d2"].Health != store.JobComplete || !last["d2"].Ended.Equal(now) {
		t.Errorf("LastHealthChecks = %+v, want d2's job %d Complete ended %s (not the running %d)", last, hc, now, hc2)
	}
	if last, err := s.LastHealthChecks(ctx, nil); err != nil || len(last) != 0 {
		t.Errorf("LastHealthChecks(nil) = %v, %v; want empty", last, err)
	}
}

func itoa(n int64) string { return fmt.Sprint(n) }
