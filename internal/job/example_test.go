package job_test

import (
	"fmt"

	"github.com/basalt-lava/basalt/internal/job"
)

// How `basalt validate` uses the package: load, print every diagnostic,
// and fail only on errors. In the default mode a job is refused for what
// a LAVA server refuses on submission (priority); what only lava_common's
// strict schema finds (a block timeout longer than the job's, a key it
// does not know) is a warning.
func Example() {
	src := []byte(`job_name: demo
device_type: qemu
timeouts: {job: {minutes: 10}}
visibility: public
priority: urgent
actions:
- boot: {method: qemu, media: tmpfs, timeout: {minutes: 20}, colour: blue}
`)
	j, diags := job.Parse("demo.yaml", src, job.Options{})
	for _, d := range diags {
		fmt.Println(d)
	}
	fmt.Println("valid:", !job.HasErrors(diags), "name:", j.Data.String("job_name"))
	// Output:
	// demo.yaml:5:11: priority: expected one of high, medium, low or an integer 0..100, got a string ("urgent")
	// demo.yaml:7:47: actions[0].boot.timeout: warning: this boot action's timeout (00:20:00) is longer than the job timeout (00:10:00)
	// demo.yaml:7:62: actions[0].boot.colour: warning: unknown key "colour" (allowed: auto_login, connection, connection-namespace, docker, failure_retry, failure_retry_interval, ignore_kernel_messages, media, method, namespace, parameters, prompts, protocols, repeat, role, soft_reboot, timeout, timeouts, transfer_overlay)
	// valid: false name: demo
}
