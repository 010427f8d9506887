package lavacorpus

import (
	"path/filepath"
	"testing"
)

func TestPairing(t *testing.T) {
	corpus := Require(t, "pipeline-cases.yaml")
	p, err := NewPairing(corpus)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ job, want string }{
		// A pipeline case's job: LAVA's rendering for it.
		{"jobs/qdl-boot.yaml", "pipeline-devices/qdl__qcs6490-rb3gen2.yaml"},
		// Another job of a case's device type with no dictionary under
		// devices/: the case's device.
		{"jobs/qdl-boot-empty-rootfs.yaml", "pipeline-devices/qdl__qcs6490-rb3gen2.yaml"},
		// A dictionary by its parent template.
		{"jobs/bbb-nfs-url.yaml", "devices/bbb-01.jinja2"},
		// No device of that type in the corpus.
		{"jobs/tk1-nfs.yaml", ""},
	} {
		dt, err := DeviceType(filepath.Join(corpus, tt.job))
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Device(tt.job, dt); got != tt.want {
			t.Errorf("Device(%s, %s) = %q, want %q", tt.job, dt, got, tt.want)
		}
	}
	if dt, _ := DeviceType(filepath.Join(corpus, "scheduler-jobs", "kvm-multinode.yaml")); dt != "" {
		t.Errorf("a MultiNode definition's device type = %q, want none", dt)
	}
	if n := len(Jobs(corpus)); n != 159 {
		t.Errorf("Jobs() = %d, want the corpus's 138 + 21", n)
	}
}
