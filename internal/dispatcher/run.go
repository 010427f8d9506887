package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/lxc"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/protocol"
	"github.com/basalt-lava/basalt/internal/results"
	"github.com/basalt-lava/basalt/internal/value"
)

// RunConfig is what a front end (`basalt run`, a worker) gives Run: where
// the job and its device come from and everything about the surroundings
// the job cannot know itself. The zero value of every field but Job works.
type RunConfig struct {
	// Job is the job definition; Device the device configuration (a
	// dictionary only as a file).
	Job, Device Source
	// Options are the checker's and the pipeline's: the job's id
	// (Options.JobID, "1" when empty), the device-type folders, and the
	// job checks (`basalt run` uses Lax and SubJob, the checks lava-run
	// makes).
	Options Options
	// Intro is the log's first line: who runs the job on what (empty:
	// none).
	Intro string
	// TmpDir is the job's scratch folder for downloads and the overlay,
	// created when missing; empty means a new folder in $TMPDIR. Removed
	// when the job ends unless KeepTmp.
	TmpDir  string
	KeepTmp bool
	// ProcessGrace is how long a child process (QEMU, a host command,
	// git…) gets between SIGTERM and SIGKILL when it is stopped; zero
	// means process.DefaultGrace.
	ProcessGrace time.Duration
	// OutputDir is where the front end keeps the job's files, when it
	// keeps them in a folder; actions see it as Runtime.OutputDir.
	OutputDir string
	// Human receives the log in a readable form as it happens (a
	// terminal), written out at least every second; nil: nothing.
	Human io.Writer
	// CancelReason, when ctx is canceled, says why ("interrupt", "the
	// essential role server failed"); it becomes the job's message.
	CancelReason func() string
	// Coordinator gives the MultiNode coordinator's settings; it is only
	// called for a sub-job of a MultiNode group, and an error ends that
	// job. Nil: a sub-job ends with a configuration error.
	Coordinator func() (protocol.Settings, error)
	// Dispatcher is the dispatcher configuration (LAVA's dispatcher.d
	// YAML, lava-run --dispatcher): dispatcher_ip, prefix, and Basalt's
	// tftp_root. The job sees it as its `dispatcher` parameters, in place
	// of anything a job definition put there. Nil: empty.
	Dispatcher *value.Map
	// Vland is the host:port of the VLAN daemon a sub-job with the
	// lava-vland protocol uses; empty is LAVA's localhost:3080.
	Vland string
	// Configure, when set, sees the valid job just before it runs, its
	// Runtime filled in (log, scratch folder, Publish): a front end sets
	// there what its own configuration says about running jobs (the
	// grace period of child processes, say) without this package
	// knowing each setting.
	Configure func(j *pipeline.Job)
}

// Outcome is how a job ended and what it left: what `basalt run` prints
// at the end and a worker reports.
type Outcome struct {
	// Outcome is the result ("pass" when the job completed) and, for an
	// incomplete job, the error class and message.
	pipeline.Outcome
	// JobName is the job's job_name ("" when the job could not be read).
	JobName string
	// Cases are every result the job recorded, the lava suite included.
	Cases    []results.Case
	Duration time.Duration
	// SinkErr says what the sink failed to keep (Results' and Close's
	// errors); nil when it kept everything. A job that completed but
	// whose results the sink could not keep is reported incomplete, with
	// an Infrastructure error saying so (its log, written before, says
	// how the job itself ended); a lost log alone does not change how
	// the job ended.
	SinkErr error
}

// Completed reports whether the job completed (its test cases may still
// have failed).
func (o Outcome) Completed() bool { return o.Result == "pass" }

// ErrorType is the error_type LAVA reports for the class that ended an
// incomplete job: "Job", "Infrastructure", "Test", "Canceled", ...
func (o Outcome) ErrorType() string { return ErrorType(o.Class) }

// ErrorType is the error_type LAVA reports for a class; an error without
// a class is a bug.
func ErrorType(c pipeline.Class) string {
	if c == "" {
		return "Bug"
	}
	return string(c)
}

// humanFlushInterval is how often the readable log is written out.
const humanFlushInterval = time.Second

