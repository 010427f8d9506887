package worker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/store"
)

// hostFileJob deploys file:///etc/passwd as an image, then runs a host
// command (the device has no hardware).
const hostFileJob = `device_type: nohwdl
job_name: host-file
timeouts: {job: {minutes: 15}, action: {minutes: 12}}
visibility: public
actions:
- deploy: {to: tmpfs, images: {rootfs: {url: 'file:///etc/passwd'}}}
- command: {name: chatty}
`

// TestRealLabLocalFiles: a job naming a host file is refused at submit
// by a server that allows no local file, with the key, the file and the
// flag; with a server that allows /etc (it cannot know each worker's
// folders) the job reaches a worker that allows none, and ends
// Incomplete with a Job error naming the worker's policy, having read
// nothing.
func TestRealLabLocalFiles(t *testing.T) {
	r := newRealLab(t)
	ctx := context.Background()
	dlTemplate := strings.Replace(strings.Replace(testDevice, "device_type: qemu", "device_type: nohwdl", 1),
		"deploy: {methods: {}}", "deploy: {methods: {image: {}}}", 1)
	if err := r.st.PutDeviceType(ctx, store.DeviceType{Name: "nohwdl", Template: dlTemplate}); err != nil {
		t.Fatal(err)
	}
	if err := r.st.CreateDevice(ctx, store.Device{Name: "nohwdl-01", DeviceType: "nohwdl", Worker: testWorker, Dictionary: "{% extends 'nohwdl.jinja2' %}\n"}); err != nil {
		t.Fatal(err)
	}
	if err := r.st.SetDeviceHealth(ctx, "nohwdl-01", store.HealthGood); err != nil {
		t.Fatal(err)
	}

	_, err := r.lab.Submit(ctx, r.user, hostFileJob)
	var se *lab.SubmitError
	if !errors.As(err, &se) {
		t.Fatalf("submit to a server allowing no local file: %v, want a *lab.SubmitError", err)
	}
	want := "images.rootfs.url: file:///etc/passwd: local files are not allowed on this server (allowed: none; the server's --allow-local-files"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("submit refused with %q, want it to say %q", err, want)
	}
	t.Logf("refused at submit: %v", err)
	if jobs, err := r.st.Jobs(ctx, store.JobFilter{}); err != nil || len(jobs) != 0 {
		t.Errorf("stored after a refusal: %d jobs (%v)", len(jobs), err)
	}

	// The server allows /etc; the worker does not.
	r.shutdown()
	r.allowLocal = []string{"/etc"}
	r.start()
	jobs, err := r.lab.Submit(ctx, r.user, hostFileJob)
	if err != nil {
		t.Fatalf("submit to a server allowing /etc: %v", err)
	}
	w := startWorker(t, r.url(), func(c *Config) { c.Token, c.PollWait = r.token, 5*time.Second })
	j := r.waitJob(jobs[0].ID, "to end", func(j store.Job) bool { return j.State == store.JobFinished })
	if j.Health != store.JobIncomplete || j.ErrorClass != "Job" {
		t.Errorf("job ended %s, %s error %q; want Incomplete with a Job error", j.Health, j.ErrorClass, j.ErrorMsg)
	}
	want = "images.rootfs.url: file:///etc/passwd: local files are not allowed on this worker (allowed: none; the worker's --allow-local-files)"
	if !strings.Contains(j.ErrorMsg, want) {
		t.Errorf("job error %q, want it to say %q", j.ErrorMsg, want)
	}
	if r.logHas(j.ID, "root:x:0:0") || r.logHas(j.ID, "chatty-line-0") {
		t.Errorf("the job read /etc/passwd or ran on")
	}
	if err := w.stop(t); err != nil {
		t.Error(err)
	}
}
