-- A MultiNode dynamic connection (a role with `connection:` and
-- `host_role`, LAVA's dynamic_connection) has no device of its own: it
-- runs on the worker of its host role's sub-job, kept here (NULL for
-- every other job). Its device column stays NULL, as LAVA's
-- actual_device does.
ALTER TABLE jobs ADD COLUMN host_job BIGINT;
CREATE INDEX jobs_host_job ON jobs(host_job) WHERE host_job IS NOT NULL;