// Run runs one job as lava-run does and returns how it ended; it never
// fails on its own: whatever goes wrong ends the job incomplete, with its
// error class. In order: the job is checked, its device loaded and its
// pipeline built and validated (every problem logged; description.yaml
// published as soon as the pipeline exists, even when invalid); a valid
// job then runs in its scratch folder, with its lava-multinode protocol
// when it is a sub-job of a group; the lava/job result and the last line
// saying how it ended are logged. Then the sink gets the results and is
// closed (sink must not be nil). Canceling ctx cancels the job, which
// still cleans up (its processes stopped and reaped) before Run returns.
//
// Everything Run hands out goes through one joblog.Masker, which hides
// the job's secrets and every URL's password: the log records, the files
// given to sink.File (description.yaml included), the outcome given to
// sink.Results and the one returned (its message, job name and results),
// so that a front end printing the outcome prints it masked.
func Run(ctx context.Context, cfg RunConfig, sink Sink) Outcome {
	start := time.Now()
	var collected results.Collector
	masker := &joblog.Masker{}
	sink = maskedSink{Sink: sink, m: masker}
	log := joblog.New(nil, joblog.Options{OnResult: collected.Add, Human: cfg.Human, Records: sink.Log, Masker: masker})
	stopFlush := flushEvery(log, humanFlushInterval)

	jobName := ""
	end := run(ctx, cfg, sink, log, &jobName)
	end.Message = masker.String(end.Message)
	rec := value.MapOf("definition", "lava", "case", "job", "result", end.Result)
	if end.Result != "pass" {
		rec.Set("error_msg", end.Message)
		rec.Set("error_type", ErrorType(end.Class))
	}
	log.Result(rec)
	if end.Result == "pass" {
		log.Infof("job completed in %s", time.Since(start).Round(time.Millisecond))
	} else {
		log.Errorf("job incomplete: %s error: %s", ErrorType(end.Class), end.Message)
	}
	stopFlush()
	log.Flush()

	o := Outcome{Outcome: end, JobName: masker.String(jobName), Cases: collected.Cases(), Duration: time.Since(start)}
	rerr := sink.Results(o)
	cerr := sink.Close()
	o.SinkErr = errors.Join(rerr, cerr)
	if rerr != nil && o.Completed() {
		// Results that were not kept are a job that did not deliver.
		o.Outcome = pipeline.OutcomeOf(pipeline.InfrastructureError("the job completed, but its results were not kept: %s", masker.String(rerr.Error())))
	}
	return o
}

