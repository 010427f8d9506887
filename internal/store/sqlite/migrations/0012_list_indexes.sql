-- The job lists of a viewer who is not a superuser (JobFilter.Viewer)
-- counted their rows by reading every job. jobs_viewer holds every column
-- the visibility condition reads, so that a count reads this index rather
-- than the jobs; its first column is submitter, not visibility: SQLite's
-- planner, without statistics, takes an equality on every column of an
-- index as selective, and an index on visibility alone won over jobs_state
-- and jobs_device for "running jobs" and a device's jobs. jobs_public is
-- the public jobs in id order: an anonymous page, newest first, walks it
-- and stops at the page's end.
CREATE INDEX jobs_viewer ON jobs(submitter, visibility, visible_groups);
CREATE INDEX jobs_public ON jobs(id) WHERE visibility = 'public';
-- A test case's history (CaseHistory) finds the results of one suite and
-- case, by job, without walking every job's results.
CREATE INDEX results_case ON results(suite, test_case, job);
