// Package job owns LAVA job definitions: loading a job's YAML with the
// position of every node, and checking it as LAVA does, with diagnostics
// that name the file, line, column and key path of every problem found,
// not just the first. It also owns timeout parsing (timeout.go).
//
// Entry points: Load reads a file and Parse checks bytes; both return a
// *Job and every Diagnostic. A job is usable when HasErrors(diags) is
// false. Warnings never make a job invalid; duplicate keys are warnings
// unless Options.DuplicatesAreErrors is set. `basalt validate` prints
// each diagnostic with its String method.
//
// # Three checks, three modes
//
// LAVA checks a job in different places with different rules, and
// Options picks which one Basalt gives:
//
//   - The default (zero Options) is a LAVA server's verdict on a
//     submission: what the submit path refuses (XML-RPC submit_job, the
//     REST API and the web form all call dbutils.validate_job, that is
//     lava_scheduler_app/schema.py's validate_submission, then the notify
//     rules of validate_yaml and the priority and MultiNode role rules of
//     models.py). That schema is loose: an action block is checked for
//     its common keys only (schema_submission.go). lava_common's strict
//     job schema finds more (unknown keys, timeouts longer than the
//     job's, per-method types); a server does not enforce it on submit
//     (its web form shows those findings as warnings), and neither does
//     Basalt: they are warnings, marked StrictOnly. With
//     Options.Dispatch (`validate --device`) what the dispatcher's check
//     refuses is an error too, since no pipeline can be built from it.
//     `basalt validate` without flags.
//   - Options.Strict: lava_common's job schema with strict=True
//     (lava_common.schemas.validate, what `lavacli jobs validate
//     --strict` and the server's `scheduler.jobs.validate(…, True)`
//     apply), plus the submission check's own rules; everything an error.
//     `basalt validate --strict`, `basalt multinode split --strict`.
//   - Options.Lax: lava_common's job schema with strict=False (unknown
//     keys allowed), no submission check. This is Basalt's dispatcher
//     check, what `basalt run` and `validate --lax` use: LAVA's own
//     lava-run does not call the schema at all (it parses and validates
//     the pipeline), but its tests, the server's health-check system
//     check and `scheduler.jobs.validate` by default apply strict=False,
//     and Basalt's pipeline builder relies on the types it checks.
//
// The corpus verdicts (../shared/lava-corpus/schema-verdicts.yaml) are
// lava_common's, strict and lax; the server's verdicts on the same jobs
// are pinned in testdata/verdicts/corpus.yaml (from
// bench/tuxlava/lava-verdicts.py, which runs LAVA's own functions).
//
// The schema followed is LAVA's as of 2026 (the corpus verdicts' LAVA),
// plus what Basalt keeps that LAVA dropped: deploy to lxc, boot method lxc,
// and the lava-lxc and lava-vland protocols (accepted by the submission
// check too). Deliberate differences, all stricter than LAVA and none
// affecting LAVA's sample jobs:
//   - booleans and floats are not integers (LAVA's Range takes True as 1),
//     except in context values where Python's int includes bool;
//   - one action per list entry (LAVA validates only the first key);
//   - secrets values must be scalars (they become environment variables);
//   - LAVA stops at its first error and runs its extra checks (timeouts
//     within the job timeout, MultiNode roles, namespaces) only on a
//     schema-valid job; here every check runs on whatever is well-formed;
//   - a timeout's total must lie between 0 and MaxTimeoutSeconds in every
//     mode (a LAVA server accepts any integer, and lava-run then fails or
//     never times out); the arithmetic never wraps.
//
// What a server checks against its database (that the device type, the
// users, groups and tags exist, that a notify query exists, e-mail address
// syntax) cannot be checked here and is accepted.
//
// The checks are hand-written per area (schema_*.go) rather than driven by
// a generic schema engine, so each message can say what is allowed and
// where. The package does not build pipelines, render device templates or
// split MultiNode jobs.
package job
