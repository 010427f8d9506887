package dispatcher

import (
	"path/filepath"
	"testing"

	"github.com/basalt-lava/basalt/internal/lavacorpus"
)

// BenchmarkPrepareKVM measures what `basalt validate JOB --device D`
// does in-process for LAVA's kvm sample job: check the job, load and
// check the rendered device, build and validate the pipeline.
func BenchmarkPrepareKVM(b *testing.B) {
	c := lavacorpus.Require(b, "pipeline-cases.yaml")
	jobPath := filepath.Join(c, "jobs", "kvm.yaml")
	dev := filepath.Join(c, "pipeline-devices", "kvm__qemu01.yaml")
	for b.Loop() {
		p, err := Prepare(jobPath, dev, Options{})
		if err != nil || p.Pipeline == nil || !p.Valid() {
			b.Fatalf("prepare: %v", err)
		}
	}
}

// BenchmarkPrepareKVMDictionary is the same with the device dictionary
// rendered from LAVA's templates on every run.
func BenchmarkPrepareKVMDictionary(b *testing.B) {
	c := lavacorpus.Require(b, "pipeline-cases.yaml")
	jobPath := filepath.Join(c, "jobs", "kvm.yaml")
	dev := filepath.Join(c, "devices", "qemu01.jinja2")
	opts := Options{DeviceTypeDirs: []string{filepath.Join(c, "device-types")}}
	for b.Loop() {
		p, err := Prepare(jobPath, dev, opts)
		if err != nil || p.Pipeline == nil || !p.Valid() {
			b.Fatalf("prepare: %v", err)
		}
	}
}
