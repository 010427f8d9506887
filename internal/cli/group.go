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
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/multinode"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/protocol"
	"github.com/basalt-lava/basalt/internal/value"
)

// loadGroup reads the job and, when it is a MultiNode submission, splits
// it into its sub-jobs, gives each its id, its device (Config.Device) and
// its output folder (Config.OutputDir). It returns nil for any other job
// (which `run` then runs alone).
func loadGroup(o runOptions, stderr io.Writer) (*dispatcher.Group, int) {
	j, diags, err := job.Load(o.jobPath, job.Options{Lax: true, Limits: o.limits})
	if err != nil || j == nil || !multinode.IsSubmission(j.Data) {
		return nil, exitOK // run reports unreadable or invalid jobs itself
	}
	if job.HasErrors(diags) {
		masker := &joblog.Masker{}
		dispatcher.MaskSecrets(masker, j.Data)
		for _, d := range job.Errors(diags) {
			fmt.Fprintf(stderr, "basalt: %s\n", masker.String(d.String()))
		}
		return nil, exitFailed
	}
	first, err := strconv.Atoi(o.jobID)
	if err != nil || first < 0 {
		fmt.Fprintf(stderr, "basalt: --job-id %q: a MultiNode group needs a number (its sub-jobs are numbered from it, as LAVA numbers them)\n", o.jobID)
		return nil, exitUsage
	}
	g, err := dispatcher.NewGroup(j.Data, first)
	if err != nil {
		fmt.Fprintf(stderr, "basalt: %s: %v\n", o.jobPath, err)
		return nil, exitFailed
	}

	byRole, fallback, err := parseDevices(o.devices)
	if err != nil {
		fmt.Fprintf(stderr, "basalt: %v\n", err)
		return nil, exitUsage
	}
	count := map[string]int{}
	for _, m := range g.Members {
		count[m.Role]++
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
	for _, m := range g.Members {
		devs := byRole[m.Role]
		device := ""
		switch {
		case len(devs) == 0 && fallback != "":
			device = fallback
		case len(devs) == 0:
			fmt.Fprintf(stderr, "basalt: no device for role %q: add --device %s=DEVICE\n", m.Role, m.Role)
			return nil, exitUsage
		case len(devs) == 1:
			device = devs[0]
		case len(devs) == count[m.Role]:
			device = devs[m.Index]
		default:
			fmt.Fprintf(stderr, "basalt: role %q has %d instances but %d devices: give one device for all of them or one each\n",
				m.Role, count[m.Role], len(devs))
			return nil, exitUsage
		}
		m.Config.Device = dispatcher.Source{Path: device}
		m.Config.OutputDir = filepath.Join(outDir, m.Name())
	}
	return g, exitOK
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

// runGroup runs every sub-job of a MultiNode group at once, as LAVA's
// server would schedule them, with a coordinator of its own unless
// --coordinator names one (dispatcher.RunGroup). Each sub-job writes its
// job.yaml, logs and results into DIR/ROLE-N/, and the group's summary
// goes into DIR/group.yaml.
func runGroup(ctx context.Context, o runOptions, g *dispatcher.Group, stdout, stderr io.Writer) int {
	outDir := filepath.Dir(g.Members[0].Config.OutputDir)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		fmt.Fprintf(stderr, "basalt: %v\n", err)
		return exitFailed
	}
	var out lockedWriter
	out.w = stdout
	prefixes := map[*dispatcher.Member]*prefixWriter{}
	for _, m := range g.Members {
		if err := os.MkdirAll(m.Config.OutputDir, 0o755); err != nil {
			fmt.Fprintf(stderr, "basalt: %v\n", err)
			return exitFailed
		}
		// The sub-job's own definition, as the dispatcher gets it: what
		// its diagnostics and its log name.
		path := filepath.Join(m.Config.OutputDir, "job.yaml")
		if err := os.WriteFile(path, m.Config.Job.Text, 0o644); err != nil {
			fmt.Fprintf(stderr, "basalt: writing %s's job: %v\n", m.Name(), err)
			return exitFailed
		}
		m.Config.Job.Name = path
		m.Config.Options.DeviceTypeDirs = o.dtDirs
		m.Config.Options.Limits = o.limits
		m.Config.Options.LocalFiles = o.localFiles
		m.Config.Configure = o.lxcImages.Configure
		m.Config.Intro = fmt.Sprintf("basalt run: job %s on device %s (%s)", path, m.Config.Device.Path, versionText)
		if o.tmpDir != "" {
			m.Config.TmpDir = filepath.Join(o.tmpDir, m.Name())
		}
		m.Config.KeepTmp = o.keepTmp
		m.Config.ProcessGrace = o.killGrace
		m.Config.CancelReason = o.cancelReason
		m.Config.Vland = o.vland
		m.Config.Dispatcher = o.dispatcherConfig
		prefixes[m] = &prefixWriter{out: &out, prefix: "[" + m.Name() + "] "}
		if o.human != nil {
			m.Config.Human = prefixes[m]
		}
	}
	// Every sub-job is checked before any starts, as LAVA's server checks
	// a submission: one that cannot run would leave the others waiting for
	// it in the group until they time out.
	if problems := g.Check(); len(problems) > 0 {
		printProblems(problems, stderr)
		return exitFailed
	}

	cfg := dispatcher.GroupConfig{PollDelay: o.pollDelay}
	if o.coordinator != "" {
		s, err := coordinatorSettings(o)
		if err != nil {
			fmt.Fprintf(stderr, "basalt: %v\n", err)
			return exitFailed
		}
		cfg.Coordinator = &s
	}
	var start time.Time
	cfg.Started = func(s protocol.Settings) error {
		for _, m := range g.Members {
			sink, err := dispatcher.NewDirSink(m.Config.OutputDir)
			if err != nil {
				return err
			}
			m.Sink = sink
		}
		fmt.Fprintf(stdout, "MultiNode group %s: %d sub-jobs, coordinator %s\n", g.Target, len(g.Members), s.Addr)
		for _, m := range g.Members {
			fmt.Fprintf(stdout, "  job %s  %-12s device %s  → %s\n", m.ID, m.Name(), m.Config.Device.Path, m.Config.OutputDir)
		}
		start = time.Now()
		return nil
	}
	cfg.Ended = func(m *dispatcher.Member) {
		p := prefixes[m]
		finishJob(m.Outcome, m.Config.OutputDir, p, p)
		p.Flush()
	}
	cfg.EssentialFailed = func(m *dispatcher.Member) {
		out.Printf("essential role %s (job %s) failed: ending the group\n", m.Role, m.ID)
	}
	if err := dispatcher.RunGroup(ctx, g, cfg); err != nil {
		var ge *dispatcher.GroupError
		if errors.As(err, &ge) {
			printProblems(ge.Problems, stderr)
		} else {
			fmt.Fprintf(stderr, "basalt: %v\n", err)
		}
		return exitFailed
	}
	return groupSummary(g, outDir, time.Since(start), stdout, stderr)
}

// printProblems prints why each sub-job cannot run.
func printProblems(problems []dispatcher.MemberProblem, stderr io.Writer) {
	for _, p := range problems {
		m := p.Member
		// Masked as the sub-job's log would be.
		masker := &joblog.Masker{}
		dispatcher.MaskSecrets(masker, m.Definition)
		if p.Err != nil {
			fmt.Fprintf(stderr, "basalt: %s: %s\n", m.Name(), masker.String(p.Err.Error()))
		}
		for _, d := range p.Errors {
			fmt.Fprintf(stderr, "basalt: %s (role %s, device %s): %s\n", m.Name(), m.Role, m.Config.Device.Path, masker.String(d.String()))
		}
	}
	fmt.Fprintln(stderr, "basalt: the group was not started: every sub-job must be valid")
}

// groupSummary writes group.yaml and prints one line per sub-job; the
// exit status is 0 only when every sub-job completed.
func groupSummary(g *dispatcher.Group, dir string, d time.Duration, stdout, stderr io.Writer) int {
	status := exitOK
	jobs := []any{}
	fmt.Fprintf(stdout, "\nMultiNode group %s:\n", g.Target)
	for _, m := range g.Members {
		rec := value.MapOf(
			"id", m.ID,
			"sub_id", m.SubID,
			"role", m.Role,
			"device", m.Config.Device.Path,
			"result", m.Outcome.Result,
			"duration", fmt.Sprintf("%.02f", m.Outcome.Duration.Seconds()),
			"output", m.Config.OutputDir,
		)
		line := fmt.Sprintf("  job %s  %-12s %s", m.ID, m.Name(), "complete")
		if !m.Outcome.Completed() {
			status = exitFailed
			rec.Set("error_type", m.Outcome.ErrorType())
			rec.Set("error_msg", m.Outcome.Message)
			line = fmt.Sprintf("  job %s  %-12s incomplete: %s error: %s", m.ID, m.Name(), m.Outcome.ErrorType(), m.Outcome.Message)
		}
		jobs = append(jobs, rec)
		fmt.Fprintln(stdout, line)
	}
	summary := value.MapOf("target_group", g.Target, "duration", fmt.Sprintf("%.02f", d.Seconds()), "jobs", jobs)
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
