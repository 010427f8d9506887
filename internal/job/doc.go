// Package job owns LAVA job definitions: loading a job's YAML with the
// position of every node, and checking it against LAVA's job schema
// (lava_common/schemas) with diagnostics that name the file, line, column
// and key path of every problem found, not just the first. It also owns
// timeout parsing (timeout.go).
//
// Entry points: Load reads a file and Parse checks bytes; both return a
// *Job and every Diagnostic. A job is usable when HasErrors(diags) is
// false. Warnings (duplicate keys) never make a job invalid unless
// Options.DuplicatesAreErrors is set. `basalt validate` prints each
// diagnostic with its String method.
//
// Checking is strict by default, as LAVA's server checks a submission
// (unknown keys are errors); Options.Lax checks as LAVA's dispatcher does.
// The schema followed is LAVA's as of 2026 (the corpus verdicts' LAVA),
// plus what Basalt keeps that LAVA dropped: deploy to lxc, boot method lxc,
// and the lava-lxc and lava-vland protocols. Deliberate differences, all
// stricter than LAVA and none affecting LAVA's sample jobs:
//   - booleans and floats are not integers (LAVA's Range takes True as 1),
//     except in context values where Python's int includes bool;
//   - one action per list entry (LAVA validates only the first key);
//   - secrets values must be scalars (they become environment variables);
//   - LAVA stops at its first error and runs its extra checks (timeouts
//     within the job timeout, MultiNode roles, namespaces) only on a
//     schema-valid job; here every check runs on whatever is well-formed.
//
// The checks are hand-written per area (schema_*.go) rather than driven by
// a generic schema engine, so each message can say what is allowed and
// where. The package does not build pipelines, render device templates or
// split MultiNode jobs.
package job
