package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"unicode"

	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/multinode"
	"github.com/basalt-lava/basalt/internal/value"
)

const multinodeSplitSynopsis = "basalt multinode split JOB.yaml [--output-dir DIR] [--target-group ID] [--job-id FIRST] [--strict]"

func runMultinode(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := stderr
		if len(args) > 0 {
			w = stdout
		}
		fmt.Fprintf(w, "usage: %s\n\ncommands:\n  split      split a MultiNode submission into its sub-jobs, as LAVA's server does\n", multinodeSplitSynopsis)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	if args[0] == "split" {
		return runMultinodeSplit(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "basalt multinode: unknown command %q (known: split)\n", args[0])
	return exitUsage
}

func runMultinodeSplit(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("multinode split", multinodeSplitSynopsis, stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `usage: %s

Splits a MultiNode submission into one job definition per sub-job, as
LAVA's server does: each gets protocols.lava-multinode with target_group,
role, group_size and sub_id, and only the actions of its role.

With --output-dir, each sub-job is written to DIR/ROLE-N.yaml, N counting
the sub-jobs of that role from 0 (server-0.yaml, client-0.yaml,
client-1.yaml), and one line per file is printed: sub_id, role, path.
Without it, the sub-jobs are printed as one YAML stream, in sub_id order.

options:
`, multinodeSplitSynopsis)
		fs.PrintDefaults()
	}
	outDir := fs.String("output-dir", "", "write one file per sub-job into this folder (created if needed)")
	targetGroup := fs.String("target-group", "", "the group's target_group (default: a new random UUID, as LAVA's server picks)")
	jobID := fs.String("job-id", "", "also add the roles map the scheduler adds, giving the sub-jobs the ids FIRST, FIRST+1, … in sub_id order")
	// LAVA's server splits a submission after its own submission schema,
	// which does not hold the dispatcher schema's unknown-key checks, so
	// the job is checked leniently unless asked.
	strict := fs.Bool("strict", false, "also refuse unknown keys, as the dispatcher schema's strict mode does (LAVA's server does not apply it before splitting)")
	var extraContext listFlag
	fs.Var(&extraContext, "context-variable", "also allow this job context variable (repeatable), like a server's EXTRA_CONTEXT_VARIABLES")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	if len(pos) != 1 {
		fs.Usage()
		return exitUsage
	}
	file := pos[0]
	firstID := -1
	if *jobID != "" {
		n, err := strconv.Atoi(*jobID)
		if err != nil || n < 1 {
			fmt.Fprintf(stderr, "basalt: --job-id: expected a positive whole number (the first sub-job's id), got %q\n", *jobID)
			return exitUsage
		}
		firstID = n
	}

	data, err := limits.Limits{}.Job().Read(file)
	if err != nil {
		fmt.Fprintf(stderr, "basalt: reading job definition: %v\n", err)
		return exitFailed
	}
	j, diags := job.Parse(file, data, job.Options{Lax: !*strict, Strict: *strict, ExtraContext: extraContext})
	var subs []multinode.SubJob
	if j != nil {
		subs, err = multinode.Split(j.Data, multinode.Options{TargetGroup: *targetGroup})
		var perr *multinode.Error
		switch {
		case errors.As(err, &perr):
			diags = mergeProblems(diags, file, j.Doc.Root, perr.Problems)
		case err != nil:
			fmt.Fprintf(stderr, "basalt: %v\n", err)
			return exitFailed
		}
	}
	for _, d := range diags {
		fmt.Fprintln(stderr, d)
	}
	if nerr := len(job.Errors(diags)); nerr > 0 {
		fmt.Fprintf(stderr, "%s: cannot split: %d %s\n", file, nerr, plural(nerr, "error", "errors"))
		return exitFailed
	}
	if firstID > 0 {
		ids := make([]string, len(subs))
		for i := range subs {
			ids[i] = strconv.Itoa(firstID + i)
		}
		multinode.SetRoles(subs, ids)
	}
	if *outDir == "" {
		return writeStream(stdout, stderr, subs)
	}
	return writeSubJobFiles(stdout, stderr, *outDir, subs)
}

