// Package storetest is the conformance suite every store backend runs: Run
// takes a factory that returns a fresh, empty Store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/basalt-lava/basalt/internal/store"
)

// Factory returns a new empty store; the suite closes it.
type Factory func(t *testing.T) store.Store

// Run runs the whole suite against the backend.
func Run(t *testing.T, open Factory) {
	t.Run("Users", func(t *testing.T) { testUsers(t, open(t)) })
	t.Run("Inventory", func(t *testing.T) { testInventory(t, open(t)) })
	t.Run("Transitions", func(t *testing.T) { testTransitions(t, open) })
	t.Run("ScheduleAllOrNone", func(t *testing.T) { testScheduleAllOrNone(t, open(t)) })
	t.Run("ClaimConcurrent", func(t *testing.T) { testClaimConcurrent(t, open(t)) })
	t.Run("Results", func(t *testing.T) { testResults(t, open(t)) })
	t.Run("Visibility", func(t *testing.T) { testVisibility(t, open(t)) })
	t.Run("LabFields", func(t *testing.T) { testLabFields(t, open(t)) })
	t.Run("HealthChecks", func(t *testing.T) { testHealthChecks(t, open(t)) })
	t.Run("FinishWithResults", func(t *testing.T) { testFinishWithResults(t, open(t)) })
	t.Run("GroupFirst", func(t *testing.T) { testGroupFirst(t, open(t)) })
	t.Run("JobFilter", func(t *testing.T) { testJobFilter(t, open(t)) })
	t.Run("Lists", func(t *testing.T) { testLists(t, open(t)) })
	t.Run("Admin", func(t *testing.T) { testAdmin(t, open) })
	t.Run("DeviceChecks", func(t *testing.T) { testDeviceChecks(t, open(t)) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, open(t)) })
	t.Run("ViewerFilter", func(t *testing.T) { testViewerFilter(t, open(t)) })
	t.Run("JobConds", func(t *testing.T) { testJobConds(t, open(t)) })
	t.Run("Notifications", func(t *testing.T) { testNotifications(t, open(t)) })
	t.Run("CaseHistory", func(t *testing.T) { testCaseHistory(t, open(t)) })
	t.Run("RemoteTokens", func(t *testing.T) { testRemoteTokens(t, open(t)) })
	t.Run("Dynamic", func(t *testing.T) { testDynamic(t, open(t)) })
}

var now = time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testUsers(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	_, err := s.CreateUser(ctx, "alice", "s3cret-pw", true)
	must(t, err)
	if _, err := s.CreateUser(ctx, "alice", "x", false); !errors.Is(err, store.ErrExists) {
		t.Errorf("CreateUser(alice) twice = %v, want ErrExists", err)
	}
	if u, err := s.CheckPassword(ctx, "alice", "s3cret-pw"); err != nil || !u.Superuser {
		t.Errorf("CheckPassword(alice, right) = %+v, %v", u, err)
	}
	for _, c := range [][2]string{{"alice", "wrong"}, {"bob", "s3cret-pw"}, {"alice", ""}} {
		if _, err := s.CheckPassword(ctx, c[0], c[1]); !errors.Is(err, store.ErrAuth) {
			t.Errorf("CheckPassword(%q, %q) = %v, want ErrAuth", c[0], c[1], err)
		}
	}
	tok, err := s.CreateToken(ctx, "alice", "", "lavacli")
	must(t, err)
	if len(tok) != 64 {
		t.Errorf("CreateToken random secret = %q, want 64 hex digits", tok)
	}
	given, err := s.CreateToken(ctx, "alice", "given-token-value", "")
	must(t, err)
	if given != "given-token-value" {
		t.Errorf("CreateToken(secret) = %q", given)
	}
	if _, err := s.CreateToken(ctx, "nobody", "", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CreateToken(nobody) = %v, want ErrNotFound", err)
	}
	_, err = s.CreateUser(ctx, "bob", "", false)
	must(t, err)
	for _, c := range []struct {
		user, secret string
		ok           bool
	}{{"alice", tok, true}, {"alice", "given-token-value", true}, {"bob", tok, false}, {"alice", "nope", false}, {"bob", "", false}} {
		_, err := s.Authenticate(ctx, c.user, c.secret)
		if c.ok != (err == nil) || (!c.ok && !errors.Is(err, store.ErrAuth)) {
			t.Errorf("Authenticate(%q, %q) = %v, want ok=%v", c.user, c.secret, err, c.ok)
		}
	}
	us, err := s.Users(ctx)
	must(t, err)
	if len(us) != 2 || us[0].Name != "alice" || us[1].Name != "bob" {
		t.Errorf("Users = %+v", us)
	}
}

