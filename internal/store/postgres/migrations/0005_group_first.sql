-- A MultiNode sub-job's display id is "<first>.<sub_id>", first being the
-- id of its group's sub_id 0: kept in a column so that a group's ids need
-- not be consecutive (PostgreSQL's sequence interleaves concurrent
-- inserts, and serialising every submission to prevent it cost throughput).
ALTER TABLE jobs ADD COLUMN group_first BIGINT NOT NULL DEFAULT 0;
UPDATE jobs SET group_first = (SELECT MIN(j2.id) FROM jobs j2 WHERE j2.target_group = jobs.target_group)
	WHERE target_group IS NOT NULL;
CREATE INDEX jobs_group_first ON jobs(group_first, sub_id) WHERE group_first <> 0;
