package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/basalt-lava/basalt/internal/coordinator"
	"github.com/basalt-lava/basalt/internal/dispatcher"
	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/protocol"
	"github.com/basalt-lava/basalt/internal/results"
	"github.com/basalt-lava/basalt/internal/value"
)

const runSynopsis = "basalt run JOB.yaml --device [ROLE=]DEVICE... [--device-types DIR]... [--output-dir DIR] [--job-id ID] [--coordinator HOST:PORT]"

// runOptions are the flags of `basalt run`.
type runOptions struct {
	jobPath, devicePath string
	devices             []string // --device as given: DEVICE or ROLE=DEVICE
	dtDirs              []string
	outDir, jobID       string
	tmpDir              string
	keepTmp             bool
	quiet               bool
	// coordinator is --coordinator: the MultiNode coordinator to use
	// instead of the configured one (or, for a group, the in-process one).
	coordinator string
	pollDelay   time.Duration
	// settings are the coordinator settings a MultiNode sub-job uses;
	// nil until a group run or a sub-job resolves them.
	settings *protocol.Settings
	// human receives the human-readable log (stdout, or a prefixed
	// writer for one job of a group); nil with --quiet.
	human io.Writer
	// cancelReason says why ctx was canceled (the signal, the failed
	// essential role).
	cancelReason func() string
}

func runRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("run", runSynopsis, stderr)
	var o runOptions
	var devices listFlag
	fs.Var(&devices, "device", "device: rendered configuration (.yaml) or device dictionary (.jinja2); for a MultiNode job ROLE=DEVICE, repeatable (one per role instance, or one for all instances of the role)")
	var dtDirs listFlag
	fs.Var(&dtDirs, "device-types", "folder of device-type templates (repeatable; searched after the dictionary's folder)")
	fs.StringVar(&o.outDir, "output-dir", "", "folder for logs.yaml, results.yaml, results.xml and description.yaml (default: basalt-job-ID); a MultiNode group writes one folder per sub-job in it, ROLE-N/")
	fs.StringVar(&o.jobID, "job-id", "1", "the job's id: names the test results folder on the device (/lava-ID); a MultiNode group numbers its sub-jobs from it")
	fs.StringVar(&o.tmpDir, "tmp-dir", "", "folder for downloads and the overlay (default: a new folder in $TMPDIR, removed afterwards)")
	fs.BoolVar(&o.keepTmp, "keep-tmp", false, "keep the downloads and overlay after the job")
	fs.BoolVar(&o.quiet, "quiet", false, "print only the summary, not the job log")
	fs.StringVar(&o.coordinator, "coordinator", "", "MultiNode coordinator HOST:PORT (default: a MultiNode group starts its own; a sub-job uses "+coordinator.DefaultConfigPath+", else localhost:3079)")
	fs.DurationVar(&o.pollDelay, "poll-delay", 0, "pause between two polls of the MultiNode coordinator (default: the coordinator configuration's poll_delay; 250ms for a group's own coordinator)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	if len(pos) != 1 || len(devices) == 0 {
		fs.Usage()
		return exitUsage
	}
	o.jobPath, o.dtDirs, o.devices = pos[0], dtDirs, devices
	o.devicePath = devices[0]
	if strings.ContainsAny(o.jobID, "/\\ \t\n'\"$`;&|<>") || o.jobID == "" {
		fmt.Fprintf(stderr, "basalt: --job-id %q: use letters, digits, '-' or '_'\n", o.jobID)
		return exitUsage
	}
	if !o.quiet {
		o.human = stdout
	}

	// The first SIGINT or SIGTERM cancels the job, which then cleans up
	// (QEMU stopped, logs and results written); a second one is noted
	// and the cleanup goes on, since leaving now would orphan QEMU.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	var canceledBy atomicString
	go func() {
		n := 0
		for s := range sigs {
			n++
			if n == 1 {
				canceledBy.Store(s.String())
				cancel()
			} else {
				fmt.Fprintf(stderr, "basalt: %s again: still cleaning up\n", s)
			}
		}
	}()
	o.cancelReason = canceledBy.Load

	group, status := loadGroup(o, stderr)
	if status != exitOK {
		return status
	}
	if group != nil {
		return runGroup(ctx, o, group, stdout, stderr)
	}
	if o.outDir == "" {
		o.outDir = "basalt-job-" + o.jobID
	}
	if len(devices) > 1 || strings.Contains(devices[0], "=") && !fileExists(devices[0]) {
		fmt.Fprintf(stderr, "basalt: %s is not a MultiNode job: give one --device, without a role\n", o.jobPath)
		return exitUsage
	}
	status, _ = runJob(ctx, o, stdout, stderr)
	return status
}

