package lab

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/device"
	"github.com/basalt-lava/basalt/internal/dispatcher"
	"github.com/basalt-lava/basalt/internal/hostfiles"
	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/multinode"
	"github.com/basalt-lava/basalt/internal/notify"
	"github.com/basalt-lava/basalt/internal/scheduler"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/value"
)

// SubmitError refuses a submission. Code is LAVA's fault code: 400 for a
// job that is invalid or has no device to run on, 404 for a device type
// that does not exist. Problems holds every problem found, each as
// `basalt validate` prints it (file:line:col: key: message) where it has a
// place.
type SubmitError struct {
	Code     int
	Problems []string
}

func (e *SubmitError) Error() string { return strings.Join(e.Problems, "\n") }

// Unwrap makes errors.Is(err, store.ErrNotFound) true for a 404 (a device
// type that does not exist), for callers that map errors by kind.
func (e *SubmitError) Unwrap() error {
	if e.Code == 404 {
		return store.ErrNotFound
	}
	return nil
}

// Problem is one finding of Validate: the key path it is about ("" for
// the whole job) and the message as `basalt validate` prints it.
type Problem struct {
	Path string
	Msg  string
}

// ErrPermission refuses an action the user may not take on a job.
var ErrPermission = errors.New("permission denied")

// The file names problems are given: a submission has no file of its own.
const (
	jobLabel = "job.yaml"
)

// Validate checks a job definition as `basalt validate` does without a
// device, against the dispatcher's schema (strict: lava_common's strict
// schema too), and returns its errors; none means valid.
func (l *Lab) Validate(ctx context.Context, definition string, strict bool) []Problem {
	if p := sizeProblem(definition); p != "" {
		return []Problem{{Msg: p}}
	}
	_, diags := job.Parse(jobLabel, []byte(definition), job.Options{Strict: strict, Dispatch: true})
	var out []Problem
	for _, d := range job.Errors(diags) {
		out = append(out, Problem{Path: d.Path, Msg: d.String()})
	}
	return out
}

func sizeProblem(definition string) string {
	if max := limits.Defaults().JobSize; int64(len(definition)) > max {
		return (&limits.Error{What: "job definition", Limit: limits.FormatSize(max) + " bytes"}).Error()
	}
	return ""
}

// entry is one job of a submission: a single job, or a MultiNode sub-job.
type entry struct {
	label      string // the name its problems are given
	definition string
	data       *value.Map
	deviceType string
	tags       []string
	group      string
	subID      int
	// For a MultiNode sub-job: the submission's parsed document and, for
	// each of the sub-job's actions, the index of the submission's action
	// it came from, so that problems point into what the user sent.
	root    *value.Node
	actions []int
	// localFiles is the host-access policy of the check (nil allows
	// everything: the administrator's health checks).
	localFiles *hostfiles.Policy
	// dynamic marks a MultiNode dynamic connection (a role with
	// connection:, no device type): it is checked on the devices its
	// host role may get (hostSubID, of role hostRole), with their
	// minimised configuration (dynamic.go).
	dynamic   bool
	hostRole  string
	hostSubID int
	// role is the sub-job's MultiNode role; vlans its lava-vland VLANs
	// (nil without the protocol): only devices whose interfaces carry
	// them are its candidates (vland.go).
	role  string
	vlans []scheduler.VLAN
}