// mergeProblems adds the split's problems to the job checker's
// diagnostics, in source order. Both check some of the same rules (an
// action without a role list, device_type at the top, a count that is not
// a number); a problem at a key path or position the checker already
// reported is left out so it is said once.
func mergeProblems(diags []job.Diagnostic, file string, root *value.Node, problems []multinode.Problem) []job.Diagnostic {
	paths, places := map[string]bool{}, map[value.Pos]bool{}
	for _, d := range job.Errors(diags) {
		paths[d.Path], places[d.Pos] = true, true
	}
	added := map[value.Pos]bool{}
	for _, p := range problems {
		pos := multinode.Locate(root, p.Path)
		if paths[p.PathString()] || places[pos] {
			continue
		}
		added[pos] = true
		diags = append(diags, job.Diagnostic{File: file, Pos: pos, Path: p.PathString(), Msg: p.Msg, Severity: job.Error})
	}
	// A strict-schema warning the split makes an error (a server splits
	// every MultiNode submission) is said once, as the error.
	diags = slices.DeleteFunc(diags, func(d job.Diagnostic) bool {
		return d.StrictOnly && d.Severity != job.Error && added[d.Pos]
	})
	sort.SliceStable(diags, func(a, b int) bool {
		pa, pb := diags[a].Pos, diags[b].Pos
		if pa.Line != pb.Line {
			return pa.Line < pb.Line
		}
		return pa.Col < pb.Col
	})
	return diags
}

// writeStream prints the sub-jobs as one YAML stream, each document headed
// by a comment naming it.
func writeStream(stdout, stderr io.Writer, subs []multinode.SubJob) int {
	var buf bytes.Buffer
	for _, s := range subs {
		b, err := value.EncodeYAML(s.Definition)
		if err != nil {
			fmt.Fprintf(stderr, "basalt: encoding sub-job %d: %v\n", s.SubID, err)
			return exitFailed
		}
		role := s.Role
		if !safeFileName(role) {
			// Keep the header one comment line whatever the name holds.
			role = strconv.Quote(role)
		}
		fmt.Fprintf(&buf, "--- # sub_id %d, role %s\n", s.SubID, role)
		buf.Write(b)
	}
	if _, err := stdout.Write(buf.Bytes()); err != nil {
		fmt.Fprintf(stderr, "basalt: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// writeSubJobFiles writes DIR/ROLE-N.yaml for each sub-job. Role names
// come from the job, so a name that is not a plain file name (a slash, a
// leading dot) is refused rather than allowed to write elsewhere.
func writeSubJobFiles(stdout, stderr io.Writer, dir string, subs []multinode.SubJob) int {
	for _, s := range subs {
		if !safeFileName(s.Role) {
			fmt.Fprintf(stderr, "basalt: role %q cannot be used in a file name (letters, digits, '.', '_', '-', '+' only, not starting with '.'); leave out --output-dir to print the sub-jobs instead\n", s.Role)
			return exitFailed
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "basalt: %v\n", err)
		return exitFailed
	}
	perRole := map[string]int{}
	for _, s := range subs {
		b, err := value.EncodeYAML(s.Definition)
		if err != nil {
			fmt.Fprintf(stderr, "basalt: encoding sub-job %d: %v\n", s.SubID, err)
			return exitFailed
		}
		path := filepath.Join(dir, fmt.Sprintf("%s-%d.yaml", s.Role, perRole[s.Role]))
		perRole[s.Role]++
		if err := os.WriteFile(path, b, 0o644); err != nil {
			fmt.Fprintf(stderr, "basalt: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "%d %s %s\n", s.SubID, s.Role, path)
	}
	return exitOK
}

func safeFileName(s string) bool {
	if s == "" || s[0] == '.' {
		return false
	}
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '.' && r != '_' && r != '-' && r != '+' {
			return false
		}
	}
	return true
}
