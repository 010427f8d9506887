package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/basalt-lava/basalt/internal/coordinator"
	"github.com/basalt-lava/basalt/internal/dispatcher"
	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/multinode"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/protocol"
	"github.com/basalt-lava/basalt/internal/value"
)

// groupPollDelay is how often the sub-jobs of a group poll the group's
// own coordinator: it is in this process, so polling is cheap, and a
// lava-sync round costs at most one delay.
const groupPollDelay = 250 * time.Millisecond

// member is one sub-job of a MultiNode group run.
type member struct {
	sub     multinode.SubJob
	id      string
	index   int // n in ROLE-n: the instance of its role
	device  string
	outDir  string
	outcome pipeline.Outcome
	elapsed time.Duration
}

func (m *member) name() string { return fmt.Sprintf("%s-%d", m.sub.Role, m.index) }

func (m *member) essential() bool {
	e, _ := m.sub.Definition.Map("protocols").Map(protocol.MultinodeName).Value("essential").(bool)
	return e
}

// loadGroup reads the job and, when it is a MultiNode submission, splits
// it into its sub-jobs, gives each its id and its device. It returns nil
// for any other job (which `run` then runs alone).
func loadGroup(o runOptions, stderr io.Writer) ([]*member, int) {
	j, diags, err := job.Load(o.jobPath, job.Options{Lax: true})
	if err != nil || j == nil || !multinode.IsSubmission(j.Data) {
		return nil, exitOK // run reports unreadable or invalid jobs itself
	}
	if job.HasErrors(diags) {
		for _, d := range job.Errors(diags) {
			fmt.Fprintf(stderr, "basalt: %s\n", d)
		}
		return nil, exitFailed
	}
	subs, err := multinode.Split(j.Data, multinode.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "basalt: %s: %v\n", o.jobPath, err)
		return nil, exitFailed
	}
	first, err := strconv.Atoi(o.jobID)
	if err != nil || first < 0 {
		fmt.Fprintf(stderr, "basalt: --job-id %q: a MultiNode group needs a number (its sub-jobs are numbered from it, as LAVA numbers them)\n", o.jobID)
		return nil, exitUsage
	}
	ids := make([]string, len(subs))
	for i := range subs {
		ids[i] = strconv.Itoa(first + i)
	}
	multinode.SetRoles(subs, ids)

	byRole, fallback, err := parseDevices(o.devices)
	if err != nil {
		fmt.Fprintf(stderr, "basalt: %v\n", err)
		return nil, exitUsage
	}
	count := map[string]int{}
	for _, s := range subs {
		count[s.Role]++
	}
	for role := range byRole {
		if count[role] == 0 {
			fmt.Fprintf(stderr, "basalt: --device %s=…: the job has no role %q\n", role, role)
			return nil, exitUsage
		}
	}
	outDir := o.outDir
	if outDir == "" {
		outDir = "basalt-group-" + o.jobID
	}
	var group []*member
	seen := map[string]int{}
	for i, s := range subs {
		m := &member{sub: s, id: ids[i], index: seen[s.Role]}
		seen[s.Role]++
		devs := byRole[s.Role]
		switch {
		case len(devs) == 0 && fallback != "":
			m.device = fallback
		case len(devs) == 0:
			fmt.Fprintf(stderr, "basalt: no device for role %q: add --device %s=DEVICE\n", s.Role, s.Role)
			return nil, exitUsage
		case len(devs) == 1:
			m.device = devs[0]
		case len(devs) == count[s.Role]:
			m.device = devs[m.index]
		default:
			fmt.Fprintf(stderr, "basalt: role %q has %d instances but %d devices: give one device for all of them or one each\n",
				s.Role, count[s.Role], len(devs))
			return nil, exitUsage
		}
		m.outDir = filepath.Join(outDir, m.name())
		group = append(group, m)
	}
	return group, exitOK
}

