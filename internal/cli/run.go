package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/basalt-lava/basalt/internal/coordinator"
	"github.com/basalt-lava/basalt/internal/dispatcher"
	"github.com/basalt-lava/basalt/internal/download"
	"github.com/basalt-lava/basalt/internal/hostfiles"
	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/lxc"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/process"
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
	killGrace           time.Duration
	quiet               bool
	// coordinator is --coordinator: the MultiNode coordinator to use
	// instead of the configured one (or, for a group, the in-process one).
	coordinator string
	pollDelay   time.Duration
	// dispatcherConfig is --dispatcher-config: the dispatcher
	// configuration (LAVA's dispatcher.d YAML), nil when not given.
	dispatcherConfig *value.Map
	// vland is --vland: the VLAN daemon of lava-vland jobs.
	vland string
	// limits bound the job, device and template files and their YAML.
	limits limits.Limits
	// localFiles is the host-access policy (nil: any local file).
	localFiles *hostfiles.Policy
	// lxcImages is where the lava-lxc download template fetches images.
	lxcImages lxc.ImageSource
	// human receives the human-readable log (stdout); nil with --quiet.
	human io.Writer
	// cancelReason says why ctx was canceled (the signal).
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
	fs.DurationVar(&o.killGrace, "kill-grace", process.DefaultGrace, "how long a child process (QEMU, a host command, git) gets between SIGTERM and SIGKILL when the job stops it")
	fs.BoolVar(&o.quiet, "quiet", false, "print only the summary, not the job log")
	fs.StringVar(&o.coordinator, "coordinator", "", "MultiNode coordinator HOST:PORT (default: a MultiNode group starts its own; a sub-job uses "+coordinator.DefaultConfigPath+", else localhost:3079)")
	fs.DurationVar(&o.pollDelay, "poll-delay", 0, "pause between two polls of the MultiNode coordinator (default: the coordinator configuration's poll_delay; 250ms for a group's own coordinator)")
	dispatcherConfig := fs.String("dispatcher-config", "", "the dispatcher configuration, a YAML file as LAVA's lava-run --dispatcher: dispatcher_ip (what {SERVER_IP} becomes for a board), tftp_root (Basalt's: the TFTP server's folder, default TFTP_DIRECTORY of /etc/default/tftpd-hpa, else /srv/tftp)")
	fs.StringVar(&o.vland, "vland", "", "VLAN daemon HOST:PORT for jobs with the lava-vland protocol (default "+protocol.DefaultVlandAddr+", as LAVA; see basalt vland)")
	dlLimits := downloadLimitFlags(fs)
	o.limits.AddFlags(fs)
	localFiles := addLocalFilesFlags(fs)
	lxcImages := addLXCImageFlags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	if o.localFiles, err = localFiles.policy(); err != nil {
		fmt.Fprintf(stderr, "basalt run: %v\n", err)
		return exitUsage
	}
	if o.lxcImages, err = lxcImages.source(); err != nil {
		fmt.Fprintf(stderr, "basalt run: %v\n", err)
		return exitUsage
	}
	if len(pos) != 1 || len(devices) == 0 {
		fs.Usage()
		return exitUsage
	}
	if *dispatcherConfig != "" {
		if o.dispatcherConfig, err = loadDispatcherConfig(*dispatcherConfig); err != nil {
			fmt.Fprintf(stderr, "basalt run: --dispatcher-config: %v\n", err)
			return exitUsage
		}
	}
	o.jobPath, o.dtDirs, o.devices = pos[0], dtDirs, devices
	o.devicePath = devices[0]
	if strings.ContainsAny(o.jobID, "/\\ \t\n'\"$`;&|<>") || o.jobID == "" {
		fmt.Fprintf(stderr, "basalt: --job-id %q: use letters, digits, '-' or '_'\n", o.jobID)
		return exitUsage
	}
	if o.vland != "" {
		if _, _, err := net.SplitHostPort(o.vland); err != nil {
			fmt.Fprintf(stderr, "basalt: --vland %q: expected HOST:PORT\n", o.vland)
			return exitUsage
		}
	}
	if !o.quiet {
		o.human = stdout
	}

	// The first SIGINT or SIGTERM cancels the job, which then cleans up
	// (QEMU stopped, logs and results written); a second one is noted
	// and the cleanup goes on, since leaving now would orphan QEMU.
	ctx, cancel := context.WithCancel(download.WithLimits(context.Background(), dlLimits()))
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
	sink, err := dispatcher.NewDirSink(o.outDir)
	if err != nil {
		fmt.Fprintf(stderr, "basalt: %v\n", err)
		return exitFailed
	}
	out := dispatcher.Run(ctx, runConfig(o), sink)
	return finishJob(out, o.outDir, stdout, stderr)
}

// runConfig is the dispatcher's configuration of the job o names.
func runConfig(o runOptions) dispatcher.RunConfig {
	return dispatcher.RunConfig{
		Job:    dispatcher.Source{Path: o.jobPath},
		Device: dispatcher.Source{Path: o.devicePath},
		// lava-run's checks: unknown keys allowed, a MultiNode sub-job
		// is a job like any other.
		Options: dispatcher.Options{DeviceTypeDirs: o.dtDirs, JobID: o.jobID, Job: job.Options{Lax: true, SubJob: true}, Limits: o.limits,
			LocalFiles: o.localFiles},
		Intro:        fmt.Sprintf("basalt run: job %s on device %s (%s)", o.jobPath, o.devicePath, versionText),
		TmpDir:       o.tmpDir,
		KeepTmp:      o.keepTmp,
		ProcessGrace: o.killGrace,
		OutputDir:    o.outDir,
		Human:        o.human,
		CancelReason: o.cancelReason,
		Coordinator:  func() (protocol.Settings, error) { return coordinatorSettings(o) },
		Dispatcher:   o.dispatcherConfig,
		Configure:    o.lxcImages.Configure,
		Vland:        o.vland,
	}
}

// loadDispatcherConfig reads a dispatcher configuration: a YAML map,
// small.
func loadDispatcherConfig(path string) (*value.Map, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) > 1<<20 {
		return nil, fmt.Errorf("%s: larger than 1 MiB", path)
	}
	v, err := value.DecodeYAML(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if v == nil {
		return value.NewMap(), nil
	}
	m, ok := v.(*value.Map)
	if !ok {
		return nil, fmt.Errorf("%s: not a YAML mapping", path)
	}
	return m, nil
}

// finishJob reports what the job's sink could not keep, prints the
// summary and returns the exit status: 0 only when the job completed and
// its logs and results were all written.
func finishJob(out dispatcher.Outcome, dir string, stdout, stderr io.Writer) int {
	status := exitOK
	for _, err := range unjoin(out.SinkErr) {
		fmt.Fprintf(stderr, "basalt: %v\n", err)
		status = exitFailed
	}
	printSummary(stdout, out.Cases, out.Outcome, dir, out.Duration)
	if !out.Completed() {
		return exitFailed
	}
	return status
}

// unjoin lists the errors errors.Join put together.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
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
	fmt.Fprintf(w, "job incomplete: %s error: %s\n", dispatcher.ErrorType(out.Class), out.Message)
}

// atomicString is the name of the signal that canceled the job.
type atomicString struct{ v atomic.Value }

func (a *atomicString) Store(s string) { a.v.Store(s) }

func (a *atomicString) Load() string {
	s, _ := a.v.Load().(string)
	return s
}
