package pipeline

import (
	"fmt"
	"time"

	"github.com/basalt-lava/basalt/internal/hostfiles"
	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/value"
)

// TestInfo is what a deploy or boot strategy may ask about the tests of
// its namespace.
type TestInfo struct {
	Strategy TestStrategy
	Params   *value.Map
}

// Job is one test job on one device: its definition, the device
// configuration and the pipeline built from them.
type Job struct {
	ID string
	// Params is the job definition. Building the pipeline adds to it as
	// LAVA does (namespace defaults, protocols merged into each block).
	Params *value.Map
	// Device is the rendered device configuration.
	Device   *value.Map
	Timeout  Timeout
	Pipeline *Pipeline
	// TestInfo maps a namespace to the tests that run in it.
	TestInfo map[string][]TestInfo
	// Logf, when set, receives what the run loop has to say (retries,
	// cleanup failures).
	Logf func(format string, args ...any)
	// Warnings are problems that do not stop the job (a missing host tool
	// a later action needs, say), found while building or validating.
	Warnings []string
	// Runtime is the log, scratch folder and shared data of a run.
	Runtime Runtime
	// Protocols are the job-level protocols (lava-multinode), set by
	// whoever runs the job since they need the outside world (a
	// coordinator's address).
	Protocols []Protocol
	// LocalFiles is the host-access policy: which host files the job may
	// have read (file:// images, local git repositories) and whether git
	// may use ssh. Nil allows everything (`basalt run`); set before
	// Validate so that validation refuses what it can see.
	LocalFiles *hostfiles.Policy

	tools toolCache
}

// NewFinalize builds the action appended to every job; set by the package
// that implements it (internal/actions/power) so this package stays free
// of concrete actions.
var NewFinalize func() Action

// BlockError is an error building the pipeline for one block of the
// job's actions list, so that callers can point at the block.
type BlockError struct {
	Index   int    // position in the job's actions list
	Section string // deploy, boot, test or command
	Err     error
}

func (e *BlockError) Error() string {
	return fmt.Sprintf("actions[%d].%s: %v", e.Index, e.Section, e.Err)
}

func (e *BlockError) Unwrap() error { return e.Err }

// Build parses a job definition against a device configuration into a
// Job with its pipeline, choosing a strategy for every block. It fails on
// the first block no strategy accepts, with a *BlockError.
func Build(params, device *value.Map) (*Job, error) { return BuildJob("1", params, device) }

