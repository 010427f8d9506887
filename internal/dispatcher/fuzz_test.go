package dispatcher

import (
	"github.com/basalt-lava/basalt/internal/lavacorpus"
	"os"
	"path/filepath"
	"testing"

	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// fuzzDevice is a small qemu device configuration of our own, used when
// the corpus is absent.
const fuzzDevice = `
constants:
  posix: {lava_test_sh_cmd: /bin/sh, lava_test_results_dir: /lava-%s}
  failure_retry: 1
parameters: {}
actions:
  deploy:
    methods: {image: {parameters: {guest: {size: 512, interface: ide, driveid: lavatest}}}, nfs: null, ssh: {host: h}}
  boot:
    connections: {serial: null, ssh: null}
    methods: {qemu: {parameters: {command: qemu-system-x86_64, options: [-m 512]}}, minimal: null}
timeouts:
  actions: {power-off: {seconds: 10}}
  connections: {}
`

const fuzzJob = `device_type: qemu
job_name: fuzz
timeouts: {job: {minutes: 10}, action: {minutes: 1}}
visibility: public
actions:
- deploy: {to: tmpfs, images: {rootfs: {url: 'http://127.0.0.1/x.img', image_arg: '-drive file={rootfs}'}}}
- boot: {method: qemu, media: tmpfs, failure_retry: 2, prompts: ['# ']}
- test:
    failure_retry: 3
    definitions:
    - {from: git, repository: 'https://127.0.0.1/t.git', path: a.yaml, name: a}
    - from: inline
      name: b
      path: b.yaml
      repository: {metadata: {format: Lava-Test Test Definition 1.0, name: b}, run: {steps: [true]}}
- command: {name: x}
`

// FuzzDescribe feeds job definitions through the whole chain `basalt
// validate` runs (check, build the pipeline, validate, describe) on the
// corpus devices and on a device of our own. Whatever the input, it must
// not panic; a job the checker accepts must either build or be refused
// with an error.
func FuzzDescribe(f *testing.F) {
	f.Add([]byte(fuzzJob))
	devices := []*value.Map{}
	d, err := value.DecodeYAML([]byte(fuzzDevice))
	if err != nil {
		f.Fatal(err)
	}
	devices = append(devices, d.(*value.Map))
	if corpus := lavacorpus.Dir(); corpus != "" {
		jobs, _ := filepath.Glob(filepath.Join(corpus, "jobs", "*.yaml"))
		for _, p := range jobs {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
		cfgs, _ := filepath.Glob(filepath.Join(corpus, "pipeline-devices", "*.yaml"))
		for _, p := range cfgs {
			if b, err := os.ReadFile(p); err == nil {
				if v, err := value.DecodeYAML(b); err == nil {
					devices = append(devices, v.(*value.Map))
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		j, diags := job.Parse("fuzz.yaml", data, job.Options{Lax: true})
		if j == nil || j.Data == nil || job.HasErrors(diags) {
			return
		}
		for _, dev := range devices {
			pj, err := pipeline.Build(value.Clone(j.Data).(*value.Map), dev)
			if err != nil {
				continue
			}
			pj.Validate()
			pj.Pipeline.Unrunnable() // every CannotRun, on any parameters
			if _, err := value.EncodeYAML(value.MapOf("pipeline", pj.Describe())); err != nil {
				t.Fatalf("describe does not encode: %v", err)
			}
		}
	})
}
