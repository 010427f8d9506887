package job_test

import (
	"fmt"

	"github.com/basalt-lava/basalt/internal/job"
)

// How `basalt validate` uses the package: load, print every diagnostic,
// and fail only on errors (duplicate keys are warnings).
func Example() {
	src := []byte(`job_name: demo
device_type: qemu
timeouts: {job: {minutes: 10}}
visibility: public
priority: urgent
actions:
- boot: {method: qemu, media: tmpfs, timeout: {minutes: 20}}
`)
	j, diags := job.Parse("demo.yaml", src, job.Options{})
	for _, d := range diags {
		fmt.Println(d)
	}
	fmt.Println("valid:", !job.HasErrors(diags), "name:", j.Data.String("job_name"))
	// Output:
	// demo.yaml:5:11: priority: expected one of high, medium, low or an integer 0..100, got a string ("urgent")
	// demo.yaml:7:47: actions[0].boot.timeout: this boot action's timeout (00:20:00) is longer than the job timeout (00:10:00)
	// valid: false name: demo
}
