// Package cli implements basalt's command line: argument parsing, the
// subcommands and their output. Each subcommand is a function from
// arguments and writers to an exit status, so tests call it directly.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailed  = 1 // the job is invalid, or the command failed
	exitUsage   = 2
	versionText = "basalt 0.1.0 (LAVA job format, dispatcher pipeline 2026)"
)

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"run", "run a job on a device: deploy, boot, test, and write logs and results", runRun},
		{"validate", "check a job, and with --device build and describe its pipeline", runValidate},
		{"device", "device configuration: `basalt device render DICTIONARY`", runDevice},
		{"coordinator", "serve LAVA's MultiNode coordinator protocol until SIGINT/SIGTERM", runCoordinator},
		{"vland", "serve VLANd's protocol for lava-vland jobs, driving the VLANs of a configuration file's switches", runVland},
		{"server", "run a lab: LAVA's XML-RPC API, the scheduler and the worker API on one listener", runServer},
		{"manage", "administer the lab's database: users, tokens, workers, device types, devices", runManage},
		{"multinode", "MultiNode jobs: `basalt multinode split JOB` writes the sub-jobs as LAVA's server would", runMultinode},
		{"worker", "run a lab's worker: poll `basalt server` and run its jobs on this host's devices", runWorker},
		{"board", "an emulated board's power switch, for device dictionaries: `basalt board power-on|power-off|reset`", runBoard},
		{"version", "print the version", func(_ []string, stdout, _ io.Writer) int {
			fmt.Fprintln(stdout, versionText)
			return exitOK
		}},
	}
}

// Main runs the command line args (without the program name).
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "basalt: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: basalt COMMAND [arguments]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'basalt COMMAND -h' for a command's options.")
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments (`basalt validate JOB --device D`), which the
// flag package alone does not allow.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if rest[0] == "--" {
			return append(positional, rest[1:]...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s\n\noptions:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// flagStatus turns a flag parsing error into an exit status.
func flagStatus(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}
