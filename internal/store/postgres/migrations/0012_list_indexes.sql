-- The job lists of a viewer who is not a superuser (JobFilter.Viewer)
-- counted their rows by reading every job. jobs_visibility answers an
-- anonymous viewer's count (visibility = 'public') from the index alone,
-- and its page in id order (the index's rows of one visibility are in id
-- order). jobs_viewer holds every column a signed-in viewer's condition
-- reads, so that the count reads the index rather than the jobs.
CREATE INDEX jobs_visibility ON jobs(visibility);
CREATE INDEX jobs_viewer ON jobs(visibility, submitter, visible_groups);
-- A test case's history (CaseHistory) finds the results of one suite and
-- case, by job, without walking every job's results.
CREATE INDEX results_case ON results(suite, test_case, job);