// parseDevices sorts --device values into ROLE=DEVICE and the one
// DEVICE without a role, which serves every role not named.
func parseDevices(devices []string) (map[string][]string, string, error) {
	byRole := map[string][]string{}
	fallback := ""
	for _, d := range devices {
		role, path, ok := strings.Cut(d, "=")
		if !ok || fileExists(d) {
			if fallback != "" {
				return nil, "", fmt.Errorf("--device %s: only one device may be given without a role (ROLE=DEVICE)", d)
			}
			fallback = d
			continue
		}
		if role == "" || path == "" {
			return nil, "", fmt.Errorf("--device %q: expected ROLE=DEVICE", d)
		}
		byRole[role] = append(byRole[role], path)
	}
	return byRole, fallback, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// essentialFailure is why a group's other sub-jobs were canceled.
type essentialFailure struct {
	m *member
}

func (e *essentialFailure) Error() string {
	return fmt.Sprintf("essential role %s (job %s) ended incomplete: %s error: %s",
		e.m.sub.Role, e.m.id, errorType(e.m.outcome.Class), e.m.outcome.Message)
}

// runGroup runs every sub-job of a MultiNode group at once, as LAVA's
// server would schedule them, with a coordinator of its own unless
// --coordinator names one. When a sub-job of an essential role ends
// incomplete, the others are canceled, as LAVA's server cancels the group;
// every sub-job still runs its cleanup and writes its logs and results.
func runGroup(ctx context.Context, o runOptions, group []*member, stdout, stderr io.Writer) int {
	outDir := filepath.Dir(group[0].outDir)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		fmt.Fprintf(stderr, "basalt: %v\n", err)
		return exitFailed
	}
	// Every sub-job is checked before any starts, as LAVA's server checks
	// a submission: one that cannot run would leave the others waiting for
	// it in the group until they time out.
	if !checkGroup(group, o, stderr) {
		return exitFailed
	}

	settings, stop, err := groupCoordinator(o)
	if err != nil {
		fmt.Fprintf(stderr, "basalt: %v\n", err)
		return exitFailed
	}
	defer stop()
	target := group[0].sub.Definition.Map("protocols").Map(protocol.MultinodeName).String("target_group")
	fmt.Fprintf(stdout, "MultiNode group %s: %d sub-jobs, coordinator %s\n", target, len(group), settings.Addr)
	for _, m := range group {
		fmt.Fprintf(stdout, "  job %s  %-12s device %s  → %s\n", m.id, m.name(), m.device, m.outDir)
	}

	var out lockedWriter
	out.w = stdout
	start := time.Now()
	cancels := make([]context.CancelCauseFunc, len(group))
	ctxs := make([]context.Context, len(group))
	for i := range group {
		ctxs[i], cancels[i] = context.WithCancelCause(ctx)
	}
	var wg sync.WaitGroup
	for i, m := range group {
		mo := o
		mo.jobPath = filepath.Join(m.outDir, "job.yaml")
		mo.devicePath = m.device
		mo.outDir = m.outDir
		mo.jobID = m.id
		mo.settings = &settings
		if o.tmpDir != "" {
			mo.tmpDir = filepath.Join(o.tmpDir, m.name())
		}
		prefix := &prefixWriter{out: &out, prefix: "[" + m.name() + "] "}
		if o.human != nil {
			mo.human = prefix
		}
		mctx := ctxs[i]
		mo.cancelReason = func() string {
			var ef *essentialFailure
			if cause := context.Cause(mctx); errors.As(cause, &ef) {
				return ef.Error()
			}
			if o.cancelReason != nil {
				return o.cancelReason()
			}
			return ""
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cancels[i](nil)
			t0 := time.Now()
			_, m.outcome = runJob(mctx, mo, prefix, prefix)
			m.elapsed = time.Since(t0)
			prefix.Flush()
			if m.essential() && m.outcome.Result != "pass" && m.outcome.Class != pipeline.ClassCanceled {
				cause := &essentialFailure{m}
				out.Printf("essential role %s (job %s) failed: ending the group\n", m.sub.Role, m.id)
				for j := range group {
					if j != i {
						cancels[j](cause)
					}
				}
			}
		}()
	}
	wg.Wait()
	return groupSummary(group, outDir, target, time.Since(start), stdout, stderr)
}

// checkGroup writes each sub-job's job.yaml and checks it with its
// device as `basalt run` would, printing every problem; it reports
// whether all of them can run.
func checkGroup(group []*member, o runOptions, stderr io.Writer) bool {
	ok := true
	for _, m := range group {
		if err := os.MkdirAll(m.outDir, 0o755); err != nil {
			fmt.Fprintf(stderr, "basalt: %v\n", err)
			return false
		}
		path := filepath.Join(m.outDir, "job.yaml")
		def, err := value.EncodeYAML(m.sub.Definition)
		if err == nil {
			err = os.WriteFile(path, def, 0o644)
		}
		if err != nil {
			fmt.Fprintf(stderr, "basalt: writing %s's job: %v\n", m.name(), err)
			return false
		}
		p, err := dispatcher.Prepare(path, m.device, dispatcher.Options{DeviceTypeDirs: o.dtDirs, JobID: m.id,
			Job: job.Options{Lax: true, SubJob: true}})
		if err != nil {
			fmt.Fprintf(stderr, "basalt: %s: %v\n", m.name(), err)
			ok = false
			continue
		}
		if !p.Valid() {
			for _, d := range job.Errors(p.Diagnostics) {
				fmt.Fprintf(stderr, "basalt: %s (role %s, device %s): %s\n", m.name(), m.sub.Role, m.device, d)
			}
			ok = false
		}
	}
	if !ok {
		fmt.Fprintln(stderr, "basalt: the group was not started: every sub-job must be valid")
	}
	return ok
}

