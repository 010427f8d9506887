-- What LAVA keeps of a test case beyond its result: when it was recorded
-- (TestCase.logged, Unix nanoseconds here) and the range of log lines it
-- covers (start_log_line, end_log_line; NULL when unknown), which
-- lavacli results --yaml prints.
ALTER TABLE results ADD COLUMN logged BIGINT;
ALTER TABLE results ADD COLUMN log_start_line BIGINT;
ALTER TABLE results ADD COLUMN log_end_line BIGINT;
