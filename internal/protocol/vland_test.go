package protocol

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func vlandSubJob(t *testing.T, vlans string) *pipeline.Job {
	t.Helper()
	j := subJob("100", "g", "a", 2)
	v, err := value.DecodeYAML([]byte(vlans))
	if err != nil {
		t.Fatal(err)
	}
	j.Params.Map("protocols").Set("lava-vland", v)
	d, err := value.DecodeYAML([]byte("parameters:\n  interfaces:\n    eth0: {sysfs: /s, mac: m, switch: sw1, port: 1, tags: [1G]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	j.Device = d.(*value.Map)
	return j
}

// callingBase is an action named name whose block asks for
// deploy_vlans (or request) there, with a connection timeout of secs.
func callingBase(j *pipeline.Job, name, request string, secs int) *pipeline.Base {
	b := pipeline.NewBase("X", name, "", "")
	b.Job = j
	b.Params = value.MapOf("protocols", value.MapOf("lava-vland", []any{value.MapOf("action", name, "request", request)}))
	b.ConnectionTimeout = pipeline.Timeout{Seconds: secs, Source: "test"}
	return &b
}

func TestVlandRefusals(t *testing.T) {
	j := vlandSubJob(t, "{v: {tags: [10G]}}")
	mn, err := NewMultinode(j, Settings{Addr: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewVland(j, mn, ""); pipeline.ClassOf(err) != pipeline.ClassJob || !strings.Contains(err.Error(), "requested tags 10G are not available") {
		t.Errorf("NewVland with a tag the device lacks = %v, want a Job error", err)
	}

	j = vlandSubJob(t, "{v: {tags: [1G]}}")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	l.Close()
	v, err := NewVland(j, mn, down)
	if err != nil {
		t.Fatal(err)
	}
	v.client.Attempts = 1
	ctx := context.Background()
	for _, c := range []struct {
		name, request string
		secs          int
		class         pipeline.Class
		want          string
	}{
		{"short timeout", "deploy_vlans", 30, pipeline.ClassJob, "Timeout of 30 is insufficient for deploy_vlans"},
		{"unknown request", "lava-send", 300, pipeline.ClassJob, `unrecognised request "lava-send"`},
		{"daemon down", "deploy_vlans", 120, pipeline.ClassInfrastructure, "VLANd at " + down},
	} {
		err := v.BeforeAction(ctx, callingBase(j, "lava-vland-overlay", c.request, c.secs))
		if pipeline.ClassOf(err) != c.class || err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a %s error with %q", c.name, err, c.class, c.want)
		}
	}
	// Another action's block: nothing to do, nothing contacted.
	if err := v.BeforeAction(ctx, callingBase(j, "other-action", "deploy_vlans", 30)); err == nil {
		t.Errorf("a call naming other-action made there: no error")
	}
	other := callingBase(j, "lava-vland-overlay", "deploy_vlans", 30)
	other.Name = "apply-overlay"
	if err := v.BeforeAction(ctx, other); err != nil {
		t.Errorf("an action without a call: %v", err)
	}
}

// The VLAN id another job sent is that job's data: checked.
func TestVlanOf(t *testing.T) {
	for _, c := range []struct {
		msgs Messages
		ok   bool
	}{
		{Messages{"100": {"vlan_name": "5", "vlan_tag": "101"}}, true},
		{Messages{"100": {"vlan_name": "5; reboot"}}, false},
		{Messages{"100": {"vlan_name": "-3"}}, false},
		{Messages{}, false},
	} {
		_, _, err := vlanOf(c.msgs)
		if (err == nil) != c.ok {
			t.Errorf("vlanOf(%v) = %v", c.msgs, err)
		}
	}
}
