-- What the lab (internal/lab) keeps beside a job: its description (the
-- job's job_name), its queue timeout (timeouts.queue, nanoseconds, 0 for
-- none) so a scheduling pass need not read definitions, and for a
-- MultiNode sub-job the whole submission it was split from (LAVA's
-- multinode_definition, what a resubmission sends again).
ALTER TABLE jobs ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN queue_timeout BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN multinode_definition TEXT NOT NULL DEFAULT '';
-- A device's health checks, newest first (the scheduler's "last health check").
CREATE INDEX jobs_device_health_check ON jobs(device, health_check, submitted);