// flushEvery writes the log's buffered human form out every interval
// until the returned function is called.
func flushEvery(log *joblog.Logger, every time.Duration) (stop func()) {
	done := make(chan struct{})
	quit := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				log.Flush()
			case <-quit:
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// run prepares and runs the job, logging as lava-run does, and returns
// how it ended.
func run(ctx context.Context, cfg RunConfig, sink Sink, log *joblog.Logger, jobName *string) pipeline.Outcome {
	if cfg.Intro != "" {
		log.Infof("%s", cfg.Intro)
	}
	p, err := PrepareSources(cfg.Job, cfg.Device, cfg.Options)
	if err != nil {
		return pipeline.OutcomeOf(pipeline.JobError("%v", err))
	}
	if p.Job != nil {
		*jobName = p.Job.Data.String("job_name")
		MaskSecrets(log.Masker(), p.Job.Data)
	}
	for _, d := range p.Diagnostics {
		if d.Severity == job.Error {
			log.Errorf("%s", d)
		} else {
			log.Warnf("%s", d)
		}
	}
	if p.Pipeline != nil {
		if err := publishDescription(sink, p.Pipeline); err != nil {
			log.Errorf("%v", err)
		}
	}
	if !p.Valid() {
		log.Result(value.MapOf("definition", "lava", "case", "validate", "result", "fail"))
		n := len(job.Errors(p.Diagnostics))
		return pipeline.OutcomeOf(pipeline.JobError("invalid job: %d %s (first: %s)", n, plural(n, "error", "errors"),
			firstError(p.Diagnostics)))
	}
	log.Result(value.MapOf("definition", "lava", "case", "validate", "result", "pass"))

	tmp, err := scratchDir(cfg)
	if err != nil {
		return pipeline.OutcomeOf(pipeline.InfrastructureError("creating the job's scratch folder: %v", err))
	}
	if !cfg.KeepTmp {
		defer os.RemoveAll(tmp)
	}
	pj := p.Pipeline
	pj.Runtime.Log = log
	pj.Runtime.TmpDir = tmp
	pj.Runtime.OutputDir = cfg.OutputDir
	pj.Runtime.Publish = sink.File
	pj.Runtime.ProcessGrace = cfg.ProcessGrace
	pj.Logf = nil
	// The dispatcher's own configuration, never the job's: its values
	// (where files are written, addresses) are the lab's to set.
	dispatcher := cfg.Dispatcher
	if dispatcher == nil {
		dispatcher = value.NewMap()
	}
	pj.Params.Set("dispatcher", dispatcher)
	if cfg.Configure != nil {
		cfg.Configure(pj)
	}
	if protocol.Accepts(pj.Params) {
		mn, settings, err := multinodeProtocol(cfg, pj)
		if err != nil {
			return pipeline.OutcomeOf(err)
		}
		log.Infof("lava-multinode: role %s in group %s, coordinator %s", mn.Role(), pj.Params.Map("protocols").Map(protocol.MultinodeName).String("target_group"), settings.Addr)
		for _, w := range protocol.Check(pj) {
			log.Warnf("%s", w)
		}
		pj.Protocols = append(pj.Protocols, mn)
		if protocol.VlandAccepts(pj.Params) {
			// After lava-multinode, which it uses to share the
			// group's VLANs; its tear-down runs whatever happens.
			v, err := protocol.NewVland(pj, mn, cfg.Vland)
			if err != nil {
				return pipeline.OutcomeOf(err)
			}
			log.Infof("lava-vland: VLANd at %s", orDefault(cfg.Vland, protocol.DefaultVlandAddr))
			pj.Protocols = append(pj.Protocols, v)
		}
	}
	if lxc.Requested(pj.Params) {
		// The lava-lxc protocol from the start: requests of device
		// actions, and the container's tear-down whatever happens.
		if _, err := lxc.Of(pj); err != nil {
			return pipeline.OutcomeOf(err)
		}
	}
	err = pj.Run(ctx)
	if err != nil && pipeline.ClassOf(err) == pipeline.ClassCanceled && cfg.CancelReason != nil {
		if by := cfg.CancelReason(); by != "" {
			// The reason replaces the pipeline's own "the job was
			// canceled", which would otherwise follow it.
			err = &pipeline.Error{Class: pipeline.ClassCanceled, Msg: "the job was canceled (" + by + ")", Err: context.Canceled}
		}
	}
	return pipeline.OutcomeOf(err)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// scratchDir creates the job's scratch folder.
func scratchDir(cfg RunConfig) (string, error) {
	if cfg.TmpDir == "" {
		id := cfg.Options.JobID
		if id == "" {
			id = "1"
		}
		return os.MkdirTemp("", "basalt-job-"+id+"-")
	}
	return cfg.TmpDir, os.MkdirAll(cfg.TmpDir, 0o755)
}

// multinodeProtocol builds the lava-multinode protocol of a sub-job.
func multinodeProtocol(cfg RunConfig, pj *pipeline.Job) (*protocol.Multinode, protocol.Settings, error) {
	if cfg.Coordinator == nil {
		return nil, protocol.Settings{}, pipeline.ConfigurationError("the job is part of a MultiNode group, but no coordinator is configured")
	}
	s, err := cfg.Coordinator()
	if err != nil {
		return nil, s, err
	}
	mn, err := protocol.NewMultinode(pj, s)
	return mn, s, err
}

// DescriptionYAML is the pipeline in LAVA's describe form, the content of
// description.yaml, masked as a value (masking the encoded text could
// break its YAML) with the job's secrets and every URL's password.
func DescriptionYAML(j *pipeline.Job) ([]byte, error) {
	m := &joblog.Masker{}
	MaskSecrets(m, j.Params)
	return value.EncodeYAML(m.Value(value.MapOf("pipeline", j.Describe())))
}

func publishDescription(sink Sink, j *pipeline.Job) error {
	b, err := DescriptionYAML(j)
	if err != nil {
		return err
	}
	return sink.File(DescriptionFile, b)
}

func firstError(diags []job.Diagnostic) string {
	for _, d := range diags {
		if d.Severity == job.Error {
			return d.String()
		}
	}
	return ""
}

// MaskSecrets adds the secrets a job declares (its secrets: mapping) to
// m, and its actions' `headers:` values (maskHeaders).
func MaskSecrets(m *joblog.Masker, data *value.Map) {
	maskHeaders(m, data)
	data.Map("secrets").Range(func(_ string, v any) bool {
		if s, ok := v.(string); ok {
			m.Add(s)
		} else if v != nil {
			m.Add(fmt.Sprint(v))
		}
		return true
	})
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
