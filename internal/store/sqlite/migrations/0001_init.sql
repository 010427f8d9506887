-- The lab's schema (see internal/store). States and healths are stored as
-- their names; times as Unix nanoseconds (UTC), NULL when not yet reached.
CREATE TABLE users (
	name          TEXT PRIMARY KEY,
	password_hash TEXT NOT NULL,
	superuser     BOOLEAN NOT NULL,
	created       BIGINT NOT NULL
);
CREATE TABLE tokens (
	id          INTEGER PRIMARY KEY,
	username    TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
	hash        TEXT NOT NULL UNIQUE,
	description TEXT NOT NULL,
	created     BIGINT NOT NULL
);
CREATE TABLE device_types (
	name         TEXT PRIMARY KEY,
	template     TEXT NOT NULL,
	health_check TEXT NOT NULL
);
CREATE TABLE workers (
	name       TEXT PRIMARY KEY,
	token_hash TEXT NOT NULL,
	state      TEXT NOT NULL,
	last_ping  BIGINT
);
CREATE TABLE devices (
	name        TEXT PRIMARY KEY,
	device_type TEXT NOT NULL REFERENCES device_types(name),
	worker      TEXT REFERENCES workers(name),
	dictionary  TEXT NOT NULL,
	tags        TEXT NOT NULL,
	state       TEXT NOT NULL,
	health      TEXT NOT NULL
);
CREATE INDEX devices_worker ON devices(worker);
CREATE TABLE jobs (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	definition   TEXT NOT NULL,
	state        TEXT NOT NULL,
	health       TEXT NOT NULL,
	priority     INTEGER NOT NULL,
	submitter    TEXT NOT NULL REFERENCES users(name),
	device_type  TEXT NOT NULL,
	tags         TEXT NOT NULL,
	health_check BOOLEAN NOT NULL,
	device       TEXT REFERENCES devices(name),
	target_group TEXT,
	sub_id       INTEGER NOT NULL,
	error_class  TEXT NOT NULL,
	error_msg    TEXT NOT NULL,
	submitted    BIGINT NOT NULL,
	started      BIGINT,
	ended        BIGINT
);
CREATE INDEX jobs_state ON jobs(state);
CREATE INDEX jobs_device ON jobs(device);
CREATE INDEX jobs_group ON jobs(target_group);
CREATE TABLE results (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	job         INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
	suite       TEXT NOT NULL,
	test_case   TEXT NOT NULL,
	result      TEXT NOT NULL,
	measurement DOUBLE PRECISION,
	units       TEXT NOT NULL,
	metadata    TEXT NOT NULL
);
CREATE INDEX results_job ON results(job);
