package lavarpc

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/xmlrpc"
)

// submitFault turns a refused submission into LAVA's fault: the lab's
// *lab.SubmitError keeps its code (400, or 404 for an unknown device
// type) with every problem, one a line.
func submitFault(err error) error {
	var se *lab.SubmitError
	switch {
	case errors.As(err, &se):
		msg := strings.Join(se.Problems, "\n")
		if se.Code == xmlrpc.CodeBadRequest && !strings.HasPrefix(msg, "Device unavailable:") {
			msg = "Problem with submitted job data: " + msg
		}
		return &xmlrpc.Fault{Code: se.Code, String: msg}
	case errors.Is(err, lab.ErrPermission):
		return forbidden("Permission denied.")
	}
	return err
}

// registerValidate registers scheduler.jobs.validate.
func (a *api) registerValidate() {
	a.reg("scheduler.jobs.validate", 1, 2, "validate(definition, strict=False): check a job definition against the schema; {} when valid, else {path, msg}.",
		func(ctx context.Context, p params) (any, error) {
			def, err := p.text(0)
			if err != nil {
				return nil, err
			}
			problems := a.lab.Validate(ctx, def, p.bool(1, false))
			if len(problems) == 0 {
				return xmlrpc.Struct{}, nil
			}
			// LAVA answers the first error (voluptuous stops there); the
			// message carries every one, as basalt validate prints them.
			msgs := make([]string, len(problems))
			for i, pr := range problems {
				msgs[i] = pr.Msg
			}
			return st("path", problems[0].Path, "msg", strings.Join(msgs, "\n")), nil
		})
}

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
		id := lab.DisplayID(j)
		subID, _ = id.(string)
		multinode = j.MultinodeDefinition
	}
	return st(
		"id", j.ID,
		"sub_id", subID,
		"is_public", j.Visibility == store.VisibilityPublic || j.Visibility == "",
		"target_group", orNil(j.Group),
		"submitter_id", j.Submitter,
		"description", description(j),
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
		"original_definition", originalDefinition(j),
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