// lab makes a user, a device type, worker w1 with devices d1..dn.
func lab(t *testing.T, s store.Store, n int) {
	t.Helper()
	ctx := context.Background()
	_, err := s.CreateUser(ctx, "alice", "pw", false)
	must(t, err)
	must(t, s.PutDeviceType(ctx, store.DeviceType{Name: "qemu", Template: "{% extends 'base.jinja2' %}"}))
	_, err = s.CreateWorker(ctx, "w1", "")
	must(t, err)
	for i := 1; i <= n; i++ {
		must(t, s.CreateDevice(ctx, store.Device{Name: fmt.Sprintf("d%d", i), DeviceType: "qemu", Worker: "w1"}))
	}
}

func submit(t *testing.T, s store.Store, n int) []int64 {
	t.Helper()
	var js []store.NewJob
	for i := 0; i < n; i++ {
		js = append(js, store.NewJob{Definition: "job_name: x\n", Submitter: "alice", DeviceType: "qemu", Priority: 50})
	}
	ids, err := s.Submit(context.Background(), js)
	must(t, err)
	return ids
}

func testInventory(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	lab(t, s, 0)
	must(t, s.PutDeviceType(ctx, store.DeviceType{Name: "qemu", Template: "v2", HealthCheck: "hc"}))
	dt, err := s.DeviceType(ctx, "qemu")
	must(t, err)
	if diff := cmp.Diff(dt, store.DeviceType{Name: "qemu", Template: "v2", HealthCheck: "hc",
		Display: true, HealthFrequency: 24, HealthDenominator: store.PerHours}); diff != "" {
		t.Errorf("DeviceType after replace (-got +want):\n%s", diff)
	}
	if _, err := s.DeviceType(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeviceType(nope) = %v", err)
	}
	must(t, s.CreateDevice(ctx, store.Device{Name: "d1", DeviceType: "qemu", Worker: "w1", Dictionary: "dict", Tags: []string{"usb", "big"}}))
	if err := s.CreateDevice(ctx, store.Device{Name: "d1", DeviceType: "qemu"}); !errors.Is(err, store.ErrExists) {
		t.Errorf("CreateDevice(d1) twice = %v", err)
	}
	if err := s.CreateDevice(ctx, store.Device{Name: "d2", DeviceType: "no-such-type"}); err == nil {
		t.Errorf("CreateDevice with unknown type succeeded (foreign keys off?)")
	}
	must(t, s.SetDictionary(ctx, "d1", "dict2"))
	must(t, s.SetDeviceHealth(ctx, "d1", store.HealthGood))
	if err := s.SetDeviceHealth(ctx, "d1", "Shiny"); err == nil {
		t.Errorf("SetDeviceHealth(Shiny) succeeded")
	}
	if err := s.SetDictionary(ctx, "nope", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetDictionary(nope) = %v", err)
	}
	d, err := s.Device(ctx, "d1")
	must(t, err)
	want := store.Device{Name: "d1", DeviceType: "qemu", Worker: "w1", Dictionary: "dict2", Tags: []string{"big", "usb"}, State: store.DeviceIdle, Health: store.HealthGood}
	if diff := cmp.Diff(d, want); diff != "" {
		t.Errorf("Device(d1) (-got +want):\n%s", diff)
	}
	tok, err := s.CreateWorker(ctx, "w2", "worker-secret")
	must(t, err)
	if _, err := s.AuthenticateWorker(ctx, "w2", tok); err != nil {
		t.Errorf("AuthenticateWorker(w2, right) = %v", err)
	}
	if _, err := s.AuthenticateWorker(ctx, "w1", tok); !errors.Is(err, store.ErrAuth) {
		t.Errorf("AuthenticateWorker(w1, w2's token) = %v", err)
	}
	must(t, s.PingWorker(ctx, "w2", now))
	w, err := s.Worker(ctx, "w2")
	must(t, err)
	if diff := cmp.Diff(w, store.Worker{Name: "w2", State: store.WorkerOnline, LastPing: now, Health: store.WorkerActive}); diff != "" {
		t.Errorf("Worker(w2) after ping (-got +want):\n%s", diff)
	}
	must(t, s.SetWorkerState(ctx, "w2", store.WorkerOffline))
	if err := s.PingWorker(ctx, "nope", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PingWorker(nope) = %v", err)
	}
	ws, err := s.Workers(ctx)
	must(t, err)
	if len(ws) != 2 || ws[1].State != store.WorkerOffline {
		t.Errorf("Workers = %+v", ws)
	}

	// Updates and removals, refused while referenced.
	w2, tags := "w2", []string{"x"}
	must(t, s.UpdateDevice(ctx, "d1", store.DeviceUpdate{Worker: &w2, Tags: &tags}))
	if d, _ := s.Device(ctx, "d1"); d.Worker != "w2" || len(d.Tags) != 1 || d.Dictionary != "dict2" {
		t.Errorf("Device(d1) after UpdateDevice = %+v", d)
	}
	bad := "no-such-worker"
	if err := s.UpdateDevice(ctx, "d1", store.DeviceUpdate{Worker: &bad}); err == nil {
		t.Errorf("UpdateDevice to an unknown worker succeeded")
	}
	if err := s.UpdateDevice(ctx, "nope", store.DeviceUpdate{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateDevice(nope) = %v", err)
	}
	if err := s.DeleteDeviceType(ctx, "qemu"); err == nil {
		t.Errorf("DeleteDeviceType(qemu) with a device succeeded")
	}
	if err := s.DeleteWorker(ctx, "w2"); err == nil {
		t.Errorf("DeleteWorker(w2) with a device succeeded")
	}
	must(t, s.DeleteDevice(ctx, "d1"))
	must(t, s.DeleteWorker(ctx, "w2"))
	must(t, s.DeleteDeviceType(ctx, "qemu"))
	if err := s.DeleteDevice(ctx, "d1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteDevice(d1) twice = %v", err)
	}
	tok, err = s.CreateToken(ctx, "alice", "", "")
	must(t, err)
	must(t, s.DeleteUser(ctx, "alice"))
	if _, err := s.Authenticate(ctx, "alice", tok); !errors.Is(err, store.ErrAuth) {
		t.Errorf("Authenticate after DeleteUser = %v, want ErrAuth", err)
	}
}