// Submit checks a job definition and stores it (a MultiNode submission as
// its sub-jobs, in one transaction), state Submitted, and asks for a
// scheduling pass. The checks are those of `basalt validate` in its
// default mode (a LAVA server's submission check), the MultiNode split,
// and, for the device type each job asks for, the dictionary of every
// device of that type that is not Retired rendered with the job's context
// and the pipeline built and validated against it (which includes
// whether Basalt can run it). An invalid job returns a *SubmitError
// with every problem, and nothing is stored.
func (l *Lab) Submit(ctx context.Context, submitter store.User, definition string) ([]store.Job, error) {
	news, err := l.check(ctx, submitter, definition)
	if err != nil {
		return nil, err
	}
	ids, err := l.st.Submit(ctx, news)
	if err != nil {
		return nil, err
	}
	l.Kick()
	jobs := make([]store.Job, 0, len(ids))
	for _, id := range ids {
		j, err := l.st.Job(ctx, id)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// Resubmit submits a job's definition again (a MultiNode sub-job's whole
// submission), as user.
func (l *Lab) Resubmit(ctx context.Context, user store.User, j store.Job) ([]store.Job, error) {
	def := j.Definition
	if j.MultinodeDefinition != "" {
		def = j.MultinodeDefinition
	}
	return l.Submit(ctx, user, def)
}

// Cancel cancels a job, and every job of its MultiNode group: a job not
// started ends Canceled, a running one goes Canceling and its worker is
// told. A job already finished or canceling is left as it is, without an
// error. Only the submitter and superusers may cancel (ErrPermission).
func (l *Lab) Cancel(ctx context.Context, user store.User, j store.Job) error {
	if !user.Superuser && user.Name != j.Submitter {
		return fmt.Errorf("job %v: %w", DisplayID(j), ErrPermission)
	}
	jobs := []store.Job{j}
	if j.Group != "" {
		g, err := l.st.GroupJobs(ctx, j.Group)
		if err != nil {
			return err
		}
		jobs = g
	}
	if err := l.cancelJobs(ctx, jobs); err != nil {
		return err
	}
	l.Kick()
	return nil
}

func (l *Lab) cancelJobs(ctx context.Context, jobs []store.Job) error {
	for _, j := range jobs {
		if j.State == store.JobFinished || j.State == store.JobCanceling {
			continue
		}
		state, err := l.st.CancelJob(ctx, j.ID, l.now())
		if err != nil && !errors.Is(err, store.ErrTransition) {
			return err
		}
		if err == nil && state == store.JobFinished {
			l.changed(j.ID, store.JobFinished, j.Health)
		}
		if j.Dynamic() {
			if d, err := l.jobDevice(ctx, j); err == nil {
				l.wake(d.Worker)
			}
			continue
		}
		l.wakeDevice(ctx, j.Device)
	}
	return nil
}

// check runs every submission check and returns the jobs to store.
func (l *Lab) check(ctx context.Context, submitter store.User, definition string) ([]store.NewJob, error) {
	if p := sizeProblem(definition); p != "" {
		return nil, &SubmitError{Code: 400, Problems: []string{p}}
	}
	j, diags := job.Parse(jobLabel, []byte(definition), job.Options{})
	if job.HasErrors(diags) || j == nil {
		return nil, &SubmitError{Code: 400, Problems: diagStrings(job.Errors(diags))}
	}
	if ps := notify.CheckRecipients(definition, func(name string) bool {
		_, err := l.st.User(ctx, name)
		return !errors.Is(err, store.ErrNotFound)
	}); len(ps) > 0 {
		return nil, &SubmitError{Code: 400, Problems: ps}
	}
	entries, problems := split(j, definition, diags)
	if len(problems) > 0 {
		return nil, &SubmitError{Code: 400, Problems: problems}
	}
	if err := l.checkDevices(ctx, entries); err != nil {
		return nil, err
	}
	news := make([]store.NewJob, 0, len(entries))
	for _, e := range entries {
		nj, err := newJob(submitter, e)
		if err != nil {
			return nil, &SubmitError{Code: 400, Problems: []string{err.Error()}}
		}
		if e.group != "" {
			nj.MultinodeDefinition = definition
		}
		news = append(news, nj)
	}
	return news, nil
}

func diagStrings(ds []job.Diagnostic) []string {
	out := make([]string, 0, len(ds))
	seen := map[string]bool{}
	for _, d := range ds {
		s := d.String()
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// split turns a parsed submission into its entries: itself, or its
// MultiNode sub-jobs. Problems are the split's, placed in the submission.
func split(j *job.Job, definition string, diags []job.Diagnostic) ([]entry, []string) {
	if !multinode.IsSubmission(j.Data) {
		return []entry{{label: jobLabel, definition: definition, data: j.Data,
			deviceType: j.Data.String("device_type"), tags: stringList(j.Data.List("tags"))}}, nil
	}
	subs, err := multinode.Split(j.Data, multinode.Options{})
	var perr *multinode.Error
	if errors.As(err, &perr) {
		var ds []job.Diagnostic
		for _, p := range perr.Problems {
			ds = append(ds, job.Diagnostic{File: jobLabel, Pos: multinode.Locate(j.Doc.Root, p.Path), Path: p.PathString(), Msg: p.Msg, Severity: job.Error})
		}
		sort.SliceStable(ds, func(a, b int) bool { return ds[a].Pos.Line < ds[b].Pos.Line })
		return nil, diagStrings(ds)
	}
	if err != nil {
		return nil, []string{err.Error()}
	}
	roles := j.Data.Map("protocols").Map("lava-multinode").Map("roles")
	// A host_role names a role of count 1 (multinode.Split checks it).
	subOf := map[string]int{}
	for _, s := range subs {
		subOf[s.Role] = s.SubID
	}
	var out []entry
	var problems []string
	perRole := map[string]int{}
	for _, s := range subs {
		label := fmt.Sprintf("%s-%d/%s", s.Role, perRole[s.Role], jobLabel)
		perRole[s.Role]++
		text, err := value.EncodeYAML(s.Definition)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: encoding the sub-job: %v", label, err))
			continue
		}
		tags := stringList(s.Definition.List("tags"))
		if tags == nil {
			tags = stringList(roles.Map(s.Role).List("tags"))
		}
		e := entry{label: label, definition: string(text), data: s.Definition,
			deviceType: s.Definition.String("device_type"), tags: tags,
			group: s.Definition.Map("protocols").Map("lava-multinode").String("target_group"), subID: s.SubID,
			root: j.Doc.Root, actions: roleActions(j.Data, s.Role), role: s.Role, vlans: jobVLANs(s.Definition)}
		if s.Definition.Has("connection") {
			e.dynamic, e.tags, e.hostRole = true, nil, s.Definition.String("host_role")
			host, ok := subOf[e.hostRole]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: protocols.lava-multinode.roles.%s.host_role: no role %q", jobLabel, s.Role, e.hostRole))
				continue
			}
			e.hostSubID = host
		}
		out = append(out, e)
	}
	for _, e := range out {
		if i := indexOfSub(out, e.hostSubID); e.dynamic && i >= 0 && out[i].dynamic {
			problems = append(problems, fmt.Sprintf("%s: protocols.lava-multinode.roles: host_role %q is itself a connection: it has no device to run on", jobLabel, e.hostRole))
		}
	}
	return out, problems
}

// indexOfSub is the index in entries of the one with sub_id sub.
func indexOfSub(entries []entry, sub int) int {
	for i, e := range entries {
		if e.subID == sub {
			return i
		}
	}
	return -1
}

func stringList(l []any) []string {
	var out []string
	for _, v := range l {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// checkDevices checks that each entry's device type exists, that enough
// devices of it (with its tags) are not Retired, and that the job is
// valid on every one of them.
func (l *Lab) checkDevices(ctx context.Context, entries []entry) error {
	types, err := l.st.DeviceTypes(ctx)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, dt := range types {
		known[dt.Name] = true
	}
	if err := l.resolveAliases(ctx, entries, known); err != nil {
		return err
	}
	// A dynamic connection needs no device of its own: it is checked on
	// those its host role may get.
	all := entries
	entries = nil
	for _, e := range all {
		if !e.dynamic {
			entries = append(entries, e)
		}
	}
	for _, e := range entries {
		if e.deviceType == "" {
			return &SubmitError{Code: 400, Problems: []string{e.label + ": device_type: a job needs a device type"}}
		}
		if !known[e.deviceType] {
			return &SubmitError{Code: 404, Problems: []string{fmt.Sprintf("Specified device or device type not found: device type %q", e.deviceType)}}
		}
	}
	devices, err := l.st.Devices(ctx)
	if err != nil {
		return err
	}
	loader, tkey := l.templates(types), templatesKey(types)
	// Each request (type, tags and VLANs) needs as many devices as
	// entries ask for it: a MultiNode group runs all at once.
	need := map[string]int{}
	candidates := map[string][]store.Device{}
	for _, e := range entries {
		key := requestKey(e)
		need[key]++
		if _, done := candidates[key]; done {
			continue
		}
		var cs []store.Device
		for _, d := range devices {
			if d.DeviceType == e.deviceType && d.Health != store.HealthRetired && hasTags(d.Tags, e.tags) &&
				(e.vlans == nil || scheduler.MatchVLANs(e.vlans, l.deviceInterfaces(d, tkey, loader))) {
				cs = append(cs, d)
			}
		}
		candidates[key] = cs
	}
	for _, e := range entries {
		key := requestKey(e)
		if n := len(candidates[key]); n == 0 && e.vlans != nil {
			return &SubmitError{Code: 400, Problems: []string{fmt.Sprintf(
				"Device unavailable: no device of type %q that is not Retired has interfaces for the VLANs of %s: %s (a VLAN needs an interface of the device's parameters.interfaces with every one of its tags, one interface per VLAN)",
				e.deviceType, roleName(e), describeVLANs(e.vlans))}}
		}
		if e.vlans != nil {
			continue // vlanSets says which role is left without a device
		}
		if n := len(candidates[key]); n < need[key] {
			what := fmt.Sprintf("device type %q", e.deviceType)
			if len(e.tags) > 0 {
				what += fmt.Sprintf(" with tags %s", strings.Join(e.tags, ", "))
			}
			msg := fmt.Sprintf("Device unavailable: no device of %s that is not Retired", what)
			if n > 0 {
				msg = fmt.Sprintf("Device unavailable: the job needs %d devices of %s that are not Retired, the lab has %d", need[key], what, n)
			}
			return &SubmitError{Code: 400, Problems: []string{msg}}
		}
	}
	if err := vlanSets(entries, candidates); err != nil {
		return err
	}
	var problems []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			problems = append(problems, p)
		}
	}
	for _, e := range all {
		req := e
		if e.dynamic {
			if i := indexOfSub(all, e.hostSubID); i >= 0 {
				req = all[i]
			}
		}
		usable := 0
		for _, d := range candidates[requestKey(req)] {
			ps, deviceFault := l.checkOnDeviceCached(e, d, loader, tkey)
			if deviceFault {
				continue // the device is broken whatever the job: the scheduler sets it Bad
			}
			usable++
			for _, p := range ps {
				add(p)
			}
		}
		if usable == 0 {
			add(fmt.Sprintf("Device unavailable: no device of type %q has a valid configuration", req.deviceType))
		}
	}
	if len(problems) > 0 {
		return &SubmitError{Code: 400, Problems: problems}
	}
	return nil
}

func requestKey(e entry) string {
	t := append([]string(nil), e.tags...)
	sort.Strings(t)
	key := e.deviceType + "\x00" + strings.Join(t, "\x00")
	if e.vlans != nil {
		// In order: the match depends on it. \x01 is in no name.
		key += "\x01vlans"
		for _, v := range e.vlans {
			key += "\x01" + strings.Join(v.Tags, "\x00")
		}
	}
	return key
}

func hasTags(have, want []string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if h == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// maxChecks bounds the remembered results of checkOnDevice.
const maxChecks = 4096

// checkOnDeviceCached is checkOnDevice, remembered by what decides its
// answer: the job's text, the device's name and type (rendered, and named
// in the problems), the dictionary's text and the templates set in the
// store (the folders' are read once per server). Clients submit the same
// job many times.
func (l *Lab) checkOnDeviceCached(e entry, d store.Device, loader *device.Renderer, tkey string) ([]string, bool) {
	h := sha256.New()
	for _, s := range []string{e.label, e.definition, d.Name, d.DeviceType, d.Dictionary, tkey} {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])
	l.mu.Lock()
	c, ok := l.checks[key]
	l.mu.Unlock()
	if ok {
		return c.problems, c.deviceFault
	}
	e.localFiles = l.localFiles
	ps, fault := checkOnDevice(e, d, loader)
	l.mu.Lock()
	if len(l.checks) >= maxChecks {
		clear(l.checks)
	}
	l.checks[key] = checked{problems: ps, deviceFault: fault}
	l.mu.Unlock()
	return ps, fault
}

type checked struct {
	problems    []string
	deviceFault bool
}

// templatesKey identifies the templates set in the store.
func templatesKey(types []store.DeviceType) string {
	h := sha256.New()
	for _, dt := range types {
		fmt.Fprintf(h, "%d:%s%d:%s", len(dt.Name), dt.Name, len(dt.Template), dt.Template)
	}
	return string(h.Sum(nil))
}

// checkOnDevice renders d's dictionary with the entry's context and
// prepares the job on it. deviceFault is true when the device does not
// render even without the job's context: the device, not the job, is at
// fault.
func checkOnDevice(e entry, d store.Device, loader *device.Renderer) (problems []string, deviceFault bool) {
	var jc *value.Map
	if m := e.data.Map("context"); m != nil {
		jc, _ = value.Clone(m).(*value.Map)
	}
	rendered, err := renderDevice(d, jc, loader)
	if err != nil {
		if _, plain := renderDevice(d, nil, loader); plain != nil {
			return nil, true
		}
		return []string{fmt.Sprintf("%s: device %s: %v", e.label, d.Name, err)}, false
	}
	if e.dynamic {
		if rendered, err = minimiseDevice(rendered, d); err != nil {
			return nil, true
		}
	}
	p, err := dispatcher.PrepareSources(
		dispatcher.Source{Text: []byte(e.definition), Name: e.label},
		dispatcher.Source{Text: []byte(rendered), Name: d.Name + ".yaml"},
		dispatcher.Options{Job: job.Options{Dispatch: true, SubJob: true}, LocalFiles: e.localFiles})
	if err != nil {
		return []string{fmt.Sprintf("%s: device %s: %v", e.label, d.Name, err)}, false
	}
	errs := job.Errors(p.Diagnostics)
	for i := range errs {
		e.relocate(&errs[i])
	}
	return diagStrings(errs), false
}

// roleActions returns the index in the submission of each action a
// role's sub-jobs run, as multinode.Split picks them.
func roleActions(data *value.Map, role string) []int {
	var out []int
	for i, item := range data.List("actions") {
		m, _ := item.(*value.Map)
		if m.Len() != 1 {
			continue
		}
		block, _ := m.Value(m.Keys()[0]).(*value.Map)
		for _, n := range block.List("role") {
			if n == role {
				out = append(out, i)
				break
			}
		}
	}
	return out
}

// actionPath matches a diagnostic path inside an action:
// actions[N] and the rest.
var (
	actionPath = regexp.MustCompile(`^actions\[(\d+)\]((?:\.[A-Za-z0-9_-]+|\[\d+\])*)$`)
	pathPart   = regexp.MustCompile(`\.[A-Za-z0-9_-]+|\[\d+\]`)
)

// relocate points a sub-job's diagnostic about one of its actions at that
// action in the MultiNode submission: its path and its line there. Other
// diagnostics keep the sub-job's name.
func (e entry) relocate(d *job.Diagnostic) {
	if e.root == nil || d.File != e.label {
		return
	}
	m := actionPath.FindStringSubmatch(d.Path)
	if m == nil {
		return
	}
	k, err := strconv.Atoi(m[1])
	if err != nil || k >= len(e.actions) {
		return
	}
	segs := []any{"actions", e.actions[k]}
	for _, part := range pathPart.FindAllString(m[2], -1) {
		if part[0] == '.' {
			segs = append(segs, part[1:])
			continue
		}
		n, _ := strconv.Atoi(part[1 : len(part)-1])
		segs = append(segs, n)
	}
	d.File, d.Path = jobLabel, fmt.Sprintf("actions[%d]%s", e.actions[k], m[2])
	d.Pos = multinode.Locate(e.root, segs)
}

// newJob is the stored form of an entry.
func newJob(submitter store.User, e entry) (store.NewJob, error) {
	nj := store.NewJob{
		Definition: e.definition, Submitter: submitter.Name, DeviceType: e.deviceType, Tags: e.tags,
		Group: e.group, SubID: e.subID, Description: e.data.String("job_name"), Priority: 50,
		Dynamic: e.dynamic, HostSubID: e.hostSubID,
	}
	switch p := e.data.Value("priority").(type) {
	case string:
		nj.Priority = map[string]int{"high": 100, "medium": 50, "low": 0}[p]
	case int:
		nj.Priority = p
	}
	switch v := e.data.Value("visibility").(type) {
	case string:
		nj.Visibility = store.Visibility(v)
	case *value.Map:
		nj.Visibility = store.VisibilityGroup
		nj.VisibleGroups = stringList(v.List("group"))
	}
	if secs, ok, _ := job.TimeoutSeconds(e.data.Map("timeouts").Value("queue")); ok {
		nj.QueueTimeout = time.Duration(secs) * time.Second
	}
	return nj, nil
}
