package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/basalt-lava/basalt/internal/store"
)

func cond(f store.JobField, op store.CondOp, v any) store.JobCond {
	return store.JobCond{Field: f, Op: op, Value: v}
}

// testJobConds: REST's job conditions and orders select the same jobs on
// every backend (text lookups case-sensitive unless "i", tags as whole
// names, NULL times sorted as PostgreSQL sorts them), and CountJobs
// counts what Jobs lists.
func testJobConds(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	lab(t, s, 1)
	_, err := s.CreateUser(ctx, "bob", "", false)
	must(t, err)
	ids, err := s.Submit(ctx, []store.NewJob{
		{Definition: "a", Submitter: "alice", DeviceType: "qemu", Priority: 10, Description: "Boot Test", Tags: []string{"usb", "big-ram"}},
		{Definition: "b", Submitter: "bob", DeviceType: "qemu", Priority: 50, Description: "boot 100%_x", Tags: []string{"usb-hub"}},
		{Definition: "c", Submitter: "alice", DeviceType: "other", Priority: 90, Description: "smoke", HealthCheck: true},
		{Definition: "d", Submitter: "bob", DeviceType: "qemu", Priority: 50, Description: "Smoke test"},
	})
	must(t, err)
	// Job 0 runs on d1 and finishes; the others stay queued (no start time).
	must(t, s.Schedule(ctx, []store.Assignment{{Job: ids[0], Device: "d1"}}))
	_, ok, err := s.ClaimJob(ctx, "w1", now.Add(time.Minute))
	must(t, err)
	if !ok {
		t.Fatal("ClaimJob found nothing")
	}
	must(t, s.FinishJob(ctx, ids[0], store.Finish{Health: store.JobComplete}, now.Add(2*time.Minute)))
	j0, err := s.Job(ctx, ids[0])
	must(t, err)

	pick := func(is ...int) []int64 {
		var out []int64
		for _, i := range is {
			out = append(out, ids[i])
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		conds []store.JobCond
		order string
		want  []int64
	}{
		{"id gt", []store.JobCond{cond(store.FieldID, store.OpGT, ids[1])}, "", pick(2, 3)},
		{"id lt", []store.JobCond{cond(store.FieldID, store.OpLT, ids[1])}, "", pick(0)},
		{"id in", []store.JobCond{cond(store.FieldID, store.OpIn, []int64{ids[3], ids[0], 999999})}, "", pick(0, 3)},
		{"id in none", []store.JobCond{cond(store.FieldID, store.OpIn, []int64{})}, "", nil},
		{"priority gte and lte", []store.JobCond{cond(store.FieldPriority, store.OpGTE, int64(50)), cond(store.FieldPriority, store.OpLTE, int64(50))}, "", pick(1, 3)},
		{"submitter", []store.JobCond{cond(store.FieldSubmitter, store.OpExact, "bob")}, "", pick(1, 3)},
		{"device type", []store.JobCond{cond(store.FieldDeviceType, store.OpExact, "other")}, "", pick(2)},
		{"device", []store.JobCond{cond(store.FieldDevice, store.OpExact, "d1")}, "", pick(0)},
		{"device isnull", []store.JobCond{cond(store.FieldDevice, store.OpIsNull, true)}, "", pick(1, 2, 3)},
		{"contains is case-sensitive", []store.JobCond{cond(store.FieldDescription, store.OpContains, "oot")}, "", pick(0, 1)},
		{"contains Boot", []store.JobCond{cond(store.FieldDescription, store.OpContains, "Boot")}, "", pick(0)},
		{"icontains", []store.JobCond{cond(store.FieldDescription, store.OpIContains, "SMOKE")}, "", pick(2, 3)},
		{"contains wildcard chars literally", []store.JobCond{cond(store.FieldDescription, store.OpContains, "0%_")}, "", pick(1)},
		{"contains empty matches all", []store.JobCond{cond(store.FieldDescription, store.OpContains, "")}, "", pick(0, 1, 2, 3)},
		{"startswith", []store.JobCond{cond(store.FieldDescription, store.OpStartsWith, "boot")}, "", pick(1)},
		{"istartswith", []store.JobCond{cond(store.FieldDescription, store.OpIStartsWith, "boot")}, "", pick(0, 1)},
		{"endswith", []store.JobCond{cond(store.FieldDescription, store.OpEndsWith, "test")}, "", pick(3)},
		{"iendswith", []store.JobCond{cond(store.FieldDescription, store.OpIEndsWith, "TEST")}, "", pick(0, 3)},
		{"endswith longer than the text", []store.JobCond{cond(store.FieldDescription, store.OpEndsWith, "a much longer smoke")}, "", nil},
		{"iexact", []store.JobCond{cond(store.FieldDescription, store.OpIExact, "SMOKE")}, "", pick(2)},
		{"definition exact", []store.JobCond{cond(store.FieldDefinition, store.OpExact, "c")}, "", pick(2)},
		{"health check", []store.JobCond{cond(store.FieldHealthCheck, store.OpExact, true)}, "", pick(2)},
		{"not health check", []store.JobCond{cond(store.FieldHealthCheck, store.OpExact, false)}, "", pick(0, 1, 3)},
		{"tag whole name", []store.JobCond{cond(store.FieldTag, store.OpExact, "usb")}, "", pick(0)},
		{"tag in", []store.JobCond{cond(store.FieldTag, store.OpIn, []string{"usb-hub", "big-ram"})}, "", pick(0, 1)},
		{"start_time isnull false", []store.JobCond{cond(store.FieldStartTime, store.OpIsNull, false)}, "", pick(0)},
		{"end_time gt", []store.JobCond{cond(store.FieldEndTime, store.OpGT, j0.Ended.Add(-time.Second))}, "", pick(0)},
		{"end_time exact", []store.JobCond{cond(store.FieldEndTime, store.OpExact, j0.Ended)}, "", pick(0)},
		{"submit_time lte", []store.JobCond{cond(store.FieldSubmitTime, store.OpLTE, time.Now().Add(time.Hour))}, "", pick(0, 1, 2, 3)},
		{"invalid field matches nothing", []store.JobCond{cond("password", store.OpExact, "x")}, "", nil},
		{"wrong value type matches nothing", []store.JobCond{cond(store.FieldID, store.OpGT, "1")}, "", nil},
		{"state and state in both hold", []store.JobCond{cond(store.FieldState, store.OpIn, []string{"Finished", "Submitted"}),
			cond(store.FieldState, store.OpExact, "Submitted")}, "", pick(1, 2, 3)},
		{"health", []store.JobCond{cond(store.FieldHealth, store.OpExact, "Complete")}, "", pick(0)},
		{"order -id", nil, "-id", pick(3, 2, 1, 0)},
		{"order id", nil, "id", pick(0, 1, 2, 3)},
		{"order start_time: nulls last", nil, "start_time", pick(0, 1, 2, 3)},
		{"order -start_time: nulls first", nil, "-start_time", pick(3, 2, 1, 0)},
		{"order -end_time with a filter", []store.JobCond{cond(store.FieldSubmitter, store.OpExact, "alice")}, "-end_time", pick(2, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := store.JobFilter{Conds: tc.conds, Order: tc.order}
			got, err := s.Jobs(ctx, f)
			must(t, err)
			var gotIDs []int64
			for _, j := range got {
				gotIDs = append(gotIDs, j.ID)
			}
			if diff := cmp.Diff(gotIDs, tc.want); diff != "" {
				t.Errorf("Jobs (-got +want):\n%s", diff)
			}
			n, err := s.CountJobs(ctx, store.JobFilter{Conds: tc.conds, Limit: 1, Offset: 1})
			must(t, err)
			if n != len(tc.want) {
				t.Errorf("CountJobs = %d, want %d", n, len(tc.want))
			}
			page, err := s.Jobs(ctx, store.JobFilter{Conds: tc.conds, Order: tc.order, Limit: 1, Offset: 1})
			must(t, err)
			if len(tc.want) > 1 && (len(page) != 1 || page[0].ID != tc.want[1]) {
				t.Errorf("page [1:2] = %v, want job %d", page, tc.want[1])
			}
		})
	}
}
