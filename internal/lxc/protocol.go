package lxc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/basalt-lava/basalt/internal/janitor"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// Protocol is the lava-lxc protocol of one job: it knows the job's
// container and tears it down when the job ends (LAVA's
// finalise_protocol): lxc-stop -k, then, unless the container persists,
// lxc-destroy -f and its folder removed. It runs after the job's
// cleanup, on the cleanup's context, so after a failure, a timeout or a
// cancellation too.
//
// Unlike LAVA, it tears down only a container this job created (or, with
// persist, reused): a container of the same name that already existed
// and made the deploy fail belongs to someone else and is left alone.
type Protocol struct {
	Config Config
	// LXCPath is where LXC keeps the containers (lxc-config lxc.lxcpath).
	LXCPath string
	// Images is where the download template fetches images (the front
	// end's configuration, ImageSource.Configure).
	Images ImageSource
	log    func() *joblog.Logger

	mu      sync.Mutex
	owned   bool // created or reused by this job: ours to tear down
	created bool // created by this job (else a persistent one reused)
	// undo is the janitor's entry that stops (persist) or destroys the
	// container should Basalt die before Finalise.
	undo *janitor.Entry
}

var _ pipeline.Protocol = (*Protocol)(nil)

// NewProtocol returns the protocol for the container c; log gives the
// job's log when the protocol speaks.
func NewProtocol(c Config, lxcPath string, log func() *joblog.Logger) *Protocol {
	if lxcPath == "" {
		lxcPath = DefaultPath
	}
	return &Protocol{Config: c, LXCPath: lxcPath, log: log}
}

// Of returns the job's lava-lxc protocol, adding it to the job when it
// is not there yet (the dispatcher adds it before the run; a job built
// some other way gets it when its container is first needed). The error
// is a JobError naming what is wrong with the job's lava-lxc block.
func Of(j *pipeline.Job) (*Protocol, error) {
	if p, ok := j.Protocol(ProtocolName).(*Protocol); ok {
		return p, nil
	}
	c, err := FromJob(j.Params, j.ID)
	if err != nil {
		return nil, pipeline.JobError("%v", err)
	}
	p := NewProtocol(c, "", func() *joblog.Logger { return j.Runtime.Log })
	j.Protocols = append(j.Protocols, p)
	return p, nil
}

// Name is "lava-lxc".
func (p *Protocol) Name() string { return ProtocolName }

// SetUp does nothing: the deploy creates the container.
func (p *Protocol) SetUp(context.Context) error { return nil }

// BeforeAction makes the requests a block addresses to the action
// through the protocol, as LAVA's LXC protocol did:
//
//	protocols:
//	  lava-lxc:
//	  - action: fastboot-deploy
//	    request: pre-power-command
//
// pre-power-command and pre-os-command run the device's commands of
// those names (its configuration's, the administrator's; split on
// spaces as LAVA did, never through a shell); any other request is a
// JobError.
func (p *Protocol) BeforeAction(ctx context.Context, a *pipeline.Base) error {
	for _, c := range requests(a.Params, a.Name) {
		req, _ := c.Value("request").(string)
		var key, what string
		switch req {
		case "pre-os-command":
			key, what = "pre_os_command", "pre OS command"
		case "pre-power-command":
			key, what = "pre_power_command", "pre power command"
		default:
			return pipeline.JobError("[%s] Unrecognised protocol request: %s", ProtocolName, value.GoString(c))
		}
		a.Log().Infof("[%s] Running %s via protocol.", ProtocolName, req)
		var cmds []string
		switch v := a.Device().Map("commands").Value(key).(type) {
		case string:
			cmds = []string{v}
		case []any:
			for _, x := range v {
				if s, ok := x.(string); ok {
					cmds = append(cmds, s)
				}
			}
		}
		if len(cmds) == 0 {
			return pipeline.JobError("No %s is defined for this device.", what)
		}
		for _, cmd := range cmds {
			argv := strings.Fields(cmd)
			if len(argv) == 0 {
				continue
			}
			if _, err := Command(ctx, a.Log(), argv[0], argv[1:]...); err != nil {
				if ctx.Err() != nil {
					return err
				}
				return pipeline.InfrastructureError("%s failed: %v", cmd, err)
			}
		}
	}
	return nil
}