// groupCoordinator returns the settings the sub-jobs use and a function
// that stops the group's own coordinator, when it started one.
func groupCoordinator(o runOptions) (protocol.Settings, func(), error) {
	if o.coordinator != "" {
		s, err := coordinatorSettings(o)
		return s, func() {}, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return protocol.Settings{}, nil, fmt.Errorf("starting the group's coordinator: %w", err)
	}
	srv := coordinator.NewServer(coordinator.Options{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	delay := groupPollDelay
	if o.pollDelay > 0 {
		delay = o.pollDelay
	}
	stop := func() {
		srv.Close()
		<-done
	}
	return protocol.Settings{Addr: l.Addr().String(), PollDelay: delay, Blocksize: 4096}, stop, nil
}

// groupSummary writes group.yaml and prints one line per sub-job; the
// exit status is 0 only when every sub-job completed.
func groupSummary(group []*member, dir, target string, d time.Duration, stdout, stderr io.Writer) int {
	status := exitOK
	jobs := []any{}
	fmt.Fprintf(stdout, "\nMultiNode group %s:\n", target)
	for _, m := range group {
		rec := value.MapOf(
			"id", m.id,
			"sub_id", m.sub.SubID,
			"role", m.sub.Role,
			"device", m.device,
			"result", m.outcome.Result,
			"duration", fmt.Sprintf("%.02f", m.elapsed.Seconds()),
			"output", m.outDir,
		)
		line := fmt.Sprintf("  job %s  %-12s %s", m.id, m.name(), "complete")
		if m.outcome.Result != "pass" {
			status = exitFailed
			rec.Set("error_type", errorType(m.outcome.Class))
			rec.Set("error_msg", m.outcome.Message)
			line = fmt.Sprintf("  job %s  %-12s incomplete: %s error: %s", m.id, m.name(), errorType(m.outcome.Class), m.outcome.Message)
		}
		jobs = append(jobs, rec)
		fmt.Fprintln(stdout, line)
	}
	summary := value.MapOf("target_group", target, "duration", fmt.Sprintf("%.02f", d.Seconds()), "jobs", jobs)
	y, err := value.EncodeYAML(summary)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "group.yaml"), y, 0o644)
	}
	if err != nil {
		fmt.Fprintf(stderr, "basalt: writing group.yaml: %v\n", err)
		status = exitFailed
	}
	if status == exitOK {
		fmt.Fprintf(stdout, "group complete (%s); logs and results in %s\n", d.Round(time.Second), dir)
	} else {
		fmt.Fprintf(stdout, "group incomplete (%s); logs and results in %s\n", d.Round(time.Second), dir)
	}
	return status
}

// newMultinode builds the lava-multinode protocol of a sub-job.
func newMultinode(o runOptions, pj *pipeline.Job) (*protocol.Multinode, error) {
	if o.settings == nil {
		s, err := coordinatorSettings(o)
		if err != nil {
			return nil, err
		}
		o.settings = &s
	}
	return protocol.NewMultinode(pj, *o.settings)
}

// lockedWriter lets the sub-jobs of a group print whole lines without
// mixing them.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) Printf(format string, args ...any) {
	fmt.Fprintf(l, format, args...)
}

// prefixWriter prefixes every line with the sub-job's name; it holds a
// partial line until its end arrives.
type prefixWriter struct {
	mu     sync.Mutex
	out    io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	var lines bytes.Buffer
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		lines.WriteString(p.prefix)
		lines.Write(p.buf[:i+1])
		p.buf = p.buf[i+1:]
	}
	if lines.Len() > 0 {
		if _, err := p.out.Write(lines.Bytes()); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// Flush writes what is left of a partial line.
func (p *prefixWriter) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		fmt.Fprintf(p.out, "%s%s\n", p.prefix, p.buf)
		p.buf = nil
	}
}

// coordinatorSettings are the coordinator settings of a sub-job run on
// its own, as LAVA's dispatcher finds them: the coordinator configuration
// file when there is one (a missing file is not an error here, unlike
// LAVA: the defaults name a coordinator on this machine), then
// --coordinator and --poll-delay over it.
func coordinatorSettings(o runOptions) (protocol.Settings, error) {
	cfg := coordinator.DefaultConfig()
	if fileExists(coordinator.DefaultConfigPath) {
		c, err := coordinator.LoadConfig(coordinator.DefaultConfigPath)
		if err != nil {
			return protocol.Settings{}, pipeline.ConfigurationError("%v", err)
		}
		cfg = c
	}
	s := protocol.Settings{Addr: cfg.Addr(), PollDelay: cfg.PollDelay, Blocksize: cfg.Blocksize}
	if o.coordinator != "" {
		if _, _, err := net.SplitHostPort(o.coordinator); err != nil {
			return s, pipeline.ConfigurationError("--coordinator %q: expected HOST:PORT", o.coordinator)
		}
		s.Addr = o.coordinator
	}
	if o.pollDelay > 0 {
		s.PollDelay = o.pollDelay
	}
	return s, nil
}
