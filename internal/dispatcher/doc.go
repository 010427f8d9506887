// Package dispatcher puts a job together and runs it: what every front
// end calls (`basalt validate` and `basalt run` today, a worker later),
// so that a front end only parses its own input and presents the
// output.
//
//   - Prepare (files), PrepareBytes (a job and a rendered device as
//     text, as a worker receives them) and PrepareSources (either) load
//     the job definition and the device configuration, bring in every
//     action strategy Basalt has, and build and validate the pipeline,
//     every problem a diagnostic naming its file.
//   - Run(ctx, RunConfig, Sink) runs one job as lava-run does and returns
//     its Outcome; the Sink receives the log records, the published
//     files (description.yaml) and the results. DirSink is the sink of
//     `basalt run`: logs.yaml, description.yaml, results.yaml and
//     results.xml in a folder.
//   - NewGroup and RunGroup run a MultiNode submission on one machine:
//     split as LAVA's server splits it, every sub-job at once against a
//     coordinator of its own (or a given one), an essential role's
//     failure cancelling the rest.
//
// The work itself lives in internal/pipeline and internal/actions; this
// package holds no knowledge of flags, terminals or servers.
package dispatcher