// runJob runs one job and writes its logs and results into o.outDir;
// it returns the exit status and how the job ended.
func runJob(ctx context.Context, o runOptions, stdout, stderr io.Writer) (int, pipeline.Outcome) {
	if err := os.MkdirAll(o.outDir, 0o755); err != nil {
		fmt.Fprintf(stderr, "basalt: %v\n", err)
		return exitFailed, pipeline.OutcomeOf(pipeline.InfrastructureError("%v", err))
	}
	logFile, err := os.Create(filepath.Join(o.outDir, "logs.yaml"))
	if err != nil {
		fmt.Fprintf(stderr, "basalt: %v\n", err)
		return exitFailed, pipeline.OutcomeOf(pipeline.InfrastructureError("%v", err))
	}
	defer logFile.Close()
	var collected results.Collector
	lopts := joblog.Options{OnResult: collected.Add, Human: o.human}
	log := joblog.New(logFile, lopts)
	// The log is flushed every second so that `tail -f` follows the job
	// and a killed basalt leaves at most a second of it unwritten.
	flushDone := make(chan struct{})
	stopFlush := make(chan struct{})
	go func() {
		defer close(flushDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				log.Flush()
			case <-stopFlush:
				return
			}
		}
	}()

	start := time.Now()
	jobName := ""
	outcome := run(ctx, o, log, &jobName)
	rec := value.MapOf("definition", "lava", "case", "job", "result", outcome.Result)
	if outcome.Result != "pass" {
		rec.Set("error_msg", outcome.Message)
		rec.Set("error_type", errorType(outcome.Class))
	}
	log.Result(rec)
	if outcome.Result == "pass" {
		log.Infof("job completed in %s", time.Since(start).Round(time.Millisecond))
	} else {
		log.Errorf("job incomplete: %s error: %s", errorType(outcome.Class), outcome.Message)
	}
	close(stopFlush)
	<-flushDone
	status := exitOK
	if err := log.Flush(); err != nil {
		fmt.Fprintf(stderr, "basalt: writing the job log: %v\n", err)
		status = exitFailed
	}
	cases := collected.Cases()
	if err := writeResults(o.outDir, jobName, cases); err != nil {
		fmt.Fprintf(stderr, "basalt: %v\n", err)
		status = exitFailed
	}
	printSummary(stdout, cases, outcome, o.outDir, time.Since(start))
	if outcome.Result != "pass" {
		return exitFailed, outcome
	}
	return status, outcome
}

