package lavarpc

import (
	"context"
	"errors"
	"strconv"

	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/xmlrpc"
)

// submitFault turns a refused submission into LAVA's fault: the lab's
// coded errors keep their code, an unknown device type is 404, anything
// else 400 with the reasons.
func submitFault(err error) error {
	var f *xmlrpc.Fault
	if errors.As(err, &f) {
		return f
	}
	if errors.Is(err, store.ErrNotFound) {
		return notFound("Specified device or device type not found.")
	}
	return badRequest("Problem with submitted job data: %v", err)
}

// registerValidate registers scheduler.jobs.validate.
func (a *api) registerValidate() {}

func (a *api) registerLegacy() {
	a.reg("scheduler.submit_job", 1, 1, "submit_job(job_data): as scheduler.jobs.submit.", a.jobSubmit)
	a.reg("scheduler.resubmit_job", 1, 1, "resubmit_job(job_id): as scheduler.jobs.resubmit.", a.jobResubmit)
	a.reg("scheduler.cancel_job", 1, 1, "cancel_job(job_id): as scheduler.jobs.cancel.", a.jobCancel)
	a.reg("scheduler.job_details", 1, 1, "job_details(job_id): a job's columns (SQUAD reads status, definition, multinode_definition).", a.jobDetails)
	a.reg("scheduler.all_devices", 0, 0, "all_devices(): [hostname, device type, status, current job or None, True] of each device not Retired.", a.allDevices)
	a.reg("scheduler.get_publisher_event_socket", 0, 0, "get_publisher_event_socket(): the event socket address LAVA advertises (Basalt publishes no ZMQ events).", func(context.Context, params) (any, error) {
		return "tcp://*:5500", nil
	})
}

// legacyStatus is LAVA's TestJob.get_legacy_status_display.
func legacyStatus(j store.Job) string {
	switch j.State {
	case store.JobSubmitted, store.JobScheduling, store.JobScheduled:
		return "Submitted"
	case store.JobRunning:
		return "Running"
	case store.JobCanceling:
		return "Canceling"
	}
	switch j.Health {
	case store.JobComplete:
		return "Complete"
	case store.JobUnknown, store.JobIncomplete:
		return "Incomplete"
	default:
		return "Canceled"
	}
}

// jobDetails answers LAVA's job_details with the job's plain columns and
// the added display fields, never its token or Django internals.
func (a *api) jobDetails(ctx context.Context, p params) (any, error) {
	j, err := a.viewJob(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	subID := ""
	multinode := ""
	if j.Group != "" {
		id, err := a.displayID(ctx, j)
		if err != nil {
			return nil, err
		}
		subID, _ = id.(string)
		multinode = j.Definition
	}
	return st(
		"id", j.ID,
		"sub_id", subID,
		"is_public", j.Visibility == store.VisibilityPublic || j.Visibility == "",
		"target_group", orNil(j.Group),
		"submitter_id", j.Submitter,
		"description", description(j.Definition),
		"health_check", j.HealthCheck,
		"requested_device_type_id", orNil(j.DeviceType),
		"requested_device_id", nil,
		"requested_worker_id", nil,
		"actual_device_id", orNil(j.Device),
		"submit_time", timeOrNil(j.Submitted),
		"start_time", timeOrNil(j.Started),
		"end_time", timeOrNil(j.Ended),
		"priority", j.Priority,
		"definition", j.Definition,
		"original_definition", j.Definition,
		"multinode_definition", multinode,
		"pipeline_compatibility", 0,
		"failure_comment", nil,
		"error_msg", orNil(j.ErrorMsg),
		"error_type", orNil(j.ErrorClass),
		"status", legacyStatus(j),
		"state", string(j.State),
		"health", string(j.Health),
		"submitter_username", j.Submitter,
		"submitter_email", "",
		"absolute_url", "/scheduler/job/"+strconv.FormatInt(j.ID, 10),
		"is_pipeline", true,
	), nil
}

func (a *api) allDevices(ctx context.Context, _ params) (any, error) {
	ds, err := a.devicesSorted(ctx)
	if err != nil {
		return nil, err
	}
	cur, err := a.currentJobs(ctx, "")
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, d := range ds {
		if d.Health == store.HealthRetired {
			continue
		}
		out = append(out, []any{d.Name, d.DeviceType, deviceStatus(d), jobOrNil(cur, d.Name), true})
	}
	return out, nil
}
