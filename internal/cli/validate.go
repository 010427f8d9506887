package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/basalt-lava/basalt/internal/dispatcher"
	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/multinode"
	"github.com/basalt-lava/basalt/internal/pipeline"
)

const validateSynopsis = "basalt validate JOB.yaml [--device DEVICE] [--device-types DIR]... [--output-dir DIR] [--strict | --lax]"

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", validateSynopsis, stderr)
	devicePath := fs.String("device", "", "device: rendered configuration (.yaml) or device dictionary (.jinja2); without it only the job is checked")
	var dtDirs, extraContext listFlag
	fs.Var(&dtDirs, "device-types", "folder of device-type templates (repeatable; searched after the dictionary's folder)")
	outDir := fs.String("output-dir", "", "write description.yaml (LAVA's pipeline description) into this folder")
	strict := fs.Bool("strict", false, "also refuse what lava_common's strict job schema refuses (unknown keys, timeouts longer than the job's …), which the default reports as warnings")
	lax := fs.Bool("lax", false, "check as the dispatcher (basalt run) does: lava_common's schema with unknown keys allowed, no submission check")
	dupErrors := fs.Bool("duplicate-keys-are-errors", false, "treat a key given twice in one map as an error (LAVA keeps the last value)")
	fs.Var(&extraContext, "context-variable", "also allow this job context variable (repeatable), like a server's EXTRA_CONTEXT_VARIABLES")
	quiet := fs.Bool("quiet", false, "print only problems, not the pipeline")
	var lim limits.Limits
	lim.AddFlags(fs)
	localFiles := addLocalFilesFlags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	if len(pos) != 1 {
		fs.Usage()
		return exitUsage
	}
	if *strict && *lax {
		fmt.Fprintln(stderr, "basalt validate: --strict and --lax are exclusive")
		return exitUsage
	}
	policy, err := localFiles.policy()
	if err != nil {
		fmt.Fprintf(stderr, "basalt validate: %v\n", err)
		return exitUsage
	}
	opts := dispatcher.Options{
		LocalFiles:     policy,
		DeviceTypeDirs: dtDirs,
		// With a device the job is checked as the dispatcher gets it: a
		// MultiNode sub-job is then a job like any other.
		Job: job.Options{Lax: *lax, Strict: *strict, Dispatch: *devicePath != "", DuplicatesAreErrors: *dupErrors,
			ExtraContext: extraContext, SubJob: *devicePath != ""},
		Limits: lim,
	}
	p, err := dispatcher.Prepare(pos[0], *devicePath, opts)
	if err != nil {
		fmt.Fprintf(stderr, "basalt: %v\n", err)
		return exitFailed
	}
	// A MultiNode submission without a device: the role checks that
	// `multinode split`, `basalt run` and the server make (roles, counts,
	// host roles, VLANs ...) are part of what makes it valid.
	if *devicePath == "" && p.Job != nil && multinode.IsSubmission(p.Job.Data) {
		var perr *multinode.Error
		if _, err := multinode.Split(p.Job.Data, multinode.Options{TargetGroup: "validate"}); errors.As(err, &perr) {
			p.Diagnostics = mergeProblems(p.Diagnostics, pos[0], p.Job.Doc.Root, perr.Problems)
		} else if err != nil {
			fmt.Fprintf(stderr, "basalt: %v\n", err)
			return exitFailed
		}
	}
	// The diagnostics quote the job: masked as `basalt run` masks its log.
	masker := &joblog.Masker{}
	if p.Job != nil {
		dispatcher.MaskSecrets(masker, p.Job.Data)
	}
	for _, d := range p.Diagnostics {
		fmt.Fprintln(stderr, masker.String(d.String()))
	}
	if p.Pipeline != nil && *outDir != "" {
		// As lava-run does, the description is written even when
		// validation then fails: it shows what was built.
		if err := writeDescription(*outDir, p.Pipeline); err != nil {
			fmt.Fprintf(stderr, "basalt: %v\n", err)
			return exitFailed
		}
	}
	if p.Pipeline != nil && !*quiet {
		printTree(stdout, p.Pipeline, masker)
	}
	nerr := len(job.Errors(p.Diagnostics))
	if n := job.StrictOnlyCount(p.Diagnostics); n > 0 {
		fmt.Fprintf(stderr, "%s: %d %s from lava_common's strict job schema, which a LAVA server does not enforce on submission (--strict makes them errors)\n",
			pos[0], n, plural(n, "warning", "warnings"))
	}
	switch {
	case nerr > 0:
		fmt.Fprintf(stderr, "%s: invalid: %d %s\n", pos[0], nerr, plural(nerr, "error", "errors"))
		return exitFailed
	case *devicePath == "":
		fmt.Fprintf(stdout, "%s: valid job\n", pos[0])
	default:
		fmt.Fprintf(stdout, "%s: valid job for %s\n", pos[0], *devicePath)
	}
	return exitOK
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// writeDescription writes DIR/description.yaml in LAVA's describe form.
func writeDescription(dir string, j *pipeline.Job) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := dispatcher.DescriptionYAML(j)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "description.yaml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// printTree prints the pipeline, one action a line, with its effective
// timeout and what set it, so a user sees why an action gets the time it
// does. URLs are masked by m.
func printTree(w io.Writer, j *pipeline.Job, m *joblog.Masker) {
	width := 0
	j.Pipeline.Walk(func(a pipeline.Action) {
		b := a.ActionBase()
		if n := 2*strings.Count(b.Level, ".") + len(b.Name); n > width {
			width = n
		}
	})
	fmt.Fprintf(w, "job timeout %s (%s)\n", job.FormatDuration(j.Timeout.Seconds), j.Timeout.Source)
	j.Pipeline.Walk(func(a pipeline.Action) {
		b := a.ActionBase()
		indent := strings.Repeat("  ", strings.Count(b.Level, "."))
		line := fmt.Sprintf("%-9s %-*s %6ds  %s", b.Level, width, indent+b.Name, b.Timeout.Seconds, b.Timeout.Source)
		if b.MaxRetries > 1 {
			line += fmt.Sprintf("; %d attempts", b.MaxRetries)
		}
		if b.URL != "" {
			line += "; " + m.String(b.URL)
		}
		fmt.Fprintln(w, line)
	})
}
