package dispatcher

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/basalt-lava/basalt/internal/device"
	"github.com/basalt-lava/basalt/internal/hostfiles"
	"github.com/basalt-lava/basalt/internal/jinja"
	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// Options says where to find things and how strictly to check.
type Options struct {
	// DeviceTypeDirs are searched for device-type templates after the
	// device dictionary's own folder and before the shipped templates.
	DeviceTypeDirs []string
	// Job are the job checker's options: the zero value is a LAVA server's
	// submission check (internal/job's package doc lists the modes).
	Job job.Options
	// JobID is the id the job runs as (LAVA's --job-id); it names the
	// test results folder on the device.
	JobID string
	// Limits bound the job, device and template files read and their
	// YAML (the zero value is the defaults); they are the job's when
	// Job.Limits is zero.
	Limits limits.Limits
	// LocalFiles is the host-access policy (internal/hostfiles): nil
	// lets a job read any host file it names (file:// images, local git
	// repositories), as `basalt run` does by default; a policy limits
	// that to its folders, none when it has none (`basalt worker`, a
	// server's submission check). Validation refuses what the job names
	// statically; the run refuses it again where the file is opened.
	LocalFiles *hostfiles.Policy
}

// Prepared is a job made ready to run: checked, its device loaded and its
// pipeline built and validated. Diagnostics holds every problem found on
// the way, each naming its file (and line and column where known).
type Prepared struct {
	Job         *job.Job
	Device      *device.Config
	Pipeline    *pipeline.Job
	Diagnostics []job.Diagnostic
}

// Valid reports whether nothing found is an error.
func (p *Prepared) Valid() bool { return !job.HasErrors(p.Diagnostics) }

// Prepare loads the job at jobPath, and when devicePath is not empty the
// device (rendered YAML, or a dictionary rendered with the job's context),
// then builds and validates the pipeline. It stops at the first stage that
// finds errors, after collecting every error of that stage; Pipeline is
// set as soon as it could be built, even if validation then fails, so a
// description can still be written. A pipeline holding an action Basalt
// cannot run yet (pipeline.Runnability) is an error, one per job block,
// so that nothing that validates stops halfway for want of code. The
// error is only for files that cannot be read.
func Prepare(jobPath, devicePath string, opts Options) (*Prepared, error) {
	return prepare(files(jobPath, devicePath), opts)
}

// prepare is Prepare, PrepareBytes and PrepareSources: in says where the
// job and the device come from (devicePath is the device's label).
func prepare(in sources, opts Options) (*Prepared, error) {
	devicePath := in.deviceName()
	if opts.Job.Limits == (limits.Limits{}) {
		opts.Job.Limits = opts.Limits
	}
	j, diags, err := in.loadJob(opts.Job)
	if err != nil {
		return nil, err
	}
	p := &Prepared{Job: j, Diagnostics: diags}
	if !p.Valid() || devicePath == "" {
		return p, nil
	}
	ctx, _ := value.Clone(j.Data.Map("context")).(*value.Map)
	cfg, err := in.loadDevice(ctx, opts.DeviceTypeDirs, opts.Limits)
	if err != nil {
		p.addDeviceError(devicePath, err)
		return p, nil
	}
	p.Device = cfg
	// LAVA's dispatcher runs any device mapping without checking it
	// against the device schema (TuxRun's devices have no parameters:),
	// so schema problems are warnings here; "basalt device render
	// --check" makes them errors.
	for _, e := range cfg.Check() {
		d := job.Diagnostic{File: devicePath, Msg: "device schema: " + e.Error(), Severity: job.Warning}
		var sp *device.Problem
		if errors.As(e, &sp) {
			d.Path, d.Msg = sp.Path, "device schema: "+sp.Msg
		}
		p.Diagnostics = append(p.Diagnostics, d)
	}
	if !p.Valid() {
		return p, nil
	}
	id := opts.JobID
	if id == "" {
		id = "1"
	}
	pj, err := pipeline.BuildJob(id, value.Clone(j.Data).(*value.Map), cfg.Data)
	if err != nil {
		p.addBuildError(err)
		return p, nil
	}
	p.Pipeline = pj
	pj.LocalFiles = opts.LocalFiles
	pj.Validate()
	p.addValidationErrors()
	p.addUnrunnableErrors()
	return p, nil
}

func (p *Prepared) addDeviceError(path string, err error) {
	d := job.Diagnostic{File: path, Msg: err.Error(), Severity: job.Error}
	var nr *limits.NotRegularError
	var le *limits.Error
	if errors.As(err, &nr) && nr.Path == path || errors.As(err, &le) && le.Path == path {
		d.Msg = strings.TrimPrefix(d.Msg, path+": ") // the diagnostic names the file
	}
	var te *jinja.Error
	var ce *device.ContextError
	if errors.As(err, &ce) {
		// The job's value is at fault: point at it in the job file.
		d.File, d.Path = p.Job.File, "context."+ce.Key
		if n := p.Job.Doc.Root.Get("context").Get(ce.Key); n != nil {
			d.Pos = n.Pos
		}
	} else if errors.As(err, &te) && te.File != "" {
		// Template errors know their own file and line.
		d.File, d.Pos.Line, d.Msg = te.File, te.Line, te.Msg
		if te.Line > 0 {
			d.Pos.Col = 1
		}
	}
	p.Diagnostics = append(p.Diagnostics, d)
}

// blockNode returns the key node of the block at index i of actions
// (the "deploy" of "- deploy:"), for positions.
func (p *Prepared) blockNode(i int) (*value.Node, string) {
	root := p.Job.Doc.Root
	acts := root.Get("actions")
	if acts == nil || i < 0 || i >= len(acts.Items) {
		return nil, ""
	}
	blk := acts.Items[i]
	if blk.Kind != value.MapNode || len(blk.Keys) == 0 {
		return blk, ""
	}
	return blk.Keys[0], blk.Keys[0].KeyString()
}

func (p *Prepared) addBuildError(err error) {
	d := job.Diagnostic{File: p.Job.File, Msg: err.Error(), Severity: job.Error}
	var be *pipeline.BlockError
	if errors.As(err, &be) {
		d.Msg = be.Err.Error()
		d.Path = fmt.Sprintf("actions[%d].%s", be.Index, be.Section)
		if n, _ := p.blockNode(be.Index); n != nil {
			d.Pos = n.Pos
		}
	}
	p.Diagnostics = append(p.Diagnostics, d)
}

// addValidationErrors turns every action's validation problems into
// diagnostics positioned at the job block the action belongs to.
func (p *Prepared) addValidationErrors() {
	var out []job.Diagnostic
	p.Pipeline.Pipeline.Walk(func(a pipeline.Action) {
		b := a.ActionBase()
		for _, msg := range b.Errors() {
			d := job.Diagnostic{File: p.Job.File, Severity: job.Error,
				Msg: fmt.Sprintf("%s %s: %s", b.Level, b.Name, msg)}
			top, _ := strconv.Atoi(strings.SplitN(b.Level, ".", 2)[0])
			if n, section := p.blockNode(top - 1); n != nil && section != "" {
				d.Pos = n.Pos
				d.Path = fmt.Sprintf("actions[%d].%s", top-1, section)
			}
			out = append(out, d)
		}
	})
	for _, w := range p.Pipeline.Warnings {
		out = append(out, job.Diagnostic{File: p.Job.File, Severity: job.Warning, Msg: w})
	}
	sort.SliceStable(out, func(i, k int) bool { return out[i].Pos.Line < out[k].Pos.Line })
	p.Diagnostics = append(p.Diagnostics, out...)
}
