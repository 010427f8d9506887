-- Groups, as far as job visibility needs them (LAVA's visibility: public,
-- personal, or group: [names]).
CREATE TABLE groups (
	name TEXT PRIMARY KEY
);
CREATE TABLE group_members (
	group_name TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
	username   TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
	PRIMARY KEY (group_name, username)
);
ALTER TABLE jobs ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public';
ALTER TABLE jobs ADD COLUMN visible_groups TEXT NOT NULL DEFAULT '';
