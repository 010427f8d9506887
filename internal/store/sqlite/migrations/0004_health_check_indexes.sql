-- A scheduling pass reads each device's last health check and counts the
-- jobs started on it since: partial indexes keep both to the rows they
-- need, however long the job history (0003's index scanned every job).
DROP INDEX jobs_device_health_check;
CREATE INDEX jobs_health_checks ON jobs(device, submitted) WHERE health_check;
CREATE INDEX jobs_started ON jobs(device, started) WHERE NOT health_check;
