// Package dispatcher puts a job together: it loads the job definition and
// the device configuration, brings in every action strategy Basalt has,
// and builds the pipeline. It is what `basalt validate` and `basalt run`
// call; the work itself lives in internal/pipeline and internal/actions.
package dispatcher