// reach drives a fresh job on d1 to state st through the Store's own
// methods.
func reach(t *testing.T, s store.Store, st store.JobState) int64 {
	t.Helper()
	ctx := context.Background()
	id := submit(t, s, 1)[0]
	if st == store.JobSubmitted {
		return id
	}
	if st == store.JobFinished {
		_, err := s.CancelJob(ctx, id, now)
		must(t, err)
		return id
	}
	must(t, s.Schedule(ctx, []store.Assignment{{Job: id, Device: "d1"}}))
	if st == store.JobScheduled {
		return id
	}
	_, ok, err := s.ClaimJob(ctx, "w1", now)
	if err != nil || !ok {
		t.Fatalf("ClaimJob = %v, %v", ok, err)
	}
	if st == store.JobCanceling {
		_, err := s.CancelJob(ctx, id, now)
		must(t, err)
	}
	return id
}

func testTransitions(t *testing.T, open Factory) {
	ctx := context.Background()
	ops := map[string]func(s store.Store, id int64) error{
		"Schedule": func(s store.Store, id int64) error {
			return s.Schedule(ctx, []store.Assignment{{Job: id, Device: "d2"}})
		},
		"Claim": func(s store.Store, id int64) error {
			j, ok, err := s.ClaimJob(ctx, "w1", now)
			if err == nil && (!ok || j.ID != id) {
				return store.ErrTransition
			}
			return err
		},
		"Cancel": func(s store.Store, id int64) error { _, err := s.CancelJob(ctx, id, now); return err },
		"Finish": func(s store.Store, id int64) error {
			return s.FinishJob(ctx, id, store.Finish{Health: store.JobComplete}, now)
		},
	}
	// want: the state after the op, or "" when refused.
	cases := []struct {
		from store.JobState
		op   string
		want store.JobState
	}{
		{store.JobSubmitted, "Schedule", store.JobScheduled},
		{store.JobSubmitted, "Claim", ""},
		{store.JobSubmitted, "Cancel", store.JobFinished},
		{store.JobSubmitted, "Finish", ""},
		{store.JobScheduled, "Schedule", ""},
		{store.JobScheduled, "Claim", store.JobRunning},
		{store.JobScheduled, "Cancel", store.JobFinished},
		{store.JobScheduled, "Finish", store.JobFinished},
		{store.JobRunning, "Schedule", ""},
		{store.JobRunning, "Claim", ""},
		{store.JobRunning, "Cancel", store.JobCanceling},
		{store.JobRunning, "Finish", store.JobFinished},
		{store.JobCanceling, "Schedule", ""},
		{store.JobCanceling, "Claim", ""},
		{store.JobCanceling, "Cancel", ""},
		{store.JobCanceling, "Finish", store.JobFinished},
		{store.JobFinished, "Schedule", ""},
		{store.JobFinished, "Claim", ""},
		{store.JobFinished, "Cancel", ""},
		{store.JobFinished, "Finish", ""},
	}
	for _, c := range cases {
		t.Run(string(c.from)+"/"+c.op, func(t *testing.T) {
			s := open(t)
			defer s.Close()
			lab(t, s, 2)
			id := reach(t, s, c.from)
			before, err := s.Job(ctx, id)
			must(t, err)
			if before.State != c.from {
				t.Fatalf("setup reached %s, want %s", before.State, c.from)
			}
			err = ops[c.op](s, id)
			after, gerr := s.Job(ctx, id)
			must(t, gerr)
			if c.want == "" {
				if !errors.Is(err, store.ErrTransition) {
					t.Errorf("%s from %s = %v, want ErrTransition", c.op, c.from, err)
				}
				if diff := cmp.Diff(after, before); diff != "" {
					t.Errorf("%s from %s was refused but changed the job (-got +want):\n%s", c.op, c.from, diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s from %s = %v", c.op, c.from, err)
			}
			if after.State != c.want {
				t.Errorf("%s from %s: state %s, want %s", c.op, c.from, after.State, c.want)
			}
			// The device follows the job: a finished job frees it.
			if after.Device != "" {
				d, err := s.Device(ctx, after.Device)
				must(t, err)
				wantDev := map[store.JobState]store.DeviceState{store.JobScheduled: store.DeviceReserved,
					store.JobRunning: store.DeviceRunning, store.JobCanceling: store.DeviceRunning, store.JobFinished: store.DeviceIdle}[after.State]
				if d.State != wantDev {
					t.Errorf("device %s is %s with its job %s, want %s", d.Name, d.State, after.State, wantDev)
				}
			}
		})
	}
	t.Run("DeviceBusy", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		lab(t, s, 1)
		ids := submit(t, s, 2)
		must(t, s.Schedule(ctx, []store.Assignment{{Job: ids[0], Device: "d1"}}))
		err := s.Schedule(ctx, []store.Assignment{{Job: ids[1], Device: "d1"}})
		var te *store.TransitionError
		if !errors.As(err, &te) || te.Kind != "device" || te.Current != string(store.DeviceReserved) {
			t.Errorf("Schedule on a reserved device = %v, want a device TransitionError from Reserved", err)
		}
	})
	t.Run("FinishSetsDeviceHealth", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		lab(t, s, 1)
		id := reach(t, s, store.JobRunning)
		must(t, s.SetDeviceHealth(ctx, "d1", store.HealthGood))
		must(t, s.FinishJob(ctx, id, store.Finish{Health: store.JobIncomplete, ErrorClass: "Infrastructure", ErrorMsg: "worker lost", DeviceHealth: store.HealthUnknown}, now))
		j, err := s.Job(ctx, id)
		must(t, err)
		d, err := s.Device(ctx, "d1")
		must(t, err)
		if j.Health != store.JobIncomplete || j.ErrorClass != "Infrastructure" || j.ErrorMsg != "worker lost" || !j.Ended.Equal(now) || !j.Started.Equal(now) {
			t.Errorf("job after FinishJob = %+v", j)
		}
		if d.State != store.DeviceIdle || d.Health != store.HealthUnknown {
			t.Errorf("device after FinishJob = %s/%s, want Idle/Unknown", d.State, d.Health)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		lab(t, s, 1)
		if _, err := s.CancelJob(ctx, 999, now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("CancelJob(999) = %v, want ErrNotFound", err)
		}
		if err := s.FinishJob(ctx, 999, store.Finish{Health: store.JobComplete}, now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("FinishJob(999) = %v, want ErrNotFound", err)
		}
	})
}

func testScheduleAllOrNone(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	lab(t, s, 3)
	ids := submit(t, s, 3)
	must(t, s.Schedule(ctx, []store.Assignment{{Job: ids[2], Device: "d3"}}))
	// A group of three where the last device is taken: nothing moves.
	err := s.Schedule(ctx, []store.Assignment{{Job: ids[0], Device: "d1"}, {Job: ids[1], Device: "d2"}, {Job: ids[1], Device: "d3"}})
	if !errors.Is(err, store.ErrTransition) {
		t.Fatalf("Schedule with a reserved device = %v, want ErrTransition", err)
	}
	for _, name := range []string{"d1", "d2"} {
		d, err := s.Device(ctx, name)
		must(t, err)
		if d.State != store.DeviceIdle {
			t.Errorf("device %s is %s after a refused Schedule, want Idle", name, d.State)
		}
	}
	for _, id := range ids[:2] {
		j, err := s.Job(ctx, id)
		must(t, err)
		if j.State != store.JobSubmitted || j.Device != "" {
			t.Errorf("job %d is %s on %q after a refused Schedule", id, j.State, j.Device)
		}
	}
}

func testClaimConcurrent(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	const jobs, claimers = 20, 8
	lab(t, s, jobs)
	ids := submit(t, s, jobs)
	var as []store.Assignment
	for i, id := range ids {
		as = append(as, store.Assignment{Job: id, Device: fmt.Sprintf("d%d", i+1)})
	}
	must(t, s.Schedule(ctx, as))
	var mu sync.Mutex
	var got []int64
	var wg sync.WaitGroup
	errs := make(chan error, claimers)
	for g := 0; g < claimers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j, ok, err := s.ClaimJob(ctx, "w1", now)
				if err != nil {
					errs <- err
					return
				}
				if !ok {
					return
				}
				mu.Lock()
				got = append(got, j.ID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("ClaimJob: %v", err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	if diff := cmp.Diff(got, ids); diff != "" {
		t.Errorf("claimed jobs (-got +want): each job exactly once\n%s", diff)
	}
	running, err := s.Jobs(ctx, store.JobFilter{States: []store.JobState{store.JobRunning}, Worker: "w1"})
	must(t, err)
	if len(running) != jobs {
		t.Errorf("Jobs(Running, w1) = %d jobs, want %d", len(running), jobs)
	}
}

func testResults(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	lab(t, s, 1)
	id := submit(t, s, 1)[0]
	m := 12.5
	start, end := int64(0), int64(41)
	logged := time.Date(2026, 12, 7, 4, 5, 6, 123456000, time.UTC)
	rs := []store.Result{
		{Suite: "lava", Case: "job", Result: "pass", Metadata: "{}"},
		{Suite: "0_smoke", Case: "speed", Result: "pass", Measurement: &m, Units: "MB/s", Metadata: `{"level": "1.1"}`,
			Logged: logged, LogStart: &start, LogEnd: &end},
	}
	must(t, s.AddResults(ctx, id, rs))
	got, err := s.Results(ctx, id)
	must(t, err)
	// The ids are the store's, increasing in the order added.
	if len(got) == 2 && (got[0].ID <= 0 || got[1].ID <= got[0].ID) {
		t.Errorf("Results ids = %d, %d, want positive and increasing", got[0].ID, got[1].ID)
	}
	for i := range got {
		got[i].ID = 0
	}
	if diff := cmp.Diff(got, rs); diff != "" {
		t.Errorf("Results (-got +want):\n%s", diff)
	}
	if err := s.AddResults(ctx, 999, rs); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AddResults(999) = %v, want ErrNotFound", err)
	}
}

func testVisibility(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	lab(t, s, 0)
	_, err := s.CreateUser(ctx, "bob", "", false)
	must(t, err)
	must(t, s.CreateGroup(ctx, "lab"))
	must(t, s.CreateGroup(ctx, "lab"))
	must(t, s.AddGroupMember(ctx, "lab", "bob"))
	must(t, s.AddGroupMember(ctx, "lab", "bob"))
	if err := s.AddGroupMember(ctx, "nope", "bob"); err == nil {
		t.Errorf("AddGroupMember(nope, bob) succeeded")
	}
	gs, err := s.UserGroups(ctx, "bob")
	must(t, err)
	if diff := cmp.Diff(gs, []string{"lab"}); diff != "" {
		t.Errorf("UserGroups(bob) (-got +want):\n%s", diff)
	}
	ids, err := s.Submit(ctx, []store.NewJob{
		{Submitter: "alice", DeviceType: "qemu"},
		{Submitter: "alice", DeviceType: "qemu", Visibility: store.VisibilityGroup, VisibleGroups: []string{"lab", "ci"}},
	})
	must(t, err)
	j0, err := s.Job(ctx, ids[0])
	must(t, err)
	j1, err := s.Job(ctx, ids[1])
	must(t, err)
	if j0.Visibility != store.VisibilityPublic || j1.Visibility != store.VisibilityGroup || len(j1.VisibleGroups) != 2 {
		t.Errorf("visibility stored as %q and %q %v", j0.Visibility, j1.Visibility, j1.VisibleGroups)
	}
	if _, err := s.Submit(ctx, []store.NewJob{{Submitter: "alice", DeviceType: "qemu"}, {Submitter: "alice", Visibility: "secret"}}); err == nil {
		t.Errorf("Submit with visibility secret succeeded")
	}
	if js, _ := s.Jobs(ctx, store.JobFilter{}); len(js) != 2 {
		t.Errorf("a refused Submit left %d jobs, want the 2 before it (all or none)", len(js))
	}
}

// testLabFields: description, queue timeout and MultiNode definition are
// kept; Queue omits definitions; Schedule may rewrite a definition;
// GroupJobs lists a group by sub_id.
func testLabFields(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	lab(t, s, 2)
	ids, err := s.Submit(ctx, []store.NewJob{
		{Definition: "sub 1", Submitter: "alice", DeviceType: "qemu", Group: "g", SubID: 1, Description: "mn", MultinodeDefinition: "whole"},
		{Definition: "sub 0", Submitter: "alice", DeviceType: "qemu", Group: "g", SubID: 0, Description: "mn", MultinodeDefinition: "whole", QueueTimeout: 90 * time.Second},
	})
	must(t, err)
	q, err := s.Queue(ctx)
	must(t, err)
	if len(q) != 2 || q[0].Definition != "" || q[0].MultinodeDefinition != "" || q[1].QueueTimeout != 90*time.Second || q[1].Description != "mn" {
		t.Errorf("Queue() = %+v, want both jobs without definitions, the queue timeout kept", q)
	}
	g, err := s.GroupJobs(ctx, "g")
	must(t, err)
	if len(g) != 2 || g[0].ID != ids[1] || g[0].Definition != "sub 0" || g[0].MultinodeDefinition != "whole" {
		t.Errorf("GroupJobs(g) = %+v, want sub_id 0 first with its definitions", g)
	}
	must(t, s.Schedule(ctx, []store.Assignment{{Job: ids[0], Device: "d1", Definition: "sub 1 with roles"}, {Job: ids[1], Device: "d2"}}))
	j0, err := s.Job(ctx, ids[0])
	must(t, err)
	j1, err := s.Job(ctx, ids[1])
	must(t, err)
	if j0.Definition != "sub 1 with roles" || j1.Definition != "sub 0" {
		t.Errorf("definitions after Schedule = %q, %q; want the first rewritten, the second kept", j0.Definition, j1.Definition)
	}
	if q, _ := s.Queue(ctx); len(q) != 0 {
		t.Errorf("Queue() after scheduling = %d jobs, want 0", len(q))
	}
}

// testHealthChecks: ScheduleHealthCheck creates the job Scheduled on a
// reserved device, refuses a busy device, and HealthCheckStats counts the
// jobs started since.
func testHealthChecks(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	lab(t, s, 2)
	if st, err := s.HealthCheckStats(ctx); err != nil || len(st) != 0 {
		t.Errorf("HealthCheckStats() on a new lab = %v, %v", st, err)
	}
	id, err := s.ScheduleHealthCheck(ctx, store.NewJob{Definition: "hc", Submitter: "alice", DeviceType: "qemu"}, "d1")
	must(t, err)
	j, err := s.Job(ctx, id)
	must(t, err)
	d, err := s.Device(ctx, "d1")
	must(t, err)
	if j.State != store.JobScheduled || !j.HealthCheck || j.Device != "d1" || d.State != store.DeviceReserved {
		t.Errorf("after ScheduleHealthCheck: job %s hc=%v on %q, device %s", j.State, j.HealthCheck, j.Device, d.State)
	}
	if _, err := s.ScheduleHealthCheck(ctx, store.NewJob{Definition: "hc", Submitter: "alice", DeviceType: "qemu"}, "d1"); !errors.Is(err, store.ErrTransition) {
		t.Errorf("ScheduleHealthCheck on a reserved device = %v, want ErrTransition", err)
	}
	if jobs, _ := s.Jobs(ctx, store.JobFilter{}); len(jobs) != 1 {
		t.Errorf("a refused health check left %d jobs, want 1", len(jobs))
	}
	claimed, ok, err := s.ClaimJob(ctx, "w1", now)
	must(t, err)
	if !ok || claimed.ID != id {
		t.Fatalf("ClaimJob = %d, %v; want the health check", claimed.ID, ok)
	}
	must(t, s.FinishJob(ctx, id, store.Finish{Health: store.JobComplete, DeviceHealth: store.HealthGood}, now))
	ids := submit(t, s, 2)
	must(t, s.Schedule(ctx, []store.Assignment{{Job: ids[0], Device: "d1"}}))
	if _, _, err := s.ClaimJob(ctx, "w1", time.Now().Add(time.Hour)); err != nil { // after the health check's submission (the wall clock)
		t.Fatal(err)
	}
	st, err := s.HealthCheckStats(ctx)
	must(t, err)
	if got := st["d1"]; got.Last.IsZero() || got.JobsSince != 1 || len(st) != 1 {
		t.Errorf("HealthCheckStats() = %+v, want d1 with 1 job since its health check", st)
	}
}

// testFinishWithResults: results come with the finish, once; the device
// health changes only from the healths allowed.
func testFinishWithResults(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	lab(t, s, 1)
	id := reach(t, s, store.JobRunning)
	must(t, s.SetDeviceHealth(ctx, "d1", store.HealthMaintenance))
	must(t, s.AddResults(ctx, id, []store.Result{{Suite: "0_smoke", Case: "streamed", Result: "pass"}}))
	f := store.Finish{Health: store.JobComplete, DeviceHealth: store.HealthGood,
		DeviceHealthFrom: []store.DeviceHealth{store.HealthGood, store.HealthUnknown, store.HealthBad},
		Results:          []store.Result{{Suite: "lava", Case: "job", Result: "pass"}}}
	must(t, s.FinishJob(ctx, id, f, now))
	if err := s.FinishJob(ctx, id, f, now); !errors.Is(err, store.ErrTransition) {
		t.Errorf("FinishJob twice = %v, want ErrTransition", err)
	}
	rs, err := s.Results(ctx, id)
	must(t, err)
	if len(rs) != 1 || rs[0].Case != "job" {
		t.Errorf("Results = %+v, want the finish's one result once, replacing the one added before", rs)
	}
	d, err := s.Device(ctx, "d1")
	must(t, err)
	if d.Health != store.HealthMaintenance || d.State != store.DeviceIdle {
		t.Errorf("device = %s/%s, want Idle/Maintenance (not a health the finish may change)", d.State, d.Health)
	}
}

// testGroupFirst: concurrent Submits of groups each get their first id
// on every sub-job, and SubJob finds each by "first.sub".
func testGroupFirst(t *testing.T, s store.Store) {
	defer s.Close()
	lab(t, s, 1)
	ctx := context.Background()
	var wg sync.WaitGroup
	got := make([][]int64, 6)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var js []store.NewJob
			for k := 0; k < 3; k++ {
				js = append(js, store.NewJob{Definition: "x", Submitter: "alice", DeviceType: "qemu", Group: fmt.Sprint("g", i), SubID: k})
			}
			ids, err := s.Submit(ctx, js)
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = ids
		}()
	}
	wg.Wait()
	for _, ids := range got {
		for k, id := range ids {
			j, err := s.SubJob(ctx, ids[0], k)
			if err != nil || j.ID != id || j.GroupFirst != ids[0] {
				t.Errorf("SubJob(%d, %d) = job %d first %d, %v; want job %d", ids[0], k, j.ID, j.GroupFirst, err, id)
			}
		}
	}
	single := submit(t, s, 1)[0]
	if j, err := s.Job(ctx, single); err != nil || j.GroupFirst != 0 {
		t.Errorf("a single job's GroupFirst = %d, %v; want 0", j.GroupFirst, err)
	}
	if _, err := s.SubJob(ctx, single, 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SubJob of a single job = %v, want ErrNotFound", err)
	}
}