// run prepares and runs the job, logging as lava-run does, and returns
// how it ended.
func run(ctx context.Context, o runOptions, log *joblog.Logger, jobName *string) pipeline.Outcome {
	opts := dispatcher.Options{DeviceTypeDirs: o.dtDirs, JobID: o.jobID, Job: job.Options{Lax: true, SubJob: true}}
	log.Infof("basalt run: job %s on device %s (%s)", o.jobPath, o.devicePath, versionText)
	p, err := dispatcher.Prepare(o.jobPath, o.devicePath, opts)
	if err != nil {
		return pipeline.OutcomeOf(pipeline.JobError("%v", err))
	}
	if p.Job != nil {
		*jobName = p.Job.Data.String("job_name")
		maskSecrets(log, p.Job.Data)
	}
	for _, d := range p.Diagnostics {
		if d.Severity == job.Error {
			log.Errorf("%s", d)
		} else {
			log.Warnf("%s", d)
		}
	}
	if p.Pipeline != nil {
		if err := writeDescription(o.outDir, p.Pipeline); err != nil {
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

	tmp := o.tmpDir
	if tmp == "" {
		tmp, err = os.MkdirTemp("", "basalt-job-"+o.jobID+"-")
		if err != nil {
			return pipeline.OutcomeOf(pipeline.InfrastructureError("creating the job's scratch folder: %v", err))
		}
	} else if err := os.MkdirAll(tmp, 0o755); err != nil {
		return pipeline.OutcomeOf(pipeline.InfrastructureError("creating the job's scratch folder: %v", err))
	}
	if !o.keepTmp {
		defer os.RemoveAll(tmp)
	}
	pj := p.Pipeline
	pj.Runtime.Log = log
	pj.Runtime.TmpDir = tmp
	pj.Runtime.OutputDir = o.outDir
	pj.Logf = nil
	if protocol.Accepts(pj.Params) {
		mn, err := newMultinode(o, pj)
		if err != nil {
			return pipeline.OutcomeOf(err)
		}
		log.Infof("lava-multinode: role %s in group %s, coordinator %s", mn.Role(), pj.Params.Map("protocols").Map(protocol.MultinodeName).String("target_group"), o.settings.Addr)
		for _, w := range protocol.Check(pj) {
			log.Warnf("%s", w)
		}
		pj.Protocols = append(pj.Protocols, mn)
	}
	err = pj.Run(ctx)
	if err != nil && pipeline.ClassOf(err) == pipeline.ClassCanceled && o.cancelReason != nil {
		if by := o.cancelReason(); by != "" {
			err = &pipeline.Error{Class: pipeline.ClassCanceled, Msg: "the job was canceled (" + by + ")", Err: err}
		}
	}
	return pipeline.OutcomeOf(err)
}

// errorType is the error_type LAVA reports for a class.
func errorType(c pipeline.Class) string {
	if c == "" {
		return "Bug"
	}
	return string(c)
}

func firstError(diags []job.Diagnostic) string {
	for _, d := range diags {
		if d.Severity == job.Error {
			return d.String()
		}
	}
	return ""
}

// maskSecrets makes the job's secrets show as [MASKED] in the log.
func maskSecrets(log *joblog.Logger, data *value.Map) {
	data.Map("secrets").Range(func(_ string, v any) bool {
		if s, ok := v.(string); ok {
			log.Mask(s)
		} else if v != nil {
			log.Mask(fmt.Sprint(v))
		}
		return true
	})
}

func writeResults(dir, jobName string, cases []results.Case) error {
	y, err := results.YAML(cases)
	if err != nil {
		return fmt.Errorf("results.yaml: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.yaml"), y, 0o644); err != nil {
		return err
	}
	var x bytes.Buffer
	if err := results.WriteJUnit(&x, jobName, cases); err != nil {
		return fmt.Errorf("results.xml: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "results.xml"), x.Bytes(), 0o644)
}

// printSummary prints each test suite's counts, then one line saying how
// the job ended: the last thing a user reads.
func printSummary(w io.Writer, cases []results.Case, out pipeline.Outcome, dir string, d time.Duration) {
	fmt.Fprintln(w, "")
	fmt.Fprintln(w, "results:")
	for _, s := range results.Suites(cases) {
		if s.Name == "lava" {
			continue
		}
		fmt.Fprintf(w, "  %-30s pass %d  fail %d  skip %d  unknown %d\n", s.Name, s.Pass, s.Fail, s.Skip, s.Unknown)
		for _, k := range s.Cases {
			line := fmt.Sprintf("    %-28s %s", k.Name, k.Result)
			if k.Measurement != nil {
				line += fmt.Sprintf("  %v %s", k.Measurement, k.Units)
			}
			fmt.Fprintln(w, line)
		}
	}
	fmt.Fprintf(w, "logs and results in %s\n", dir)
	if out.Result == "pass" {
		fmt.Fprintf(w, "job complete (%s)\n", d.Round(time.Second))
		return
	}
	fmt.Fprintf(w, "job incomplete: %s error: %s\n", errorType(out.Class), out.Message)
}

// atomicString is the name of the signal that canceled the job.
type atomicString struct{ v atomic.Value }

func (a *atomicString) Store(s string) { a.v.Store(s) }

func (a *atomicString) Load() string {
	s, _ := a.v.Load().(string)
	return s
}