// requests returns the block's lava-lxc requests for the action named
// name: a list of {action, request} maps (the job-level block, the
// container's description, is a map without "action").
func requests(params *value.Map, name string) []*value.Map {
	var out []*value.Map
	add := func(v any) {
		if c, ok := v.(*value.Map); ok && c.Has("action") && fmt.Sprint(c.Value("action")) == name {
			out = append(out, c)
		}
	}
	switch v := params.Map("protocols").Value(ProtocolName).(type) {
	case []any:
		for _, c := range v {
			add(c)
		}
	case *value.Map:
		add(v)
	}
	return out
}

// AfterAction does nothing.
func (p *Protocol) AfterAction(context.Context, *pipeline.Base, error) error { return nil }

// Own records that the job created the container (created) or reuses a
// persistent one: from then on the protocol tears it down.
func (p *Protocol) Own(created bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.owned = true
	p.created = p.created || created
	if p.undo == nil {
		name := p.Config.Name
		if p.Config.Persist {
			p.undo = janitor.Add("LXC container "+name, "lxc-stop", "-n", name, "-k")
		} else {
			p.undo = janitor.Add("LXC container "+name, "lxc-destroy", "-n", name, "-f")
		}
	}
}

// Owned reports whether the job created or reused the container.
func (p *Protocol) Owned() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.owned
}

func (p *Protocol) logger() *joblog.Logger {
	if p.log != nil {
		if l := p.log(); l != nil {
			return l
		}
	}
	return joblog.Discard()
}

// closeStopTimeout bounds StopBeforeClose's lxc-stop.
const closeStopTimeout = 30 * time.Second

// StopBeforeClose stops the container this job owns (lxc-stop -k) when
// its attached shell is about to be closed at the end of the job: the
// container is stopped right after anyway (Finalise), and in this order
// both end in about 0.5 s, where an lxc-attach whose shell goes first
// takes about 2 s to exit and lxc-stop as long again. It is the
// connection's BeforeClose (connection.Options).
func (p *Protocol) StopBeforeClose() {
	if !p.Owned() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeStopTimeout)
	defer cancel()
	log := p.logger()
	if State(ctx, p.Config.Name) == "RUNNING" {
		log.Debugf("%s protocol: issue stop (before closing the container's shell)", ProtocolName)
		if _, err := Command(ctx, log, "lxc-stop", "-n", p.Config.Name, "-k"); err != nil {
			log.Debugf("%s protocol: FAILED executing lxc-stop: %v", ProtocolName, err)
		}
	}
}

// Finalise stops the container and, unless it persists, destroys it.
// A failure to destroy is an InfrastructureError: the next job of the
// same name would find it.
func (p *Protocol) Finalise(ctx context.Context) error {
	p.mu.Lock()
	owned, created := p.owned, p.created
	p.mu.Unlock()
	log := p.logger()
	name := p.Config.Name
	if !owned {
		log.Debugf("%s protocol: no container of this job to tear down", ProtocolName)
		return nil
	}
	if State(ctx, name) != "STOPPED" {
		log.Debugf("%s protocol: issue stop", ProtocolName)
		if _, err := Command(ctx, log, "lxc-stop", "-n", name, "-k"); err != nil {
			log.Debugf("%s protocol: FAILED executing lxc-stop: %v", ProtocolName, err)
		}
	}
	if p.Config.Persist {
		log.Debugf("%s protocol: persistence requested, keeping %s", ProtocolName, name)
		p.withdrawUndo()
		return nil
	}
	var errs []error
	log.Debugf("%s protocol: issue destroy", ProtocolName)
	if out, err := Command(ctx, log, "lxc-destroy", "-n", name, "-f"); err != nil {
		if ok, _ := Exists(ctx, name); ok {
			errs = append(errs, fmt.Errorf("lxc-destroy %s: %v: %s", name, err, out))
		}
	}
	// lxc-destroy removes the folder; a template that failed halfway may
	// leave one that lxc-destroy no longer recognises.
	if created {
		dir := Dir(p.LXCPath, name)
		log.Debugf("%s protocol: removing %s", ProtocolName, dir)
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return pipeline.InfrastructureError("%s protocol: unable to destroy container %s: %v", ProtocolName, name, errors.Join(errs...))
	}
	p.withdrawUndo()
	log.Debugf("%s protocol finalised.", ProtocolName)
	return nil
}

// withdrawUndo tells the janitor the container is dealt with.
func (p *Protocol) withdrawUndo() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.undo.Done()
	p.undo = nil
}
