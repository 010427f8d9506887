package protocol

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/janitor"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
	"github.com/basalt-lava/basalt/internal/vland"
)

// VlandDeployTimeout is LAVA's VLAND_DEPLOY_TIMEOUT: how long the roles
// wait for the VLANs the first sub-job creates, and the least connection
// timeout the action that deploys them may have.
const VlandDeployTimeout = 120 * time.Second

// DefaultVlandAddr is where lava-dispatcher looks for VLANd.
const DefaultVlandAddr = "localhost:3080"

// VlandAccepts reports whether a job uses the lava-vland protocol: a
// MultiNode sub-job (LAVA ignores lava-vland outside a group) whose
// protocols name VLANs.
func VlandAccepts(jobParams *value.Map) bool {
	return Accepts(jobParams) && vland.Requested(jobParams)
}

// Vland is one sub-job's lava-vland protocol. A block of the job asks
// for the VLANs with a call on the action that writes the VLAN helpers:
//
//	deploy:
//	  protocols:
//	    lava-vland:
//	    - action: lava-vland-overlay
//	      request: deploy_vlans
//
// Then, as in LAVA, the group's first sub-job (sub_id 0) creates each
// VLAN it names in VLANd and lava-sends its id under the VLAN's name;
// the other sub-jobs wait for those messages; every sub-job then puts
// the switch port of each of its VLAN interfaces onto its VLAN. At the
// end of the job, whatever happened, each puts its ports back on their
// base VLAN and asks for the VLANs it knows to be deleted: VLANd refuses
// while another sub-job's port is still on one, so the last to leave
// deletes it.
type Vland struct {
	job    *pipeline.Job
	mn     *Multinode
	client *vland.Client
	plan   *vland.Plan
	subID  int

	vlans map[string]int // friendly name → VLANd's vlan_id
	order []string       // the friendly names in vlans, in the order known
	ports []int          // port ids moved onto a VLAN
	// undo is the janitor's command that releases the ports and VLANs
	// above if this process dies before Finalise (internal/janitor).
	undo *janitor.Entry
}

// NewVland returns the protocol of j, a MultiNode sub-job (VlandAccepts)
// whose lava-multinode protocol is mn, talking to VLANd at addr. It
// matches the job's VLANs with the device's interfaces: a JobError says
// what does not fit.
func NewVland(j *pipeline.Job, mn *Multinode, addr string) (*Vland, error) {
	plan, err := vland.MakePlan(j.Params, j.Device, j.ID)
	if err != nil {
		return nil, pipeline.JobError("protocols.%s: %v", vland.ProtocolName, err)
	}
	sub, err := strconv.Atoi(scalar(j.Params.Map("protocols").Map(MultinodeName).Value("sub_id")))
	if err != nil {
		return nil, pipeline.JobError("protocols.%s.sub_id must be a number", MultinodeName)
	}
	if addr == "" {
		addr = DefaultVlandAddr
	}
	host, _ := os.Hostname()
	return &Vland{job: j, mn: mn, plan: plan, subID: sub, vlans: map[string]int{},
		client: &vland.Client{Addr: addr, ClientName: host}}, nil
}

// Name is lava-vland.
func (v *Vland) Name() string { return vland.ProtocolName }

// Plan is the VLANs and interfaces of the job.
func (v *Vland) Plan() *vland.Plan { return v.plan }

// SetUp says what the job will do: the VLANs are not set up yet, as the
// device likely needs the lab's network to be deployed.
func (v *Vland) SetUp(context.Context) error {
	log := v.mn.log()
	if v.subID == 0 {
		log.Infof("[%s] Job will deploy requested VLANs.", vland.ProtocolName)
	} else {
		log.Infof("[%s] Job will wait for VLANs to be deployed.", vland.ProtocolName)
	}
	for _, p := range v.plan.VLANs {
		log.Debugf("[%s] %s (VLANd name %s): interface %s, switch %s port %s, tags [%s]", vland.ProtocolName, p.Friendly, p.Name, p.Interface, p.Switch, scalar(p.Port), strings.Join(p.Tags, ", "))
	}
	return nil
}