// BuildJob is Build for the job with the given id, which actions may use
// while building (the test results folder /lava-<id> on the device).
func BuildJob(id string, params, device *value.Map) (*Job, error) {
	j := &Job{ID: id, Params: params, Device: device, TestInfo: map[string][]TestInfo{}}
	j.Timeout = Timeout{job.DefaultActionTimeout, "default"}
	s, ok, err := job.TimeoutSeconds(params.Map("timeouts").Value("job"))
	if err != nil {
		return nil, JobError("timeouts.job: %v", err)
	}
	if ok {
		j.Timeout = Timeout{s, "job timeouts.job"}
	}
	actions := params.List("actions")
	for i, item := range actions {
		blk, _ := item.(*value.Map)
		tp := blk.Map("test")
		if tp == nil {
			continue
		}
		s, err := Select("test", device, tp)
		if err != nil {
			return nil, &BlockError{i, "test", err}
		}
		ts, ok := s.(TestStrategy)
		if !ok {
			return nil, Bug("test strategy %s lacks the test strategy methods", s.Name())
		}
		ns := stringOr(tp.Value("namespace"), "common")
		cns := stringOr(tp.Value("connection-namespace"), ns)
		j.TestInfo[ns] = append(j.TestInfo[ns], TestInfo{ts, tp})
		if cns != ns {
			j.TestInfo[cns] = append(j.TestInfo[cns], TestInfo{ts, tp})
		}
	}
	top := &Pipeline{job: j}
	testCounts := map[string]int{}
	for i, item := range actions {
		blk, ok := item.(*value.Map)
		if !ok || blk.Len() != 1 {
			return nil, JobError("actions[%d]: expected a single-key map (deploy, boot, test or command)", i)
		}
		section := blk.Keys()[0]
		bp, ok := blk.Value(section).(*value.Map)
		if !ok {
			return nil, JobError("actions[%d].%s: expected a map", i, section)
		}
		ns := stringOr(bp.SetDefault("namespace", "common"), "common")
		if protos := params.Map("protocols"); protos != nil {
			protos.Range(func(k string, v any) bool { bp.Set(k, v); return true })
		}
		switch section {
		case "deploy":
			s, err := Select("deploy", device, bp)
			if err != nil {
				return nil, &BlockError{i, section, err}
			}
			uses := true
			if ds, ok := s.(DeployStrategy); ok {
				uses = ds.UsesDeploymentData()
			}
			needs := false
			if uses {
				for _, ti := range j.TestInfo[ns] {
					if ti.Strategy.NeedsDeploymentData(ti.Params) {
						needs = true
					}
				}
			}
			if needs || bp.Has("preseed") {
				bp.Set("deployment_data", DeploymentData(bp.String("os")))
			}
			a := s.Action(bp)
			a.ActionBase().Section = "deploy"
			top.Add(a, bp)
		case "boot":
			s, err := Select("boot", device, bp)
			if err != nil {
				return nil, &BlockError{i, section, err}
			}
			a := s.Action(bp)
			a.ActionBase().Section = "boot"
			top.Add(a, bp)
		case "test":
			bp.Set("stage", testCounts[ns])
			s, err := Select("test", device, bp)
			if err != nil {
				return nil, &BlockError{i, section, err}
			}
			a := s.Action(bp)
			a.ActionBase().Section = "test"
			top.Add(a, bp)
			if ts, ok := s.(TestStrategy); ok && ts.NeedsOverlay(bp) {
				testCounts[ns]++
			}
		case "command":
			if NewCommand == nil {
				return nil, Bug("no command action registered")
			}
			a := NewCommand()
			a.ActionBase().Section = "command"
			top.Add(a, bp)
		default:
			return nil, JobError("actions[%d]: unknown action %q", i, section)
		}
	}
	if NewFinalize == nil {
		return nil, Bug("no finalize action registered")
	}
	fin := NewFinalize()
	fin.ActionBase().Section = "finalize"
	top.Add(fin, nil)
	j.Pipeline = top
	return j, nil
}

// NewCommand builds the action for a `command` block; set by
// internal/actions/command.
var NewCommand func() Action

// Validate validates the whole pipeline and returns every problem found.
func (j *Job) Validate() []string {
	j.Pipeline.Validate()
	return j.Pipeline.Errors()
}

// Describe returns the pipeline in LAVA's describe form: for each action
// class, name, level, max_retries, description, summary, timeout, url
// (download actions) and pipeline (its children, when it has any).
func (j *Job) Describe() []any { return describe(j.Pipeline) }

func describe(p *Pipeline) []any {
	out := []any{}
	for _, a := range p.Actions {
		b := a.ActionBase()
		m := value.MapOf(
			"class", b.Class,
			"name", b.Name,
			"level", b.Level,
			"max_retries", b.MaxRetries,
			"description", b.Description,
			"summary", b.Summary,
			"timeout", b.Timeout.Seconds,
		)
		if b.URL != "" {
			m.Set("url", b.URL)
		}
		if b.Pipeline != nil && len(b.Pipeline.Actions) > 0 {
			m.Set("pipeline", describe(b.Pipeline))
		}
		out = append(out, m)
	}
	return out
}

func secondsDuration(s int) time.Duration { return time.Duration(s) * time.Second }

func stringOr(v any, def string) string {
	if s, ok := v.(string); ok {
		return s
	}
	if v == nil {
		return def
	}
	return fmt.Sprint(v)
}

// LocalFiles is the job's host-access policy (Job.LocalFiles); nil, which
// allows everything, for an action outside a job.
func (b *Base) LocalFiles() *hostfiles.Policy {
	if b.Job == nil {
		return nil
	}
	return b.Job.LocalFiles
}
