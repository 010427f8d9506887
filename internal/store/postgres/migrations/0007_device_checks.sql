-- The lab's check of each device's configuration (its dictionary rendered
-- through the device-type templates and parsed, LAVA's Device.is_valid),
-- remembered across restarts so that a server's first pass does not
-- render again every device that has not changed. key identifies all the
-- answer depends on (the dictionary, the templates, the Basalt binary);
-- problem is '' for a valid configuration, else why it is not.
CREATE TABLE device_checks (
	device  TEXT PRIMARY KEY REFERENCES devices(name) ON DELETE CASCADE,
	key     TEXT NOT NULL,
	problem TEXT NOT NULL
);