// vlandCalls returns the block's lava-vland calls for the action named
// name.
func vlandCalls(params *value.Map, name string) []*value.Map {
	var out []*value.Map
	add := func(x any) {
		if c, ok := x.(*value.Map); ok && scalar(c.Value("action")) == name {
			out = append(out, c)
		}
	}
	switch x := params.Map("protocols").Value(vland.ProtocolName).(type) {
	case []any:
		for _, c := range x {
			add(c)
		}
	case *value.Map:
		add(x)
	}
	return out
}

// BeforeAction makes the block's deploy_vlans call for a.
func (v *Vland) BeforeAction(ctx context.Context, a *pipeline.Base) error {
	for _, c := range vlandCalls(a.Params, a.Name) {
		if scalar(c.Value("request")) != "deploy_vlans" {
			return pipeline.JobError("protocols.%s call for %s: unrecognised request %q", vland.ProtocolName, a.Name, scalar(c.Value("request")))
		}
		if d := a.ConnectionTimeout.Seconds; d < int(VlandDeployTimeout.Seconds()) {
			return pipeline.JobError("Timeout of %d is insufficient for deploy_vlans: the connection timeout of %s (%s) must be at least %d seconds",
				d, a.Name, a.ConnectionTimeout.Source, int(VlandDeployTimeout.Seconds()))
		}
		v.mn.log().Infof("Making protocol call for %s using %s", a.Name, vland.ProtocolName)
		if err := v.deploy(ctx); err != nil {
			return err
		}
	}
	return nil
}

// AfterAction does nothing: the VLANs stay until the job ends.
func (v *Vland) AfterAction(context.Context, *pipeline.Base, error) error { return nil }

// vlandError classifies a failure of VLANd: the daemon down, or refusing
// what the job's (valid) definition asked, is the lab's infrastructure
// failing.
func vlandError(what string, err error) error {
	var pe *pipeline.Error
	if errors.As(err, &pe) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return pipeline.InfrastructureError("%s: %v", what, err)
}

// deploy creates or waits for the VLANs and moves the ports. The switch
// ports are looked up first, so that every sub-job finds a VLANd that is
// down or does not know its device before waiting on the others.
func (v *Vland) deploy(ctx context.Context) error {
	log := v.mn.log()
	if len(v.plan.VLANs) > 0 && len(v.ports) == len(v.plan.VLANs) {
		// A retried deploy: the ports are on their VLANs already. A try
		// that failed half-way goes on where it stopped.
		log.Infof("[%s] the VLANs are deployed already", vland.ProtocolName)
		return nil
	}
	portIDs := make([]int, len(v.plan.VLANs))
	for i, p := range v.plan.VLANs {
		sw, err := v.client.SwitchID(ctx, p.Switch)
		if err != nil {
			return vlandError("Deploy vlans failed for "+p.Friendly, err)
		}
		port, err := v.client.PortID(ctx, sw, p.Port)
		if err != nil {
			return vlandError("Deploy vlans failed for "+p.Friendly, err)
		}
		portIDs[i] = port
	}
	for _, p := range v.plan.VLANs {
		if _, known := v.vlans[p.Friendly]; known {
			continue // created or received by an earlier try
		}
		if v.subID == 0 {
			log.Infof("Deploying vlan %s : %s", p.Friendly, p.Name)
			id, tag, err := v.client.CreateVLAN(ctx, p.Name)
			if err != nil {
				return vlandError("Deploy vlans failed for "+p.Friendly, err)
			}
			v.know(p.Friendly, id)
			log.Debugf("vlan name: %d vlan tag: %d", id, tag)
			if err := v.mn.Send(ctx, p.Friendly, map[string]any{"vlan_name": id, "vlan_tag": tag}, VlandDeployTimeout); err != nil {
				return err
			}
			continue
		}
		log.Infof("Waiting for vlan %s : %s to be deployed.", p.Friendly, p.Name)
		msgs, err := v.mn.Wait(ctx, p.Friendly, VlandDeployTimeout)
		if err != nil {
			return err
		}
		id, tag, err := vlanOf(msgs)
		if err != nil {
			return pipeline.JobError("Waiting for vlan creation failed: %s: %v", p.Friendly, err)
		}
		v.know(p.Friendly, id)
		log.Debugf("vlan name: %d vlan tag: %s", id, tag)
	}
	for i, p := range v.plan.VLANs {
		if i < len(v.ports) {
			continue // set by an earlier try
		}
		log.Infof("Setting switch %s port %s to vlan %s on %s", p.Switch, scalar(p.Port), p.Friendly, p.Interface)
		if err := v.client.SetCurrentVLAN(ctx, portIDs[i], v.vlans[p.Friendly]); err != nil {
			return vlandError("Setting vlan "+p.Friendly, err)
		}
		v.ports = append(v.ports, portIDs[i])
		v.guard()
	}
	return nil
}