// testJobFilter: the selections and paging LAVA's job lists need.
func testJobFilter(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	lab(t, s, 2)
	must(t, s.PutDeviceType(ctx, store.DeviceType{Name: "bbb"}))
	ids, err := s.Submit(ctx, []store.NewJob{
		{Submitter: "alice", DeviceType: "qemu"},
		{Submitter: "alice", DeviceType: "bbb"},
		{Submitter: "alice", DeviceType: "qemu"},
	})
	must(t, err)
	group, err := s.Submit(ctx, []store.NewJob{
		{Submitter: "alice", DeviceType: "qemu", Group: "g1", SubID: 0},
		{Submitter: "alice", DeviceType: "qemu", Group: "g1", SubID: 1},
	})
	must(t, err)
	ids = append(ids, group...)
	// ids[1] canceled an hour ago, ids[2] just now; ids[0] runs on d1.
	_, err = s.CancelJob(ctx, ids[1], now.Add(-time.Hour))
	must(t, err)
	_, err = s.CancelJob(ctx, ids[2], now)
	must(t, err)
	must(t, s.Schedule(ctx, []store.Assignment{{Job: ids[0], Device: "d1"}}))
	for _, c := range []struct {
		name string
		f    store.JobFilter
		want []int64
	}{
		{"all", store.JobFilter{}, ids},
		{"newest first", store.JobFilter{NewestFirst: true}, []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{"offset and limit", store.JobFilter{NewestFirst: true, Offset: 1, Limit: 2}, []int64{ids[3], ids[2]}},
		{"offset alone", store.JobFilter{Offset: 3}, []int64{ids[3], ids[4]}},
		{"health", store.JobFilter{Healths: []store.JobHealth{store.JobCanceled}}, []int64{ids[1], ids[2]}},
		{"state and health", store.JobFilter{States: []store.JobState{store.JobSubmitted}, Healths: []store.JobHealth{store.JobUnknown}}, []int64{ids[3], ids[4]}},
		{"device types", store.JobFilter{DeviceTypes: []string{"bbb", "nope"}}, []int64{ids[1]}},
		{"device", store.JobFilter{Device: "d1"}, []int64{ids[0]}},
		{"group", store.JobFilter{Group: "g1"}, []int64{ids[3], ids[4]}},
		{"ended after", store.JobFilter{EndedAfter: now.Add(-time.Minute)}, []int64{ids[2]}},
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
	}
}

// testDeviceChecks: checks are stored, replaced, skipped for a device that
// does not exist, and go with their device.
func testDeviceChecks(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	lab(t, s, 2)
	if got, err := s.DeviceChecks(ctx); err != nil || len(got) != 0 {
		t.Errorf("DeviceChecks() on a new lab = %v, %v", got, err)
	}
	// More rows than one statement takes, d2 last.
	cs := []store.DeviceCheck{{Device: "d1", Key: "k1", Problem: ""}}
	for i := 0; i < 450; i++ {
		cs = append(cs, store.DeviceCheck{Device: fmt.Sprintf("nosuch%d", i), Key: "k3"})
	}
	cs = append(cs, store.DeviceCheck{Device: "d2", Key: "k2", Problem: "does not render"})
	must(t, s.PutDeviceChecks(ctx, cs))
	must(t, s.PutDeviceChecks(ctx, []store.DeviceCheck{{Device: "d1", Key: "k1b", Problem: "now broken"}}))
	got, err := s.DeviceChecks(ctx)
	must(t, err)
	want := map[string]store.DeviceCheck{
		"d1": {Device: "d1", Key: "k1b", Problem: "now broken"},
		"d2": {Device: "d2", Key: "k2", Problem: "does not render"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DeviceChecks() = %v, want %v", got, want)
	}
	must(t, s.DeleteDevice(ctx, "d2"))
	got, err = s.DeviceChecks(ctx)
	must(t, err)
	if _, ok := got["d2"]; ok || len(got) != 1 {
		t.Errorf("DeviceChecks() after removing d2 = %v, want only d1", got)
	}
}

// testTokens: a token alone names its user; tokens are listed without
// their secret and deleted by their owner only.
func testTokens(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	for _, u := range []string{"alice", "bob"} {
		_, err := s.CreateUser(ctx, u, "", false)
		must(t, err)
	}
	a1, err := s.CreateToken(ctx, "alice", "", "laptop")
	must(t, err)
	_, err = s.CreateToken(ctx, "alice", "s3cret", "ci")
	must(t, err)
	if u, err := s.TokenUser(ctx, a1); err != nil || u.Name != "alice" {
		t.Errorf("TokenUser(alice's token) = %v, %v; want alice", u, err)
	}
	for _, bad := range []string{"", "nope", a1 + "x"} {
		if _, err := s.TokenUser(ctx, bad); !errors.Is(err, store.ErrAuth) {
			t.Errorf("TokenUser(%q) = %v, want ErrAuth", bad, err)
		}
	}
	ts, err := s.Tokens(ctx, "alice")
	must(t, err)
	if len(ts) != 2 || ts[0].Description != "laptop" || ts[1].Description != "ci" || ts[0].Created.IsZero() {
		t.Fatalf("Tokens(alice) = %+v, want laptop then ci", ts)
	}
	if err := s.DeleteToken(ctx, "bob", ts[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteToken by bob of alice's token = %v, want ErrNotFound", err)
	}
	must(t, s.DeleteToken(ctx, "alice", ts[0].ID))
	if _, err := s.TokenUser(ctx, a1); !errors.Is(err, store.ErrAuth) {
		t.Errorf("TokenUser of a deleted token = %v, want ErrAuth", err)
	}
	if ts, _ := s.Tokens(ctx, "alice"); len(ts) != 1 || ts[0].Description != "ci" {
		t.Errorf("Tokens(alice) after delete = %+v, want ci only", ts)
	}
}

// testViewerFilter: job lists keep what each viewer may see (store.Visible's
// rules, in the query) and CountJobs agrees with Jobs.
func testViewerFilter(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	lab(t, s, 0)
	for _, u := range []string{"bob", "carol", "dave"} {
		_, err := s.CreateUser(ctx, u, "", false)
		must(t, err)
	}
	must(t, s.CreateGroup(ctx, "lab"))
	must(t, s.CreateGroup(ctx, "l_b")) // a LIKE wildcard in a name must not widen it
	must(t, s.CreateGroup(ctx, "LAB")) // nor a name differing in case only
	must(t, s.AddGroupMember(ctx, "lab", "bob"))
	must(t, s.AddGroupMember(ctx, "l_b", "dave"))
	must(t, s.AddGroupMember(ctx, "LAB", "dave"))
	_, err := s.Submit(ctx, []store.NewJob{
		{Submitter: "alice", DeviceType: "qemu"},
		{Submitter: "alice", DeviceType: "qemu", Visibility: store.VisibilityPersonal},
		{Submitter: "alice", DeviceType: "qemu", Visibility: store.VisibilityGroup, VisibleGroups: []string{"ci", "lab"}},
		{Submitter: "carol", DeviceType: "qemu", Visibility: store.VisibilityPersonal},
		{Submitter: "dave", DeviceType: "qemu"},
		{Submitter: "alice", DeviceType: "qemu", Visibility: store.VisibilityPersonal},
	})
	must(t, err)
	groups := map[string][]string{"bob": {"lab"}, "dave": {"l_b", "LAB"}}
	all, err := s.Jobs(ctx, store.JobFilter{})
	must(t, err)
	for _, v := range []store.Viewer{{}, {Name: "alice"}, {Name: "bob"}, {Name: "carol"}, {Name: "dave"}, {Name: "root", Superuser: true}} {
		var want []int64
		for _, j := range all {
			if store.Visible(j, store.User{Name: v.Name, Superuser: v.Superuser}, groups[v.Name]) {
				want = append(want, j.ID)
			}
		}
		got, err := s.Jobs(ctx, store.JobFilter{Viewer: &v})
		must(t, err)
		var ids []int64
		for _, j := range got {
			ids = append(ids, j.ID)
		}
		if diff := cmp.Diff(ids, want); diff != "" {
			t.Errorf("Jobs(viewer %+v) (-got +want):\n%s", v, diff)
		}
		n, err := s.CountJobs(ctx, store.JobFilter{Viewer: &v, Limit: 1, Offset: 1})
		must(t, err)
		if n != len(want) {
			t.Errorf("CountJobs(viewer %+v) = %d, want %d", v, n, len(want))
		}
		// A page newest first (read along migration 0012's indexes).
		got, err = s.Jobs(ctx, store.JobFilter{Viewer: &v, NewestFirst: true, Limit: 2})
		must(t, err)
		ids = nil
		for _, j := range got {
			ids = append(ids, j.ID)
		}
		var wantPage []int64
		for i := len(want) - 1; i >= 0 && len(wantPage) < 2; i-- {
			wantPage = append(wantPage, want[i])
		}
		if diff := cmp.Diff(ids, wantPage); diff != "" {
			t.Errorf("Jobs(viewer %+v, newest first, limit 2) (-got +want):\n%s", v, diff)
		}
	}
	if n, _ := s.CountJobs(ctx, store.JobFilter{Submitter: "carol"}); n != 1 {
		t.Errorf("CountJobs(submitter carol) = %d, want 1", n)
	}
}
