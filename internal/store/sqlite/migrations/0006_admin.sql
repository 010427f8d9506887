-- What LAVA's administrators set on workers, devices and device types
-- (lavacli workers/devices/device-types update, basalt manage), the
-- device-type aliases a job may request, and a device's health history.
--
-- A worker's health is LAVA's Worker.health (Active, Maintenance,
-- Retired: only an Active worker's devices get jobs); job_limit caps how
-- many of its devices run at once (0: no limit).
ALTER TABLE workers ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE workers ADD COLUMN health TEXT NOT NULL DEFAULT 'Active';
ALTER TABLE workers ADD COLUMN job_limit INTEGER NOT NULL DEFAULT 0;
-- A device's description and physical owner (user) and group, as names.
ALTER TABLE devices ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN physical_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN physical_group TEXT NOT NULL DEFAULT '';
-- A device type's health-check schedule (every health_frequency hours or
-- jobs, as health_denominator says; none when health_disabled) and what
-- LAVA shows of it.
ALTER TABLE device_types ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE device_types ADD COLUMN display BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE device_types ADD COLUMN owners_only BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE device_types ADD COLUMN health_frequency INTEGER NOT NULL DEFAULT 24;
ALTER TABLE device_types ADD COLUMN health_denominator TEXT NOT NULL DEFAULT 'hours';
ALTER TABLE device_types ADD COLUMN health_disabled BOOLEAN NOT NULL DEFAULT FALSE;
-- An alias names one device type; a job asking for the alias is stored
-- with the aliased type (LAVA resolves aliases at submit).
CREATE TABLE aliases (
	name        TEXT PRIMARY KEY,
	device_type TEXT NOT NULL REFERENCES device_types(name) ON DELETE CASCADE
);
CREATE INDEX aliases_device_type ON aliases(device_type);
-- Each change of a device's health: when, by whom ('' for the lab
-- itself), from what to what and why (LAVA's "Good → Maintenance (reason)").
CREATE TABLE device_log (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	device      TEXT NOT NULL REFERENCES devices(name) ON DELETE CASCADE,
	at          BIGINT NOT NULL,
	username    TEXT NOT NULL,
	prev_health TEXT NOT NULL,
	new_health  TEXT NOT NULL,
	reason      TEXT NOT NULL
);
CREATE INDEX device_log_device ON device_log(device, id);