func (v *Vland) know(friendly string, id int) {
	if _, ok := v.vlans[friendly]; !ok {
		v.order = append(v.order, friendly)
	}
	v.vlans[friendly] = id
	v.guard()
}

// guard lists with the janitor what Finalise would release, replacing
// the previous list: one command, `basalt vland release`, that puts this
// job's ports back and then tries to delete the VLANs it knows. If every
// job of a group dies, their commands run one after the other, and the
// last one to run for a VLAN finds no port left on it and deletes it.
func (v *Vland) guard() {
	exe, err := os.Executable()
	if err != nil {
		return
	}
	argv := []string{exe, "vland", "release", "--vland", v.client.Addr}
	for _, p := range v.ports {
		argv = append(argv, "--port", strconv.Itoa(p))
	}
	for _, f := range v.order {
		argv = append(argv, "--vlan", strconv.Itoa(v.vlans[f]))
	}
	next := janitor.Add("VLANd ports and VLANs of job "+v.job.ID, argv...)
	v.undo.Done()
	v.undo = next
}

// vlanOf reads the VLAN a lava-wait received: {vlan_name: id, vlan_tag:
// tag} from the sub-job that created it (another job's data: checked).
func vlanOf(msgs Messages) (int, string, error) {
	for _, m := range msgs {
		id, err := strconv.Atoi(m["vlan_name"])
		if err != nil || id < 1 {
			return 0, "", fmt.Errorf("vlan_name %q is not a VLANd vlan id", m["vlan_name"])
		}
		return id, m["vlan_tag"], nil
	}
	return 0, "", errors.New("no message")
}

// Finalise puts the job's ports back on their base VLAN, then asks for
// the VLANs it knows to be deleted. VLANd refuses to delete a VLAN
// another sub-job's port is still on: that sub-job deletes it when it
// leaves. Failures are logged, not returned: the job is over, and the
// daemon takes everything down when it stops.
func (v *Vland) Finalise(ctx context.Context) error {
	log := v.mn.log()
	for _, port := range v.ports {
		log.Infof("Finalizing port %d", port)
		if err := v.client.RestoreBaseVLAN(ctx, port); err != nil {
			log.Warnf("[%s] port %d not restored to its base VLAN: %v", vland.ProtocolName, port, err)
		}
	}
	v.ports = nil
	for _, friendly := range v.order {
		id := v.vlans[friendly]
		log.Infof("Finalizing vlan %d", id)
		err := v.client.DeleteVLAN(ctx, id)
		switch {
		case err == nil:
			log.Debugf("[%s] vlan %s (%d) deleted", vland.ProtocolName, friendly, id)
		case vland.InUse(err):
			log.Debugf("[%s] vlan %s (%d) left to the other sub-jobs: %v", vland.ProtocolName, friendly, id, err)
		default:
			log.Warnf("[%s] vlan %s (%d) not deleted: %v", vland.ProtocolName, friendly, id, err)
		}
	}
	v.order, v.vlans = nil, map[string]int{}
	v.undo.Done()
	v.undo = nil
	return nil
}
